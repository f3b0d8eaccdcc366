/**
 * A client's connection as a session uses it: lines in, bytes out. The plain
 * port's connections are `node:net` sockets, the TLS port's `node:tls`
 * sockets over `node:net` ones.
 *
 * Why not `Deno.listen`: a `Deno.Conn.write` is an async op, about 1 KB of
 * garbage and a promise per call, and it runs only once the JavaScript that
 * issued it yields, so a fan-out to 1,000 members first issued 1,000 writes
 * and only then sent the first byte. Deno's `node:net` sockets write natively and at
 * once (the syscall happens inside `socket.write`) and cost less per idle
 * connection (5.3 against 6.0 KiB measured with 5,000 connections). Writes
 * skip node's stream machinery and go straight to the socket's native handle,
 * as node's own `net` does underneath: that machinery was about 30% of the
 * server's CPU in the steady-rate benchmark (0.59 of a core against 0.42).
 *
 * TLS sessions are few and rarely large rooms' bulk: theirs go through
 * `socket.write` and `data` events (`sharedReads: false`). Not
 * `Deno.listenTls`: a `Deno.TlsConn` whose handshake never finishes cannot
 * be closed (its `close()` waits for the handshake), so every peer that
 * connected and said nothing kept a socket open for good. The price,
 * measured with `deno task bench --tls`: 59 against 24 KiB per idle TLS
 * connection and 233 against 422 logins/s, the fan-out as fast
 * (docs/performance.md).
 *
 * @module
 */

import { Socket } from "node:net";
import process from "node:process";
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import {
  type ByteFeed,
  LineReader,
  type LineReaderOptions,
} from "./line_reader.ts";
import type { LineEvent } from "./line_stream.ts";
import type { ByteWriter } from "./outbox.ts";
import type { OutputOptions, SessionOutput } from "./render/output.ts";
import { TelnetOutput } from "./render/telnet_output.ts";

/** A connection's lines, as the session loop reads them. */
export interface Lines extends AsyncIterableIterator<LineEvent> {
  /** Whether the client looks like telnet (it can hide what is typed). */
  readonly telnetLike: boolean;
  /** The client's answer to IAC WILL ECHO, if it has sent one. */
  readonly echoAnswer: "do" | "dont" | null;
  /** Stops reading: a line being waited for is the end, and no more come. */
  end(): void;
}

/** A connection, whichever API it came from. */
export interface Connection extends ByteWriter {
  /** The peer's address (IPv4-mapped IPv6 addresses as plain IPv4). */
  readonly remoteAddr: Deno.NetAddr;
  /** The connection's lines, for the session loop. Called once. */
  lines(options: LineReaderOptions): Lines;
  /**
   * Turns Nagle's algorithm off (true) or on (false), where the transport
   * has the setting (a WebSocket's does nothing: its frames leave at once).
   */
  setNoDelay(noDelay: boolean): void;
  /**
   * Closes now; unsent bytes are dropped. Safe to call more than once.
   * `code` and `reason`: a WebSocket's close frame, where the transport has
   * one (a plain socket has nothing to say them with).
   */
  close(code?: number, reason?: string): void;
  /** The session's output: how this transport renders and queues. */
  output(options: OutputOptions): SessionOutput;
}

/**
 * Where every plain connection's reads land. A socket's `data` events would
 * bring a fresh buffer per read, garbage that piled up to 190 MB of RSS under
 * one client's endless line before V8 collected it; with `onread`, node reads
 * into this one buffer and calls back at once, and the parser copies what it
 * keeps, so one buffer serves every connection.
 */
const READ_BUFFER = new Uint8Array(64 * 1024);

/** A socket's connection, for listeners shared by every socket. */
const OWNER = Symbol("connection");
type Owned = Socket & { [OWNER]: SocketConnection };

/** What a write needs of node's native stream handle. */
interface StreamHandle {
  /**
   * Writes at once what the kernel takes and queues the rest; returns 0 or a
   * negative errno. `request.oncomplete` is called once the rest is written,
   * and only if there was a rest (see {@linkcode WRITE_STATE}).
   */
  writeBuffer(request: WriteRequest, bytes: Uint8Array): number;
}
interface WriteRequest {
  oncomplete(status: number): void;
}

/** A write that had to wait, in {@linkcode SocketConnection}. */
interface Waiter {
  resolve(count: number): void;
  reject(error: unknown): void;
  bytes: Uint8Array;
  /** Settled once this many writes are done. */
  until: number;
  next: Waiter | null;
}

/** A failed native write's errno (negative), as an error. */
function writeError(status: number): Error {
  return new Deno.errors.BrokenPipe(`write failed (${status})`);
}

