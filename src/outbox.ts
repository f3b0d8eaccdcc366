/**
 * The one way a session's bytes reach its socket.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { type Clock, SYSTEM_CLOCK, type TimerId } from "./clock.ts";

/**
 * Where an outbox writes: a connection (`src/connection.ts`), a `Deno.Conn`,
 * or anything with such a `write`. It returns how many bytes were written, at
 * once (a number: a `node:net` socket whose kernel buffer had room) or later
 * (a promise).
 */
export interface ByteWriter {
  write(bytes: Uint8Array): number | Promise<number>;
}

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /**
   * The most bytes that may wait, the write in flight included. Past it the
   * outbox drops everything and calls `onOverflow`. Default 1 MiB.
   */
  maxBytes?: number;
  /**
   * The soft bound: output may stay above it for `softMs` at most, then the
   * outbox overflows (Redis's soft limit for pub/sub clients). Default: none.
   */
  softBytes?: number;
  /** How long output may stay above `softBytes`, in ms. Default 10 s. */
  softMs?: number;
  /** The clock `softMs` is measured on. */
  clock?: Clock;
  /**
   * Called once when a bound is passed: the reader is too slow. `hard` is
   * `maxBytes`, `soft` is `softBytes` for too long.
   */
  onOverflow?: (bound: "hard" | "soft") => void;
  /** Called once when a write fails: the peer is gone. */
  onError?: (error: unknown) => void;
}

/**
 * Outboxes with bytes queued and no write in flight, written once the event
 * loop has finished its turn: every line queued meanwhile, from every session
 * and every room, goes out in one write per connection.
 */
let dirty: Outbox[] = [];

function flushDirty(): void {
  const outboxes = dirty;
  dirty = [];
  for (const outbox of outboxes) outbox.flush();
}

/**
 * A session's writer. Lines are queued as bytes; everything queued in one
 * turn of the event loop leaves in one write (scheduled with setImmediate,
 * which runs once the turn's I/O callbacks and microtasks are done); one
 * write is in flight at a time, and whatever arrives meanwhile is joined into
 * the next. Per-line writes measured 40 times slower than this on fan-out.
 *
 * The queue is bounded: a reader that stops reading costs at most `maxBytes`
 * and never slows anyone else, because `deliver` never waits.
 */
export class Outbox {
  readonly #writer: ByteWriter;
  readonly #maxBytes: number;
  readonly #softBytes: number;
  readonly #softMs: number;
  readonly #clock: Clock;
  readonly #onOverflow: (bound: "hard" | "soft") => void;
  readonly #onError: (error: unknown) => void;
  /** Chunks waiting, oldest first; then the open tail. */
  #queue: Uint8Array[] = [];
  /** The newest chunk, which adjacent bytes extend to `#tailLength`. */
  #tail: Uint8Array | null = null;
  #tailLength = 0;
  /** Bytes queued plus bytes in the write in flight. */
  #bytes = 0;
  /** The write in flight, or null. */
  #writing: Uint8Array | null = null;
  /** Bytes of `#writing` written so far. */
  #written = 0;
  #scheduled = false;
  #dead = false;
  /** Who waits for the queue to drain; made on first use. */
  #idle: (() => void)[] | null = null;
  /** Running while output is above the soft bound. */
  #softTimer: TimerId | null = null;

  constructor(writer: ByteWriter, options: OutboxOptions = {}) {
    this.#writer = writer;
    this.#maxBytes = options.maxBytes ?? 1024 * 1024;
    this.#softBytes = options.softBytes ?? Infinity;
    this.#softMs = options.softMs ?? 10_000;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#onOverflow = options.onOverflow ?? (() => {});
    this.#onError = options.onError ?? (() => {});
  }

  /** Bytes waiting to be written, the write in flight included. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** False once the outbox overflowed or a write failed. */
  get alive(): boolean {
    return !this.#dead;
  }

  /**
   * Queues bytes (one or more encoded lines). Never waits; bytes are not
   * copied, so the same bytes may go to many outboxes.
   */
  deliver(bytes: Uint8Array): void {
    if (this.#dead) return;
    if (this.#bytes + bytes.length > this.#maxBytes) {
      this.#overflow("hard");
      return;
    }
    const tail = this.#tail;
    if (
      tail !== null && tail.buffer === bytes.buffer &&
      tail.byteOffset + this.#tailLength === bytes.byteOffset
    ) {
      // Adjacent in the same arena (a room's lines): they will leave as one
      // view, without a copy, and without allocating anything now.
      this.#tailLength += bytes.length;
    } else {
      this.#sealTail();
      this.#tail = bytes;
      this.#tailLength = bytes.length;
    }
    this.#bytes += bytes.length;
    if (this.#bytes > this.#softBytes && this.#softTimer === null) {
      this.#softTimer = this.#clock.setTimeout(
        () => this.#overflow("soft"),
        this.#softMs,
      );
    }
    if (!this.#scheduled && this.#writing === null) {
      this.#scheduled = true;
      if (dirty.length === 0) setImmediate(flushDirty);
      dirty.push(this);
    }
  }

