/**
 * `deno task bench`: the load generator. Starts the server as its own process
 * (and, with `--peer inspircd`, InspIRCd), runs the scenarios over loopback,
 * prints a table and writes the figures as JSON.
 *
 *   deno task bench                      all scenarios against this server
 *   deno task bench --peer inspircd      the same against InspIRCd, side by side
 *   deno task bench --scenarios burst,idle --quick
 *   deno task bench --nodes 3            also three servers on one Redis
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  burst,
  idle,
  type Row,
  setSampleDir,
  type Starter,
  steady,
} from "./scenarios.ts";
import {
  type BenchCertificate,
  makeCertificate,
  pin,
  startChatCluster,
  startChatServer,
  startInspircd,
} from "./servers.ts";

const USAGE = `Usage: deno task bench [options]

  --peer inspircd     also run every scenario against InspIRCd
  --nodes N           also run a cluster: N servers on one Redis (started
                      here), the clients spread over them, every process
                      on the server's core; with the Redis commands per
                      chat line and each process's CPU
  --redis-cpu N       with --nodes: Redis's core (default: the server's)
  --baseline DIR      also run another checkout of this server (a git
                      worktree of an earlier commit), as "baseline": the
                      figures before and after a change, from one run (with
                      --nodes, as a cluster too)
  --tls               clients use the TLS port (a certificate made with
                      openssl for the run); not with --peer
  --scenarios LIST    burst,steady,idle,growth (default: all)
  --quick             small sizes, to check the harness itself
  --out DIR           where the JSON goes (default bench/results)
  --no-pin            do not pin the server and the load generator to cores
  --server-cpu N      the server's core (default 0)
  --load-cpu N        the load generator's core (default 1)
  --repeat N          run every scenario N times, the servers taking turns
                      (default 3, 1 with --quick); the table shows each
                      figure's median
  --samples DIR       write every latency sample (send time, latency, client)
                      to DIR, one file per scenario run
  --profile DIR       write a CPU profile of our server per scenario to DIR
  -h, --help          this text`;

interface Plan {
  burst: { clients: number; senders: number; lines: number }[];
  steady: { clients: number; rate: number; seconds: number }[];
  idle: { clients: number; settleMs?: number }[];
  growth: number[];
  /** Growth's deliveries at every size. */
  growthDeliveries: number;
}

const FULL: Plan = {
  burst: [
    { clients: 100, senders: 10, lines: 100 },
    { clients: 1000, senders: 20, lines: 50 },
  ],
  steady: [{ clients: 1000, rate: 100, seconds: 5 }],
  idle: [{ clients: 5000 }],
  growth: [10, 100, 1000, 5000],
  growthDeliveries: 200_000,
};

/**
 * Small and short, to check the harness itself (its tests run it): every
 * scenario and every path of it, with none of the waits that only make a
 * figure steadier. Steady still sends 50 lines, warmed up by as many; idle
 * reads the RSS without the second's settling; growth delivers 2,000 lines,
 * not 200,000.
 */
const QUICK: Plan = {
  burst: [{ clients: 20, senders: 5, lines: 10 }],
  steady: [{ clients: 20, rate: 250, seconds: 0.2 }],
  idle: [{ clients: 50, settleMs: 0 }],
  growth: [5, 20],
  growthDeliveries: 2_000,
};

/** Growth: about `deliveries` at every size, from ten senders. */
function growthRun(clients: number, deliveries: number) {
  const senders = Math.min(10, clients);
  const lines = Math.max(10, Math.round(deliveries / (clients * senders)));
  return { clients, senders, lines, label: `growth ${clients}` };
}

/** One scenario run, against whichever server it is given. */
interface Run {
  label: string;
  run(start: Starter): Promise<Row>;
}

