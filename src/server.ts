/**
 * The listeners (plain: `node:net`; TLS: `node:net` too, its sockets wrapped
 * in `node:tls`; HTTP and HTTPS: `node:http` over `node:net`, with `/ws`
 * and a page's session taken back after a drop), connection limits, and a
 * graceful end. `serve()` opens the store (SQLite, or Redis with a cluster)
 * and binds the ports; `ChatServer` is also the {@linkcode ClusterHost}
 * (what the cluster asks of this server: other servers' kicks, sanctions
 * and announcements acted on for the users here, a name to give up).
 *
 * @module
 */

import {
  type AddressInfo,
  createServer,
  type Server,
  type Socket,
} from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import {
  type Certificate,
  certificateWarning,
  readCertificate,
} from "./tls/certificate.ts";
import type { Command, LimitRefusal } from "./commands/command.ts";
import { COMMANDS } from "./commands/mod.ts";
import { type Config, DEFAULTS } from "./config.ts";
import { databasePath, readMotd, readRedisPassword } from "./flag_files.ts";
import {
  type Connection,
  peerAddress,
  SocketConnection,
  unmapped,
} from "./connection.ts";
import {
  addressKey,
  ConnectionLimits,
  LogThrottle,
  RateWindow,
  type Refusal,
} from "./limits.ts";
import { type Block, contains, parseBlock } from "./addresses.ts";
import {
  createHandler,
  loadWeb,
  originAllowed,
  respond,
} from "./http/handler.ts";
import type { HttpTimeouts } from "./http/node_http.ts";
import type { Server as HttpServer } from "node:http";
import {
  ChatMetrics,
  type DisconnectReason,
  type RefusalReason,
} from "./metrics.ts";
import { WebSocketConnection } from "./websocket.ts";
import denoJson from "../deno.json" with { type: "json" };
import { log } from "./log.ts";
import {
  canCheckDescriptors,
  DESCRIPTOR_CHECK_MS,
  DescriptorWatch,
  type ListeningPort,
  outOfDescriptors,
  relisten,
} from "./descriptors.ts";
import { PasswordHasher, type ScryptParams } from "./passwords.ts";
import { ADDRESS_FAILURE_MS } from "./commands/accounts.ts";
import {
  applyLift,
  applySanction,
  kickHere,
  roomShown,
  sanctionText,
} from "./commands/moderation.ts";
import { replaceHere } from "./commands/login.ts";
import { Moderation, sanctionId } from "./moderation.ts";
import { foldName, MAX_NAME_CHARS, skeleton } from "./names.ts";
import {
  type ClaimedRoomState,
  MAIN_ROOM,
  Registry,
  type RoomState,
} from "./registry.ts";
import {
  formatAddr,
  isDisconnect,
  type ServerContext,
  Session,
  type SessionKind,
} from "./session.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { RedisStore } from "./store/redis.ts";
import { StoreError } from "./store/store.ts";
import { RedisLink, withoutPassword } from "./redis/link.ts";
import {
  type Announcement,
  Cluster,
  CLUSTER_TIMINGS,
  type ClusterHost,
  type ClusterTimings,
  type Control,
} from "./cluster/cluster.ts";
import type { User } from "./room.ts";
import type { Sanction, Store } from "./store/store.ts";
import { encodeLine, TEXT } from "./text.ts";

/** An announcement that bans, mutes, operators or the lockdown changed. */
type ModerationAnnouncement = Extract<Announcement, { kind: "moderation" }>;

/** Options for {@linkcode serve}: any of the config, the rest defaulted. */
export interface ServeOptions extends Partial<Config> {
  /**
   * The command table, for embedding with commands of your own. Default: the
   * built-in commands.
   */
  commands?: ReadonlyMap<string, Command>;
  /** The clock every time-based rule reads. Default: the real one. */
  clock?: Clock;
  /** With `redis`: the prefix of every key and channel. Default `chat:`. */
  redisPrefix?: string;
  /**
   * The HTTP ports' timeouts (for tests: they run on real time). Default
   * 10 s for a request's headers, 15 s with nothing read or written.
   */
  httpTimeouts?: HttpTimeouts;
  /**
   * scrypt's cost for new password hashes (for tests: the production cost
   * takes a fifth of a second of a core per hash, and a suite makes
   * hundreds). Hashes made at a higher cost are still checked at their own,
   * and never rehashed down. Not a flag: an operator has no reason to
   * weaken it. Default: passwords.ts's `SCRYPT_PARAMS`, N = 2^15, r = 8, p = 1.
   */
  scryptParams?: ScryptParams;
  /**
   * With `redis`: the cluster's heartbeat, reap and answer times, shorter
   * (for tests that wait for a heartbeat, a reap or a stall to be noticed,
   * not for how long it takes: production's take seconds each). Not a flag:
   * every promise about a cluster is of the production times, and an
   * operator has no reason to change them. Default: cluster.ts's
   * `CLUSTER_TIMINGS` (a heartbeat every 1 s, 3 s to expire, 5 s after
   * Redis's return before reaping, 3 s for an answer).
   */
  clusterTimings?: Partial<ClusterTimings>;
}

/**
 * node:http and the HTTP ports' code, loaded by startHttp only where an
 * HTTP port is served: a --no-http server has no use for them.
 */
let nodeHttp: typeof import("./http/node_http.ts") | null = null;

/** A port could not be bound: says which one. */
export class ListenError extends Error {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(
      `Cannot listen on ${host.includes(":") ? `[${host}]` : host}:${port}: ${
        (cause as Error)?.message ?? cause
      }`,
      { cause },
    );
    this.name = "ListenError";
  }
}

/** Binds with `bind`, or throws a {@linkcode ListenError} naming the port. */
async function bound<T>(
  host: string,
  port: number,
  bind: () => T | Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    throw new ListenError(host, port, error);
  }
}

/** The server's version, from deno.json. */
const VERSION: string = denoJson.version;

/** The browser client's files. */
const WEB_ROOT = new URL("../web/", import.meta.url);

/** How often the store is swept for what has expired, in ms. */
const SWEEP_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** How long shutdown waits for sessions to flush their output, in ms. */
const SHUTDOWN_FLUSH_MS = 2000;

/** An address's refused connections are logged once per this many ms. */
const REFUSAL_LOG_MS = 10_000;

/**
 * A failing database write (a full disk, say) is logged once per this many
 * ms, with how many more there were: it fails at every batch, several a
 * second while people talk.
 */
const STORE_ERROR_LOG_MS = 10_000;

/** The window of `--max-registrations-per-ip`: an hour, in ms. */
const REGISTRATION_WINDOW_MS = 60 * 60 * 1000;

/** The window of `--max-new-rooms-per-ip`: an hour, in ms. */
const NEW_ROOM_WINDOW_MS = 60 * 60 * 1000;

/**
 * How long a TLS client may take to finish its handshake, in ms: one that
 * never does is closed (its place held until then), as nginx's
 * `ssl_handshake_timeout` and node's `handshakeTimeout` do.
 */
const TLS_HANDSHAKE_MS = 10_000;

/**
 * How long a page's socket the server closed may stay open, on the HTTPS
 * port, in ms: time for its close frame to go out and be answered.
 */
const LINGER_MS = 2000;

/** How long a refused connection may take to read its one line, in ms. */
const REFUSAL_WRITE_MS = 1000;

