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
const DO = 253;
const DONT = 254;
/** Interrupt Process: what telnet sends for ^C. */
const IP = 244;
/** Erase Character and Erase Line: telnet's Backspace and ^U. */
const EC = 247;
const EL = 248;
/** The bytes a terminal sends for Backspace and ^U, which sanitize() applies. */
const DEL = 0x7f;
const NAK = 0x15;
/** The ECHO option. */
const ECHO = 1;
const CR = 13;
const LF = 10;
const NUL = 0;

/** What a client has sent that tells telnet from nc. */
const enum Seen {
  /** A telnet command (IAC and anything but IAC). */
  Command = 1,
  /** A line ended with CR LF. */
  CrLf = 2,
  /** A line ended with a bare LF. */
  BareLf = 4,
}

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
 * The error a `LineReader` fails with when more lines wait to be read than
 * its `maxQueuedLines` allows: the sender is flooding.
 */
export class ExcessFlood extends Error {
  constructor(maxQueuedLines: number) {
    super(`More than ${maxQueuedLines} lines waiting`);
    this.name = "ExcessFlood";
  }
}

/**
 * Emitted where telnet sent IAC IP (^C, which telnet's terminal follows by
 * throwing away the line being typed): a question waiting for an answer is
 * cancelled, as a blank line would; otherwise nothing happens.
 */
export class Interrupt {}

/** The one {@linkcode Interrupt} every parser emits. */
export const INTERRUPT: Interrupt = new Interrupt();

/** One {@linkcode LineTooLong} per cap, shared by the parsers using it. */
const TOO_LONG = new Map<number, LineTooLong>();
function tooLong(maxBytes: number): LineTooLong {
  let event = TOO_LONG.get(maxBytes);
  if (!event) TOO_LONG.set(maxBytes, event = new LineTooLong(maxBytes));
  return event;
}

/** What a {@linkcode LineStream} emits. */
export type LineEvent = string | LineTooLong | Interrupt;

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
   * Called with each negotiation the client sends (IAC WILL, WONT, DO or
   * DONT: `verb` 251 to 254, then its option), as it is read: some need an
   * answer at once (telnet's IAC DO TIMING-MARK after ^C shows nothing until
   * it has one), and only telnet sends them. Default: nothing is called.
   */
  onNegotiation?: (verb: number, option: number) => void;
}

/**
 * Splits a telnet or nc byte stream into lines.
 *
 * - A line ends at CRLF, LF, CR NUL or a lone CR (the seed needed CRLF, so nc
 *   never got a line through).
 * - Telnet commands and subnegotiations are removed; IAC IAC is a literal
 *   0xFF. IAC EC and IAC EL stay in the line as DEL and ^U, the bytes a
 *   terminal sends for those keys, for `sanitize()` to apply. No
 *   negotiation is needed, so nc works.
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
    const parser = new LineParser(options);
    super({
      transform: (chunk, controller) => parser.push(chunk, controller),
    });
  }
}

/** Where a {@linkcode LineParser} puts what it finds. */
export interface LineSink {
  /** Takes one event; may throw to stop the parse. */
  enqueue(event: LineEvent): void;
}

/** Decodes complete lines; stateless, so one serves every stream. */
const DECODER = new TextDecoder();

/**
 * Where lines are put together while a chunk is parsed: one buffer for every
 * stream, since parsing a chunk never yields to another. A line still open
 * when its chunk ends moves to a buffer of its stream's own.
 */
let scratch = new Uint8Array(1024);

/**
 * The parser behind {@linkcode LineStream} and `LineReader`: feed it chunks,
 * it hands complete lines (and {@linkcode LineTooLong}) to a sink. Its state
 * is bounded whatever the peer sends.
 */