function runsOf(plan: Plan, only: Set<string>): Run[] {
  const runs: Run[] = [];
  if (only.has("burst")) {
    for (const o of plan.burst) {
      runs.push({ label: `burst ${o.clients}`, run: (s) => burst(s, o) });
    }
  }
  if (only.has("steady")) {
    for (const o of plan.steady) {
      runs.push({ label: `steady ${o.clients}`, run: (s) => steady(s, o) });
    }
  }
  if (only.has("idle")) {
    for (const o of plan.idle) {
      runs.push({ label: `idle ${o.clients}`, run: (s) => idle(s, o) });
    }
  }
  if (only.has("growth")) {
    for (const n of plan.growth) {
      const o = growthRun(n, plan.growthDeliveries);
      runs.push({ label: o.label, run: (s) => burst(s, o) });
    }
  }
  return runs;
}

/**
 * Every run `repeat` times, each time against every server in turn, and the
 * first server alternating: measured side by side, the servers see the same
 * machine, and neither always goes first.
 */
async function runAll(
  starters: Starter[],
  runs: Run[],
  repeat: number,
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const { run } of runs) {
    for (let r = 0; r < repeat; r++) {
      const order = r % 2 === 0 ? starters : [...starters].reverse();
      for (const start of order) {
        const row = await run(start);
        row.repetition = r + 1;
        console.error(`  ${row.server}: ${row.scenario} done`);
        rows.push(row);
      }
    }
  }
  return rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** One row per server and scenario, each figure the median of its runs. */
function medians(rows: Row[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = `${row.server}\u0000${row.scenario}`;
    groups.set(key, [...groups.get(key) ?? [], row]);
  }
  return [...groups.values()].map((group) => {
    const of = (pick: (row: Row) => number | undefined) => {
      const values = group.map(pick).filter((v): v is number =>
        v !== undefined
      );
      return values.length > 0 ? median(values) : undefined;
    };
    const first = group[0];
    return {
      scenario: first.scenario,
      server: first.server,
      clients: first.clients,
      deliveriesPerSecond: of((r) => r.deliveriesPerSecond),
      deliveredRatio: of((r) => r.deliveredRatio),
      latencyMs: first.latencyMs && {
        p50: of((r) => r.latencyMs?.p50)!,
        p99: of((r) => r.latencyMs?.p99)!,
        max: of((r) => r.latencyMs?.max)!,
      },
      loginsPerSecond: of((r) => r.loginsPerSecond),
      bytesPerConnection: of((r) => r.bytesPerConnection),
      serverCpu: of((r) => r.serverCpu),
      loadCpu: of((r) => r.loadCpu),
      processCpu: first.processCpu && Object.fromEntries(
        Object.keys(first.processCpu).map((name) => [
          name,
          of((r) => r.processCpu?.[name])!,
        ]),
      ),
      processBytesPerConnection: first.processBytesPerConnection &&
        Object.fromEntries(
          Object.keys(first.processBytesPerConnection).map((name) => [
            name,
            of((r) => r.processBytesPerConnection?.[name])!,
          ]),
        ),
      redisCommandsPerLine: of((r) => r.redisCommandsPerLine),
      publishesPerLine: of((r) => r.publishesPerLine),
      redisPerLine: first.redisPerLine && Object.fromEntries(
        [...new Set(group.flatMap((r) => Object.keys(r.redisPerLine ?? {})))]
          .map((name) => [
            name,
            of((r) => r.redisPerLine?.[name] ?? 0)!,
          ]),
      ),
    };
  });
}

/**
 * A cluster's medians that do not fit the table: each process's CPU, and
 * each Redis command's calls per chat line.
 */
function clusterDetail(summary: Row[]): string {
  const lines: string[] = [];
  const list = (values: Record<string, number>) =>
    Object.entries(values).sort(([, a], [, b]) => b - a)
      .map(([name, value]) => `${name} ${format(value)}`).join(", ");
  for (const row of summary) {
    if (row.processCpu) {
      lines.push(
        `${row.server} ${row.scenario}, CPU by process: ${
          list(row.processCpu)
        }`,
      );
    }
    if (row.processBytesPerConnection) {
      const kib = Object.fromEntries(
        Object.entries(row.processBytesPerConnection).map((
          [name, bytes],
        ) => [name, bytes / 1024]),
      );
      lines.push(
        `${row.server} ${row.scenario}, KiB per connection by process: ${
          list(kib)
        }`,
      );
    }
    if (row.redisPerLine && Object.keys(row.redisPerLine).length > 0) {
      lines.push(
        `${row.server} ${row.scenario}, Redis calls per line: ${
          list(row.redisPerLine)
        }`,
      );
    }
  }
  return lines.length > 0 ? "\n" + lines.join("\n") : "";
}

