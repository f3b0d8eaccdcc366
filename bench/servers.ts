/**
 * The servers under test, each started as its own process with its ordinary
 * flags (or config), and read from outside: memory from /proc/PID/status,
 * CPU time from /proc/PID/stat.
 *
 * @module
 */

import { CHAT, IRC, type Protocol } from "./protocols.ts";
import { startRedis } from "./redis.ts";

/** A server (or a cluster of them) the scenarios talk to. */
export interface RunningServer {
  readonly name: string;
  /** The port clients log in to (a cluster's first server's). */
  readonly port: number;
  readonly pid: number;
  readonly protocol: Protocol;
  /** A cluster: every server's port, which clients take in turn. */
  readonly ports?: readonly number[];
  /**
   * A cluster: every process whose CPU and memory count, by name (its
   * servers and its Redis). Default: `pid` alone.
   */
  readonly processes?: readonly { name: string; pid: number }[];
  /** A cluster: how many times Redis has run each command so far. */
  redisCalls?(): Promise<Map<string, number>>;
  /** Clients connect over TLS, trusting this CA (PEM): `--tls`. */
  readonly tlsCa?: string;
  stop(): Promise<void>;
}

/** A certificate for the TLS port: files for the server, the CA's PEM. */
export interface BenchCertificate {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * Makes a CA and a certificate it signs for 127.0.0.1 with `openssl`, in
 * `dir` (rustls, on the client side, refuses a self-signed leaf).
 */
export async function makeCertificate(dir: string): Promise<BenchCertificate> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  };
  const rsa = ["-newkey", "rsa:2048", "-nodes"];
  await run(
    "req",
    "-x509",
    ...rsa,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=bench CA",
  );
  await run(
    "req",
    ...rsa,
    "-keyout",
    "key.pem",
    "-out",
    "leaf.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/ext`, "subjectAltName=IP:127.0.0.1\n");
  await run(
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "1",
    "-extfile",
    "ext",
  );
  return {
    cert: `${dir}/cert.pem`,
    key: `${dir}/key.pem`,
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
  };
}

/** Every process of a server, by name. */
export function processesOf(
  server: RunningServer,
): readonly { name: string; pid: number }[] {
  return server.processes ?? [{ name: server.name, pid: server.pid }];
}

/** Which server, and on which CPU (none: not pinned). */
export interface ServerOptions {
  cpu: number | null;
  /** Write a V8 CPU profile of our server into this folder. */
  profileDir?: string;
}

/** Options for {@linkcode startChatServer}. */
export interface ChatServerOptions extends ServerOptions {
  /**
   * The checkout to run: this one by default, or another (a worktree of an
   * earlier commit, for figures from before and after a change in one run).
   */
  root?: URL;
  /** The name in the table. Default `chat-server`. */
  name?: string;
  /** More flags (a cluster's `--redis` and `--node-id`). */
  args?: string[];
  /** Keep a database file (default true; a cluster's store is Redis). */
  db?: boolean;
  /** Clients use the TLS port, with this certificate. */
  tls?: BenchCertificate;
}

const root = new URL("..", import.meta.url);

/** The server's resident memory, in bytes. */
export async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB$/m);
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** CPU time a process has used (user + system, all threads), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** Pins every thread of `pid` to `cpu` with taskset, if it is installed. */
export async function pin(pid: number, cpu: number): Promise<boolean> {
  try {
    const out = await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", String(cpu), String(pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess) {
  const deadline = Date.now() + 20_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`The server did not listen on port ${port}`);
}

async function launch(
  name: string,
  protocol: Protocol,
  command: string,
  args: string[],
  port: number,
  options: ServerOptions & { cwd?: URL },
  env: Record<string, string> = {},
): Promise<RunningServer> {
  const child = new Deno.Command(command, {
    args,
    env,
    cwd: options.cwd ?? root,
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  if (options.cpu !== null) await pin(child.pid, options.cpu);
  await waitForPort(port, child);
  // Threads started after the first pinning (Deno's, say) are pinned too.
  if (options.cpu !== null) await pin(child.pid, options.cpu);
  return {
    name,
    port,
    pid: child.pid,
    protocol,
    async stop() {
      // SIGTERM first: our server then exits by itself (and writes its CPU
      // profile, if asked for one).
      const killed = setTimeout(() => child.kill("SIGKILL"), 5000);
      try {
        child.kill("SIGTERM");
      } catch {
        // Gone already.
      }
      await child.status;
      clearTimeout(killed);
    },
  };
}

/**
 * What `deno task start` sets, from deno.json: "NAME=value... deno run
 * FLAGS... main.ts" gives the environment and the flags.
 */
export async function startTask(checkout: URL = root): Promise<
  { env: Record<string, string>; flags: string[] }
> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", checkout)),
  );
  const words: string[] = config.tasks.start.split(/\s+/);
  const env: Record<string, string> = {};
  for (const word of words.slice(0, words.indexOf("deno"))) {
    const [name, value] = word.split("=", 2);
    env[name] = value;
  }
  const flags = words.slice(words.indexOf("run") + 1, words.indexOf("main.ts"));
  return { env, flags };
}

