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

/** The read buffer's size when idle, and its limit when busy, in bytes. */
const MIN_READ_BYTES = 512;
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

/**
 * The lines of a connection, through the same {@linkcode LineParser} as
 * `LineStream`, without WHATWG streams: a ReadableStream piped through a
 * TransformStream measured about 9 KiB of heap per connection in Deno, this
 * reader under 1 KiB, and an idle connection is mostly this.
 *
 * The read buffer is reused (the parser copies what it keeps). It starts
 * small, because an idle connection holds it while its read is pending, and
 * doubles while reads fill it (a paste, a flood), so large inputs take few
 * reads; it shrinks again when reads come back small.
 */
export class LineReader implements AsyncIterableIterator<LineEvent>, LineSink {
  readonly #source: ByteReader;
  readonly #parser: LineParser;
  readonly #maxQueued: number | undefined;
  readonly #onError: (error: unknown) => void;
  #refuseTls: boolean;
  #queue: LineEvent[] = [];
  #ended = false;
  #failed = false;
  #error: unknown = undefined;
  /** Wakes the consumer waiting for a line. */
  #wake: (() => void) | null = null;
  /** Wakes the reader waiting for the queue to empty (no read-ahead). */
  #resume: (() => void) | null = null;

  constructor(source: ByteReader, options: LineReaderOptions = {}) {
    this.#source = source;
    this.#parser = new LineParser(options);
    this.#maxQueued = options.maxQueuedLines;
    this.#refuseTls = options.refuseTls ?? false;
    this.#onError = options.onError ?? (() => {});
    this.#read();
  }

  /** Takes an event from the parser; part of {@linkcode LineSink}. */
  enqueue(event: LineEvent): void {
    this.#queue.push(event);
    if (this.#maxQueued !== undefined && this.#queue.length > this.#maxQueued) {
      throw new ExcessFlood(this.#maxQueued);
    }
  }

  /** The next line; rejects with the error that ended reading, if any. */
  async next(): Promise<IteratorResult<LineEvent, undefined>> {
    while (true) {
      if (this.#failed) throw this.#error;
      if (this.#queue.length > 0) {
        const value = this.#queue.shift()!;
        if (this.#queue.length === 0) this.#wakeReader();
        return { value, done: false };
      }
      if (this.#ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }

  /** Stops reading (a `break` out of `for await` calls this). */
  return(): Promise<IteratorResult<LineEvent, undefined>> {
    this.#ended = true;
    this.#queue = [];
    this.#wakeReader();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(MIN_READ_BYTES);
    try {
      while (!this.#ended) {
        if (this.#maxQueued === undefined && this.#queue.length > 0) {
          await new Promise<void>((resolve) => this.#resume = resolve);
          continue;
        }
        const count = await this.#source.read(buffer);
        if (count === null) break;
        if (this.#refuseTls) {
          this.#refuseTls = false;
          // A handshake record (22) of TLS 1.x (3, any minor version).
          if (buffer[0] === 0x16 && (count < 2 || buffer[1] === 0x03)) {
            throw new TlsOnPlainPort();
          }
        }
        this.#parser.push(buffer.subarray(0, count), this);
        this.#wakeConsumer();
        if (count === buffer.length && buffer.length < MAX_READ_BYTES) {
          buffer = new Uint8Array(buffer.length * 2);
        } else if (
          count < buffer.length / 8 && buffer.length > MIN_READ_BYTES
        ) {
          buffer = new Uint8Array(buffer.length / 2);
        }
      }
    } catch (error) {
      if (!this.#ended) {
        this.#failed = true;
        this.#error = error;
        this.#onError(error);
      }
    } finally {
      this.#ended = true;
      this.#wakeConsumer();
    }
  }

  #wakeConsumer(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  #wakeReader(): void {
    const resume = this.#resume;
    this.#resume = null;
    resume?.();
  }
}