/** Every run's p99, where there were several: how much the median hides. */
function spread(rows: Row[], repeat: number): string {
  if (repeat < 2) return "";
  const lines: string[] = [];
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  for (const scenario of scenarios) {
    const timed = rows.filter((r) => r.scenario === scenario && r.latencyMs);
    if (timed.length === 0) continue;
    const parts: string[] = [];
    for (const server of new Set(rows.map((r) => r.server))) {
      const p99s = rows
        .filter((r) => r.scenario === scenario && r.server === server)
        .map((r) => format(r.latencyMs?.p99));
      parts.push(`${server} ${p99s.join(", ")}`);
    }
    lines.push(`${scenario}, p99 ms per run: ${parts.join("; ")}`);
  }
  return "\n" + lines.join("\n");
}

/** The figures of a row worth comparing, with which way is better. */
function figures(row: Row): [string, number | undefined, "higher" | "lower"][] {
  return [
    ["deliveries/s", row.deliveriesPerSecond, "higher"],
    ["delivered", row.deliveredRatio, "higher"],
    ["latency p50 ms", row.latencyMs?.p50, "lower"],
    ["latency p99 ms", row.latencyMs?.p99, "lower"],
    ["latency max ms", row.latencyMs?.max, "lower"],
    ["logins/s", row.loginsPerSecond, "higher"],
    [
      "KiB/connection",
      row.bytesPerConnection && row.bytesPerConnection / 1024,
      "lower",
    ],
    ["server CPU", row.serverCpu, "lower"],
    ["load gen CPU", row.loadCpu, "lower"],
    ["Redis cmds/line", row.redisCommandsPerLine, "lower"],
    ["publishes/line", row.publishesPerLine, "lower"],
  ];
}

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en");
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

/**
 * The medians of every server side by side, ours first, and the ratio of
 * ours to each of the others.
 */
function table(summary: Row[], servers: string[]): string {
  const [us, ...others] = servers;
  const header = [
    "scenario",
    "figure",
    ...servers,
    ...others.map((other) => `${us}/${other}`),
  ];
  const lines = [header];
  for (const row of summary.filter((r) => r.server === us)) {
    const theirs = others.map((other) =>
      summary.find((r) => r.server === other && r.scenario === row.scenario)
    ).map((other) => other ? figures(other) : null);
    figures(row).forEach(([name, value], i) => {
      const values = theirs.map((figure) => figure?.[i][1]);
      // A figure only some have (a cluster's Redis commands) shows too.
      if (value === undefined && values.every((v) => v === undefined)) return;
      lines.push([
        row.scenario,
        name,
        format(value),
        ...values.map(format),
        ...values.map((v) =>
          v && value !== undefined ? `${(value / v).toFixed(2)}x` : "-"
        ),
      ]);
    });
  }
  const widths = header.map((_, c) =>
    Math.max(...lines.map((l) => l[c].length))
  );
  return lines.map((l) =>
    "| " + l.map((cell, c) => cell.padEnd(widths[c])).join(" | ") + " |"
  ).map((line, i) =>
    i === 0
      ? `${line}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`
      : line
  ).join("\n");
}