/** Whether the checkout's server takes `flag` (an older one may not). */
async function takesFlag(checkout: URL, flag: string): Promise<boolean> {
  return (await helpOf(checkout)).includes(`--${flag} `);
}

/**
 * Each checkout's `--help`, asked once a run: a Deno process costs a good
 * part of a second on a busy machine, and every server start (five a quick
 * run, one per node in a cluster) asked twice.
 */
const helps = new Map<string, Promise<string>>();

function helpOf(checkout: URL): Promise<string> {
  let help = helps.get(checkout.href);
  if (help === undefined) {
    help = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "main.ts", "--help"],
      cwd: checkout,
      stdin: "null",
      stderr: "null",
    }).output().then((out) => new TextDecoder().decode(out.stdout));
    helps.set(checkout.href, help);
  }
  return help;
}

/**
 * This chat server, started the way `deno task start` starts it (the same
 * environment, permissions and V8 flags, read from deno.json), with the
 * limits that would refuse a load generator lifted by its own flags: flood
 * control off, and room for every connection. It keeps its database in a
 * file of its own, removed when it stops: the store's writes are part of
 * what is measured.
 */
export async function startChatServer(
  options: ChatServerOptions,
): Promise<RunningServer> {
  const checkout = options.root ?? root;
  const port = freePort();
  const profile = options.profileDir
    ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`]
    : [];
  const { env, flags } = await startTask(checkout);
  const dir = await Deno.makeTempDir({ prefix: "chat-bench-" });
  const db = options.db !== false && await takesFlag(checkout, "db")
    ? ["--db", `${dir}/chat.db`]
    : [];
  const http = await takesFlag(checkout, "no-http") ? ["--no-http"] : [];
  // With TLS, clients use the TLS port, which listens after the plain one.
  const tlsPort = options.tls ? freePort() : null;
  const tls = options.tls
    ? [
      "--tls-port",
      String(tlsPort),
      "--cert",
      options.tls.cert,
      "--key",
      options.tls.key,
    ]
    : [];
  const server = await launch(
    options.name ?? "chat-server",
    CHAT,
    Deno.execPath(),
    [
      "run",
      ...profile,
      ...flags,
      "main.ts",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--log-level",
      "warning",
      "--flood-rate",
      "0",
      "--max-conns",
      "1000000",
      "--max-lines-before-login",
      "1000000",
      ...db,
      ...http,
      ...tls,
      ...options.args ?? [],
    ],
    tlsPort ?? port,
    { ...options, cwd: checkout },
    env,
  );
  return {
    ...server,
    tlsCa: options.tls?.ca,
    async stop() {
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * `nodes` chat servers on one Redis (started here, on a free port, keeping
 * nothing on disk), all on the server's core: clients spread over them, and
 * the figures are the cluster's cost beside one server alone.
 */
export async function startChatCluster(
  options: ServerOptions & {
    nodes: number;
    redisCpu?: number | null;
    /** The checkout to run (default this one), as for a single server. */
    root?: URL;
    /** The name in the table. Default `cluster-N`. */
    name?: string;
    tls?: BenchCertificate;
  },
): Promise<RunningServer> {
  const redis = await startRedis(
    freePort(),
    options.redisCpu === undefined ? options.cpu : options.redisCpu,
    pin,
  );
  const servers: RunningServer[] = [];
  try {
    for (let i = 1; i <= options.nodes; i++) {
      servers.push(
        await startChatServer({
          cpu: options.cpu,
          profileDir: options.profileDir,
          root: options.root,
          tls: options.tls,
          name: `n${i}`,
          db: false,
          args: ["--redis", redis.url, "--node-id", `n${i}`],
        }),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    await redis.stop();
    throw error;
  }
  return {
    name: options.name ?? `cluster-${options.nodes}`,
    port: servers[0].port,
    pid: servers[0].pid,
    protocol: CHAT,
    ports: servers.map((server) => server.port),
    processes: [
      ...servers.map((server) => ({ name: server.name, pid: server.pid })),
      { name: "redis", pid: redis.pid },
    ],
    redisCalls: () => redis.commandCalls(),
    tlsCa: options.tls?.ca,
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
      await redis.stop();
    },
  };
}

/**
 * InspIRCd (Debian's package) with bench/inspircd.conf, which lifts its
 * flood limits the same way.
 */
export async function startInspircd(
  options: ServerOptions,
): Promise<RunningServer> {
  const port = freePort();
  const template = await Deno.readTextFile(
    new URL("inspircd.conf", import.meta.url),
  );
  const config = await Deno.makeTempFile({ suffix: ".conf" });
  await Deno.writeTextFile(config, template.replaceAll("@PORT@", String(port)));
  const server = await launch(
    "inspircd",
    IRC,
    findInspircd(),
    [
      "--runasroot",
      "--nofork",
      "--nopid",
      `--config=${config}`,
    ],
    port,
    options,
  );
  return {
    ...server,
    async stop() {
      await server.stop();
      await Deno.remove(config).catch(() => {});
    },
  };
}

/** Where Debian puts InspIRCd. */
export function findInspircd(): string {
  for (const path of ["/usr/sbin/inspircd", "/usr/bin/inspircd"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  throw new Error(
    "InspIRCd is not installed: apt-get install inspircd (Debian's package)",
  );
}
