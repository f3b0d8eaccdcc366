/**
 * The server's options: one table with defaults, from which the flag parser
 * and `--help` are both made.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseBlock } from "./addresses.ts";

/** Log levels, quietest last. */
export const LOG_LEVELS = [
  "trace",
  "debug",
  "info",
  "warning",
  "error",
  "fatal",
] as const;

/** One of {@linkcode LOG_LEVELS}. */
export type LogLevelName = typeof LOG_LEVELS[number];

/** Everything the server can be told. */
export interface Config {
  /** The address to listen on. Default `0.0.0.0`, as the seed. */
  host: string;
  /** The TCP port; 0 picks a free one. Default 5005. */
  port: number;
  /** The server's name, shown on connect. Default `TestChat`. */
  name: string;
  /** The longest line a client may send, in bytes. Default 1024. */
  maxLineBytes: number;
  /** The most output bytes that may wait for a slow reader. Default 1 MiB. */
  maxQueueBytes: number;
  /** Queued output past this for `softQueueSeconds` drops the reader. Default 256 KiB. */
  softQueueBytes: number;
  /** How long output may stay over `softQueueBytes`, in seconds. Default 10. */
  softQueueSeconds: number;
  /** Lines a client may send at once before flood control slows it. Default 10. */
  floodBurst: number;
  /** Lines per second a client may send after its burst; 0 turns flood control off. Default 2. */
  floodRate: number;
  /** Lines that may wait for flood control before `Excess flood`. Default 100. */
  floodMaxWaiting: number;
  /** Lines a client may send before logging in. Default 20. */
  maxLinesBeforeLogin: number;
  /** Seconds a client has to log in; 0 is no limit. Default 60. */
  loginTimeout: number;
  /** Seconds a logged-in user may stay idle; 0 is no limit. Default 0. */
  idleTimeout: number;
  /** Concurrent connections from one address (IPv6: one /64). Default 16. */
  maxConnsPerIp: number;
  /** Concurrent connections in all. Default 10,000. */
  maxConns: number;
  /** New connections from one address per 10 seconds. Default 30. */
  maxNewConnsPerIp: number;
  /** Apply the per-address limits to loopback too. Default false. */
  limitLoopback: boolean;
  /** The longest telnet subnegotiation, in bytes. Default 4096. */
  maxSubnegotiationBytes: number;
  /** The TLS port, beside the plain one; 0 picks a free one. Default: none. */
  tlsPort: number | null;
  /** The HTTP port (the browser client, /ws, /metrics); null: none. Default 8080. */
  httpPort: number | null;
  /**
   * The address the HTTP and HTTPS ports listen on, when it is not `host`:
   * `127.0.0.1` behind a reverse proxy, so that nobody reaches the HTTP side
   * (and /metrics) past the proxy while telnet stays public. Default: `host`.
   */
  httpHost: string;
  /** Serve no HTTP at all. Default false. */
  noHttp: boolean;
  /** An HTTPS port beside it (needs `cert` and `key`). Default: none. */
  httpsPort: number | null;
  /**
   * The HTTPS port's Strict-Transport-Security max-age, in seconds; 0 sends
   * none. Opt-in: a browser holds it for the whole host name, every port
   * (the plain HTTP port too) and every other site on that name. Default 0.
   */
  hstsSeconds: number;
  /** Reverse proxies whose X-Forwarded-For is believed (CIDR). Default: none. */
  trustedProxies: readonly string[];
  /** Origins besides the page's own whose pages may open /ws. Default: none. */
  allowedOrigins: readonly string[];
  /** Seconds a browser's session waits for its page to reconnect. Default 60. */
  resumeSeconds: number;
  /** The TLS certificate chain (PEM file), for `tlsPort`. */
  cert: string;
  /** The TLS private key (PEM file), for `tlsPort`. */
  key: string;
  /** Chat lines a room replays to those who join; 0 turns it off. Default 20. */
  historyLines: number;
  /** Chat lines the store keeps per room, for `history`. Default 1000. */
  historyKeep: number;
  /** The database file; `:memory:` keeps nothing. Default `chat.db`. */
  db: string;
  /**
   * Redis, to be one of several servers acting as one chat (its store is
   * then Redis, not `db`). Default: none.
   */
  redis: string;
  /**
   * A file holding Redis's password, for a `redis` URL without one: read
   * once at start, its trailing line ends dropped, so that the password is
   * not in the command line (`ps`, `systemctl status`, the unit file);
   * systemd's `LoadCredential=` hands such a file over. Default: none.
   */
  redisPasswordFile: string;
  /** This server's name in the cluster. Default: a random one. */
  nodeId: string;
  /** Password hashes that may run at once. Default 2. */
  maxPasswordHashes: number;
  /**
   * Accounts one address (IPv6: one /64) may register per hour, on each
   * server; 0 is no limit. Loopback is exempt unless `limitLoopback`.
   * Default 5.
   */
  maxRegistrationsPerIp: number;
  /**
   * Rooms one address (IPv6: one /64) may make per hour, on each server (a
   * room is made by the first `join` to a name no room has, here or in the
   * store: each keeps its last `historyKeep` lines for good); 0 is no
   * limit. Loopback is exempt unless `limitLoopback`, server operators
   * always. Default 20.
   */
  maxNewRoomsPerIp: number;
  /**
   * Rooms that may be claimed in all (server operators' claims are not
   * refused, but counted); 0 is no limit. Default 10,000.
   */
  maxClaimedRooms: number;
  /** Offline messages that may wait for one account. Default 50. */
  offlineMax: number;
  /** Of those, how many may come from one sender. Default 10. */
  offlinePerSender: number;
  /** Days an offline message waits before it is dropped. Default 30. */
  offlineDays: number;
  /**
   * Days a room nobody owns keeps its history and topic in the store after
   * its last line or topic, unless it is open on this server (or has
   * members on any server of a cluster); 0 keeps them for good. Default 90.
   */
  roomKeepDays: number;
  /** A file whose text is shown after login and by `motd`. Default: none. */
  motd: string;
  /** The quietest log level shown. Default `info`. */
  logLevel: LogLevelName;
  /**
   * Accounts that are server operators, from the start or as soon as they
   * are registered (`--op`, repeatable). Default: none.
   */
  ops: readonly string[];
}

