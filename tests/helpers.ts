/**
 * Test helpers: a server on port 0 and a line-reading client over a real
 * socket. Nothing here sleeps: every wait is for a line, with a timeout.
 *
 * @module
 */

import { createConnection, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { DatabaseSync } from "node:sqlite";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { type ChatServer, serve, type ServeOptions } from "../main.ts";
import type { ScryptParams } from "../src/passwords.ts";
import type { FakeClock } from "./fake_clock.ts";

/** How long a test waits for a line before failing, in ms. */
export const TIMEOUT_MS = 10_000;

/**
 * scrypt at a cost of next to nothing, for tests' password hashes: the
 * production cost (N = 2^15) takes a fifth of a second of a core per hash,
 * and the suite makes hundreds. A test of the production cost, or of logins
 * waiting for a slow hash, passes `scryptParams: SCRYPT_PARAMS`.
 */
export const TEST_SCRYPT_PARAMS: ScryptParams = { ln: 4, r: 8, p: 1 };

/**
 * Starts a server on 127.0.0.1 and a free port, keeping nothing on disk,
 * serving no HTTP unless asked (`httpPort: 0`), and hashing passwords at
 * {@linkcode TEST_SCRYPT_PARAMS} unless asked otherwise.
 */
export function startServer(options: ServeOptions = {}): Promise<ChatServer> {
  return serve({
    host: "127.0.0.1",
    port: 0,
    db: ":memory:",
    httpPort: null,
    scryptParams: TEST_SCRYPT_PARAMS,
    ...options,
  });
}

/**
 * Opens a running server's SQLite file as another process would (to break
 * it, say), waiting up to {@linkcode TIMEOUT_MS} for the server's write
 * lock: the server writes on its own, unawaited (its sweep of old rows at
 * start), and a connection that does not wait fails with "database is
 * locked" when it comes in the middle of one.
 */
export function openDatabase(path: string): DatabaseSync {
  return new DatabaseSync(path, { timeout: TIMEOUT_MS });
}

/** Rejects with `what` if `promise` takes longer than `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a {@linkcode Client} needs of its connection. */
export type ByteConn = Pick<Deno.Conn, "read" | "write" | "close">;

/**
 * A `node:net` socket as a {@linkcode ByteConn}: Deno.connect cannot choose
 * the local address, and a test that bans one loopback address connects
 * from another (127.0.0.2 and up are all this machine's).
 */
export class NodeConn implements ByteConn {
  readonly #socket: Socket;
  readonly #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#wake?.();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on("error", (error: Error) => {
      this.#error = error;
      this.#wake?.();
    });
  }

  static connect(host: string, port: number, from: string): Promise<NodeConn> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port, localAddress: from });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new NodeConn(socket));
      });
    });
  }

  /**
   * TLS to `host:port` from the local address `from`, trusting `ca` (PEM),
   * for the name `servername`: what `Deno.connectTls` cannot do (it cannot
   * choose the local address either).
   */
  static connectTls(
    host: string,
    port: number,
    options: { from: string; ca: string; servername: string },
  ): Promise<NodeConn> {
    return new Promise((resolve, reject) => {
      const raw = createConnection({ host, port, localAddress: options.from });
      raw.once("error", reject);
      const socket = connectTls({
        socket: raw,
        ca: options.ca,
        servername: options.servername,
      });
      socket.once("error", reject);
      socket.once("secureConnect", () => {
        raw.off("error", reject);
        socket.off("error", reject);
        resolve(new NodeConn(socket));
      });
    });
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) {
        throw new Deno.errors.ConnectionReset(this.#error.message);
      }
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    const chunk = this.#chunks[0];
    const count = Math.min(chunk.length, buffer.length);
    buffer.set(chunk.subarray(0, count));
    if (count === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(count);
    return count;
  }

  write(bytes: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(
        bytes,
        (error) => error ? reject(error) : resolve(bytes.length),
      );
    });
  }

  close(): void {
    if (this.#socket.destroyed) throw new Deno.errors.BadResource("closed");
    this.#socket.destroy();
    this.#ended = true;
    this.#wake?.();
  }
}

let syncCounter = 0;

const TELNET_VERBS: Record<number, string> = {
  251: "WILL",
  252: "WONT",
  253: "DO",
  254: "DONT",
};
const TELNET_OPTIONS: Record<number, string> = { 1: "ECHO" };

/**
 * A chat client over a real TCP socket. It reads all the time, so it is never
 * a slow reader unless told to stop ({@linkcode Client.connect} with
 * `read: false`). Lines must end with CRLF: a bare CR or LF fails the test.
 */
