/**
 * The benchmark's scenarios. Each one starts a fresh server process, logs its
 * clients into one room, measures, and stops the server.
 *
 * @module
 */

import { BenchClient, includes, MARK, nowMicros, sendTime } from "./client.ts";
import { cpuSeconds, processesOf, rss, type RunningServer } from "./servers.ts";
import { type Latency, latency } from "./stats.ts";
import process from "node:process";

/** One scenario's figures. */
export interface Row {
  scenario: string;
  server: string;
  clients: number;
  /** Deliveries per second (burst, growth). */
  deliveriesPerSecond?: number;
  /** Deliveries that arrived / deliveries expected. */
  deliveredRatio?: number;
  latencyMs?: Latency;
  /** Logins per second (idle). */
  loginsPerSecond?: number;
  /** Server memory per connection, bytes (idle). */
  bytesPerConnection?: number;
  /** Server RSS at the end, bytes. */
  serverRss?: number;
  /**
   * CPU the server (a cluster: all its processes) and the load generator
   * used, as a share of one core.
   */
  serverCpu?: number;
  loadCpu?: number;
  /** A cluster: each process's growth in memory per connection (idle). */
  processBytesPerConnection?: Record<string, number>;
  /** A cluster: each process's CPU, as a share of one core. */
  processCpu?: Record<string, number>;
  /** A cluster: Redis commands per chat line sent, all of them. */
  redisCommandsPerLine?: number;
  /** A cluster: Redis PUBLISHes per chat line sent. */
  publishesPerLine?: number;
  /** A cluster: each Redis command's calls per chat line sent. */
  redisPerLine?: Record<string, number>;
  seconds?: number;
  deliveries?: number;
  /** Which run of the scenario this was, from 1 (with --repeat). */
  repetition?: number;
}

/** Starts a server for one scenario. */
export type Starter = () => Promise<RunningServer>;

/**
 * How many logins may be in flight at once. InspIRCd completes registrations
 * on a once-a-second tick, so with few in flight its logins per second would
 * measure that tick, not its work; 500 keeps both servers busy.
 */
const LOGIN_CONCURRENCY = 500;
/** Steady rate: every this many clients one reads at once and is timed. */
const PROBE_EVERY = 20;
const SETTLE_MS = Number(Deno.env.get("SETTLE_MS") ?? 1000);
/** Steady rate: how often the other clients drain their sockets, in ms. */
const DRAIN_EVERY_MS = 100;
/**
 * Steady rate sends this long at its rate before it measures: the first
 * few hundred ms of traffic time the JIT warming up the delivery path (in
 * a cluster, in every process), not the steady state the scenario is for.
 */
const WARMUP_SECONDS = 1;
/** How long a scenario may wait for its deliveries. */
const DELIVERY_TIMEOUT_MS = 120_000;

/** Connects and logs in `count` clients, `LOGIN_CONCURRENCY` at a time. */
async function loginAll(
  server: RunningServer,
  count: number,
): Promise<BenchClient[]> {
  const clients: BenchClient[] = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const index = next++;
      // A cluster's servers take the clients in turn.
      const ports = server.ports ?? [server.port];
      const client = await BenchClient.connect(
        ports[index % ports.length],
        `u${index}`,
        server.tlsCa,
      );
      await server.protocol.login(client);
      clients[index] = client;
    }
  }
  await Promise.all(
    Array.from({ length: Math.min(LOGIN_CONCURRENCY, count) }, worker),
  );
  return clients;
}

/** Every client reads everything sent so far (a barrier). */
async function syncAll(server: RunningServer, clients: BenchClient[]) {
  for (let i = 0; i < clients.length; i += LOGIN_CONCURRENCY) {
    await Promise.all(
      clients.slice(i, i + LOGIN_CONCURRENCY).map((c) =>
        server.protocol.sync(c)
      ),
    );
  }
}

/**
 * Every client has read everything the room was told so far: a line one
 * client says, seen by all. `syncAll` is not enough for a cluster: it waits
 * for each client's own server, while announcements published through
 * Redis by the others may still be on their way; Redis orders this line
 * after all of them.
 */
async function settleRoom(server: RunningServer, clients: BenchClient[]) {
  const token = `settle-${crypto.randomUUID()}`;
  const needle = new TextEncoder().encode(token);
  // IRC does not echo a line to its sender.
  const readers = server.protocol.echoes ? clients : clients.slice(1);
  let waiting = readers.length;
  let settled: () => void = () => {};
  const all = new Promise<void>((resolve) => settled = resolve);
  for (const client of readers) {
    client.handler = (bytes, start, end) => {
      if (!includes(bytes, start, end, needle)) return;
      client.handler = () => {};
      if (--waiting === 0) settled();
    };
  }
  await clients[0].send(server.protocol.say(token));
  if (await withTimeout(all, DELIVERY_TIMEOUT_MS) === null) {
    throw new Error(`${waiting} clients never saw the room settle`);
  }
}

