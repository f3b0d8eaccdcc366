/**
 * A client's connection as a session uses it: lines in, bytes out. The plain
 * port's connections are `node:net` sockets, the TLS port's `Deno.TlsConn`s.
 *
 * Why two: a `Deno.Conn.write` is an async op, about 1 KB of garbage and a
 * promise per call, and it runs only once the JavaScript that issued it
 * yields, so a fan-out to 1,000 members first issued 1,000 writes and only
 * then sent the first byte. Deno's `node:net` sockets write natively and at
 * once (the syscall happens inside `socket.write`) and cost less per idle
 * connection (5.3 against 6.0 KiB measured with 5,000 connections). TLS
 * sessions are few and rarely large rooms' bulk, and `Deno.listenTls` takes
 * the certificate as it is, so they stay on Deno's own API.
 *
 * @module
 */

import { Socket } from "node:net";
import {
  type ByteFeed,
  LineReader,
  type LineReaderOptions,
} from "./line_reader.ts";
import type { ByteWriter } from "./outbox.ts";

/** A connection, whichever API it came from. */
export interface Connection extends ByteWriter {
  /** The peer's address (IPv4-mapped IPv6 addresses as plain IPv4). */
  readonly remoteAddr: Deno.NetAddr;
  /** The connection's lines, for the session loop. Called once. */
  lines(options: LineReaderOptions): LineReader;
  /**
   * Turns Nagle's algorithm off (true) or on (false), where the transport
   * has the setting (TLS connections in Deno do not).
   */
  setNoDelay(noDelay: boolean): void;
  /** Closes now; unsent bytes are dropped. Safe to call more than once. */
  close(): void;
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

/** A `node:net` socket: the plain port. */
export class SocketConnection implements Connection, ByteFeed {
  readonly remoteAddr: Deno.NetAddr;
  readonly #socket: Owned;
  /** Reads land in READ_BUFFER (else: `data` events). */
  readonly #shared: boolean;
  /** Where reads go, once `lines()` has been called. */
  #reader: LineReader | null = null;
  /** Writes handed to node, and those node has reported done. */
  #issued = 0;
  #done = 0;
  /** A write still in node's buffer: settled once the kernel has it all. */
  #flushing: {
    resolve(count: number): void;
    reject(error: unknown): void;
    count: number;
    /** Settled once this many writes are done. */
    until: number;
  } | null = null;

  /**
   * Takes over a socket the server accepted paused (`pauseOnConnect`). Its
   * handle is wrapped in a new socket that reads into
   * {@linkcode READ_BUFFER}, since `net.createServer` has no `onread` option
   * of its own; where the handle cannot be had (`_handle` is node's own
   * field, which Deno keeps for compatibility), or with `sharedReads: false`,
   * the socket is used as it is.
   */
  constructor(accepted: Socket, options: { sharedReads?: boolean } = {}) {
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
          onread: { buffer: READ_BUFFER, callback: SocketConnection.#onRead },
        } as ConstructorParameters<typeof Socket>[0],
      )
      : accepted) as Owned;
    socket[OWNER] = this;
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: unmapped(socket.remoteAddress ?? ""),
      port: socket.remotePort ?? 0,
    };
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
   * buffer and the promise settles once it has been written.
   */
  write(bytes: Uint8Array): number | Promise<number> {
    const socket = this.#socket;
    if (socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("Connection closed"));
    }
    this.#issued++;
    socket.write(bytes, this.#flushed);
    if (socket.writableLength === 0) return bytes.length;
    const until = this.#issued;
    return new Promise((resolve, reject) => {
      this.#flushing = { resolve, reject, count: bytes.length, until };
    });
  }

  /**
   * Called by node, in order, once each write has left its buffer (for one
   * the kernel took at once, on the next tick), or failed.
   */
  readonly #flushed = (error?: Error | null): void => {
    this.#done++;
    const flushing = this.#flushing;
    if (flushing === null) return;
    if (error) return this.#fail(error);
    if (this.#done < flushing.until) return;
    this.#flushing = null;
    flushing.resolve(flushing.count);
  };

  #fail(error: unknown): void {
    const flushing = this.#flushing;
    if (flushing === null) return;
    this.#flushing = null;
    flushing.reject(error);
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

  close(): void {
    this.#socket.destroy();
  }
}

/** A `Deno.Conn`: the TLS port. */
export class DenoConnection implements Connection {
  readonly remoteAddr: Deno.NetAddr;
  readonly #conn: Deno.Conn;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddr = { ...addr, hostname: unmapped(addr.hostname) };
  }

  lines(options: LineReaderOptions): LineReader {
    return new LineReader(this.#conn, options);
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#conn.write(bytes);
  }

  setNoDelay(): void {
    // Deno's TlsConn has no such setting.
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) as `192.0.2.1`. */
export function unmapped(hostname: string): string {
  return hostname.toLowerCase().startsWith("::ffff:") && hostname.includes(".")
    ? hostname.slice(7)
    : hostname;
}
