/**
 * Bytes from a telnet or nc client to lines of text.
 *
 * @module
 */

/** Telnet's "interpret as command" byte, and the commands that matter here. */
const IAC = 255;
const SB = 250;
const SE = 240;
const WILL = 251;
const DONT = 254;
const CR = 13;
const LF = 10;
const NUL = 0;

/** Where the parser is between two bytes. */
const enum State {
  /** Ordinary line bytes. */
  Data,
  /** After IAC. */
  Command,
  /** After IAC WILL/WONT/DO/DONT: the option byte comes next. */
  Option,
  /** Inside IAC SB ... IAC SE. */
  Sub,
  /** After IAC inside a subnegotiation. */
  SubCommand,
}

/**
 * Emitted in place of a line longer than the cap, as soon as the cap is
 * passed; the rest of that line is discarded as it arrives.
 */
export class LineTooLong {
  /** The cap that was passed, in bytes. */
  readonly maxBytes: number;
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }
}

/**
 * The error a {@linkcode LineStream} fails with when more lines wait to be
 * read than `maxQueuedLines` allows: the sender is flooding.
 */
export class ExcessFlood extends Error {
  constructor(maxQueuedLines: number) {
    super(`More than ${maxQueuedLines} lines waiting`);
    this.name = "ExcessFlood";
  }
}

/** What a {@linkcode LineStream} emits. */
export type LineEvent = string | LineTooLong;

/** Options for {@linkcode LineStream}. */
export interface LineStreamOptions {
  /** The longest line, in bytes, without its ending. Default 1024. */
  maxLineBytes?: number;
  /**
   * The longest telnet subnegotiation, in bytes; past it the parser gives up
   * on the subnegotiation and reads data again. Default 4096.
   */
  maxSubnegotiationBytes?: number;
  /**
   * The most lines that may wait to be read. Past it the stream fails with
   * {@linkcode ExcessFlood}, so a reader that lets lines wait on purpose
   * (flood control) learns of a flood as it happens. Default: no limit;
   * lines then wait in the socket (TCP backpressure), not here.
   */
  maxQueuedLines?: number;
}

/**
 * Splits a telnet or nc byte stream into lines.
 *
 * - A line ends at CRLF, LF, CR NUL or a lone CR (the seed needed CRLF, so nc
 *   never got a line through).
 * - Telnet commands and subnegotiations are removed; IAC IAC is a literal
 *   0xFF. No negotiation is needed, so nc works.
 * - Lines are decoded as UTF-8 with replacement characters once complete, so
 *   a character split across reads stays intact.
 * - A line is at most `maxLineBytes`: past that it is discarded as it arrives
 *   (never buffered) and a {@linkcode LineTooLong} is emitted in its place.
 * - An unterminated line at the end of the stream is dropped: a line counts
 *   only once its sender ended it.
 *
 * Every piece of state is bounded, whatever the peer sends.
 */
export class LineStream extends TransformStream<Uint8Array, LineEvent> {
  constructor(options: LineStreamOptions = {}) {
    const parser = new LineParser(
      options.maxLineBytes ?? 1024,
      options.maxSubnegotiationBytes ?? 4096,
    );
    const maxQueued = options.maxQueuedLines;
    if (maxQueued === undefined) {
      super({
        transform: (chunk, controller) => parser.push(chunk, controller),
      });
      return;
    }
    // The high-water mark sits one above the limit: backpressure (which would
    // stop reading and hide the flood in the socket) starts exactly when the
    // limit is passed, and that is when the stream fails.
    super(
      {
        transform: (chunk, controller) => {
          const sink = {
            enqueue(event: LineEvent) {
              controller.enqueue(event);
              if (controller.desiredSize! <= 0) {
                throw new ExcessFlood(maxQueued);
              }
            },
          };
          parser.push(chunk, sink);
        },
      },
      undefined,
      new CountQueuingStrategy({ highWaterMark: maxQueued + 1 }),
    );
  }
}

interface Sink {
  enqueue(event: LineEvent): void;
}

class LineParser {
  readonly #maxSub: number;
  readonly #line: Uint8Array;
  readonly #tooLong: LineTooLong;
  readonly #decoder = new TextDecoder();
  #length = 0;
  #discarding = false;
  #state = State.Data;
  #subBytes = 0;
  /** The last data byte was a CR: a following LF or NUL belongs to it. */
  #afterCr = false;

  constructor(maxLineBytes: number, maxSubnegotiationBytes: number) {
    this.#line = new Uint8Array(maxLineBytes);
    this.#tooLong = new LineTooLong(maxLineBytes);
    this.#maxSub = maxSubnegotiationBytes;
  }

  push(chunk: Uint8Array, sink: Sink): void {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      switch (this.#state) {
        case State.Data:
          if (byte === IAC) this.#state = State.Command;
          else this.#data(byte, sink);
          break;
        case State.Command:
          if (byte === IAC) {
            this.#state = State.Data;
            this.#data(byte, sink);
          } else if (byte === SB) {
            this.#state = State.Sub;
            this.#subBytes = 0;
          } else if (byte >= WILL && byte <= DONT) {
            this.#state = State.Option;
          } else {
            this.#state = State.Data;
          }
          break;
        case State.Option:
          this.#state = State.Data;
          break;
        case State.Sub:
        case State.SubCommand:
          this.#sub(byte);
          break;
      }
    }
  }

  #sub(byte: number): void {
    if (++this.#subBytes > this.#maxSub) {
      // An endless subnegotiation: give up on it and read data again.
      this.#state = State.Data;
    } else if (this.#state === State.SubCommand) {
      this.#state = byte === SE ? State.Data : State.Sub;
    } else if (byte === IAC) {
      this.#state = State.SubCommand;
    }
  }

  #data(byte: number, sink: Sink): void {
    if (this.#afterCr) {
      this.#afterCr = false;
      if (byte === LF || byte === NUL) return;
    }
    if (byte === CR || byte === LF) {
      this.#afterCr = byte === CR;
      this.#endLine(sink);
    } else if (this.#discarding) {
      return;
    } else if (this.#length === this.#line.length) {
      this.#discarding = true;
      this.#length = 0;
      sink.enqueue(this.#tooLong);
    } else {
      this.#line[this.#length++] = byte;
    }
  }

  #endLine(sink: Sink): void {
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    sink.enqueue(this.#decoder.decode(this.#line.subarray(0, this.#length)));
    this.#length = 0;
  }
}
