/**
 * The accept loop, and a graceful end.
 *
 * @module
 */

import type { Command } from "./commands/command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { type Config, DEFAULTS } from "./config.ts";
import { log } from "./log.ts";
import { Registry } from "./registry.ts";
import { formatAddr, Session } from "./session.ts";

/** Options for {@linkcode serve}: any of the config, the rest defaulted. */
export interface ServeOptions extends Partial<Config> {
  /**
   * The command table, for embedding with commands of your own. Default: the
   * built-in commands.
   */
  commands?: ReadonlyMap<string, Command>;
}

/** How long shutdown waits for sessions to flush their output, in ms. */
const SHUTDOWN_FLUSH_MS = 2000;

/** How long to wait before accepting again after accept() failed, in ms. */
const ACCEPT_RETRY_MS = 100;

/**
 * Starts a chat server listening on `options.host`:`options.port` and
 * returns its handle. The listener is bound when this returns, so
 * `handle.addr.port` is known (use port 0 in tests).
 */
export function serve(options: ServeOptions = {}): ChatServer {
  const { commands = COMMANDS, ...overrides } = options;
  const config: Config = { ...DEFAULTS, ...overrides };
  const listener = Deno.listen({
    hostname: config.host,
    port: config.port,
    transport: "tcp",
  });
  return new ChatServer(listener, config, commands);
}

/** A running server: its address, its registry, and a way to stop it. */
export class ChatServer implements AsyncDisposable {
  /** The address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** The users and rooms, shared by every session. */
  readonly registry: Registry = new Registry();
  readonly #config: Config;
  readonly #commands: ReadonlyMap<string, Command>;
  readonly #listener: Deno.Listener;
  readonly #sessions = new Map<Session, Promise<void>>();
  readonly #log = log("server");
  readonly #accepting: Promise<void>;
  #closing: Promise<void> | null = null;

  constructor(
    listener: Deno.Listener,
    config: Config,
    commands: ReadonlyMap<string, Command> = COMMANDS,
  ) {
    this.#listener = listener;
    this.#config = config;
    this.#commands = commands;
    this.addr = listener.addr as Deno.NetAddr;
    this.#log.info("Listening on {address}", {
      address: formatAddr(this.addr),
    });
    this.#accepting = this.#accept();
  }

  /** The number of open connections. */
  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Stops the server: no new connections; every session is told
   * `Server is shutting down.`; queued output is flushed for at most a couple
   * of seconds; then every connection closes. Safe to call more than once.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Stops the server, as {@linkcode ChatServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #accept(): Promise<void> {
    while (this.#closing === null) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept() as Deno.TcpConn;
      } catch (error) {
        if (this.#closing !== null) return;
        // Out of file descriptors, say: keep serving those already here.
        this.#log.error("Accepting a connection failed: {error}", { error });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#start(conn);
    }
  }

  #start(conn: Deno.TcpConn): void {
    try {
      conn.setNoDelay(true);
    } catch {
      // The peer left already; the session sees that on its first read.
    }
    const session = new Session(conn, {
      registry: this.registry,
      config: this.#config,
      commands: this.#commands,
      log: log("session"),
    });
    const done = session.run().finally(() => this.#sessions.delete(session));
    this.#sessions.set(session, done);
  }

  async #shutdown(): Promise<void> {
    this.#log.info("Shutting down");
    this.#listener.close();
    await this.#accepting;
    const sessions = [...this.#sessions.keys()];
    await Promise.all(
      sessions.map((session) => session.shutdown(SHUTDOWN_FLUSH_MS)),
    );
    // Close every connection before any session's cleanup runs, so nobody
    // is sent the others' departures after the shutdown line.
    for (const session of sessions) session.close();
    await Promise.all(this.#sessions.values());
    this.#log.info("Stopped");
  }
}