/** The defaults of every option. */
export const DEFAULTS: Readonly<Config> = {
  host: "0.0.0.0",
  port: 5005,
  name: "TestChat",
  maxLineBytes: 1024,
  maxQueueBytes: 1024 * 1024,
  softQueueBytes: 256 * 1024,
  softQueueSeconds: 10,
  floodBurst: 10,
  floodRate: 2,
  floodMaxWaiting: 100,
  maxLinesBeforeLogin: 20,
  loginTimeout: 60,
  idleTimeout: 0,
  maxConnsPerIp: 16,
  maxConns: 10_000,
  maxNewConnsPerIp: 30,
  limitLoopback: false,
  maxSubnegotiationBytes: 4096,
  tlsPort: null,
  httpPort: 8080,
  httpHost: "",
  noHttp: false,
  httpsPort: null,
  hstsSeconds: 0,
  trustedProxies: [],
  allowedOrigins: [],
  resumeSeconds: 60,
  cert: "",
  key: "",
  historyLines: 20,
  historyKeep: 1000,
  db: "chat.db",
  redis: "",
  redisPasswordFile: "",
  nodeId: "",
  maxPasswordHashes: 2,
  maxRegistrationsPerIp: 5,
  maxNewRoomsPerIp: 20,
  maxClaimedRooms: 10_000,
  offlineMax: 50,
  offlinePerSender: 10,
  offlineDays: 30,
  roomKeepDays: 90,
  motd: "",
  logLevel: "info",
  ops: [],
};

