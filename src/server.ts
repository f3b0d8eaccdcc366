/**
 * The listeners (plain: `node:net`; TLS: `Deno.listenTls`), connection limits,
 * and a graceful end.
 *
 * @module
 */

import { createServer, type Server, type Socket } from "node:net";
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import type { Command } from "./commands/command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { type Config, DEFAULTS } from "./config.ts";
import {
  type Connection,
  DenoConnection,
  SocketConnection,
  unmapped,
} from "./connection.ts";
import { ConnectionLimits, type Refusal } from "./limits.ts";
import { log } from "./log.ts";
import { PasswordHasher } from "./passwords.ts";
import { sanctionText } from "./commands/moderation.ts";
import { Moderation } from "./moderation.ts";
import { foldName } from "./names.ts";
import {
  type ClaimedRoomState,
  MAIN_ROOM,
  Registry,
  type RoomState,
} from "./registry.ts";
import { formatAddr, type ServerContext, Session } from "./session.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";
import { encodeLine, sanitize, TEXT } from "./text.ts";

/** Options for {@linkcode serve}: any of the config, the rest defaulted. */
export interface ServeOptions extends Partial<Config> {
  /**
   * The command table, for embedding with commands of your own. Default: the
   * built-in commands.
   */
  commands?: ReadonlyMap<string, Command>;
  /** The clock every time-based rule reads. Default: the real one. */
  clock?: Clock;
}

/** How long shutdown waits for sessions to flush their output, in ms. */
const SHUTDOWN_FLUSH_MS = 2000;

/** How long to wait before accepting again after accept() failed, in ms. */
const ACCEPT_RETRY_MS = 100;

/** How long a refused connection may take to read its one line, in ms. */
const REFUSAL_WRITE_MS = 1000;

const REFUSALS: Record<Refusal, string> = {
  full: TEXT.serverFull,
  address: TEXT.tooManyConnections,
  rate: TEXT.tooManyNewConnections,
};

/**
 * Starts a chat server: opens its store (`options.db`), then listens on
 * `options.host`:`options.port` (and on `options.tlsPort` with TLS, when
 * given), and resolves to its handle once the listeners are bound, so
 * `handle.addr.port` is known (use port 0 in tests). Rejects if the store
 * cannot be opened (a `StoreError`) or a port cannot be bound.
 */
export async function serve(options: ServeOptions = {}): Promise<ChatServer> {
  const { commands = COMMANDS, clock = SYSTEM_CLOCK, ...overrides } = options;
  const config: Config = { ...DEFAULTS, ...overrides };
  const motd = config.motd === "" ? [] : readMotd(config.motd);
  const storeLog = log("store");
  const store = await SqliteStore.open(config.db, {
    historyKeep: config.historyKeep,
    onError: (error) =>
      storeLog.error("Writing to the database failed: {error}", { error }),
  });
  let listener: Server | null = null;
  try {
    const main = await store.room(MAIN_ROOM, config.historyLines);
    const moderation = await Moderation.load(store, {
      operators: config.ops.map(foldName),
      clock,
    });
    // Claimed rooms stay, even empty: made at start, with their last lines.
    const claimed: ClaimedRoomState[] = [];
    for (const room of await store.claimedRooms()) {
      const kept = await store.room(room.key, config.historyLines);
      claimed.push({
        name: room.name,
        owner: room.owner,
        operators: room.ops,
        topic: room.topic,
        history: kept?.history ?? [],
      });
    }
    listener = await listen(config.host, config.port);
    let tlsListener: Deno.TlsListener | null = null;
    if (config.tlsPort !== null) {
      tlsListener = Deno.listenTls({
        hostname: config.host,
        port: config.tlsPort,
        cert: Deno.readTextFileSync(config.cert),
        key: Deno.readTextFileSync(config.key),
      });
    }
    return new ChatServer({
      listener,
      tlsListener,
      config,
      commands,
      clock,
      motd,
      store,
      main,
      moderation,
      claimed,
    });
  } catch (error) {
    listener?.close();
    await store.close();
    throw error;
  }
}

/**
 * The plain port: a `node:net` server, whose sockets write natively and at
 * once (see `src/connection.ts` for why not `Deno.listen`).
 */
function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Paused, so that nothing is read before SocketConnection takes over.
    const server = createServer({ pauseOnConnect: true });
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** The message of the day: its lines, sanitised, without trailing blanks. */
function readMotd(path: string): string[] {
  const lines = Deno.readTextFileSync(path).split(/\r\n|\n|\r/).map(sanitize);
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  return lines;
}

/** What a {@linkcode ChatServer} is made of. */
export interface ChatServerParts {
  /** The plain port, listening. */
  listener: Server;
  tlsListener: Deno.TlsListener | null;
  config: Config;
  commands: ReadonlyMap<string, Command>;
  clock: Clock;
  /** The message of the day, sanitised lines. */
  motd: readonly string[];
  /** What outlives the process; the server closes it when it stops. */
  store: Store;
  /** What the store kept of the main room. */
  main: RoomState | null;
  /** Operators, bans and mutes, loaded from the store. */
  moderation: Moderation;
  /** The claimed rooms, made at start. */
  claimed: readonly ClaimedRoomState[];
}