  /**
   * Resolves once everything queued has been written (or can no longer be),
   * or after `timeoutMs`, whichever comes first.
   */
  drained(timeoutMs: number): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      (this.#idle ??= []).push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Drops what is queued and refuses more; the writer is left to its owner. */
  discard(): void {
    this.#kill();
  }

  /** Starts the next write; called once the turn is over. */
  flush(): void {
    this.#scheduled = false;
    if (this.#dead || this.#writing !== null) return;
    if (this.#take()) this.#write();
  }

  /** Makes the next write of what is queued; false if nothing is. */
  #take(): boolean {
    if (this.#queue.length === 0) {
      // The usual case: one chunk (often a run of a room's lines).
      if (this.#tail === null) return false;
      this.#writing = this.#takeTail();
    } else {
      this.#sealTail();
      this.#writing = this.#next();
    }
    this.#written = 0;
    return true;
  }

  /**
   * The next write: small chunks joined (a copy, but one write); a large one
   * alone, as it is, since it is usually a view of an arena that every member
   * of a room shares, and copying it per member is what would cost.
   */
  #next(): Uint8Array {
    const queue = this.#queue;
    let count = 0;
    let length = 0;
    while (count < queue.length && length + queue[count].length <= JOIN_BYTES) {
      length += queue[count++].length;
    }
    if (count === queue.length) this.#queue = []; // no capacity kept idle
    if (count <= 1) return count === queue.length ? queue[0] : queue.shift()!;
    return join(
      count === queue.length ? queue : queue.splice(0, count),
      length,
    );
  }

  /**
   * Writes `#writing`, and then whatever else is queued for as long as the
   * writer takes the bytes at once (a socket whose kernel buffer has room);
   * the first write that must wait continues in `#wrote`.
   */
  #write(): void {
    while (true) {
      const chunk = this.#writing!;
      let result: number | Promise<number>;
      try {
        result = this.#writer.write(
          this.#written === 0 ? chunk : chunk.subarray(this.#written),
        );
      } catch (error) {
        return this.#fail(error);
      }
      if (typeof result !== "number") {
        // Made once, and only for a writer that makes the outbox wait.
        this.#wroteLater ??= (count) => this.#wrote(count);
        this.#failedLater ??= (error) => this.#fail(error);
        result.then(this.#wroteLater, this.#failedLater);
        return;
      }
      if (!this.#advance(result)) return;
    }
  }

  #wroteLater: ((count: number) => void) | null = null;
  #failedLater: ((error: unknown) => void) | null = null;

  #wrote(count: number): void {
    if (this.#advance(count)) this.#write();
  }

  /** Accounts for `count` bytes written; true if another write is due. */
  #advance(count: number): boolean {
    if (this.#dead) return false;
    const chunk = this.#writing!;
    this.#written += count;
    if (this.#written < chunk.length) return true;
    this.#writing = null;
    this.#bytes -= chunk.length;
    if (this.#bytes <= this.#softBytes) this.#calm();
    // What arrived during the write goes now: the reader is keeping up.
    if (this.#take()) return true;
    this.#wakeIdle();
    return false;
  }

  #fail(error: unknown): void {
    if (this.#dead) return;
    this.#kill();
    this.#onError(error);
  }

  /** Moves the tail into the queue. */
  #sealTail(): void {
    if (this.#tail !== null) this.#queue.push(this.#takeTail());
  }

  /** The tail as one view of its bytes; the tail is then closed. */
  #takeTail(): Uint8Array {
    const tail = this.#tail!;
    this.#tail = null;
    return this.#tailLength === tail.length
      ? tail
      : new Uint8Array(tail.buffer, tail.byteOffset, this.#tailLength);
  }

  #isIdle(): boolean {
    return this.#dead ||
      (this.#writing === null && this.#queue.length === 0 &&
        this.#tail === null);
  }

  #overflow(bound: "hard" | "soft"): void {
    this.#kill();
    this.#onOverflow(bound);
  }

  #kill(): void {
    this.#dead = true;
    this.#queue = [];
    this.#tail = null;
    this.#bytes = 0;
    this.#writing = null;
    this.#calm();
    this.#wakeIdle();
  }

  /** Output is back under the soft bound: the grace period ends. */
  #calm(): void {
    if (this.#softTimer === null) return;
    this.#clock.clearTimeout(this.#softTimer);
    this.#softTimer = null;
  }

  #wakeIdle(): void {
    if (!this.#isIdle() || this.#idle === null) return;
    const waiters = this.#idle;
    this.#idle = null;
    for (const wake of waiters) wake();
  }
}

/** Chunks are joined into one write up to this many bytes. */
const JOIN_BYTES = 4096;

function join(chunks: Uint8Array[], length: number): Uint8Array {
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}