interface Option {
  key: keyof Config;
  flag: string;
  /** The placeholder in --help; none for a switch. */
  value?: string;
  description: string;
  /** Turns the flag's text into a value, or says why it cannot. */
  parse?(text: string): string | number;
  /** The flag's text as an error shows it, a secret in it hidden. */
  shown?(text: string): string;
  /** The flag may be given more than once; the value is a list. */
  repeatable?: boolean;
}

function integer(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text)) throw new Error("expected a whole number");
    const value = Number(text);
    if (value < min || value > max) {
      throw new Error(`expected a number from ${min} to ${max}`);
    }
    return value;
  };
}

function decimal(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+(\.\d+)?$/.test(text)) throw new Error("expected a number");
    const value = Number(text);
    if (value < min || value > max) {
      throw new Error(`expected a number from ${min} to ${max}`);
    }
    return value;
  };
}

function nonEmpty(text: string): string {
  if (text.trim() === "") throw new Error("expected a value");
  return text;
}

/**
 * A URL's password as `***`, in a URL that may not parse (which is why it
 * is in an error): all from the first `:` after the user name to the last
 * `@`, more than the password at worst, never less.
 */
function hideUrlPassword(text: string): string {
  // Whatever lies between the scheme and the last "@" may hold it (a user
  // name with a raw "@", no "//", spaces before): all of it is hidden.
  return text.replace(/^(\s*[a-z][a-z0-9+.-]*:(?:\/\/)?).*@/is, "$1***@");
}

const DAY_SECONDS = 24 * 60 * 60;
const GIB = 1024 * 1024 * 1024;