/**
 * Measures CPU used by the server's processes and this one between two
 * points.
 */
async function cpuMeter(server: RunningServer) {
  const processes = processesOf(server);
  const before = await Promise.all(processes.map((p) => cpuSeconds(p.pid)));
  const load0 = process.cpuUsage();
  const t0 = performance.now();
  return async () => {
    const seconds = (performance.now() - t0) / 1000;
    const load = process.cpuUsage(load0);
    const after = await Promise.all(processes.map((p) => cpuSeconds(p.pid)));
    const shares = after.map((used, i) => (used - before[i]) / seconds);
    return {
      serverCpu: shares.reduce((sum, share) => sum + share, 0),
      loadCpu: (load.user + load.system) / 1e6 / seconds,
      ...(server.processes && {
        processCpu: Object.fromEntries(
          processes.map((p, i) => [p.name, shares[i]]),
        ),
      }),
    };
  };
}

/** The resident memory of each process of the server, in bytes. */
function rssOf(server: RunningServer): Promise<number[]> {
  return Promise.all(processesOf(server).map((p) => rss(p.pid)));
}

/**
 * A cluster's Redis commands between two points, per chat line sent: what
 * each line cost (the servers' heartbeats, a few commands a second, are in
 * it too). Nothing for a single server.
 */
async function redisMeter(server: RunningServer) {
  if (server.redisCalls === undefined) return () => Promise.resolve({});
  const before = await server.redisCalls();
  return async (lines: number) => {
    const after = await server.redisCalls!();
    const perLine: Record<string, number> = {};
    let total = 0;
    for (const [command, calls] of after) {
      // INFO is the meter's own.
      const ran = calls - (before.get(command) ?? 0);
      if (command === "info" || ran === 0) continue;
      perLine[command] = ran / lines;
      total += ran;
    }
    return {
      redisCommandsPerLine: total / lines,
      publishesPerLine: perLine.publish ?? 0,
      redisPerLine: perLine,
    };
  };
}

/** Where every latency sample goes (--samples), or null. */
let sampleDir: string | null = null;
let sampleFiles = 0;

/** Writes every latency sample of the runs that follow into `dir`. */
export function setSampleDir(dir: string | null): void {
  sampleDir = dir;
}

/**
 * Counts deliveries of benchmark lines on every client, with their
 * latencies, until `expected` have arrived.
 */
function collect(
  clients: BenchClient[],
  expected: number,
  probes: (client: BenchClient, index: number) => boolean = () => true,
) {
  const samples = new Float64Array(expected);
  // With --samples, each sample's send time and client too.
  const sentAt = sampleDir ? new Float64Array(expected) : null;
  const receiver = sampleDir ? new Int32Array(expected) : null;
  let count = 0;
  let sampled = 0;
  let last = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => finish = resolve);
  clients.forEach((client, index) => {
    const probe = probes(client, index);
    client.handler = (bytes, start, end, now) => {
      const sent = sendTime(bytes, start, end);
      if (sent < 0) return;
      last = now;
      if (probe) {
        if (sentAt) {
          sentAt[sampled] = sent;
          receiver![sampled] = index;
        }
        samples[sampled++] = now - sent;
      }
      if (++count === expected) finish();
    };
  });
  return {
    done,
    get count() {
      return count;
    },
    get last() {
      return last;
    },
    /**
     * Fills in the row's latency percentiles, once every line is in. With
     * --samples, first writes every sample, one line each:
     * `sent_us latency_us client` (send times on the generator's clock,
     * clients by login order); the percentiles then sort them in place.
     */
    async report(row: Row): Promise<Row> {
      if (sampleDir && sentAt) {
        const lines = ["sent_us latency_us client"];
        for (let i = 0; i < sampled; i++) {
          lines.push(`${sentAt[i]} ${samples[i]} ${receiver![i]}`);
        }
        const name = `${++sampleFiles}-${row.server}-${
          row.scenario.replaceAll(" ", "-")
        }.txt`;
        await Deno.writeTextFile(
          `${sampleDir}/${name}`,
          lines.join("\n") + "\n",
        );
      }
      row.latencyMs = latency(samples, sampled);
      return row;
    },
  };
}

async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function withServer<T>(
  start: Starter,
  run: (server: RunningServer) => Promise<T>,
): Promise<T> {
  const server = await start();
  try {
    return await run(server);
  } finally {
    await server.stop();
  }
}

/**
 * Burst fan-out: `senders` of `clients` each send `lines` as fast as they
 * can; deliveries per second until every client has every line.
 */