async function version(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args }).output();
    return new TextDecoder().decode(out.stdout).split("\n")[0].trim();
  } catch {
    return "not installed";
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      peer: { type: "string" },
      scenarios: { type: "string", default: "burst,steady,idle,growth" },
      quick: { type: "boolean" },
      out: { type: "string", default: "bench/results" },
      "no-pin": { type: "boolean" },
      "server-cpu": { type: "string", default: "0" },
      "load-cpu": { type: "string", default: "1" },
      profile: { type: "string" },
      repeat: { type: "string" },
      samples: { type: "string" },
      baseline: { type: "string" },
      nodes: { type: "string" },
      "redis-cpu": { type: "string" },
      tls: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.peer !== undefined && values.peer !== "inspircd") {
    console.error(`error: unknown peer "${values.peer}"\n\n${USAGE}`);
    return 2;
  }
  const repeat = Number(values.repeat ?? (values.quick ? 1 : 3));
  if (!Number.isInteger(repeat) || repeat < 1) {
    console.error(`error: --repeat wants a whole number from 1\n\n${USAGE}`);
    return 2;
  }
  const nodes = values.nodes === undefined ? 0 : Number(values.nodes);
  if (values.nodes !== undefined && (!Number.isInteger(nodes) || nodes < 2)) {
    console.error(`error: --nodes wants a whole number from 2\n\n${USAGE}`);
    return 2;
  }
  if (values.tls && values.peer !== undefined) {
    console.error(`error: --tls is for this server only\n\n${USAGE}`);
    return 2;
  }
  let certDir: string | null = null;
  let tls: BenchCertificate | undefined;
  if (values.tls) {
    certDir = await Deno.makeTempDir({ prefix: "chat-bench-tls-" });
    tls = await makeCertificate(certDir);
  }
  if (values.samples) {
    await Deno.mkdir(values.samples, { recursive: true });
    setSampleDir(values.samples);
  }
  const plan = values.quick ? QUICK : FULL;
  const only = new Set(values.scenarios!.split(","));
  const cores = navigator.hardwareConcurrency;
  const pinned = !values["no-pin"] && cores >= 2 &&
    await pin(Deno.pid, Number(values["load-cpu"]));
  const cpu = pinned ? Number(values["server-cpu"]) : null;
  console.error(
    pinned
      ? `Server on core ${cpu}, load generator on core ${values["load-cpu"]}`
      : "Not pinned (taskset missing, one core, or --no-pin)",
  );

  const starters: Starter[] = [
    () => startChatServer({ cpu, profileDir: values.profile, tls }),
  ];
  const servers = ["chat-server"];
  if (values.baseline) {
    const checkout = new URL(
      `file://${await Deno.realPath(values.baseline)}/`,
    );
    starters.push(() =>
      startChatServer({ cpu, root: checkout, name: "baseline", tls })
    );
    servers.push("baseline");
  }
  if (nodes > 0) {
    starters.push(() =>
      startChatCluster({
        cpu,
        nodes,
        tls,
        profileDir: values.profile,
        redisCpu: pinned && values["redis-cpu"] !== undefined
          ? Number(values["redis-cpu"])
          : undefined,
      })
    );
    servers.push(`cluster-${nodes}`);
    if (values.baseline) {
      // The baseline as a cluster too: a change to the cluster's path has
      // its before and after from one run.
      const checkout = new URL(
        `file://${await Deno.realPath(values.baseline)}/`,
      );
      const name = `baseline-cluster-${nodes}`;
      starters.push(() =>
        startChatCluster({ cpu, nodes, root: checkout, name, tls })
      );
      servers.push(name);
    }
  }
  if (values.peer) {
    starters.push(() => startInspircd({ cpu }));
    servers.push("inspircd");
  }
  let rows: Row[];
  try {
    rows = await runAll(starters, runsOf(plan, only), repeat);
  } finally {
    if (certDir !== null) await Deno.remove(certDir, { recursive: true });
  }
  const summary = medians(rows);

  console.log(
    table(summary, servers) + clusterDetail(summary) + spread(rows, repeat),
  );
  const report = {
    date: new Date().toISOString(),
    baseline: values.baseline ?? null,
    nodes: nodes || null,
    tls: values.tls === true,
    machine: {
      cores,
      os: `${Deno.build.os} ${Deno.osRelease()}`,
      deno: Deno.version.deno,
      inspircd: values.peer ? await version("inspircd", ["--version"]) : null,
      pinned,
    },
    quick: values.quick ?? false,
    repeat,
    /** Each figure's median over the runs. */
    medians: summary,
    /** Every run. */
    rows,
  };
  await Deno.mkdir(values.out!, { recursive: true });
  const file = `${values.out}/bench-${report.date.replaceAll(":", "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
  console.error(`Figures written to ${file}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