/** The options, in the order --help lists them. */
export const OPTIONS: readonly Option[] = [
  {
    key: "host",
    flag: "host",
    value: "HOST",
    description:
      "address to listen on (the HTTP ports too, unless --http-host)",
    parse: nonEmpty,
  },
  {
    key: "port",
    flag: "port",
    value: "PORT",
    description: "TCP port to listen on (0 picks a free one)",
    parse: integer(0, 65535),
  },
  {
    key: "name",
    flag: "name",
    value: "NAME",
    description: "server name shown on connect",
    parse: nonEmpty,
  },
  {
    key: "tlsPort",
    flag: "tls-port",
    value: "PORT",
    description: "also serve TLS on this port (needs --cert and --key)",
    parse: integer(0, 65535),
  },
  {
    key: "httpPort",
    flag: "http-port",
    value: "PORT",
    description:
      "HTTP port: the browser client, /ws, /metrics, /livez, /readyz (0 picks one)",
    parse: integer(0, 65535),
  },
  {
    key: "httpHost",
    flag: "http-host",
    value: "HOST",
    description:
      "address the HTTP and HTTPS ports listen on (127.0.0.1 behind a proxy; default: --host's)",
    parse: nonEmpty,
  },
  {
    key: "noHttp",
    flag: "no-http",
    description:
      "no HTTP port (no page, no /metrics there; --https-port still serves them)",
  },
  {
    key: "httpsPort",
    flag: "https-port",
    value: "PORT",
    description:
      "also serve HTTPS (and wss://) on this port (needs --cert and --key)",
    parse: integer(0, 65535),
  },
  {
    key: "hstsSeconds",
    flag: "hsts-seconds",
    value: "S",
    description:
      "on --https-port, tell browsers to use only HTTPS for this host name, every port, for S seconds (0: off)",
    parse: integer(0, 2 ** 31 - 1),
  },
  {
    key: "trustedProxies",
    flag: "trusted-proxy",
    value: "CIDR",
    description: "believe X-Forwarded-For from this proxy address or block",
    parse: (text) => {
      if (parseBlock(text) === null) {
        throw new Error("expected an IP address or a CIDR block");
      }
      return text;
    },
    repeatable: true,
  },
  {
    key: "allowedOrigins",
    flag: "allowed-origin",
    value: "ORIGIN",
    description:
      "also let pages from this origin open /ws (https://example.org)",
    parse: (text) => {
      let url;
      try {
        url = new URL(text);
      } catch {
        throw new Error("expected an origin such as https://example.org");
      }
      if (url.origin !== text) {
        throw new Error(`expected an origin such as ${url.origin}`);
      }
      return text;
    },
    repeatable: true,
  },
  {
    key: "resumeSeconds",
    flag: "resume-seconds",
    value: "S",
    description: "seconds a browser session waits for its page to come back",
    parse: decimal(0, DAY_SECONDS),
  },
  {
    key: "cert",
    flag: "cert",
    value: "FILE",
    description: "TLS certificate chain, PEM",
    parse: nonEmpty,
  },
  {
    key: "key",
    flag: "key",
    value: "FILE",
    description: "TLS private key, PEM",
    parse: nonEmpty,
  },
  {
    key: "motd",
    flag: "motd",
    value: "FILE",
    description: "message of the day, shown after login",
    parse: nonEmpty,
  },
  {
    key: "historyLines",
    flag: "history-lines",
    value: "N",
    description: "lines a room replays to those who join (0: none)",
    parse: integer(0, 10_000),
  },
  {
    key: "historyKeep",
    flag: "history-keep",
    value: "N",
    description: "chat lines kept per room for the history command",
    parse: integer(1, 1_000_000),
  },
  {
    key: "db",
    flag: "db",
    value: "PATH",
    description: "database file (:memory: keeps nothing)",
    parse: nonEmpty,
  },
  {
    key: "redis",
    flag: "redis",
    value: "URL",
    description:
      "join a cluster over Redis (redis://host:6379); its store is Redis",
    parse: (text) => {
      let url;
      try {
        url = new URL(text);
      } catch {
        throw new Error("expected a URL such as redis://127.0.0.1:6379");
      }
      if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
        throw new Error("expected a redis:// or rediss:// URL");
      }
      // redis:secret@db parses, with no host: node-redis would go to
      // localhost, and no log line could hide what stands for a password.
      if (url.host === "") {
        throw new Error("expected a URL such as redis://127.0.0.1:6379");
      }
      return text;
    },
    shown: hideUrlPassword,
  },
  {
    key: "redisPasswordFile",
    flag: "redis-password-file",
    value: "FILE",
    description:
      "read Redis's password from this file, not from --redis's URL (systemd's LoadCredential=)",
    parse: nonEmpty,
  },
  {
    key: "nodeId",
    flag: "node-id",
    value: "ID",
    description: "this server's name in the cluster (default: a random one)",
    parse: (text) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(text)) {
        throw new Error('expected letters, digits, "_", "." or "-"');
      }
      return text;
    },
  },
  {
    key: "maxPasswordHashes",
    flag: "max-password-hashes",
    value: "N",
    description: "password hashes that may run at once (the rest wait)",
    parse: integer(1, 64),
  },
  {
    key: "maxRegistrationsPerIp",
    flag: "max-registrations-per-ip",
    value: "N",
    description: "accounts one address may register per hour (0: no limit)",
    parse: integer(0, 10_000),
  },
  {
    key: "maxNewRoomsPerIp",
    flag: "max-new-rooms-per-ip",
    value: "N",
    description: "rooms one address may make per hour (0: no limit)",
    parse: integer(0, 100_000),
  },
  {
    key: "maxClaimedRooms",
    flag: "max-claimed-rooms",
    value: "N",
    description: "rooms that may be claimed in all (0: no limit)",
    parse: integer(0, 10_000_000),
  },
  {
    key: "offlineMax",
    flag: "offline-max",
    value: "N",
    description: "offline messages that may wait for one account",
    parse: integer(0, 10_000),
  },
  {
    key: "offlinePerSender",
    flag: "offline-per-sender",
    value: "N",
    description: "of those, how many one sender may leave",
    parse: integer(1, 10_000),
  },
  {
    key: "offlineDays",
    flag: "offline-days",
    value: "DAYS",
    description: "days an offline message waits before it is dropped",
    parse: integer(1, 3650),
  },
  {
    key: "roomKeepDays",
    flag: "room-keep-days",
    value: "DAYS",
    description:
      "days a room nobody owns keeps its history and topic after its last line (0: for good)",
    parse: integer(0, 36_500),
  },
  {
    key: "maxLineBytes",
    flag: "max-line-bytes",
    value: "N",
    description: "longest line a client may send, in bytes",
    parse: integer(64, 1024 * 1024),
  },
  {
    key: "maxQueueBytes",
    flag: "max-queue-bytes",
    value: "N",
    description: "output that may wait for a slow reader before it is dropped",
    parse: integer(4096, GIB),
  },
  {
    key: "softQueueBytes",
    flag: "soft-queue-bytes",
    value: "N",
    description: "output that may wait for --soft-queue-seconds at most",
    parse: integer(1024, GIB),
  },
  {
    key: "softQueueSeconds",
    flag: "soft-queue-seconds",
    value: "S",
    description: "how long output may stay over --soft-queue-bytes",
    parse: decimal(0.001, DAY_SECONDS),
  },
  {
    key: "floodBurst",
    flag: "flood-burst",
    value: "N",
    description: "lines a client may send at once before it is slowed",
    parse: integer(1, 1_000_000),
  },
  {
    key: "floodRate",
    flag: "flood-rate",
    value: "N",
    description: "lines per second after the burst (0: no flood control)",
    parse: decimal(0, 1_000_000),
  },
  {
    key: "floodMaxWaiting",
    flag: "flood-max-waiting",
    value: "N",
    description: 'lines that may wait to be let through before "Excess flood"',
    parse: integer(1, 1_000_000),
  },
  {
    key: "maxLinesBeforeLogin",
    flag: "max-lines-before-login",
    value: "N",
    description: "lines a client may send before logging in",
    parse: integer(1, 1_000_000),
  },
  {
    key: "loginTimeout",
    flag: "login-timeout",
    value: "S",
    description: "seconds a client has to log in (0: no limit)",
    parse: decimal(0, DAY_SECONDS),
  },
  {
    key: "idleTimeout",
    flag: "idle-timeout",
    value: "S",
    description: "seconds a user may stay idle (0: no limit)",
    parse: decimal(0, 365 * DAY_SECONDS),
  },
  {
    key: "maxConns",
    flag: "max-conns",
    value: "N",
    description: "concurrent connections in all",
    parse: integer(1, 10_000_000),
  },
  {
    key: "maxConnsPerIp",
    flag: "max-conns-per-ip",
    value: "N",
    description: "concurrent connections from one address (IPv6: one /64)",
    parse: integer(1, 10_000_000),
  },
  {
    key: "maxNewConnsPerIp",
    flag: "max-new-conns-per-ip",
    value: "N",
    description: "new connections from one address per 10 seconds",
    parse: integer(1, 10_000_000),
  },
  {
    key: "limitLoopback",
    flag: "limit-loopback",
    description: "apply the per-address limits to loopback too",
  },
  {
    key: "maxSubnegotiationBytes",
    flag: "max-subneg-bytes",
    value: "N",
    description: "longest telnet subnegotiation, in bytes",
    parse: integer(16, 1024 * 1024),
  },
  {
    key: "ops",
    flag: "op",
    value: "NAME",
    description: "make an account a server operator",
    parse: nonEmpty,
    repeatable: true,
  },
  {
    key: "logLevel",
    flag: "log-level",
    value: "LEVEL",
    description: `quietest log level shown: ${LOG_LEVELS.join(", ")}`,
    parse: (text) => {
      if (!(LOG_LEVELS as readonly string[]).includes(text)) {
        throw new Error(`expected one of ${LOG_LEVELS.join(", ")}`);
      }
      return text;
    },
  },
];

