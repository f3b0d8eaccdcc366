/**
 * One connection, from welcome to goodbye.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Command, Context, SessionControl } from "./commands/command.ts";
import { dispatch } from "./commands/mod.ts";
import type { Config } from "./config.ts";
import { ChatError } from "./errors.ts";
import { type LineEvent, LineStream, LineTooLong } from "./line_stream.ts";
import { Outbox } from "./outbox.ts";
import type { Registry } from "./registry.ts";
import type { User } from "./room.ts";
import { encodeLine, sanitize, TEXT } from "./text.ts";

/** The size of each read from a connection, in bytes. */
const READ_BYTES = 4096;

/** What a session needs from the server. */
export interface SessionOptions {
  registry: Registry;
  config: Config;
  commands: ReadonlyMap<string, Command>;
  log: Logger;
}

/**
 * A connection's life: welcome, then one loop that awaits each line in turn
 * and dispatches it, then cleanup in `finally`, whatever ended the loop
 * (logout, a dropped connection, a slow reader, shutdown).
 */
export class Session implements SessionControl {
  /** The user, once logged in. */
  user: User | null = null;
  /** The peer's address, for logs. */
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #outbox: Outbox;
  readonly #ctx: Context;
  readonly #log: Logger;
  #ending = false;
  #closed = false;

  constructor(conn: Deno.Conn, options: SessionOptions) {
    this.#conn = conn;
    this.#log = options.log;
    this.remote = formatAddr(conn.remoteAddr);
    this.#outbox = new Outbox(conn, {
      maxBytes: options.config.maxQueueBytes,
      onOverflow: () => {
        this.#log.warn("Dropped slow reader {remote} ({name})", this.#about());
        this.close();
      },
      onError: () => this.close(),
    });
    this.#ctx = {
      session: this,
      registry: options.registry,
      config: options.config,
      commands: options.commands,
    };
  }

  /** Where this session's lines go. */
  get recipient(): Outbox {
    return this.#outbox;
  }

  /** Sends lines to this session only. */
  reply(...lines: string[]): void {
    for (const line of lines) this.#outbox.deliver(encodeLine(line));
  }

  /** Ends the session once the current line is handled. */
  end(): void {
    this.#ending = true;
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    const { config, registry } = this.#ctx;
    this.#log.info("Connected {remote}", { remote: this.remote });
    this.reply(TEXT.welcome(config.name));
    try {
      const lines = readChunks(this.#conn).pipeThrough(
        new LineStream({ maxLineBytes: config.maxLineBytes }),
      );
      for await (const event of lines) {
        this.#handle(event);
        if (this.#ending) break;
      }
    } catch (error) {
      if (!this.#closed && !isDisconnect(error)) {
        this.#log.error("Reading from {remote} failed: {error}", {
          remote: this.remote,
          error,
        });
      }
    } finally {
      if (this.user) registry.logout(this.user);
      await this.#outbox.drained(FLUSH_MS);
      this.close();
      this.#log.info("Disconnected {remote} ({name})", this.#about());
    }
  }

  /**
   * Starts a graceful end: the user is told the server is shutting down.
   * Resolves once that (and whatever was queued before it) is written, or
   * after `timeoutMs`.
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.reply(TEXT.shuttingDown);
    return this.#outbox.drained(timeoutMs);
  }

  /** Closes the connection now, dropping unsent output; the loop then ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#outbox.discard();
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer's side.
    }
  }

  #handle(event: LineEvent): void {
    if (event instanceof LineTooLong) {
      this.reply(TEXT.lineTooLong(event.maxBytes));
      return;
    }
    try {
      dispatch(this.#ctx, sanitize(event));
    } catch (error) {
      if (error instanceof ChatError) {
        this.reply(...error.lines);
      } else {
        this.#log.error("Handling a line from {remote} failed: {error}", {
          remote: this.remote,
          error,
        });
        this.reply(TEXT.internalError);
      }
    }
  }

  #about(): { remote: string; name: string } {
    return { remote: this.remote, name: this.user?.name ?? "not logged in" };
  }
}

/** How long a closing session may take to flush its output, in ms. */
const FLUSH_MS = 2000;

/** A connection's bytes as a stream, read `READ_BYTES` at a time. */
function readChunks(conn: Deno.Conn): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const buffer = new Uint8Array(READ_BYTES);
      const count = await conn.read(buffer);
      if (count === null) controller.close();
      else controller.enqueue(buffer.subarray(0, count));
    },
  }, { highWaterMark: 0 });
}

/** Errors that only mean the peer went away, or we closed the connection. */
function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") {
    return addr.transport;
  }
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