export class LineParser {
  readonly #maxSub: number;
  readonly #maxLine: number;
  /** The open line's bytes, while a chunk is parsed: scratch or `#held`. */
  #line: Uint8Array = scratch;
  /** The stream's own buffer, made when a line spans two chunks. */
  #held: Uint8Array | null = null;
  readonly #tooLong: LineTooLong;
  #length = 0;
  #discarding = false;
  #state = State.Data;
  #subBytes = 0;
  /** The last data byte was a CR: a following LF or NUL belongs to it. */
  #afterCr = false;
  /** What the client has shown of itself: {@linkcode Seen} bits. */
  #seen = 0;
  /** The command byte (WILL ... DONT) whose option byte comes next. */
  #verb = 0;
  #echoAnswer: "do" | "dont" | null = null;
  readonly #onNegotiation: ((verb: number, option: number) => void) | undefined;

  constructor(options: LineStreamOptions = {}) {
    this.#maxLine = options.maxLineBytes ?? 1024;
    this.#onNegotiation = options.onNegotiation;
    this.#maxSub = options.maxSubnegotiationBytes ?? 4096;
    this.#tooLong = tooLong(this.#maxLine);
    if (scratch.length < this.#maxLine) scratch = new Uint8Array(this.#maxLine);
  }

  /**
   * Whether the client looks like a telnet client, which hides what is typed
   * when the server says IAC WILL ECHO: it has sent a telnet command, or it
   * ends its lines with CRLF and never with a bare LF (nc sends LF). Debian's
   * telnet sends no command of its own to a port other than 23, so its CRLF
   * is what tells it from nc.
   */
  get telnetLike(): boolean {
    const seen = this.#seen;
    return (seen & Seen.Command) !== 0 ||
      (seen & (Seen.CrLf | Seen.BareLf)) === Seen.CrLf;
  }

  /**
   * The client's latest answer to the server's IAC WILL ECHO: `do` (it
   * stops showing what is typed), `dont`, or null if it has sent neither.
   */
  get echoAnswer(): "do" | "dont" | null {
    return this.#echoAnswer;
  }

  /**
   * Parses a chunk. It is copied as needed before this returns, so the
   * caller may reuse it.
   */
  push(chunk: Uint8Array, sink: LineSink): void {
    // Scratch may have grown for another stream since.
    this.#line = this.#length > 0 ? this.#held! : scratch;
    try {
      this.#parse(chunk, sink);
    } finally {
      if (this.#length > 0 && this.#line === scratch) {
        this.#held ??= new Uint8Array(this.#maxLine);
        this.#held.set(scratch.subarray(0, this.#length));
      }
    }
  }

  #parse(chunk: Uint8Array, sink: LineSink): void {
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
            break;
          }
          this.#seen |= Seen.Command;
          if (byte === SB) {
            this.#state = State.Sub;
            this.#subBytes = 0;
          } else if (byte >= WILL && byte <= DONT) {
            this.#verb = byte;
            this.#state = State.Option;
          } else if (byte === IP) {
            this.#state = State.Data;
            sink.enqueue(INTERRUPT);
          } else if (byte === EC || byte === EL) {
            // Kept in the line as the byte a terminal sends for the same
            // key, so that every correction is made in one place, in order.
            this.#state = State.Data;
            this.#data(byte === EC ? DEL : NAK, sink);
          } else {
            this.#state = State.Data;
          }
          break;
        case State.Option:
          if (byte === ECHO && (this.#verb === DO || this.#verb === DONT)) {
            this.#echoAnswer = this.#verb === DO ? "do" : "dont";
          }
          this.#onNegotiation?.(this.#verb, byte);
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

  #data(byte: number, sink: LineSink): void {
    if (this.#afterCr) {
      this.#afterCr = false;
      if (byte === LF) this.#seen |= Seen.CrLf;
      if (byte === LF || byte === NUL) return;
    }
    if (byte === LF) this.#seen |= Seen.BareLf;
    if (byte === CR || byte === LF) {
      this.#afterCr = byte === CR;
      this.#endLine(sink);
    } else if (this.#discarding) {
      return;
    } else if (this.#length === this.#maxLine) {
      this.#discarding = true;
      this.#length = 0;
      sink.enqueue(this.#tooLong);
    } else {
      this.#line[this.#length++] = byte;
    }
  }

  #endLine(sink: LineSink): void {
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    const line = DECODER.decode(this.#line.subarray(0, this.#length));
    this.#length = 0;
    this.#line = scratch;
    sink.enqueue(line);
  }
}
