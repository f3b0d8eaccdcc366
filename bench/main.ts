/**
 * `deno task bench`: the load generator. Starts the server as its own process
 * (and, with `--peer inspircd`, InspIRCd), runs the scenarios over loopback,
 * prints a table and writes the figures as JSON.
 *
 *   deno task bench                      all scenarios against this server
 *   deno task bench --peer inspircd      the same against InspIRCd, side by side
 *   deno task bench --scenarios burst,idle --quick
 *
 * @module
 */

import { parseArgs } from "node:util";
import { burst, idle, type Row, type Starter, steady } from "./scenarios.ts";
import { pin, startChatServer, startInspircd } from "./servers.ts";

const USAGE = `Usage: deno task bench [options]

  --peer inspircd     also run every scenario against InspIRCd
  --scenarios LIST    burst,steady,idle,growth (default: all)
  --quick             small sizes, to check the harness itself
  --out DIR           where the JSON goes (default bench/results)
  --no-pin            do not pin the server and the load generator to cores
  --server-cpu N      the server's core (default 0)
  --load-cpu N        the load generator's core (default 1)
  --profile DIR       write a CPU profile of our server per scenario to DIR
  -h, --help          this text`;

interface Plan {
  burst: { clients: number; senders: number; lines: number }[];
  steady: { clients: number; rate: number; seconds: number }[];
  idle: { clients: number }[];
  growth: number[];
}

const FULL: Plan = {
  burst: [
    { clients: 100, senders: 10, lines: 100 },
    { clients: 1000, senders: 20, lines: 50 },
  ],
  steady: [{ clients: 1000, rate: 100, seconds: 5 }],
  idle: [{ clients: 5000 }],
  growth: [10, 100, 1000, 5000],
};

const QUICK: Plan = {
  burst: [{ clients: 20, senders: 5, lines: 10 }],
  steady: [{ clients: 20, rate: 50, seconds: 1 }],
  idle: [{ clients: 50 }],
  growth: [5, 20],
};

/** Growth: about 200,000 deliveries at every size, from ten senders. */
function growthRun(clients: number) {
  const senders = Math.min(10, clients);
  const lines = Math.max(10, Math.round(200_000 / (clients * senders)));
  return { clients, senders, lines, label: `growth ${clients}` };
}

async function runAll(start: Starter, plan: Plan, only: Set<string>) {
  const rows: Row[] = [];
  const step = async (row: Promise<Row>) => {
    const result = await row;
    console.error(`  ${result.server}: ${result.scenario} done`);
    rows.push(result);
  };
  if (only.has("burst")) {
    for (const run of plan.burst) await step(burst(start, run));
  }
  if (only.has("steady")) {
    for (const run of plan.steady) await step(steady(start, run));
  }
  if (only.has("idle")) {
    for (const run of plan.idle) await step(idle(start, run));
  }
  if (only.has("growth")) {
    for (const n of plan.growth) await step(burst(start, growthRun(n)));
  }
  return rows;
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
  ];
}

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return "-";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en");
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(3);
}

function table(ours: Row[], peer: Row[] | null): string {
  const header = peer
    ? ["scenario", "figure", "chat-server", "inspircd", "ours/theirs"]
    : ["scenario", "figure", "chat-server"];
  const lines = [header];
  for (const row of ours) {
    const other = peer?.find((p) => p.scenario === row.scenario);
    const otherFigures = other ? figures(other) : null;
    figures(row).forEach(([name, value], i) => {
      if (value === undefined) return;
      const cells = [row.scenario, name, format(value)];
      if (peer) {
        const theirs = otherFigures?.[i][1];
        cells.push(
          format(theirs),
          theirs ? `${(value / theirs).toFixed(2)}x` : "-",
        );
      }
      lines.push(cells);
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

  const ours = await runAll(
    () => startChatServer({ cpu, profileDir: values.profile }),
    plan,
    only,
  );
  const peer = values.peer
    ? await runAll(() => startInspircd({ cpu }), plan, only)
    : null;

  console.log(table(ours, peer));
  const report = {
    date: new Date().toISOString(),
    machine: {
      cores,
      os: `${Deno.build.os} ${Deno.osRelease()}`,
      deno: Deno.version.deno,
      inspircd: values.peer ? await version("inspircd", ["--version"]) : null,
      pinned,
    },
    quick: values.quick ?? false,
    rows: [...ours, ...(peer ?? [])],
  };
  await Deno.mkdir(values.out!, { recursive: true });
  const file = `${values.out}/bench-${report.date.replaceAll(":", "-")}.json`;
  await Deno.writeTextFile(file, JSON.stringify(report, null, 2) + "\n");
  console.error(`Figures written to ${file}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
