/**
 * A connection's lines, as an async iterator for the session loop.
 *
 * @module
 */

import {
  ExcessFlood,
  type LineEvent,
  LineParser,
  type LineSink,
  type LineStreamOptions,
} from "./line_stream.ts";

/** Where a {@linkcode LineReader} reads from: a `Deno.Conn`, say. */
export interface ByteReader {
  read(buffer: Uint8Array): Promise<number | null>;
}

/**
 * A source that pushes its bytes instead (a `node:net` socket): it hands each
 * chunk to {@linkcode LineReader.receive} and its end to
 * {@linkcode LineReader.finish}, and is paused while the reader wants no more.
 */
export interface ByteFeed {
  pause(): void;
  resume(): void;
}

/** The read buffer's size when idle, and its limit when busy, in bytes. */
const MIN_READ_BYTES = 256;
const MAX_READ_BYTES = 64 * 1024;

/** Options for {@linkcode LineReader}. */
export interface LineReaderOptions extends LineStreamOptions {
  /**
   * Read ahead without waiting for the consumer, and fail with
   * {@linkcode ExcessFlood} once more than this many lines wait: the consumer
   * lets lines wait on purpose (flood control) and must learn of a flood as
   * it happens, not when the kernel's buffer is full. Default: no read-ahead;
   * the next chunk is read once every line is taken, so a slow consumer
   * slows the sender through TCP.
   */
  maxQueuedLines?: number;
  /** Fail with {@linkcode TlsOnPlainPort} if the first bytes are TLS. */
  refuseTls?: boolean;
  /**
   * Called once when reading fails (a flood, TLS, a reset), even while no
   * line is being waited for.
   */
  onError?: (error: unknown) => void;
}

/** A TLS ClientHello on the plain port: the client speaks the wrong protocol. */
export class TlsOnPlainPort extends Error {
  constructor() {
    super("TLS handshake on the plain port");
    this.name = "TlsOnPlainPort";
  }
}

const DONE: IteratorResult<LineEvent, undefined> = Object.freeze({
  value: undefined,
  done: true,
});

/**
 * The lines of a connection, through the same {@linkcode LineParser} as
 * `LineStream`, without WHATWG streams or async functions: an idle
 * connection is mostly this object waiting, so what it holds while waiting
 * is what every idle user costs. A ReadableStream piped through a
 * TransformStream measured about 9 KiB of heap per connection in Deno; this
 * reader, one pending read and a few hundred bytes.
 *
 * Bytes are pulled from a {@linkcode ByteReader} (a `Deno.Conn`) or pushed
 * by a {@linkcode ByteFeed} (a `node:net` or `node:tls` socket: the ports).
 * A pulled read buffer is reused (the parser copies what it keeps). It
 * starts small, because an idle connection holds it while its read is
 * pending, and doubles while reads fill it (a paste, a flood), so large
 * inputs take few reads; it shrinks again when reads come back small.
 */
