/**
 * Where a latency tail comes from, from the files `deno task bench --samples
 * DIR` writes: for each run, the p99 of all samples, the p99 once the first
 * `--warm-ms` of the run are left out, and how the slowest 1% split between
 * those first milliseconds, the clients that also sent (the first ten, by
 * login order), and the rest. Meant for the steady runs: a burst is over
 * within its first 300 ms.
 *
 *   deno run --allow-read bench/tail.ts DIR [--warm-ms 300]
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One run's tail, as {@linkcode analyse} finds it. */
export interface Tail {
  samples: number;
  p99Ms: number;
  /** The p99 of the samples sent after the first `warmMs`. */
  p99AfterWarmMs: number;
  /** Of the slowest 1%: sent in the first `warmMs`. */
  slowestEarly: number;
  /** Of the slowest 1%, later: received by a client that also sent. */
  slowestSenders: number;
  /** Of the slowest 1%: the rest. */
  slowestOther: number;
}

/** The clients that send, in every scenario: the first ten to log in. */
const SENDERS = 10;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Analyses one samples file's text (`sent_us latency_us client` lines). */
export function analyse(text: string, warmMs = 300): Tail {
  const rows = text.trim().split("\n").slice(1).map((line) =>
    line.split(" ").map(Number)
  );
  let start = Infinity;
  for (const [sent] of rows) start = Math.min(start, sent);
  const early = (sent: number) => sent - start < warmMs * 1000;
  const all = Float64Array.from(rows, ([, latency]) => latency).sort();
  const later = Float64Array.from(
    rows.filter(([sent]) => !early(sent)),
    ([, latency]) => latency,
  ).sort();
  const p99 = percentile(all, 0.99);
  const slowest = rows.filter(([, latency]) => latency > p99);
  const slowestEarly = slowest.filter(([sent]) => early(sent)).length;
  const slowestSenders =
    slowest.filter(([sent, , client]) => !early(sent) && client < SENDERS)
      .length;
  return {
    samples: rows.length,
    p99Ms: p99 / 1000,
    p99AfterWarmMs: percentile(later, 0.99) / 1000,
    slowestEarly,
    slowestSenders,
    slowestOther: slowest.length - slowestEarly - slowestSenders,
  };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { "warm-ms": { type: "string", default: "300" } },
  });
  const warmMs = Number(values["warm-ms"]);
  if (positionals.length !== 1 || !(warmMs >= 0)) {
    console.error(
      "Usage: deno run --allow-read bench/tail.ts DIR [--warm-ms 300]",
    );
    Deno.exit(2);
  }
  const dir = positionals[0];
  const files = [...Deno.readDirSync(dir)].map((f) => f.name)
    .filter((name) => name.endsWith(".txt"))
    .sort((a, b) => parseInt(a) - parseInt(b));
  console.log(
    `run | samples | p99 ms | p99 after ${warmMs} ms | slowest 1%: first ${warmMs} ms / senders / other`,
  );
  for (const name of files) {
    const tail = analyse(Deno.readTextFileSync(`${dir}/${name}`), warmMs);
    console.log(
      `${name} | ${tail.samples} | ${tail.p99Ms.toFixed(1)} | ${
        Number.isNaN(tail.p99AfterWarmMs) ? "-" : tail.p99AfterWarmMs.toFixed(1)
      } | ${tail.slowestEarly} / ${tail.slowestSenders} / ${tail.slowestOther}`,
    );
  }
}