/** A running server: its addresses, its registry, and a way to stop it. */
export class ChatServer implements AsyncDisposable {
  /** The plain address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** The TLS address, when there is one. */
  readonly tlsAddr: Deno.NetAddr | null;
  /** The users and rooms, shared by every session. */
  readonly registry: Registry;
  readonly #parts: ChatServerParts;
  readonly #limits: ConnectionLimits;
  /** What every session shares. */
  readonly #shared: ServerContext;
  readonly #sessions = new Set<Session>();
  /** Resolved when the last session has ended, during shutdown. */
  #lastEnded: (() => void) | null = null;
  readonly #log = log("server");
  readonly #accepting: Promise<void>[];
  #closing: Promise<void> | null = null;

  constructor(parts: ChatServerParts) {
    this.#parts = parts;
    const { listener, tlsListener, config, clock } = parts;
    this.#limits = new ConnectionLimits({ ...config, clock });
    this.registry = new Registry({
      historyLines: config.historyLines,
      ids: parts.store.ids,
      clock,
      journal: parts.store,
      main: parts.main ?? undefined,
      claimed: parts.claimed,
    });
    this.#shared = {
      store: parts.store,
      ended: (session) => this.#ended(session),
      registry: this.registry,
      config,
      commands: parts.commands,
      clock,
      motd: parts.motd,
      log: log("session"),
      hasher: new PasswordHasher({ concurrency: config.maxPasswordHashes }),
      moderation: parts.moderation,
    };
    const bound = listener.address();
    if (bound === null || typeof bound === "string") {
      throw new Error("The plain listener is not bound to a TCP port");
    }
    this.addr = {
      transport: "tcp",
      hostname: unmapped(bound.address),
      port: bound.port,
    };
    this.tlsAddr = tlsListener?.addr as Deno.NetAddr ?? null;
    this.#log.info("Listening on {address}", {
      address: formatAddr(this.addr),
    });
    listener.on("connection", (socket: Socket) => {
      if (this.#closing !== null) {
        socket.destroy();
        return;
      }
      const conn = new SocketConnection(socket);
      this.#start(conn, false);
    });
    // Out of file descriptors, say: keep serving those already here.
    listener.on("error", (error) => {
      this.#log.error("Accepting a connection failed: {error}", { error });
    });
    this.#accepting = [];
    if (tlsListener) {
      this.#log.info("Listening with TLS on {address}", {
        address: formatAddr(this.tlsAddr!),
      });
      this.#accepting.push(this.#accept(tlsListener));
    }
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

  /** The TLS port's accept loop. */
  async #accept(listener: Deno.TlsListener): Promise<void> {
    while (this.#closing === null) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing !== null) return;
        // Out of file descriptors, say: keep serving those already here.
        this.#log.error("Accepting a connection failed: {error}", { error });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#start(new DenoConnection(conn), true);
    }
  }

  #start(conn: Connection, tls: boolean): void {
    const { hostname } = conn.remoteAddr;
    const ban = this.#parts.moderation.find("ban", "", {
      account: null,
      address: hostname,
    });
    if (ban !== null) {
      this.#log.info("Refused {remote}: banned", {
        remote: formatAddr(conn.remoteAddr),
      });
      refuse(conn, sanctionText(ban, ""));
      return;
    }
    const refusal = this.#limits.admit(hostname);
    if (refusal !== null) {
      this.#log.info("Refused {remote}: {reason}", {
        remote: formatAddr(conn.remoteAddr),
        reason: refusal,
      });
      refuse(conn, REFUSALS[refusal]);
      return;
    }
    if (conn instanceof SocketConnection) {
      try {
        // Nagle's algorithm stays on (as InspIRCd leaves it) until the user
        // speaks (Session.spoke()): while a segment is unacknowledged the
        // kernel joins the next small writes into one. With it off for
        // everyone, every line to every member was a packet of its own, and
        // the steady-rate benchmark's server CPU went from 0.35 to 0.9 of a
        // core, with a worse p99.
        //
        // Half-open peers (a laptop closed, a cable pulled) are reaped by the
        // kernel's keepalive probes. Deno's TlsConn has no such setting: TLS
        // peers rely on the login and idle timeouts and the outbox bounds.
        conn.setKeepAlive();
      } catch {
        // The peer left already; the session sees that on its first read.
      }
    }
    const session = new Session(conn, this.#shared, tls);
    this.#sessions.add(session);
    session.run();
  }

  /** A session's last act: its connection is closed and forgotten. */
  #ended(session: Session): void {
    this.#sessions.delete(session);
    this.#limits.release(session.hostname);
    if (this.#sessions.size === 0) this.#lastEnded?.();
  }

  async #shutdown(): Promise<void> {
    this.#log.info("Shutting down");
    this.#parts.listener.close();
    this.#parts.tlsListener?.close();
    await Promise.all(this.#accepting);
    const sessions = [...this.#sessions];
    await Promise.all(
      sessions.map((session) => session.shutdown(SHUTDOWN_FLUSH_MS)),
    );
    // Close every connection before any session's cleanup runs, so nobody
    // is sent the others' departures after the shutdown line.
    for (const session of sessions) session.close();
    if (this.#sessions.size > 0) {
      await new Promise<void>((resolve) => this.#lastEnded = resolve);
    }
    try {
      await this.#parts.store.close();
    } catch (error) {
      this.#log.error("Closing the database failed: {error}", { error });
    }
    this.#log.info("Stopped");
  }
}

/** Sends one line to a refused connection and closes it, without waiting. */
function refuse(conn: Connection, line: string): void {
  const timer = setTimeout(() => conn.close(), REFUSAL_WRITE_MS);
  Promise.resolve()
    .then(() => conn.write(encodeLine(line)))
    .catch(() => {})
    .finally(() => {
      clearTimeout(timer);
      conn.close();
    });
}