export class LineReader implements AsyncIterableIterator<LineEvent>, LineSink {
  readonly #source: ByteReader | null;
  readonly #feed: ByteFeed | null;
  #paused = false;
  readonly #parser: LineParser;
  readonly #maxQueued: number | undefined;
  readonly #onError: (error: unknown) => void;
  #refuseTls: boolean;
  /** The read buffer (a feed brings its own chunks). */
  #buffer: Uint8Array;
  /** Lines waiting, from `#head` on. */
  #queue: LineEvent[] = [];
  #head = 0;
  /** A read is in flight. */
  #reading = false;
  #ended = false;
  #failed = false;
  #error: unknown = undefined;
  /** The consumer waiting for a line. */
  #waiter: {
    resolve(result: IteratorResult<LineEvent, undefined>): void;
    reject(error: unknown): void;
  } | null = null;

  constructor(source: ByteReader | ByteFeed, options: LineReaderOptions = {}) {
    const pulled = "read" in source;
    this.#source = pulled ? source : null;
    this.#feed = pulled ? null : source;
    this.#buffer = new Uint8Array(pulled ? MIN_READ_BYTES : 0);
    this.#parser = new LineParser(options);
    this.#maxQueued = options.maxQueuedLines;
    this.#refuseTls = options.refuseTls ?? false;
    this.#onError = options.onError ?? (() => {});
    this.#pull();
  }

  /** Whether the client looks like telnet; see `LineParser.telnetLike`. */
  get telnetLike(): boolean {
    return this.#parser.telnetLike;
  }

  /** The client's answer to IAC WILL ECHO; see `LineParser.echoAnswer`. */
  get echoAnswer(): "do" | "dont" | null {
    return this.#parser.echoAnswer;
  }

  /** Takes an event from the parser; part of {@linkcode LineSink}. */
  enqueue(event: LineEvent): void {
    this.#queue.push(event);
    if (
      this.#maxQueued !== undefined &&
      this.#queue.length - this.#head > this.#maxQueued
    ) {
      throw new ExcessFlood(this.#maxQueued);
    }
  }

  /** The next line; rejects with the error that ended reading, if any. */
  next(): Promise<IteratorResult<LineEvent, undefined>> {
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#waiting() > 0) return Promise.resolve(this.#take());
    if (this.#ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /** Stops reading (a `break` out of `for await` calls this). */
  return(): Promise<IteratorResult<LineEvent, undefined>> {
    this.#ended = true;
    this.#queue.length = this.#head = 0;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Lines waiting to be taken. */
  #waiting(): number {
    return this.#queue.length - this.#head;
  }

  #take(): IteratorResult<LineEvent, undefined> {
    const value = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      // Emptied: length 0 also lets go of the array's storage while idle.
      this.#queue.length = this.#head = 0;
      this.#pull();
    }
    return { value, done: false };
  }

  /**
   * A chunk from a {@linkcode ByteFeed}. The chunk is not kept (the parser
   * copies what it keeps).
   */
  receive(bytes: Uint8Array): void {
    if (this.#ended || !this.#parse(bytes)) return;
    this.#settle();
    this.#pull();
  }

  /** Stops reading: the session is ending. Part of `Lines`. */
  end(): void {
    this.finish();
  }

  /** A {@linkcode ByteFeed} ended: cleanly, or with `error`. */
  finish(error?: unknown): void {
    if (error !== undefined) return this.#fail(error);
    if (this.#ended) return;
    this.#ended = true;
    this.#settle();
  }

  /**
   * Asks for more bytes unless a read is in flight or lines must be taken
   * first (a feed is paused until then).
   */
  #pull(): void {
    if (this.#reading || this.#ended) return;
    const hold = this.#maxQueued === undefined && this.#waiting() > 0;
    if (this.#feed !== null) {
      if (hold !== this.#paused) {
        this.#paused = hold;
        if (hold) this.#feed.pause();
        else this.#feed.resume();
      }
      return;
    }
    if (hold) return;
    this.#reading = true;
    // Made once, and only for a pulled source: a feed never reads.
    this.#readDone ??= (count) => this.#onRead(count);
    this.#readFailed ??= (error) => this.#fail(error);
    this.#source!.read(this.#buffer).then(this.#readDone, this.#readFailed);
  }

  #readDone: ((count: number | null) => void) | null = null;
  #readFailed: ((error: unknown) => void) | null = null;

  #onRead(count: number | null): void {
    this.#reading = false;
    if (this.#ended) return;
    if (count === null) {
      this.#ended = true;
      this.#settle();
      return;
    }
    const buffer = this.#buffer;
    if (!this.#parse(buffer.subarray(0, count))) return;
    if (count === buffer.length && buffer.length < MAX_READ_BYTES) {
      this.#buffer = new Uint8Array(buffer.length * 2);
    } else if (count < buffer.length / 8 && buffer.length > MIN_READ_BYTES) {
      this.#buffer = new Uint8Array(buffer.length / 2);
    }
    this.#settle();
    this.#pull();
  }

  /** Parses a chunk into the queue; false if reading failed on it. */
  #parse(bytes: Uint8Array): boolean {
    try {
      if (this.#refuseTls && bytes.length > 0) {
        this.#refuseTls = false;
        // A handshake record (22) of TLS 1.x (3, any minor version).
        if (bytes[0] === 0x16 && (bytes.length < 2 || bytes[1] === 0x03)) {
          throw new TlsOnPlainPort();
        }
      }
      this.#parser.push(bytes, this);
      return true;
    } catch (error) {
      this.#fail(error);
      return false;
    }
  }

  #fail(error: unknown): void {
    this.#reading = false;
    if (this.#ended) return;
    this.#ended = true;
    this.#failed = true;
    this.#error = error;
    this.#onError(error);
    this.#settle();
  }

  /** Hands the waiting consumer a line, the end, or the error. */
  #settle(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    if (this.#failed) {
      this.#waiter = null;
      waiter.reject(this.#error);
    } else if (this.#waiting() > 0) {
      this.#waiter = null;
      waiter.resolve(this.#take());
    } else if (this.#ended) {
      this.#waiter = null;
      waiter.resolve(DONE);
    }
  }
}
