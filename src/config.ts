/**
 * The server's options: one table with defaults, from which the flag parser
 * and `--help` are both made.
 *
 * @module
 */

import { parseArgs } from "node:util";

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
  /** The quietest log level shown. Default `info`. */
  logLevel: LogLevelName;
}

interface Option {
  key: keyof Config;
  flag: string;
  /** The placeholder in --help. */
  value: string;
  description: string;
  /** Turns the flag's text into a value, or says why it cannot. */
  parse(text: string): string | number;
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

function nonEmpty(text: string): string {
  if (text.trim() === "") throw new Error("expected a value");
  return text;
}

/** The options, in the order --help lists them. */
export const OPTIONS: readonly Option[] = [
  {
    key: "host",
    flag: "host",
    value: "HOST",
    description: "address to listen on",
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
    parse: integer(4096, 1024 * 1024 * 1024),
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

/** The defaults of every option. */
export const DEFAULTS: Readonly<Config> = {
  host: "0.0.0.0",
  port: 5005,
  name: "TestChat",
  maxLineBytes: 1024,
  maxQueueBytes: 1024 * 1024,
  logLevel: "info",
};

/** A flag the parser refused: main prints it with the usage, exit code 2. */
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

/** Parses command-line flags. Throws a {@linkcode UsageError}. */
export function parseFlags(args: readonly string[]): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "V" },
        ...Object.fromEntries(
          OPTIONS.map((option) => [option.flag, { type: "string" as const }]),
        ),
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return { action: "help" };
  if (values.version) return { action: "version" };
  const config: Config = { ...DEFAULTS };
  for (const option of OPTIONS) {
    const text = values[option.flag];
    if (typeof text !== "string") continue;
    try {
      (config as unknown as Record<string, unknown>)[option.key] = option.parse(
        text,
      );
    } catch (error) {
      throw new UsageError(
        `Invalid value "${text}" for --${option.flag}: ${
          (error as Error).message
        }`,
      );
    }
  }
  return { action: "serve", config };
}

/** The text of --help, made from the option table. */
export function usage(): string {
  const rows: [string, string][] = [
    ...OPTIONS.map((option): [string, string] => [
      `--${option.flag} ${option.value}`,
      `${option.description} (default ${DEFAULTS[option.key]})`,
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
