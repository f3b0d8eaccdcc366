/**
 * A real redis-server (Debian's package) for tests: started on a free
 * loopback port with a folder of its own, stopped (or killed, or started
 * again on the same port and folder) by the test.
 *
 * @module
 */

import { TIMEOUT_MS, withTimeout } from "./helpers.ts";

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
  #child: Deno.ChildProcess | null = null;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** Starts one on a free port, keeping its data (AOF) in a new folder. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(freePort(), await Deno.makeTempDir());
    await server.#run();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
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
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // Ready once it answers PING.
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
              new TextDecoder().decode(buffer.subarray(0, n)).startsWith(
                "+PONG",
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