/**
 * Where node's native streams say whether the last write had to wait (the
 * same binding node's own `net` reads after each write), or null where the
 * runtime does not have it: writes then go through `socket.write`.
 */
const WRITE_STATE = writeState();

function writeState(): { state: Int32Array; waited: number } | null {
  try {
    const binding = (process as unknown as {
      binding(name: string): {
        streamBaseState?: Int32Array;
        kLastWriteWasAsync?: number;
      };
    }).binding("stream_wrap");
    const state = binding.streamBaseState;
    const waited = binding.kLastWriteWasAsync;
    if (state instanceof Int32Array && typeof waited === "number") {
      return { state, waited };
    }
  } catch {
    // No such binding.
  }
  return null;
}

/** A `node:net` socket: the plain port. */
export class SocketConnection implements Connection, ByteFeed {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: Owned;
  /** Reads land in READ_BUFFER (else: `data` events). */
  readonly #shared: boolean;
  /** Writes go straight to it, past node's stream (null: `socket.write`). */
  readonly #handle: StreamHandle | null;
  /** Where reads go, once `lines()` has been called. */
  #reader: LineReader | null = null;
  /**
   * Writes node will report done, and those it has: with the handle, the
   * writes that had to wait; with `socket.write`, every write.
   */
  #issued = 0;
  #done = 0;
  /** Writes that had to wait, oldest first, until node reports them done. */
  #waiting: Waiter | null = null;
  #lastWaiting: Waiter | null = null;
  /** `socket.write`'s callback, made on first use (without the handle). */
  #written: ((error?: Error | null) => void) | null = null;
  /** Closed with `end()` (TLS: a close_notify first), not at once. */
  readonly #endOnClose: boolean;
  /** Times the wait for a socket closed with `end()`. */
  readonly #clock: Clock;

  /**
   * Takes over a socket the server accepted paused (`pauseOnConnect`). Its
   * handle is wrapped in a new socket that reads into
   * {@linkcode READ_BUFFER}, since `net.createServer` has no `onread` option
   * of its own; where the handle cannot be had (`_handle` is node's own
   * field, which Deno keeps for compatibility), or with `sharedReads: false`,
   * the socket is used as it is: reads by `data` events, writes by
   * `socket.write`. Writes go to the handle itself only where node's write
   * state can be read too ({@linkcode WRITE_STATE}). `clock` (the
   * system's unless told) times how long a socket closed with `end()` may
   * take.
   */
  constructor(
    accepted: Socket,
    options: { sharedReads?: boolean; endOnClose?: boolean; clock?: Clock } =
      {},
  ) {
    this.#endOnClose = options.endOnClose ?? false;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    const parts = accepted as unknown as { _handle?: object | null };
    const handle = parts._handle;
    this.#shared = (options.sharedReads ?? true) && handle !== undefined &&
      handle !== null;
    if (this.#shared) {
      // The accepted socket lets go of the handle and ends without closing
      // it, so that nothing (the server's count) keeps it.
      parts._handle = null;
      accepted.destroy();
    }
    const socket = (this.#shared
      ? new Socket(
        {
          handle,
          pauseOnCreate: true,
          // A client that ends its input (`nc -N`, `nc -q 1`, a script's
          // stdin at EOF) still reads: the lines it sent are answered, then
          // the session closes the connection.
          allowHalfOpen: true,
          onread: { buffer: READ_BUFFER, callback: SocketConnection.#onRead },
        } as ConstructorParameters<typeof Socket>[0],
      )
      : accepted) as Owned;
    socket[OWNER] = this;
    this.#socket = socket;
    this.#handle = this.#shared && WRITE_STATE !== null &&
        typeof (handle as Partial<StreamHandle>).writeBuffer === "function"
      ? handle as StreamHandle
      : null;
    this.remoteAddr = peerAddress(socket);
    // Listeners are shared by every socket (they find the connection through
    // the socket) rather than made per connection: idle connections are most
    // of the server's memory. An 'error' event with no listener would throw,
    // and a refused connection never reads.
    socket.on("error", SocketConnection.#onError);
    socket.on("end", SocketConnection.#onEnd);
    socket.on("close", SocketConnection.#onClose);
  }

  static #onRead = function (
    this: Owned,
    count: number,
    buffer: Uint8Array,
  ): boolean {
    this[OWNER].#reader?.receive(buffer.subarray(0, count));
    return true;
  };

  static #onData = function (this: Owned, chunk: Uint8Array): void {
    this[OWNER].#reader?.receive(chunk);
  };

  static #onError = function (this: Owned, error: Error): void {
    this[OWNER].#reader?.finish(error);
  };

  static #onEnd = function (this: Owned): void {
    this[OWNER].#reader?.finish();
  };

