/**
 * One load-generator connection. It works on bytes, not strings: a line is a
 * pair of offsets, and only the few lines a scenario waits for are compared,
 * so that draining millions of announcements costs the generator little.
 *
 * @module
 */

const LF = 10;
const TILDE = 0x7e;
const T = 0x54;
const encoder = new TextEncoder();

/** The marker before a send time (µs) in a benchmark line. */
export const MARK = "~T";

/** What a client does with each line it reads. */
export interface LineHandler {
  /**
   * Called per line; `end` excludes the line ending; `now` is when the read
   * that brought the line returned, in µs.
   */
  (bytes: Uint8Array, start: number, end: number, now: number): void;
}

/** Microseconds on this process's clock: send times and arrival times. */
export function nowMicros(): number {
  return Math.round(performance.now() * 1000);
}

/** Whether `bytes[start, end)` contains `needle`. */
export function includes(
  bytes: Uint8Array,
  start: number,
  end: number,
  needle: Uint8Array,
): boolean {
  const last = end - needle.length;
  outer: for (let i = start; i <= last; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (bytes[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * The send time carried by a benchmark line, or -1: the digits after the
 * last `~T`.
 */
export function sendTime(
  bytes: Uint8Array,
  start: number,
  end: number,
): number {
  for (let i = end - 2; i >= start; i--) {
    if (bytes[i] === TILDE && bytes[i + 1] === T) {
      let value = 0;
      for (let j = i + 2; j < end; j++) {
        const digit = bytes[j] - 48;
        if (digit < 0 || digit > 9) break;
        value = value * 10 + digit;
      }
      return value;
    }
  }
  return -1;
}

/** A connection that reads all the time and hands each line to a handler. */
export class BenchClient {
  readonly conn: Deno.Conn;
  readonly name: string;
  /** Replaced by scenarios; the default ignores lines. */
  handler: LineHandler = () => {};
  /**
   * While set, the client waits this long between reads, so each read drains
   * a batch: many clients then cost the generator few reads. Their arrival
   * times are late by up to this much, so scenarios take no latency from
   * them.
   */
  drainEveryMs = 0;
  readonly done: Promise<void>;
  #closed = false;

  private constructor(conn: Deno.Conn, name: string) {
    this.conn = conn;
    this.name = name;
    this.done = this.#read();
  }

  /** Connects over TCP, or over TLS trusting `tlsCa` (a PEM) if given. */
  static async connect(
    port: number,
    name: string,
    tlsCa?: string,
  ): Promise<BenchClient> {
    if (tlsCa !== undefined) {
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [tlsCa],
      });
      await conn.handshake();
      return new BenchClient(conn, name);
    }
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new BenchClient(conn, name);
  }

  /** Sends text as it is (line endings included). */
  async send(text: string): Promise<void> {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) {
      written += await this.conn.write(bytes.subarray(written));
    }
  }

  /** Resolves at the first line `test` accepts. */
  waitForLine(
    test: (bytes: Uint8Array, start: number, end: number) => boolean,
  ): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.handler;
      this.handler = (bytes, start, end) => {
        if (test(bytes, start, end)) {
          this.handler = previous;
          resolve();
        }
      };
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // Closed by the server.
    }
  }

  async #read(): Promise<void> {
    let buffer = new Uint8Array(64 * 1024);
    let filled = 0;
    try {
      while (true) {
        if (filled === buffer.length) {
          const bigger = new Uint8Array(buffer.length * 2);
          bigger.set(buffer);
          buffer = bigger;
        }
        const count = await this.conn.read(buffer.subarray(filled));
        if (count === null) break;
        const end = filled + count;
        const now = nowMicros();
        let start = 0;
        for (let i = filled; i < end; i++) {
          if (buffer[i] !== LF) continue;
          const lineEnd = i > start && buffer[i - 1] === 13 ? i - 1 : i;
          this.handler(buffer, start, lineEnd, now);
          start = i + 1;
        }
        buffer.copyWithin(0, start, end);
        filled = end - start;
        if (this.drainEveryMs > 0) {
          // Spread out, so that the drains do not all land at once.
          const wait = this.drainEveryMs * (0.5 + Math.random());
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
    } catch {
      // Reset or closed: the scenario notices missing lines.
    } finally {
      this.#closed = true;
    }
  }
}