export class Client implements AsyncDisposable {
  readonly conn: ByteConn;
  /**
   * Every line that came, read or not, in order: for a test that must show
   * a line never came, when waitFor() and sync() skip lines on the way.
   */
  readonly transcript: string[] = [];
  readonly #lines: string[] = [];
  #wake: (() => void) | null = null;
  #ended = false;
  #error: Error | null = null;
  readonly #reading: Promise<void>;

  private constructor(conn: ByteConn, read: boolean) {
    this.conn = conn;
    this.#reading = read ? this.#read() : Promise.resolve();
  }

  /**
   * Connects to `port` on 127.0.0.1 (or `hostname`); from `from`, a local
   * address such as 127.0.0.2, when given (to look like another peer).
   */
  static async connect(
    port: number,
    options: { hostname?: string; read?: boolean; from?: string } = {},
  ): Promise<Client> {
    const hostname = options.hostname ?? "127.0.0.1";
    const conn = options.from === undefined
      ? await Deno.connect({ hostname, port })
      : await NodeConn.connect(hostname, port, options.from);
    return new Client(conn, options.read ?? true);
  }

  /** Wraps a connection made elsewhere (TLS, say). */
  static from(conn: Deno.Conn): Client {
    return new Client(conn, true);
  }

  /** Connects, reads the welcome, logs in as `name` and waits until done. */
  static async login(
    port: number,
    name: string,
    options: { hostname?: string; from?: string } = {},
  ): Promise<Client> {
    const client = await Client.connect(port, options);
    await client.expect("Welcome to TestChat");
    await client.send(`login ${name}`);
    await client.sync();
    return client;
  }

  /** Sends `line` and a line ending (CRLF unless told). */
  async send(line: string, ending = "\r\n"): Promise<void> {
    await this.sendBytes(new TextEncoder().encode(line + ending));
  }

  /** Sends raw bytes. */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      written += await this.conn.write(bytes.subarray(written));
    }
  }

  /** The next line, waiting up to `ms`; fails at the end of the stream. */
  async readLine(ms = TIMEOUT_MS, what?: string): Promise<string> {
    const line = await this.#next(ms, what);
    if (line === null) throw new Error("The server closed the connection");
    return line;
  }

  /** Reads the next line and fails unless it is `expected`. */
  async expect(expected: string, ms = TIMEOUT_MS): Promise<void> {
    const line = await this.readLine(ms, JSON.stringify(expected));
    if (line !== expected) {
      throw new Error(
        `Expected ${JSON.stringify(expected)}, got ${JSON.stringify(line)}`,
      );
    }
  }

  /** Reads the next lines and fails unless they are `expected`, in order. */
  async expectLines(expected: readonly string[]): Promise<void> {
    for (const line of expected) await this.expect(line);
  }

  /**
   * Skips lines until one matches, within `ms` all told; returns it.
   * Fails if the connection ends first.
   */
  async waitFor(
    match: string | ((line: string) => boolean),
    ms = TIMEOUT_MS,
  ): Promise<string> {
    const test = typeof match === "string" ? (l: string) => l === match : match;
    const deadline = Date.now() + ms;
    while (true) {
      const line = await this.#next(
        Math.max(1, deadline - Date.now()),
        typeof match === "string" ? JSON.stringify(match) : String(match),
      );
      if (line === null) {
        throw new Error(`Connection ended before ${String(match)}`);
      }
      if (test(line)) return line;
    }
  }

  /**
   * Round-trips an unknown command and returns every line that came before
   * its answer: once it returns, the server has handled all lines sent
   * earlier on this connection.
   */
  async sync(): Promise<string[]> {
    const word = `sync-${++syncCounter}`;
    await this.send(word);
    const before: string[] = [];
    while (true) {
      const line = await this.readLine();
      if (line === `Unknown command: ${word}`) return before;
      if (line === "Please log in") {
        await this.expect('Use "login"');
        return before;
      }
      before.push(line);
    }
  }

  /** Waits for the server to close the connection; returns unread lines. */
  async closed(ms = TIMEOUT_MS): Promise<string[]> {
    const rest: string[] = [];
    while (true) {
      const line = await this.#next(ms);
      if (line === null) return rest;
      rest.push(line);
    }
  }

  /** Closes the socket (a dropped connection, from the server's view). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#reading;
  }

  async #next(ms: number, what = "a line"): Promise<string | null> {
    const deadline = Date.now() + ms;
    while (this.#lines.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      const arrived = new Promise<void>((resolve) => this.#wake = resolve);
      try {
        await withTimeout(
          arrived,
          Math.max(1, deadline - Date.now()),
          "waiting for a line",
        );
      } catch (error) {
        // Made here, not in the timer, so that the stack says which wait of
        // which test it was; with the last lines that did come.
        throw new Error(
          `Timed out after ${ms} ms waiting for ${what}; the last lines: ${
            JSON.stringify(this.transcript.slice(-5))
          }`,
          { cause: error },
        );
      }
    }
    return this.#lines.shift()!;
  }

  /**
   * The telnet commands the server sent (taken out of the lines), each with
   * how many lines had arrived before it: `{ command: "WILL ECHO", after: 3 }`.
   */
  readonly telnet: { command: string; after: number }[] = [];
  #received = 0;

  /** How many lines have arrived so far, read or not. */
  get received(): number {
    return this.#received;
  }
  /** A telnet command being read, split across reads. */
  #command: number[] = [];

  /** `bytes` without telnet commands, which go to {@linkcode telnet}. */
  #withoutTelnet(bytes: Uint8Array): Uint8Array {
    if (!bytes.includes(255) && this.#command.length === 0) return bytes;
    const kept: number[] = [];
    let lines = this.#received;
    for (const byte of bytes) {
      if (this.#command.length === 0 && byte !== 255) {
        kept.push(byte);
        if (byte === 10) lines++;
        continue;
      }
      this.#command.push(byte);
      const [, verb, option] = this.#command;
      if (verb === undefined || (verb >= 251 && option === undefined)) continue;
      const name = TELNET_VERBS[verb] ?? String(verb);
      this.telnet.push({
        command: option === undefined
          ? name
          : `${name} ${TELNET_OPTIONS[option] ?? option}`,
        after: lines,
      });
      this.#command = [];
    }
    return new Uint8Array(kept);
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(64 * 1024);
    let pending = "";
    try {
      while (true) {
        const count = await this.conn.read(buffer);
        if (count === null) break;
        const bytes = this.#withoutTelnet(buffer.subarray(0, count));
        pending += decoder.decode(bytes, { stream: true });
        const parts = pending.split("\r\n");
        pending = parts.pop()!;
        for (const line of parts) {
          if (/[\r\n]/.test(line)) {
            throw new Error(`A line without CRLF: ${JSON.stringify(line)}`);
          }
          this.#lines.push(line);
          this.transcript.push(line);
          this.#received++;
        }
        this.#wake?.();
      }
      if (pending !== "") {
        throw new Error(`Unterminated output: ${JSON.stringify(pending)}`);
      }
    } catch (error) {
      // Closed by this side, or reset by the server: the end of the stream.
      const closed = error instanceof Deno.errors.BadResource ||
        error instanceof Deno.errors.Interrupted ||
        error instanceof Deno.errors.ConnectionReset;
      if (!closed) this.#error = error as Error;
    } finally {
      this.#ended = true;
      this.#wake?.();
    }
  }
}