  static #onClose = function (this: Owned): void {
    const connection = this[OWNER];
    connection.#reader?.finish();
    connection.#fail(new Deno.errors.BrokenPipe("Connection closed"));
  };

  output(options: OutputOptions): SessionOutput {
    return new TelnetOutput(this, options);
  }

  lines(options: LineReaderOptions): LineReader {
    const reader = new LineReader(this, options);
    this.#reader = reader;
    if (!this.#shared) this.#socket.on("data", SocketConnection.#onData);
    this.#socket.resume();
    return reader;
  }

  /**
   * Writes at once. Usually the kernel takes every byte inside this call and
   * the count comes back as a number; otherwise the rest waits in node's
   * buffer and the promise settles once it has been written. Writes may
   * overlap: they go out, and settle, in order.
   */
  write(bytes: Uint8Array): number | Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("Connection closed"));
    }
    const handle = this.#handle;
    if (handle !== null) {
      // What node's own socket.write comes down to, without the stream
      // machinery around it. The handle reports only the writes that had to
      // wait (to `oncomplete`, in order), so only those are counted.
      const status = handle.writeBuffer(this, bytes);
      if (status < 0) return Promise.reject(writeError(status));
      if (WRITE_STATE!.state[WRITE_STATE!.waited] === 0) return bytes.length;
      this.#issued++;
    } else {
      // socket.write reports every write, in order.
      this.#issued++;
      socket.write(bytes, this.#written ??= (error) => this.#settle(error));
      if (socket.writableLength === 0) return bytes.length;
    }
    return new Promise((resolve, reject) => {
      // The waiter keeps the bytes alive until node is done with them.
      const waiter: Waiter = {
        resolve,
        reject,
        bytes,
        until: this.#issued,
        next: null,
      };
      if (this.#lastWaiting === null) this.#waiting = waiter;
      else this.#lastWaiting.next = waiter;
      this.#lastWaiting = waiter;
    });
  }

  /**
   * Called by node's native handle once a write that had to wait is done
   * (`status` < 0: it failed). Not for other callers.
   */
  oncomplete(status: number): void {
    this.#settle(status < 0 ? writeError(status) : null);
  }

  /** One more write is done (in order), or failed. */
  #settle(error?: Error | null): void {
    this.#done++;
    if (error) return this.#fail(error);
    let waiter = this.#waiting;
    while (waiter !== null && waiter.until <= this.#done) {
      waiter.resolve(waiter.bytes.length);
      waiter = waiter.next;
    }
    this.#waiting = waiter;
    if (waiter === null) this.#lastWaiting = null;
  }

  /** Every write still waiting fails. */
  #fail(error: unknown): void {
    let waiter = this.#waiting;
    this.#waiting = this.#lastWaiting = null;
    while (waiter !== null) {
      waiter.reject(error);
      waiter = waiter.next;
    }
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  setNoDelay(noDelay: boolean): void {
    this.#socket.setNoDelay(noDelay);
  }

  /** Turns TCP keepalive on: the kernel then reaps half-open peers. */
  setKeepAlive(): void {
    this.#socket.setKeepAlive(true);
  }

  /**
   * Closes the socket. A TLS socket (`endOnClose`) ends first, so that the
   * client reads a close_notify and a clean end rather than a connection cut
   * (rustls reports that as an error), and is destroyed a second later if
   * it has not closed by then (a client that does not read). Its input ends
   * at once, as a destroyed socket's does: the session is over now, not
   * once the client closes its side (one that reads on after the
   * close_notify held its session, and a shutdown, for that second).
   */
  close(): void {
    const socket = this.#socket;
    if (!this.#endOnClose || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.end();
    this.#reader?.finish();
    const clock = this.#clock;
    const timer = clock.setTimeout(() => socket.destroy(), END_MS);
    if (typeof timer === "number" && clock === SYSTEM_CLOCK) {
      Deno.unrefTimer(timer);
    }
    socket.once("close", () => clock.clearTimeout(timer));
  }

  /** Calls `then` once the socket has closed: at once if it has. */
  whenGone(then: () => void): void {
    if (this.#socket.closed) then();
    else this.#socket.once("close", then);
  }
}

/** How long a TLS socket closed with `end()` may take, in ms. */
const END_MS = 1000;

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) as `192.0.2.1`. */
export function unmapped(hostname: string): string {
  return hostname.toLowerCase().startsWith("::ffff:") && hostname.includes(".")
    ? hostname.slice(7)
    : hostname;
}

/**
 * A node socket's peer as a `Deno.NetAddr`, its IPv4 address unmapped; an
 * empty hostname once the socket has closed (read it at accept).
 */
export function peerAddress(socket: Socket): Deno.NetAddr {
  return {
    transport: "tcp",
    hostname: unmapped(socket.remoteAddress ?? ""),
    port: socket.remotePort ?? 0,
  };
}
