/**
 * A real redis-server (Debian's package) for tests: started on a free
 * loopback port with a folder of its own, stopped (or killed, or started
 * again on the same port and folder) by the test.
 *
 * @module
 */

import { TIMEOUT_MS, withTimeout } from "./helpers.ts";

/** The cluster's short test timings (in their own module: see there). */
export { TEST_CLUSTER_TIMINGS } from "./cluster_node.ts";

/** Where redis-server is, or null. */
function findRedis(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/redis-server`).isFile) {
        return `${dir}/redis-server`;
      }
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const REDIS = findRedis();

/**
 * Why the Redis tests cannot run, or null when they can. In CI (`CI` set,
 * as `.ci/run` does) a missing redis-server is an error, not a skip.
 */
export const redisMissing: string | null = REDIS === null
  ? "redis-server is not installed (apt-get install redis-server; .ci/run does)"
  : null;
if (redisMissing !== null && Deno.env.get("CI")) {
  throw new Error(`${redisMissing}, and CI needs it`);
}
if (redisMissing !== null) console.warn(`Redis tests ignored: ${redisMissing}`);

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A redis-server of the test's own. */
export class RedisServer implements AsyncDisposable {
  readonly port: number;
  readonly dir: string;
  /** What it asks clients for (`requirepass`), or null: nothing. */
  readonly password: string | null;
  #child: Deno.ChildProcess | null = null;

  private constructor(port: number, dir: string, password: string | null) {
    this.port = port;
    this.dir = dir;
    this.password = password;
  }

  /**
   * Starts one on a free port, keeping its data (AOF) in a new folder;
   * `password`: it lets in only clients that give it (`requirepass`).
   */
  static async start(
    options: { password?: string } = {},
  ): Promise<RedisServer> {
    const server = new RedisServer(
      freePort(),
      await Deno.makeTempDir(),
      options.password ?? null,
    );
    await server.#run();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** How many connections listen to `channel`, as `redis-cli` asks it. */
  async subscribers(channel: string): Promise<number> {
    const { stdout } = await new Deno.Command("redis-cli", {
      args: ["-p", String(this.port), "PUBSUB", "NUMSUB", channel],
      // Not -a, which would show it in ps.
      env: this.password === null ? {} : { REDISCLI_AUTH: this.password },
      stdout: "piped",
      stderr: "null",
    }).output();
    const lines = new TextDecoder().decode(stdout).trim().split("\n");
    return Number(lines[1]);
  }

  /** Stops it: SIGTERM (it writes its data) or SIGKILL. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (child === null) return;
    try {
      child.kill(signal);
    } catch {
      // Gone already.
    }
    await child.status;
  }

  /**
   * Pauses it (SIGSTOP): connections stay open and nothing is answered, as
   * with a network that drops packets. `resume()` lets it go on.
   */
  pause(): void {
    this.#child?.kill("SIGSTOP");
  }

  resume(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Starts it again on the same port and folder. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#run();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #run(): Promise<void> {
    this.#child = new Deno.Command(REDIS!, {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--dir",
        this.dir,
        "--appendonly",
        "yes",
        "--save",
        "",
        "--protected-mode",
        "no",
        ...(this.password === null ? [] : ["--requirepass", this.password]),
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Ready once it answers PING (or, with a password, refuses it).
    await withTimeout(
      (async () => {
        while (true) {
          try {
            const conn = await Deno.connect({
              hostname: "127.0.0.1",
              port: this.port,
            });
            await conn.write(new TextEncoder().encode("PING\r\n"));
            const buffer = new Uint8Array(16);
            const n = await conn.read(buffer);
            conn.close();
            if (
              n !== null &&
              /^(\+PONG|-NOAUTH)/.test(
                new TextDecoder().decode(buffer.subarray(0, n)),
              )
            ) {
              return;
            }
          } catch {
            // Not listening yet.
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      TIMEOUT_MS,
      "redis-server to answer",
    );
  }
}

/**
 * A TCP proxy in front of a Redis, for one server's connections: `cut()`
 * drops them and refuses new ones until `restore()`, as a network cut
 * between that server and Redis would, while the others still reach it.
 */
export class RedisProxy implements AsyncDisposable {
  readonly port: number;
  readonly #target: number;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #up = true;
  /**
   * How long what Redis sends waits before it is passed on, in ms: a Redis
   * far away, whose answers come late, for a race a moment wide on
   * loopback (set by the test; 0: none).
   */
  delayMs = 0;

  private constructor(target: number) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept();
  }

  /** Starts one in front of the Redis on `target`'s port. */
  static start(target: RedisServer): RedisProxy {
    return new RedisProxy(target.port);
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Drops every connection through it, and refuses new ones. */
  cut(): void {
    this.#up = false;
    for (const conn of this.#conns) close(conn);
    this.#conns.clear();
  }

  /** Lets connections through again. */
  restore(): void {
    this.#up = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (!this.#up) {
          close(conn);
          continue;
        }
        let upstream: Deno.Conn;
        try {
          upstream = await Deno.connect({
            hostname: "127.0.0.1",
            port: this.#target,
          });
        } catch {
          close(conn);
          continue;
        }
        this.#conns.add(conn);
        this.#conns.add(upstream);
        this.#pipe(conn, upstream, false);
        this.#pipe(upstream, conn, true);
      }
    } catch {
      // The listener was closed.
    }
  }

  async #pipe(
    from: Deno.Conn,
    to: Deno.Conn,
    fromRedis: boolean,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    // Chunks passed on in order, each once its delay is over.
    let passing = Promise.resolve();
    const pass = async (chunk: Uint8Array, due: number) => {
      const wait = due - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      let written = 0;
      while (written < chunk.length) {
        written += await to.write(chunk.subarray(written));
      }
    };
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        const due = Date.now() + (fromRedis ? this.delayMs : 0);
        // A write that fails (cut) ends nothing here: the read does.
        passing = passing.then(() => pass(chunk, due)).catch(() => {});
        if (due <= Date.now()) await passing;
      }
      await passing;
    } catch {
      // Cut, or closed at the other end.
    }
    for (const conn of [from, to]) {
      this.#conns.delete(conn);
      close(conn);
    }
  }
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
