/**
 * A redis-server of the benchmark's own, on a free loopback port with a
 * temporary folder and nothing written to disk, and the one reading the
 * benchmark takes from it: how many times each command ran
 * (`INFO commandstats`, which counts the commands scripts run too).
 *
 * @module
 */

/** A redis-server the benchmark started. */
export interface BenchRedis {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** Calls per command since it started (`publish` → 1234). */
  commandCalls(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

/** Where Debian puts redis-server. */
export function findRedis(): string {
  for (const path of ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  throw new Error(
    "redis-server is not installed: apt-get install redis-server (Debian's package)",
  );
}

/**
 * One command over a fresh connection, in RESP's inline form; the reply's
 * text (a simple string, or a bulk string as INFO answers).
 */
async function ask(port: number, command: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`${command}\r\n`));
    let reply = new Uint8Array(0);
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      const count = await conn.read(buffer);
      if (count === null) {
        throw new Error("Redis closed the connection before answering");
      }
      const longer = new Uint8Array(reply.length + count);
      longer.set(reply);
      longer.set(buffer.subarray(0, count), reply.length);
      reply = longer;
      const header = reply.indexOf(10); // the LF of the first CRLF
      if (header < 0) continue;
      const first = new TextDecoder().decode(reply.subarray(0, header - 1));
      if (first.startsWith("-")) throw new Error(`Redis said: ${first}`);
      if (first.startsWith("+")) return first.slice(1);
      const length = Number(first.slice(1));
      if (reply.length - (header + 1) >= length) {
        return new TextDecoder().decode(
          reply.subarray(header + 1, header + 1 + length),
        );
      }
    }
  } finally {
    conn.close();
  }
}

/** `cmdstat_publish:calls=12,usec=...` lines, as a map of calls. */
export function parseCommandStats(info: string): Map<string, number> {
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1], Number(match[2]));
  }
  return calls;
}

/** How many times the Redis on `port` has run each command. */
export async function commandCalls(port: number): Promise<Map<string, number>> {
  return parseCommandStats(await ask(port, "INFO commandstats"));
}

/**
 * Starts redis-server on `port` (on core `cpu`, with `pin`, if given);
 * resolves once it answers PING.
 */
export async function startRedis(
  port: number,
  cpu: number | null,
  pin: (pid: number, cpu: number) => Promise<boolean>,
): Promise<BenchRedis> {
  const dir = await Deno.makeTempDir({ prefix: "chat-bench-redis-" });
  const child = new Deno.Command(findRedis(), {
    args: [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  if (cpu !== null) await pin(child.pid, cpu);
  const deadline = Date.now() + 20_000;
  while (true) {
    try {
      if (await ask(port, "PING") === "PONG") break;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server did not answer: ${error}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    commandCalls: () => commandCalls(port),
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      await child.status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