/**
 * Has `talker` (logged in as "talker") say 900-byte lines until `done`
 * settles, to fill a stalled reader's queue. It waits for its own echo every
 * 100 lines, so the room's healthy readers are never more than about 90 KB
 * behind (run the server with a queue bound above that). Bounded: 20,000
 * lines (18 MB) outgrow any loopback socket buffer.
 */
export async function talkUntil(
  talker: Client,
  done: Promise<unknown>,
): Promise<void> {
  let settled = false;
  const finished = done.finally(() => settled = true);
  finished.catch(() => {});
  const filler = "x".repeat(900);
  for (let i = 0; i < 200 && !settled; i++) {
    const batch = Array.from(
      { length: 100 },
      (_, j) => `say ${i}.${j} ${filler}`,
    );
    await talker.send(batch.join("\r\n"));
    await talker.waitFor((line) => line.startsWith(`talker: ${i}.99 `));
  }
  await withTimeout(finished, TIMEOUT_MS, "the stalled reader to be dropped");
}

/** A server running as its own process, as users start it. */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  /** The port it reported listening on. */
  port = 0;
  /** Everything it wrote to stderr so far. */
  stderr = "";
  readonly #draining: Promise<void>;
  /** Who waits for a line in stderr: see {@linkcode ServerProcess.logged}. */
  readonly #waiters = new Set<() => void>();

  private constructor(child: Deno.ChildProcess) {
    this.child = child;
    this.#draining = this.#drain();
  }

  /**
   * `deno run` of main.ts with the permissions `deno task start` grants, on
   * a free loopback port, without HTTP, and with `flags`.
   */
  static mainArgs(...flags: string[]): string[] {
    return [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "main.ts",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-http",
      ...flags,
    ];
  }

  /**
   * Runs `deno <args>` (or `command <args>`) in the project folder and waits
   * for its "Listening on" log line. `args` defaults to running main.ts on a
   * free loopback port.
   */
  static async start(
    args = ServerProcess.mainArgs("--db", ":memory:"),
    command = Deno.execPath(),
  ): Promise<ServerProcess> {
    const child = new Deno.Command(command, {
      args,
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const server = new ServerProcess(child);
    const port = server.logged(/Listening on [^\s]*:(\d+)/).then((match) =>
      Number(match[1])
    );
    // A server that never says it listens is not left running.
    const stop = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // It exited already.
      }
    };
    server.port = await withTimeout(
      Promise.race([
        port,
        child.status.then((status) => {
          throw new Error(`Exited with ${status.code}: ${server.stderr}`);
        }),
      ]),
      30_000,
      "the server's Listening line",
    ).catch(async (error) => {
      stop();
      await child.status;
      throw error;
    });
    return server;
  }

  /**
   * The first match of `pattern` in what the server wrote to stderr, once
   * it has written it (a line it logs when it starts serving, say).
   */
  logged(pattern: RegExp): Promise<RegExpMatchArray> {
    return new Promise((resolve) => {
      const check = () => {
        const match = this.stderr.match(pattern);
        if (match === null) return;
        this.#waiters.delete(check);
        resolve(match);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Sends a signal and returns the exit status and the whole stderr. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.child.kill(signal);
    const status = await withTimeout(this.child.status, 15_000, "exit");
    await this.#draining;
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Exited already.
    }
    await this.child.status;
    await this.#draining;
  }

  async #drain(): Promise<void> {
    const stdout = this.child.stdout.pipeTo(new WritableStream());
    for await (
      const text of this.child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      this.stderr += text;
      for (const check of this.#waiters) check();
    }
    await stdout;
  }
}

/**
 * Drives an interactive client program (telnet, `openssl s_client`) through
 * its stdin: `session` types lines, and usually watches the room meanwhile.
 * Returns what the program printed, once its stdin is closed and it exits.
 */
export async function typeInto(
  command: string,
  args: string[],
  session: (type: (line: string) => Promise<void>) => Promise<void>,
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const encoder = new TextEncoder();
  const output = child.output();
  try {
    await session((line) => stdin.write(encoder.encode(`${line}\n`)));
  } finally {
    await stdin.close().catch(() => {});
  }
  const { stdout } = await withTimeout(output, 10_000, `${command} to exit`);
  return new TextDecoder().decode(stdout);
}

/**
 * Logs in clients under `names`, in order, into the main room; each has read
 * the arrivals of those after it. Disposing the result closes them all.
 */
export async function loginAll(
  port: number,
  ...names: string[]
): Promise<Client[] & AsyncDisposable> {
  const clients: Client[] = [];
  for (const name of names) {
    const client = await Client.login(port, name);
    for (const earlier of clients) {
      await earlier.expect(`${name} has entered the room.`);
    }
    clients.push(client);
  }
  return Object.assign(clients, {
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
    },
  });
}