/** A flag the parser refused: main prints it on one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What the command line asked for. */
export type Invocation =
  | { action: "serve"; config: Config }
  | { action: "help" }
  | { action: "version" };

/**
 * Parses command-line flags. Throws a {@linkcode UsageError}. A leading
 * `--` is skipped: `deno task start -- --port 6000` (npm's way of passing
 * flags on) hands it to the program, and the server takes no arguments
 * that it could set apart.
 */
export function parseFlags(args: readonly string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: args[0] === "--" ? args.slice(1) : [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
        ...Object.fromEntries(
          OPTIONS.map((option) => [
            option.flag,
            {
              type: option.parse ? "string" as const : "boolean" as const,
              multiple: option.repeatable ?? false,
            },
          ]),
        ),
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<
    string,
    string | boolean | string[] | undefined
  >;
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };
  const config: Config = { ...DEFAULTS };
  for (const option of OPTIONS) {
    const given = values[option.flag];
    const settings = config as unknown as Record<string, unknown>;
    if (given === true) settings[option.key] = true;
    if (given === undefined || given === true || given === false) continue;
    const parse = (text: string) => {
      try {
        return option.parse!(text);
      } catch (error) {
        throw new UsageError(
          `Invalid value "${
            option.shown?.(text) ?? text
          }" for --${option.flag}: ${(error as Error).message}`,
        );
      }
    };
    settings[option.key] = Array.isArray(given)
      ? given.map(parse)
      : parse(given);
  }
  if (config.tlsPort !== null && (config.cert === "" || config.key === "")) {
    throw new UsageError("--tls-port needs --cert and --key");
  }
  if (config.httpsPort !== null && (config.cert === "" || config.key === "")) {
    throw new UsageError("--https-port needs --cert and --key");
  }
  if (
    (config.cert !== "" || config.key !== "") &&
    config.tlsPort === null && config.httpsPort === null
  ) {
    // Else the files are read by nothing and the server has no TLS, silently.
    throw new UsageError("--cert and --key need --tls-port or --https-port");
  }
  if (config.hstsSeconds > 0 && config.httpsPort === null) {
    // Else it is sent by nothing, silently.
    throw new UsageError("--hsts-seconds needs --https-port");
  }
  if (config.noHttp && values["http-port"] !== undefined) {
    // Else one of the two is ignored, and the operator cannot tell which.
    throw new UsageError("--no-http and --http-port cannot go together");
  }
  if (config.noHttp) config.httpPort = null;
  if (
    values["http-host"] !== undefined && config.httpPort === null &&
    config.httpsPort === null
  ) {
    throw new UsageError(
      "--http-host needs an HTTP or HTTPS port to listen on",
    );
  }
  if (config.redisPasswordFile !== "" && config.redis === "") {
    // Else the file is read by nothing, silently.
    throw new UsageError("--redis-password-file needs --redis");
  }
  if (
    config.redisPasswordFile !== "" && new URL(config.redis).password !== ""
  ) {
    // Else one of the two passwords is ignored, and the operator cannot
    // tell which.
    throw new UsageError(
      "--redis-password-file and a password in --redis cannot go together",
    );
  }
  if (config.historyLines > config.historyKeep) {
    throw new UsageError(
      "--history-lines cannot be more than --history-keep (the lines kept)",
    );
  }
  return { action: "serve", config };
}

/** The text of --help, made from the option table. */
export function usage(): string {
  const rows: [string, string][] = [
    ...OPTIONS.map((option): [string, string] => [
      option.value ? `--${option.flag} ${option.value}` : `--${option.flag}`,
      option.repeatable
        ? `${option.description} (repeatable; default none)`
        : option.value && DEFAULTS[option.key] !== "" &&
            DEFAULTS[option.key] !== null
        ? `${option.description} (default ${DEFAULTS[option.key]})`
        : option.description,
    ]),
    ["-h, --help", "show this help and exit"],
    ["-V, --version", "show the version and exit"],
  ];
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    "Usage: chat-server [options]",
    "",
    "A chat server for telnet and nc: log in with a name and talk.",
    "",
    "Options:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join("\n");
}