export function burst(
  start: Starter,
  options: { clients: number; senders: number; lines: number; label?: string },
): Promise<Row> {
  const { clients: n, senders, lines } = options;
  return withServer(start, async (server) => {
    const clients = await loginAll(server, n);
    await syncAll(server, clients);
    await settleRoom(server, clients);
    const perLine = server.protocol.echoes ? n : n - 1;
    const expected = senders * lines * perLine;
    const deliveries = collect(clients, expected);
    const redis = await redisMeter(server);
    const cpu = await cpuMeter(server);
    const t0 = nowMicros();
    await Promise.all(
      clients.slice(0, senders).map(async (client) => {
        for (let i = 0; i < lines; i++) {
          await client.send(server.protocol.say(`${MARK}${nowMicros()}`));
        }
      }),
    );
    await withTimeout(deliveries.done, DELIVERY_TIMEOUT_MS);
    const usage = await cpu();
    const commands = await redis(senders * lines);
    const seconds = (deliveries.last - t0) / 1e6;
    for (const client of clients) client.close();
    return await deliveries.report({
      scenario: options.label ?? `burst ${n}`,
      server: server.name,
      clients: n,
      deliveries: deliveries.count,
      deliveredRatio: deliveries.count / expected,
      seconds,
      deliveriesPerSecond: deliveries.count / seconds,
      ...usage,
      ...commands,
    });
  });
}

/**
 * Steady rate: `rate` lines per second offered for `seconds`, spread over
 * ten senders; the share delivered and the latency.
 */
export function steady(
  start: Starter,
  options: { clients: number; rate: number; seconds: number },
): Promise<Row> {
  const { clients: n, rate, seconds } = options;
  return withServer(start, async (server) => {
    const clients = await loginAll(server, n);
    await syncAll(server, clients);
    const total = Math.round(rate * seconds);
    const senders = clients.slice(0, Math.min(10, n));
    // Warm-up, unmeasured: lines without the mark, which nothing times.
    const warmup = Math.min(total, Math.round(rate * WARMUP_SECONDS));
    const w0 = performance.now();
    for (let k = 0; k < warmup; k++) {
      const wait = w0 + k * (1000 / rate) - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await senders[k % senders.length].send(server.protocol.say(`warm ${k}`));
    }
    await settleRoom(server, clients);
    const perLine = server.protocol.echoes ? n : n - 1;
    const expected = total * perLine;
    // One client in PROBE_EVERY reads as lines arrive and gives latencies;
    // the rest drain in batches, so that the generator's own reads (one per
    // client per line otherwise) do not set the latency it measures.
    const probe = (_: BenchClient, i: number) => i % PROBE_EVERY === 0;
    clients.forEach((client, i) => {
      if (!probe(client, i)) client.drainEveryMs = DRAIN_EVERY_MS;
    });
    const deliveries = collect(clients, expected, probe);
    const redis = await redisMeter(server);
    const cpu = await cpuMeter(server);
    const t0 = performance.now();
    const interval = 1000 / rate;
    for (let k = 0; k < total; k++) {
      const wait = t0 + k * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      await senders[k % senders.length].send(
        server.protocol.say(`${MARK}${nowMicros()}`),
      );
    }
    // Lines still on their way get five more seconds.
    await withTimeout(deliveries.done, 5000);
    const usage = await cpu();
    const commands = await redis(total);
    for (const client of clients) client.close();
    return await deliveries.report({
      scenario: `steady ${n}`,
      server: server.name,
      clients: n,
      deliveries: deliveries.count,
      deliveredRatio: deliveries.count / expected,
      seconds,
      ...usage,
      ...commands,
    });
  });
}

/**
 * Idle: `clients` log in (each login is announced to the room); logins per
 * second, and the server's memory per connection once all is quiet.
 */
export function idle(
  start: Starter,
  options: {
    clients: number;
    /**
     * How long the server settles before its RSS is read, in ms. Default:
     * the SETTLE_MS environment variable, else 1000.
     */
    settleMs?: number;
  },
): Promise<Row> {
  const { clients: n, settleMs = SETTLE_MS } = options;
  return withServer(start, async (server) => {
    const before = await rssOf(server);
    const cpu = await cpuMeter(server);
    const t0 = performance.now();
    const clients = await loginAll(server, n);
    const seconds = (performance.now() - t0) / 1000;
    const usage = await cpu();
    await syncAll(server, clients);
    await settleRoom(server, clients);
    // Let the server settle (timers, freed buffers) before reading its RSS.
    if (settleMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    const after = await rssOf(server);
    for (const client of clients) client.close();
    const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
    return {
      scenario: `idle ${n}`,
      server: server.name,
      clients: n,
      seconds,
      loginsPerSecond: n / seconds,
      bytesPerConnection: (sum(after) - sum(before)) / n,
      serverRss: sum(after),
      ...(server.processes && {
        processBytesPerConnection: Object.fromEntries(
          server.processes.map((p, i) => [p.name, (after[i] - before[i]) / n]),
        ),
      }),
      ...usage,
    };
  });
}