/**
 * A {@linkcode Client.waitFor} match for `line` that moves `clock` on past
 * each login delay the server tells of on the way ("... checking in 2 s"),
 * instead of the test waiting out a real one: the delay's timer is set in
 * the same turn as its line is queued, so it is there once the line is read.
 */
export function pastDelays(
  clock: FakeClock,
  line: string | ((line: string) => boolean),
): (line: string) => boolean {
  const match = typeof line === "string" ? (l: string) => l === line : line;
  return (l) => {
    const delay = l.match(/ lately: checking in (\d+) s$/);
    if (delay) clock.advance(Number(delay[1]) * 1000);
    return match(l);
  };
}

/** The password the tests register accounts with. */
export const PASSWORD = "correct horse";

/**
 * Logs in as a guest (from `from`, a loopback address, if given) and
 * registers the name with {@linkcode PASSWORD}, in one line.
 */
export async function registered(
  port: number,
  name: string,
  options: { from?: string } = {},
): Promise<Client> {
  const client = await Client.login(port, name, options);
  await client.send(`register ${PASSWORD}`);
  await client.waitFor((line) => line.startsWith(`Registered "${name}"`));
  return client;
}

/** Connects (from `from`, if given) and logs in to an account in one line. */
export async function loginAccount(
  port: number,
  name: string,
  options: { from?: string } = {},
): Promise<Client> {
  const client = await Client.connect(port, options);
  await client.expect("Welcome to TestChat");
  await client.send(`login ${name} ${PASSWORD}`);
  await client.waitFor((line) => line.startsWith("You are logged in as"));
  return client;
}

/**
 * Keeps the log records of `category` at `level` and above in memory, in
 * place of the stderr sink (LogTape's own notes left out), until disposed.
 */
export async function captureLog(
  category: string[],
  level: "debug" | "info" | "warning" | "error" | "fatal",
): Promise<{ records: LogRecord[] } & AsyncDisposable> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category, lowestLevel: level, sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });
  return { records, [Symbol.asyncDispose]: () => reset() };
}