/** The header of the `/ws` endpoint's own answers (not upgrades). */
const PLAIN_TEXT: Readonly<Record<string, string>> = {
  "Content-Type": "text/plain; charset=utf-8",
};

const REFUSALS: Record<Refusal, string> = {
  full: TEXT.serverFull,
  address: TEXT.tooManyConnections,
  rate: TEXT.tooManyNewConnections,
};

/**
 * Starts a chat server: opens its store (`options.db`, or with
 * `options.redis` joins the cluster on that Redis), then listens on
 * `options.host`:`options.port` (and on `options.tlsPort` with TLS, when
 * given, and on the HTTP ports unless `noHttp`), and resolves to its handle
 * once the listeners are bound, so `handle.addr.port` is known (use port 0
 * in tests). Rejects if the store cannot be opened or Redis reached (a
 * `StoreError`) or a port cannot be bound (a {@linkcode ListenError}).
 */
export async function serve(options: ServeOptions = {}): Promise<ChatServer> {
  const {
    commands = COMMANDS,
    clock = SYSTEM_CLOCK,
    redisPrefix = "chat:",
    httpTimeouts = {},
    scryptParams,
    clusterTimings,
    ...overrides
  } = options;
  const config: Config = { ...DEFAULTS, ...overrides };
  // As parseFlags() does for --no-http: else an embedder's noHttp was
  // ignored and the page took httpPort (8080 by default) all the same.
  if (config.noHttp) config.httpPort = null;
  const motd = config.motd === "" ? [] : readMotd(config.motd);
  const storeLog = log("store");
  // Made before the store, which reports each commit's time to it; what it
  // reads of the server is there once the server is.
  let reader: ChatServer | null = null;
  const metrics = new ChatMetrics({
    connections: () => reader?.connectionsByTransport() ?? new Map(),
    users: () => reader?.registry.online.size ?? 0,
    rooms: () => reader?.registry.rooms.size ?? 0,
    deliveries: () => reader?.registry.deliveries ?? 0,
    redisUp: config.redis === "" ? undefined : () => link?.up ?? false,
    version: VERSION,
  });
  const storeErrors = new LogThrottle({
    windowMs: STORE_ERROR_LOG_MS,
    clock,
    onQuiet: (error, skipped) =>
      storeLog.error(
        "Writing to the database failed: {error} ({skipped} more times not logged)",
        { error, skipped },
      ),
  });
  const storeOptions = {
    historyKeep: config.historyKeep,
    onError: (error: Error) => {
      metrics.storeErrors.inc();
      const skipped = storeErrors.admit(error.message);
      if (skipped === null) return;
      // The message alone: the stack is the worker's reply, not a cause.
      storeLog.error(
        skipped === 0
          ? "Writing to the database failed: {error}"
          : "Writing to the database failed: {error} (and {skipped} more times not logged)",
        { error: error.message, skipped },
      );
    },
    onCommit: (ms: number) => metrics.storeWrites.observe(ms / 1000),
  };
  let link: RedisLink | null = null;
  let cluster: Cluster | null = null;
  let store: Store;
  if (config.redis === "") {
    store = await SqliteStore.open(config.db, storeOptions);
  } else {
    const clusterLog = log("cluster");
    const password = config.redisPasswordFile === ""
      ? undefined
      : readRedisPassword(config.redisPasswordFile);
    const timings = { ...CLUSTER_TIMINGS, ...clusterTimings };
    try {
      link = await RedisLink.connect(config.redis, {
        password,
        answerMs: timings.answerMs,
        onState: (up) =>
          up
            ? clusterLog.info("Redis answers again")
            : clusterLog.warn("Redis cannot be reached"),
      });
    } catch (error) {
      throw new StoreError(
        `Cannot reach Redis at ${withoutPassword(config.redis)}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    try {
      store = await RedisStore.open(link, {
        ...storeOptions,
        prefix: redisPrefix,
      });
      cluster = await Cluster.start({
        link,
        store: store as RedisStore,
        nodeId: config.nodeId || `node-${crypto.randomUUID().slice(0, 8)}`,
        prefix: redisPrefix,
        historyKeep: config.historyKeep,
        clock,
        log: clusterLog,
        timings,
      });
      await cluster.watch(MAIN_ROOM);
    } catch (error) {
      await cluster?.close();
      await link.close();
      throw error;
    }
  }
  let listener: Server | null = null;
  let tlsListener: Server | null = null;
  try {
    const pem = config.tlsPort !== null || config.httpsPort !== null
      ? readCertificate(config.cert, config.key)
      : null;
    const ending = pem && certificateWarning(pem, clock.date());
    if (ending) {
      log("server").warn("The TLS certificate {path} {ending}", {
        path: config.cert,
        ending,
      });
    }
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
    listener = await bound(
      config.host,
      config.port,
      () => listen(config.host, config.port, { chat: true }),
    );
    let secureContext: SecureContext | null = null;
    if (config.tlsPort !== null) {
      secureContext = createSecureContext(pem!);
      tlsListener = await bound(
        config.host,
        config.tlsPort,
        () => listen(config.host, config.tlsPort!, { chat: true }),
      );
    }
    const server = new ChatServer({
      httpTimeouts,
      scryptParams,
      listener,
      tlsListener,
      secureContext,
      certificate: pem,
      config,
      commands,
      clock,
      motd,
      store,
      main,
      moderation,
      claimed,
      metrics,
      cluster,
      link,
      storeErrors,
    });
    reader = server;
    try {
      await server.startHttp();
      // The servers running already read the operators again: --op here
      // made an account one, as a single server's restart with it does.
      if (moderation.madeOperators) {
        await cluster?.announce({ kind: "moderation" });
      }
    } catch (error) {
      await server.close();
      throw error;
    }
    if (config.redis === "") {
      // Which file: a relative --db is from the working directory, which
      // for `deno task start` is the checkout's, wherever it was typed.
      // Once started, so that a start that fails says one line only.
      log("server").info("Using the database {path}", {
        path: databasePath(config.db),
      });
    } else {
      // Which Redis, and this server's name in it: a --node-id left out is
      // a random one, which the log is the only place to learn.
      log("server").info("Using Redis at {url} as node {node}", {
        url: withoutPassword(config.redis),
        node: cluster!.nodeId,
      });
    }
    return server;
  } catch (error) {
    listener?.close();
    tlsListener?.close();
    await cluster?.close();
    await store.close();
    await link?.close();
    storeErrors.close();
    throw error;
  }
}

/**
 * A `node:net` server listening on `host`:`port`, for a chat port (plain
 * or TLS: `chat: true`) or an HTTP one. A chat port's sockets write
 * natively and at once (see `src/connection.ts` for why not `Deno.listen`);
 * they start paused, so that nothing is read before SocketConnection takes
 * over, and half-open: a client that has sent its last line still reads the
 * answers (see SocketConnection; a TLSSocket over a node socket takes that
 * socket's setting). An HTTP port's are neither: node:http reads at once.
 */
function listen(
  host: string,
  port: number,
  options: { chat: boolean },
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = options.chat
      ? createServer({ pauseOnConnect: true, allowHalfOpen: true })
      : createServer();
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** What a {@linkcode ChatServer} is made of. */
export interface ChatServerParts {
  /** The plain port, listening. */
  listener: Server;
  /**
   * The TLS port, listening: plain TCP, so that a connection is counted
   * and timed from its first byte, not from the end of its handshake.
   */
  tlsListener: Server | null;
  /** The certificate and key the TLS port's handshakes use. */
  secureContext: SecureContext | null;
  /** What `--cert` and `--key` held at start, for the HTTPS port. */
  certificate: Certificate | null;
  config: Config;
  commands: ReadonlyMap<string, Command>;
  clock: Clock;
  /** New password hashes' scrypt cost. Default: passwords.ts's. */
  scryptParams?: ScryptParams;
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
  /** What /metrics shows. */
  metrics: ChatMetrics;
  /** The cluster this server is part of (`--redis`), or null. */
  cluster: Cluster | null;
  /** The connection to Redis, with a cluster. */
  link: RedisLink | null;
  /**
   * The store's error log's throttle, told to say its last counts once the
   * store is closed. Default: none.
   */
  storeErrors?: LogThrottle;
  /** The HTTP ports' timeouts. Default: node_http.ts's. */
  httpTimeouts?: HttpTimeouts;
}

/** A running server: its addresses, its registry, and a way to stop it. */
export class ChatServer implements AsyncDisposable, ClusterHost {
  /** The plain address the server listens on. */
  readonly addr: Deno.NetAddr;
  /** The TLS address, when there is one. */
  readonly tlsAddr: Deno.NetAddr | null;
  /** The users and rooms, shared by every session. */
  readonly registry: Registry;
  readonly #parts: ChatServerParts;
  /**
   * Sessions that were logged in to an account Redis no longer has (it came
   * back without its data): guests now, each to the account it was.
   */
  readonly #lostAccount = new WeakMap<User, string>();
  readonly #limits: ConnectionLimits;
  /** What every session shares. */
  readonly #shared: ServerContext;
  readonly #sessions = new Set<Session>();
  /** Resolved when the last session has ended, during shutdown. */
  #lastEnded: (() => void) | null = null;
  readonly #log = log("server");
  /** At most one line per address per 10 s for refused connections. */
  readonly #refusalLog: LogThrottle;
  /**
   * The same for requests a per-address limit refused (registrations, new
   * rooms), per limit: keyed `REFUSAL ADDRESS`.
   */
  readonly #limitLog: LogThrottle;
  /** The TLS port's connections whose handshake is not done yet. */
  readonly #handshakes = new Set<Socket>();
  #closing: Promise<void> | null = null;
  /** The HTTP address, when HTTP is served. */
  httpAddr: Deno.NetAddr | null = null;
  /** The HTTPS address, when HTTPS is served. */
  httpsAddr: Deno.NetAddr | null = null;
  /** The HTTP ports, each with what closes it. */
  readonly #http: { close(): Promise<void> }[] = [];
  /**
   * The HTTP ports' connections until they become WebSockets: counted from
   * accept, per address, so that connections that send nothing or
   * half a request cannot pile up (a WebSocket is counted as a session).
   */
  readonly #httpLimits: ConnectionLimits;
  /** The HTTP ports' connections not upgraded, closed at shutdown. */
  readonly #httpSockets = new Set<Socket>();
  /** What stops counting an HTTP connection once it is a WebSocket. */
  readonly #httpUpgraded = new WeakMap<Socket, () => void>();
  /** The HTTPS port's pages' own sockets, by their WebSocket. */
  readonly #bridged = new WeakMap<WebSocket, Socket>();
  #httpReady = false;
  /** Browser sessions by the token that takes them back after a drop. */
  readonly #waiting = new Map<string, WebSocketConnection>();
  /** The next sweep of the store for what nobody can see any more. */
  #sweep: ReturnType<typeof setTimeout> | null = null;
  /** Every listening port, to listen anew after running out of descriptors. */
  readonly #ports: ListeningPort[] = [];
  /** Whether the process is out of file descriptors; null: not checked. */
  readonly #descriptors: DescriptorWatch | null;
  /** The next check for free file descriptors. */
  #descriptorTimer: ReturnType<typeof setTimeout> | null = null;
  /** The check under way, waited for by a shutdown. */
  #descriptorCheck: Promise<void> | null = null;
  /** Each browser session's connection, which may know why it ended. */
  readonly #pages = new Map<Session, WebSocketConnection>();
  /** The TLS port's sessions' connections, whose sockets end after them. */
  readonly #tlsConnections = new Map<Session, SocketConnection>();

  constructor(parts: ChatServerParts) {
    this.#parts = parts;
    const { listener, tlsListener, config, clock } = parts;
    this.#limits = new ConnectionLimits({ ...config, clock });
    this.#httpLimits = new ConnectionLimits({
      ...config,
      // A page's files come over several connections, again at each load;
      // what these limits are for is connections held open.
      maxNewConnsPerIp: Infinity,
      clock,
    });
    this.#refusalLog = new LogThrottle({
      windowMs: REFUSAL_LOG_MS,
      clock,
      onQuiet: (address, skipped) =>
        this.#log.info(
          "Refused {skipped} more from {address} not logged",
          { address, skipped },
        ),
    });
    this.#limitLog = new LogThrottle({
      windowMs: REFUSAL_LOG_MS,
      clock,
      onQuiet: (key, skipped) => {
        const space = key.indexOf(" ");
        this.#log.info(
          "Refused {skipped} more {reason} from {address} not logged",
          {
            reason: key.slice(0, space),
            address: key.slice(space + 1),
            skipped,
          },
        );
      },
    });
    this.registry = new Registry({
      historyLines: config.historyLines,
      ids: parts.store.ids,
      clock,
      journal: parts.store,
      main: parts.main ?? undefined,
      claimed: parts.claimed,
      cluster: parts.cluster ?? undefined,
    });
    this.#shared = {
      store: parts.store,
      ended: (session, reason) => this.#ended(session, reason),
      registry: this.registry,
      config,
      commands: parts.commands,
      clock,
      motd: parts.motd,
      log: log("session"),
      hasher: new PasswordHasher({
        concurrency: config.maxPasswordHashes,
        params: parts.scryptParams,
      }),
      registrations: config.maxRegistrationsPerIp > 0
        ? new RateWindow({
          max: config.maxRegistrationsPerIp,
          windowMs: REGISTRATION_WINDOW_MS,
          clock,
        })
        : null,
      newRooms: config.maxNewRoomsPerIp > 0
        ? new RateWindow({
          max: config.maxNewRoomsPerIp,
          windowMs: NEW_ROOM_WINDOW_MS,
          clock,
        })
        : null,
      moderation: parts.moderation,
      counted: (kind) => parts.metrics.lines.inc(kind),
      limited: (refusal, from) => this.#limited(refusal, from),
      cluster: parts.cluster,
    };
    parts.cluster?.attach(this);
    const bound = listener.address();
    if (bound === null || typeof bound === "string") {
      throw new Error("The plain listener is not bound to a TCP port");
    }
    this.addr = {
      transport: "tcp",
      hostname: unmapped(bound.address),
      port: bound.port,
    };
    const tlsBound = tlsListener?.address();
    this.tlsAddr = tlsBound && typeof tlsBound !== "string"
      ? {
        transport: "tcp",
        hostname: unmapped(tlsBound.address),
        port: tlsBound.port,
      }
      : null;
    this.#log.info("Listening on {address}", {
      address: formatAddr(this.addr),
    });
    this.#ports.push({ server: listener, host: config.host, port: bound.port });
    if (tlsBound && typeof tlsBound !== "string") {
      this.#ports.push({
        server: tlsListener!,
        host: config.host,
        port: tlsBound.port,
      });
    }
    listener.on("connection", (socket: Socket) => {
      this.#accepted();
      if (this.#closing !== null) {
        socket.destroy();
        return;
      }
      this.#startPlain(new SocketConnection(socket));
    });
    // Out of file descriptors, say: keep serving those already here.
    listener.on("error", (error) => {
      this.#log.error("Accepting a connection failed: {error}", { error });
    });
    this.#sweepStore();
    this.#descriptors = this.#watchDescriptors();
    if (tlsListener) {
      this.#log.info("Listening with TLS on {address}", {
        address: formatAddr(this.tlsAddr!),
      });
      tlsListener.on("connection", (socket: Socket) => {
        this.#accepted();
        if (this.#closing !== null) {
          socket.destroy();
          return;
        }
        this.#handshake(socket);
      });
      tlsListener.on("error", (error) => {
        this.#log.error("Accepting a connection failed: {error}", { error });
      });
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

  /**
   * A TLS port's connection, from its first byte: counted at once (a
   * handshake under way holds its place), closed if the handshake is not
   * done within {@linkcode TLS_HANDSHAKE_MS}, and a session once it is. A
   * refused one is told why once its handshake is done. (With
   * `Deno.listenTls`, a connection whose handshake never finished could not
   * be closed: `close()` waits for the handshake, so each such peer kept a
   * socket open for good, after its session and its count had ended.)
   */
  #handshake(raw: Socket): void {
    const remote = peerAddress(raw);
    const refusal = this.#admit(remote);
    const { clock } = this.#parts;
    let secure = false;
    // Why an admitted one ended before its session, for the log and
    // chat_disconnects_total, as a session's end is: the plain port's
    // equivalents (a TLS handshake there, a client silent past the login
    // timeout) are counted, and these were seen nowhere.
    let ended: DisconnectReason = "closed";
    // A refused one is not counted: it has no longer than a refused plain
    // connection has to read its line.
    const timer = clock.setTimeout(
      () => {
        ended = "tls_handshake_timeout";
        raw.destroy();
      },
      refusal === null ? TLS_HANDSHAKE_MS : REFUSAL_WRITE_MS,
    );
    this.#handshakes.add(raw);
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.#parts.secureContext!,
    });
    // A failed handshake is the client's: it ends with its socket, below.
    // (An 'error' event with no listener would throw, and end the process.)
    socket.on("error", (error) => {
      if (ended === "closed" && !isDisconnect(error)) {
        ended = "tls_handshake_failed";
      }
      raw.destroy();
    });
    raw.on("error", () => raw.destroy());
    // Its input ended before its handshake did: the handshake cannot finish
    // now, so its place is given back at once, not after the 10 s (the raw
    // socket is half-open, so nothing else closes it).
    const gone = () => raw.destroy();
    socket.once("end", gone);
    raw.once("close", () => {
      clock.clearTimeout(timer);
      this.#handshakes.delete(raw);
      if (secure || refusal !== null) return;
      this.#limits.release(remote.hostname);
      if (this.#closing !== null && ended === "closed") ended = "shutdown";
      this.#log.info("Disconnected {remote} (TLS handshake): {reason}", {
        remote: formatAddr(remote),
        reason: ended,
      });
      this.#parts.metrics.disconnects.inc(ended);
    });
    socket.once("secure", () => {
      clock.clearTimeout(timer);
      secure = true;
      this.#handshakes.delete(raw);
      // The session's listeners from here; this one would hide its errors.
      socket.removeAllListeners("error");
      socket.off("end", gone);
      const conn = new SocketConnection(socket, {
        sharedReads: false,
        endOnClose: true,
        clock,
      });
      if (refusal !== null) refuse(conn, refusal);
      else if (this.#closing !== null) {
        this.#limits.release(remote.hostname);
        conn.close();
      } else this.#tlsConnections.set(this.#session(conn, "tls"), conn);
    });
    try {
      raw.setKeepAlive(true);
    } catch {
      // The peer left already; the socket's close says so.
    }
    raw.resume();
  }

  /**
   * Whether a new connection from `remote` may have a session: the line it
   * is refused with, or null (and the connection is counted).
   */
  #admit(remote: Deno.NetAddr): string | null {
    const { hostname } = remote;
    const ban = this.#parts.moderation.find("ban", "", {
      account: null,
      address: hostname,
    });
    if (ban !== null) {
      this.#refused(remote, "banned");
      return sanctionText(ban, "");
    }
    const refusal = this.#limits.admit(hostname);
    if (refusal !== null) {
      this.#refused(remote, refusal);
      return REFUSALS[refusal];
    }
    return null;
  }

  #refused(remote: Deno.NetAddr, reason: RefusalReason): void {
    this.#parts.metrics.refused.inc(reason);
    this.#logRefusal(
      this.#refusalLog,
      addressKey(remote.hostname),
      "Refused {remote}: {reason}",
      { remote: formatAddr(remote), reason },
    );
  }

  /**
   * Logs a request that a per-address limit refused, as #refused does a
   * connection: the first per address and limit in 10 s, then how many more.
   */
  #limited(
    reason: LimitRefusal,
    from: { remote: string; address: string; name: string },
  ): void {
    this.#logRefusal(
      this.#limitLog,
      `${reason} ${from.address}`,
      "Refused {remote} ({name}): {reason}",
      { remote: from.remote, name: from.name, reason },
    );
  }

  /**
   * Logs `message` unless `throttle` holds it back for `key`: the first in
   * its window as it is, a later one with how many were not logged between.
   */
  #logRefusal(
    throttle: LogThrottle,
    key: string,
    message: string,
    properties: Record<string, unknown>,
  ): void {
    const skipped = throttle.admit(key);
    if (skipped === null) return;
    this.#log.info(
      skipped === 0
        ? message
        : `${message} (and {skipped} more from this address not logged)`,
      { ...properties, skipped },
    );
  }

  /** A plain port's connection: admitted and a session, or refused. */
  #startPlain(conn: SocketConnection): void {
    const refusal = this.#admit(conn.remoteAddr);
    if (refusal !== null) {
      refuse(conn, refusal);
      return;
    }
    try {
      // Nagle's algorithm stays on (as InspIRCd leaves it) until the user
      // speaks (Session.spoke()): while a segment is unacknowledged the
      // kernel joins the next small writes into one. With it off for
      // everyone, every line to every member was a packet of its own, and
      // the steady-rate benchmark's server CPU went from 0.35 to 0.9 of a
      // core, with a worse p99.
      //
      // Half-open peers (a laptop closed, a cable pulled) are reaped by the
      // kernel's keepalive probes (on the TLS port too: #handshake).
      conn.setKeepAlive();
    } catch {
      // The peer left already; the session sees that on its first read.
    }
    this.#session(conn, "telnet");
  }

  /** Starts the session of a connection admitted and counted. */
  #session(conn: Connection, kind: SessionKind): Session {
    const session = new Session(conn, this.#shared, kind);
    this.#sessions.add(session);
    session.run();
    return session;
  }

  /** A session's last act: its connection is closed and forgotten. */
  #ended(session: Session, reason: DisconnectReason): void {
    const page = this.#pages.get(session);
    reason = page?.endReason ?? reason;
    this.#pages.delete(session);
    this.#sessions.delete(session);
    // A page's socket that the server closed but the client keeps open (it
    // reads nothing) still holds its place: else one address could pile up
    // such sockets past --max-conns-per-ip, each with its kernel buffers.
    const lingering = page?.lingering ?? null;
    if (lingering !== null) this.#endLingering(lingering);
    // So does a TLS socket ended with its close_notify, for the second it
    // may take to close (SocketConnection.close).
    const tls = this.#tlsConnections.get(session);
    this.#tlsConnections.delete(session);
    if (tls !== undefined) {
      const hostname = session.hostname;
      tls.whenGone(() => this.#limits.release(hostname));
    } else if (lingering === null) {
      this.#limits.release(session.hostname);
    } else {
      const hostname = session.hostname;
      lingering.addEventListener(
        "close",
        () => this.#limits.release(hostname),
        { once: true },
      );
    }
    this.#parts.metrics.disconnects.inc(reason);
    if (this.#sessions.size === 0) this.#lastEnded?.();
  }

  /** Open connections by transport, for /metrics. */
  connectionsByTransport(): Map<{ transport: string }, number> {
    const counts = new Map<string, number>([
      ["telnet", 0],
      ["tls", 0],
      ["websocket", 0],
    ]);
    for (const session of this.#sessions) {
      counts.set(session.kind, (counts.get(session.kind) ?? 0) + 1);
    }
    return new Map([...counts].map(([transport, n]) => [{ transport }, n]));
  }

  /**
   * Whether every listener is up and the store open, and not stopping; in a
   * cluster, also whether Redis can be reached now.
   */
  get ready(): boolean {
    return this.#closing === null && this.#httpReady &&
      (this.#parts.cluster?.up ?? true);
  }

  // ClusterHost: what the cluster asks of this server.

  /** Part of {@linkcode ClusterHost}: a moderator acted on another server. */
  announced(announcement: Announcement): void {
    if (announcement.kind === "accounts") {
      this.#registeredElsewhere(announcement.registered).catch((error) =>
        this.#log.error("Making an --op account an operator failed: {error}", {
          error,
        })
      );
      return;
    }
    const done = announcement.kind === "moderation"
      ? this.#reconcileSanctions(announcement)
      : this.#reloadRooms();
    // A line for a user here about what changed, once it is in force here.
    const notice = announcement.notice;
    done.then(() => {
      if (notice !== undefined) {
        this.registry.users.get(notice.key)?.notice(notice.text);
      }
    }).catch((error) =>
      this.#log.error("Reloading what a moderator changed failed: {error}", {
        error,
      })
    );
  }

  /**
   * An account was registered on another server: if this server's `--op`
   * names it, it is an operator now (as on the server it was registered on,
   * had that one been given the `--op`), and every server hears so.
   */
  async #registeredElsewhere(key: string | undefined): Promise<void> {
    const { moderation, store, cluster } = this.#parts;
    if (key === undefined || moderation.isOperator(key)) return;
    // Deleted again since: whoever registers the name next is made one then.
    if ((await store.accountFor(key, ""))?.key !== key) return;
    if (await moderation.registered(key)) {
      await cluster?.announce({ kind: "moderation" });
    }
  }

  /** The open rooms' owners and room operators, read again. */
  async #reloadRooms(): Promise<void> {
    // By key: a find() per open room was open rooms times claimed ones, at
    // every claim and unclaim anywhere in the cluster.
    const claimed = new Map(
      (await this.#parts.store.claimedRooms()).map((c) => [c.key, c]),
    );
    for (const room of this.registry.rooms.values()) {
      const kept = claimed.get(room.key);
      room.owner = kept?.owner ?? null;
      room.operators.clear();
      for (const key of kept?.ops ?? []) room.operators.add(key);
      this.registry.dropIfEmpty(room);
    }
  }

  /**
   * Part of {@linkcode ClusterHost}: this server was cut off from the others
   * (Redis away, or it was reaped while it stalled) and has taken its places
   * again. What moderators did meanwhile was announced without it: bans,
   * mutes, operators, the lockdown and claimed rooms are read again, and
   * what changed acts on this server's users as if announced (unless an
   * announcement heard since the subscriber came back, before this, acted
   * on it already: see `#reconcileSanctions`).
   */
  async retaken(): Promise<void> {
    await this.#reconcileSanctions();
    await this.#reloadRooms();
  }

  /**
   * Reads the sanctions again and acts on this server's users for every one
   * that changed since it last did, not only the one an announcement
   * carries (`announced`): one heard as soon as Redis is back, before the
   * heartbeat takes this server's places again, would else leave in force
   * here what was lifted meanwhile, and a ban set meanwhile not acted on
   * (`retaken` then finds nothing new). Those whom a lifted mute held are
   * told they may speak (not of one that merely ran out: that is told to
   * nobody, here or live), first, so that a user a new ban disconnects is
   * not told after; then the new bans and mutes act. Each change is acted
   * on once (Moderation.reload answers each once).
   *
   * Coalesced: at most one runs and one waits, and every call made while
   * one waits joins it (its announcement with it), since each reads
   * everything: a storm of announcements from elsewhere costs a reload
   * or two, not one each. The waiting one starts (and stops taking more) once the
   * one before is done, so a call always has a reload that begins after
   * it.
   */
  #reconcileSanctions(
    announced?: ModerationAnnouncement,
  ): Promise<void> {
    let waiting = this.#sanctionsWaiting;
    if (waiting === null) {
      const announcements: ModerationAnnouncement[] = [];
      const done = this.#sanctionsTurn.then(() => {
        this.#sanctionsWaiting = null;
        return this.#reconcileNow(announcements);
      });
      waiting = this.#sanctionsWaiting = { announcements, done };
      this.#sanctionsTurn = done.catch(() => {});
    }
    if (announced !== undefined) waiting.announcements.push(announced);
    return waiting.done;
  }

  /** The sanctions' reconciling that waits its turn, if one does. */
  #sanctionsWaiting: {
    announcements: ModerationAnnouncement[];
    done: Promise<void>;
  } | null = null;
  /** The last one's turn (resolved once it is done, even if it failed). */
  #sanctionsTurn: Promise<void> = Promise.resolve();

  /** `#reconcileSanctions`' work, for the announcements it was asked for. */
  async #reconcileNow(announcements: ModerationAnnouncement[]): Promise<void> {
    const { moderation } = this.#parts;
    const { added, lifted } = await moderation.reload();
    // The room as written, and its owner, as the moderator's server
    // announced them: for the sanctions the announcements carry only.
    const carried = (sanction: Sanction, lift: boolean) =>
      announcements.findLast((announced) => {
        const which = lift ? announced.lifted : announced.sanction;
        return which !== undefined &&
          sanctionId(which) === sanctionId(sanction);
      });
    // Each on its own: the reload has put them all in force, and answers
    // none of them again, so one that fails (a bug) must not leave those
    // after it not acted on here for good.
    const each = (sanction: Sanction, act: () => void) => {
      try {
        act();
      } catch (error) {
        this.#log.error(
          "Acting on a sanction changed elsewhere ({sanction}) failed: {error}",
          { sanction: sanctionId(sanction), error },
        );
      }
    };
    for (const sanction of lifted) {
      const from = carried(sanction, true);
      each(sanction, () =>
        applyLift(
          { registry: this.registry, moderation },
          sanction,
          this.#roomNameOf(sanction, from?.roomName),
          null,
          from?.roomOwner,
        ));
    }
    for (const sanction of added) {
      const from = carried(sanction, false);
      each(
        sanction,
        () => this.#applyHere(sanction, from?.roomName, from?.roomOwner),
      );
    }
  }

  /**
   * A sanction set on another server, acted on for this server's users;
   * `roomName`: its room as written there, for a room not open here.
   */
  #applyHere(
    sanction: Sanction,
    roomName?: string,
    roomOwner?: string | null,
  ): void {
    applySanction(
      { registry: this.registry, moderation: this.#parts.moderation },
      sanction,
      this.#roomNameOf(sanction, roomName),
      null,
      roomOwner,
    );
  }

  /**
   * A sanction's room as this server writes it: as it is open here, else as
   * the moderator's server wrote it (`roomName`), else by its key.
   */
  #roomNameOf(sanction: Sanction, roomName?: string): string {
    const open = sanction.room === ""
      ? undefined
      : this.registry.rooms.get(sanction.room)?.name;
    return open ?? roomName ?? roomShown(this.registry, sanction.room) ?? "";
  }

  /** Part of {@linkcode ClusterHost}: another server asks about a user here. */
  control(control: Control): void {
    const user = this.registry.users.get(control.key);
    if (control.kind === "kick") {
      const cluster = this.#parts.cluster;
      if (
        user === undefined ||
        (control.login !== undefined &&
          cluster?.sessionOf(user) !== control.login)
      ) {
        // Gone since the kicker looked them up, and perhaps someone else
        // has the name now: nobody is kicked, and the kicker hears so, as
        // of a name nobody has on one server.
        cluster?.control(control.from.node, {
          kind: "notice",
          key: control.from.key,
          text: TEXT.noSuchUser(control.name ?? control.key),
        }).catch(() => {});
        return;
      }
      if (user.room?.key === control.room) {
        // Logged here, where it happens: asked from a server where they
        // were seen in a room they may have left since, it may not.
        this.#parts.moderation.log({
          actor: control.by,
          action: "kick",
          target: user.name,
          room: control.room,
          reason: control.reason,
          until: null,
        }).catch((error) =>
          this.#log.warn("Logging a kick failed: {error}", { error })
        );
        const room = user.room.name;
        kickHere(this.registry, user, control.by, control.reason);
        if (control.tell) {
          this.#parts.cluster?.control(control.from.node, {
            kind: "notice",
            key: control.from.key,
            text: control.room === MAIN_ROOM
              ? TEXT.kickedOff(user.name)
              : TEXT.kickedOut(user.name, room),
          }).catch(() => {});
        }
        return;
      }
      // They moved after the kicker looked: out of a room they already
      // left is no kick, and from main it would have been off the server.
      this.#parts.cluster?.control(control.from.node, {
        kind: "notice",
        key: control.from.key,
        text: TEXT.notInRoom(user.name, control.roomName),
      }).catch(() => {});
    } else if (user === undefined) {
      return;
    } else if (control.kind === "replace") {
      // Only the account's own session: never a guest under a name like it.
      // Or one that was, until Redis came back without the account: the
      // later login of it takes the name back (RECLAIM), as at a takeover.
      if (
        user.account === control.key ||
        (control.reclaimed && this.#lostAccount.get(user) === control.key)
      ) {
        replaceHere(this.registry, user, control.address);
      }
    } else {
      user.notice(control.text);
    }
  }

  /**
   * Part of {@linkcode ClusterHost}: a name held here (or a look-alike of
   * it) was kept by someone who logged in earlier elsewhere, or registered
   * there; ours takes another and is told.
   */
  yieldName(
    user: User,
    why: { lookalike?: string; account?: string } = {},
  ): void {
    const { lookalike, account } = why;
    const cluster = this.#parts.cluster!;
    const old = user.name;
    (async () => {
      // `account` is a key (folded): the guest is told the name as its
      // owner writes it ("Zoe", not "zoe"), as whois shows it.
      const shown = account === undefined ? undefined : (await this.#parts
        .store.accountFor(account, "").catch(() => null))?.name ?? account;
      for (let n = 2; n < 100; n++) {
        const candidate = `${
          [...old].slice(0, MAX_NAME_CHARS - 3).join("")
        }-${n}`;
        try {
          this.registry.checkRename(user, candidate);
        } catch {
          continue;
        }
        // Nor an account's name, or one like it: a guest under it would
        // keep its owner out, and get what is sent to them.
        if (
          cluster.knownAccount(foldName(candidate), skeleton(candidate)) !==
            null
        ) continue;
        if (await cluster.rename(user, candidate) !== "ok") continue;
        if (this.registry.users.get(user.key) !== user) {
          // They logged out while Redis renamed them (this runs beside
          // their session, not in it): the new name is nobody's.
          cluster.releaseName(foldName(candidate), user);
          return;
        }
        this.registry.rename(user, candidate);
        user.notice(
          account !== undefined
            ? foldName(account) === foldName(old)
              ? TEXT.registeredYielded(old, candidate)
              : TEXT.lookalikeRegisteredYielded(
                shown ?? account,
                old,
                candidate,
              )
            : lookalike === undefined
            ? TEXT.nameYielded(old, candidate)
            : TEXT.lookalikeYielded(lookalike, old, candidate),
        );
        return;
      }
    })().catch((error) =>
      this.#log.error("Renaming {name} failed: {error}", { name: old, error })
    );
  }

  /**
   * Part of {@linkcode ClusterHost}: a `register` Redis did not answer ran
   * after all. What `register` does once the account is made is done now:
   * presence and the other servers hear of it, `--op` may name it.
   */
  async registeredAfterAll(user: User): Promise<void> {
    const { moderation, cluster } = this.#parts;
    user.notice(TEXT.registeredAfterAll(user.name));
    const madeOperator = await moderation.registered(user.key);
    await cluster?.accountsChanged(user.key);
    if (madeOperator) await cluster?.announce({ kind: "moderation" });
  }

  /** Part of {@linkcode ClusterHost}: `user`'s account is gone from Redis. */
  accountLost(user: User, account: string): void {
    this.#lostAccount.set(user, account);
    user.notice(TEXT.accountLost(account === user.key ? user.name : account));
  }

  /** Part of {@linkcode ClusterHost}: a new password Redis took late. */
  passwordChangedAfterAll(user: User): void {
    user.notice(TEXT.passwordChangedAfterAll);
  }

  /** Part of {@linkcode ClusterHost}: Redis did not take a user's line. */
  notHeard(user: User): void {
    user.notice(TEXT.notHeard);
  }

  /**
   * Starts the HTTP listeners (`--http-port`, and `--https-port` with the
   * certificate): the page, /ws, /metrics, /livez and /readyz.
   */
  async startHttp(): Promise<void> {
    const { config } = this.#parts;
    if (config.httpPort === null && config.httpsPort === null) {
      // --no-http: neither node:http nor the page's files are loaded.
      this.#httpReady = true;
      return;
    }
    nodeHttp ??= await import("./http/node_http.ts");
    const files = await loadWeb(WEB_ROOT);
    const trusted = config.trustedProxies.map((text) => parseBlock(text)!);
    const handler = createHandler({
      files,
      upgrade: (request, remote) => this.#upgrade(request, remote),
      metrics: () => this.#parts.metrics.registry.render(),
      ready: () => this.ready,
      trustedProxies: trusted,
      hstsSeconds: config.hstsSeconds,
    });
    const host = config.httpHost === "" ? config.host : config.httpHost;
    const announce = (addr: Deno.NetAddr, tls: boolean) => {
      this.#log.info("Serving HTTP{s} on {address}", {
        s: tls ? "S" : "",
        address: formatAddr(addr),
      });
      return addr;
    };
    const onError = (error: unknown) => {
      this.#log.error("Serving an HTTP request failed: {error}", { error });
      return respond(500, "Internal server error\n");
    };
    // node:http over our own listener (src/http/node_http.ts); over TLS
    // on the HTTPS port, its handshake done on our side of the accept.
    const secureContext = this.#parts.certificate === null
      ? null
      : createSecureContext(this.#parts.certificate);
    const listenHttp = async (port: number, tls: boolean) => {
      const listener = await bound(
        host,
        port,
        () => listen(host, port, { chat: false }),
      );
      const server = nodeHttp!.createHttpServer(handler, {
        ...this.#parts.httpTimeouts,
        secure: tls,
        onError,
      });
      listener.on("connection", (socket: Socket) => {
        this.#accepted();
        this.#httpConnection(socket, server, {
          trusted,
          secureContext: tls ? secureContext : null,
        });
      });
      listener.on("error", (error) => {
        this.#log.error("Accepting a connection failed: {error}", { error });
      });
      this.#http.push({
        close: () => {
          // Open until now, for /readyz to say 503 while sessions end.
          listener.close();
          for (const socket of this.#httpSockets) socket.destroy();
          return Promise.resolve();
        },
      });
      const local = listener.address() as AddressInfo;
      this.#ports.push({ server: listener, host, port: local.port });
      return announce({
        transport: "tcp",
        hostname: unmapped(local.address),
        port: local.port,
      }, tls);
    };
    if (config.httpPort !== null) {
      this.httpAddr = await listenHttp(config.httpPort, false);
    }
    if (config.httpsPort !== null) {
      this.httpsAddr = await listenHttp(config.httpsPort, true);
    }
    this.#httpReady = true;
  }

  /**
   * A connection to the HTTP port, from its first byte: counted per address
   * (but for a trusted proxy's, which carry many clients: their
   * WebSockets are counted by X-Forwarded-For), then handed to `server`,
   * whose timeouts close it if its request does not come. It stops being
   * counted here when it becomes a WebSocket (a session, counted as one).
   */
  #httpConnection(
    raw: Socket,
    server: HttpServer,
    options: { trusted: Block[]; secureContext: SecureContext | null },
  ): void {
    const { trusted, secureContext } = options;
    // Taken during a shutdown too: /readyz says 503 until the end.
    const remote = peerAddress(raw);
    const own = parseBlock(remote.hostname);
    const proxy = own !== null && trusted.some((block) => contains(block, own));
    if (!proxy) {
      const refusal = this.#httpLimits.admit(remote.hostname);
      if (refusal !== null) {
        this.#refused(remote, refusal);
        raw.destroy();
        return;
      }
    }
    let counted = !proxy;
    const uncount = () => {
      this.#httpSockets.delete(raw);
      if (counted) this.#httpLimits.release(remote.hostname);
      counted = false;
    };
    this.#httpSockets.add(raw);
    raw.on("error", () => raw.destroy());
    raw.once("close", uncount);
    if (secureContext === null) {
      this.#httpUpgraded.set(raw, uncount);
      server.emit("connection", raw);
      return;
    }
    // As the TLS port's (#handshake): a handshake not done in time is
    // closed, its place held until then.
    const { clock } = this.#parts;
    const timer = clock.setTimeout(() => raw.destroy(), TLS_HANDSHAKE_MS);
    raw.once("close", () => clock.clearTimeout(timer));
    const socket = new TLSSocket(raw, { isServer: true, secureContext });
    socket.on("error", () => raw.destroy());
    socket.once("secure", () => {
      clock.clearTimeout(timer);
      this.#httpUpgraded.set(socket, uncount);
      server.emit("connection", socket);
    });
  }

  /**
   * An HTTP connection became a WebSocket: counted as a session from here.
   */
  #upgraded(request: Request): void {
    const node = nodeHttp!.upgradeSocket(request)?.connection;
    const uncount = node === undefined
      ? undefined
      : this.#httpUpgraded.get(node);
    uncount?.();
  }

  /** Remembers the client's own socket of an HTTPS page's WebSocket. */
  #bridge(request: Request, socket: WebSocket): void {
    const own = nodeHttp!.bridgedConnection(request);
    if (own !== null) this.#bridged.set(socket, own);
  }

  /**
   * A WebSocket the server closed, that its client may keep open by not
   * reading (Deno's close() only queues a close frame): on the HTTPS port,
   * where the server holds the client's own socket, that socket is closed
   * {@linkcode LINGER_MS} later if it is still open. (On the plain port Deno
   * owns it: docs/operations.md.)
   */
  #endLingering(socket: WebSocket): void {
    const own = this.#bridged.get(socket);
    if (own === undefined) return;
    // A real timer, not the server's clock: nothing waits for it.
    const timer = setTimeout(() => own.destroy(), LINGER_MS);
    own.once("close", () => clearTimeout(timer));
  }

  /**
   * `/ws`: checks the Origin, then the same limits and bans as a telnet
   * connection, and upgrades. A page that brings a token (`?resume=TOKEN`)
   * and the last id it saw (`&last=ID`) takes its waiting session back;
   * from another address, only if a new connection from there would be let
   * in, and the session is then counted at its new address.
   */
  #upgrade(request: Request, remote: Deno.NetAddr): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return respond(426, "Expected a WebSocket upgrade\n", {
        ...PLAIN_TEXT,
        Upgrade: "websocket",
      });
    }
    if (request.method !== "GET") {
      // RFC 6455 4.1: an upgrade is a GET (Deno's would take a HEAD).
      return respond(405, "Method not allowed\n", {
        ...PLAIN_TEXT,
        Allow: "GET",
      });
    }
    if (request.headers.get("sec-websocket-version") !== "13") {
      // RFC 6455 4.2.2: the versions the server speaks, for the client to
      // try again with (Deno's upgrade would take any, or none).
      return respond(426, "Expected WebSocket version 13\n", {
        ...PLAIN_TEXT,
        "Sec-WebSocket-Version": "13",
      });
    }
    if (this.#closing !== null) {
      return respond(503, "Shutting down\n", PLAIN_TEXT);
    }
    if (!originAllowed(request, this.#parts.config.allowedOrigins)) {
      this.#refused(remote, "origin");
      return respond(403, "Forbidden origin\n", PLAIN_TEXT);
    }
    const url = new URL(request.url);
    const token = url.searchParams.get("resume");
    const waiting = token === null ? undefined : this.#waiting.get(token);
    if (waiting !== undefined) {
      const before = waiting.remoteAddr.hostname;
      const moved = before !== remote.hostname;
      // A socket still attached is shut, but stays open until its client
      // answers the close: it keeps its place at `before`, and the new
      // socket needs one of its own, or one address could chain takeovers
      // into any number of open sockets.
      const counted = moved || !waiting.detached;
      // Refused, the session waits on for its page; this socket is not it.
      const accepted = this.#acceptWebSocket(request, remote, counted);
      if (accepted instanceof Response) return accepted;
      const { socket, response } = accepted;
      if (moved) {
        this.#log.info("Resumed a page's session from {remote}, was {before}", {
          remote: formatAddr(remote),
          before,
        });
      }
      // Detached, or not yet known to be (a half-open socket after a network
      // change): the new socket takes the session over, the old one is shut.
      const shut = waiting.resume(
        socket,
        Number(url.searchParams.get("last") ?? 0) || 0,
        remote,
      );
      this.#bridge(request, socket);
      if (shut !== null) this.#endLingering(shut);
      if (counted) {
        // The session's place at `before` goes with the socket it had.
        if (shut === null || shut.readyState === WebSocket.CLOSED) {
          this.#limits.release(before);
        } else {
          shut.addEventListener("close", () => this.#limits.release(before), {
            once: true,
          });
        }
      }
      return response;
    }
    const accepted = this.#acceptWebSocket(request, remote, true);
    if (accepted instanceof Response) return accepted;
    const { socket, response } = accepted;
    this.#bridge(request, socket);
    let session: Session | null = null;
    let current: string | null = null;
    const conn = new WebSocketConnection(socket, remote, {
      latestId: () => this.registry.latestId(),
      clock: this.#parts.clock,
      resumeMs: this.#parts.config.resumeSeconds * 1000,
      resumable: () => session?.user != null && session.active,
      onToken: (next, connection) => {
        if (current !== null) this.#waiting.delete(current);
        current = next;
        if (next !== null) this.#waiting.set(next, connection);
      },
    });
    // As the TLS port's: #session() returns at the session's first await,
    // before its end (#ended) can look for it in #pages.
    session = this.#session(conn, "websocket");
    this.#pages.set(session, conn);
    return response;
  }

  /**
   * Upgrades a `/ws` request to a WebSocket, once the same bans and limits
   * as a telnet connection's let it in where it is `counted` (it needs a
   * place of its own at `remote`): the socket and the response that
   * upgrades it, no longer counted as an HTTP connection; or the response
   * that refuses it (a ban or a limit, on its own socket; a malformed
   * upgrade, 400).
   */
  #acceptWebSocket(
    request: Request,
    remote: Deno.NetAddr,
    counted: boolean,
  ): Response | { socket: WebSocket; response: Response } {
    const refusal = counted ? this.#admit(remote) : null;
    const refused = refusal === null
      ? null
      : nodeHttp!.refuseWebSocket(request, refusal);
    if (refused !== null) return refused;
    const upgraded = nodeHttp!.upgradeWebSocket(request);
    if (upgraded === null) {
      // Counted by #admit: given back, or a few bad requests would fill
      // --max-conns for good.
      if (counted && refusal === null) this.#limits.release(remote.hostname);
      return respond(400, "Bad WebSocket upgrade\n", PLAIN_TEXT);
    }
    this.#upgraded(request);
    return upgraded;
  }

  /**
   * Drops from the store, at start and then every hour, offline messages
   * too old to be delivered, addresses' failed logins too old to count,
   * and the history and topic of each room nobody owns that has been quiet
   * for `--room-keep-days`, unless it is open here (with members, or
   * `main`): its lines are what its members see and page back through.
   */
  #sweepStore(): void {
    const { store, clock, config } = this.#parts;
    const now = clock.date();
    const days = config.roomKeepDays;
    store.forgetOld({
      messagesBefore: now - config.offlineDays * DAY_MS,
      failuresBefore: now - ADDRESS_FAILURE_MS,
      roomsQuietBefore: days > 0 ? now - days * DAY_MS : undefined,
      openRooms: () => this.registry.keptOpen(),
    }).then(
      (rooms) => {
        if (rooms > 0) {
          this.#log.info(
            "Forgot the history and topic of the rooms quiet for {days} days: {rooms}",
            { rooms, days },
          );
        }
      },
      (error) =>
        this.#log.warn("Sweeping the store failed: {error}", { error }),
    );
    // A real timer, not the server's clock: nothing waits for it.
    const sweep = setTimeout(() => this.#sweepStore(), SWEEP_MS);
    Deno.unrefTimer(sweep);
    this.#sweep = sweep;
  }

  /**
   * Checks once a second (and {@linkcode ChatServer.#accepted} after each
   * accept) whether the process is out of file descriptors (see
   * descriptors.ts): then one line says so, and once one is free again every
   * port listens anew, since Deno's node:net does not accept again by itself.
   */
  #watchDescriptors(): DescriptorWatch | null {
    if (!canCheckDescriptors()) {
      this.#log.warn(
        "Not watching for running out of file descriptors: reading /dev/null is not allowed (a port out of them stops until a restart)",
      );
      return null;
    }
    // The ports to listen anew: every one, once descriptors ran out (any
    // may have stopped); then those that could not listen again.
    const stopped = new Set<ListeningPort>();
    const watch = new DescriptorWatch({
      clock: this.#parts.clock,
      onStopped: () => this.#ports.forEach((port) => stopped.add(port)),
      onExhausted: (times) =>
        this.#log.error(
          "Out of file descriptors{since}: new connections wait until some close (raise the open-file limit: docs/operations.md)",
          {
            since: times > 1
              ? ` (${times} times since the last such line)`
              : "",
          },
        ),
      onFreed: async (reported) => {
        await Promise.all([...stopped].map(async (port) => {
          const error = await relisten(port);
          if (error === null) {
            stopped.delete(port);
            // Its failure was said: so is its coming back.
            if (port.failed) {
              this.#log.info("Listening again on port {port}", {
                port: port.port,
              });
            }
            port.failed = false;
          } else if (!port.failed) {
            // Once, not at every check that tries again.
            port.failed = true;
            this.#log.error(
              "Listening again on port {port} failed (tried again each second): {error}",
              { port: port.port, error },
            );
          }
        }));
        if (this.#closing !== null) {
          for (const { server } of this.#ports) server.close();
          return true;
        }
        const ok = stopped.size === 0;
        if (ok && reported) {
          this.#log.warn("File descriptors free again: accepting connections");
        }
        return ok;
      },
    });
    const next = () => {
      if (this.#closing !== null) return;
      this.#descriptorTimer = setTimeout(() => {
        this.#descriptorCheck = watch.update(outOfDescriptors()).then(next);
      }, DESCRIPTOR_CHECK_MS);
      Deno.unrefTimer(this.#descriptorTimer);
    };
    next();
    return watch;
  }

  /**
   * After each accept: if that took the last descriptor, the next accept
   * fails and stops the port, so it is listened to anew once one is free.
   */
  #accepted(): void {
    if (this.#descriptors !== null && outOfDescriptors()) {
      void this.#descriptors.update(true);
    }
  }

  async #shutdown(): Promise<void> {
    if (this.#sweep !== null) clearTimeout(this.#sweep);
    if (this.#descriptorTimer !== null) clearTimeout(this.#descriptorTimer);
    this.#log.info("Shutting down");
    await this.#descriptorCheck;
    this.#parts.listener.close();
    this.#parts.tlsListener?.close();
    for (const raw of this.#handshakes) raw.destroy();
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
    await Promise.all(this.#http.map((port) => port.close()));
    await this.#parts.cluster?.close();
    // Each closed on its own: a store that fails to close must not keep the
    // Redis link open, nor a link's failure be logged as the database's.
    try {
      await this.#parts.store.close();
    } catch (error) {
      this.#log.error("Closing the database failed: {error}", { error });
    }
    try {
      await this.#parts.link?.close();
    } catch (error) {
      this.#log.error("Closing the Redis link failed: {error}", { error });
    }
    // What was left out of the log since its last line, said now.
    this.#refusalLog.close();
    this.#limitLog.close();
    this.#parts.storeErrors?.close();
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
