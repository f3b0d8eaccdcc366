import assert from "node:assert/strict";
import { missingProgram } from "./required.ts";

/**
 * The benchmark harness itself, at its smallest sizes: every scenario runs,
 * every line it sends is delivered and counted, and the JSON holds the
 * figures. No figure is judged here: speed is measured with deno task bench,
 * never asserted in tests.
 */

function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

const inspircd = installed("/usr/sbin/inspircd") ||
  installed("/usr/bin/inspircd");
const reason =
  "InspIRCd is not installed (apt-get install inspircd; .ci/run does)";
missingProgram(inspircd ? null : reason, "bench peer");

const redis = installed("/usr/bin/redis-server") ||
  installed("/usr/local/bin/redis-server");
const noRedis =
  "redis-server is not installed (apt-get install redis-server; .ci/run does)";
if (!redis && Deno.env.get("CI")) {
  throw new Error(`${noRedis}, and CI needs it`);
}

interface Row {
  scenario: string;
  server: string;
  clients: number;
  deliveredRatio?: number;
  deliveries?: number;
  loginsPerSecond?: number;
  bytesPerConnection?: number;
  latencyMs?: { p50: number; p99: number; max: number };
  repetition?: number;
  processCpu?: Record<string, number>;
  publishesPerLine?: number;
  redisCommandsPerLine?: number;
  redisPerLine?: Record<string, number>;
}

interface Report {
  quick: boolean;
  repeat: number;
  tls: boolean;
  rows: Row[];
  medians: Row[];
}

async function runBench(...args: string[]): Promise<Row[]> {
  return (await runReport(...args)).rows;
}

/** Runs the harness at its smallest sizes; its JSON report. */
async function runReport(...args: string[]): Promise<Report> {
  const out = await Deno.makeTempDir({ prefix: "chat-bench-" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "bench/main.ts",
        "--quick",
        "--no-pin",
        "--out",
        out,
        ...args,
      ],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    assert.match(new TextDecoder().decode(result.stdout), /\| scenario +\|/);
    const [file] = [...Deno.readDirSync(out)];
    const report = JSON.parse(await Deno.readTextFile(`${out}/${file.name}`));
    assert.equal(report.quick, true);
    return report;
  } finally {
    await Deno.remove(out, { recursive: true });
  }
}

function checkRows(rows: Row[], server: string): void {
  const mine = rows.filter((row) => row.server === server);
  const names = mine.map((row) => row.scenario);
  assert.deepEqual(names, [
    "burst 20",
    "steady 20",
    "idle 50",
    "growth 5",
    "growth 20",
  ]);
  for (const row of mine) {
    if (row.scenario.startsWith("idle")) {
      assert.ok(row.loginsPerSecond! > 0, `${server} ${row.scenario}`);
      assert.ok(Number.isFinite(row.bytesPerConnection));
    } else {
      assert.equal(row.deliveredRatio, 1, `${server} ${row.scenario}`);
      assert.ok(row.latencyMs!.p99 >= row.latencyMs!.p50);
    }
  }
  const burst = mine[0];
  // 5 senders x 10 lines, to 20 clients (IRC does not echo to the sender).
  assert.equal(
    burst.deliveries,
    server === "inspircd" ? 5 * 10 * 19 : 5 * 10 * 20,
  );
}

Deno.test("deno task bench runs every scenario and delivers every line", async () => {
  checkRows(await runBench(), "chat-server");
});

Deno.test({
  name: inspircd
    ? "deno task bench --peer inspircd runs the same scenarios against InspIRCd"
    : `deno task bench --peer inspircd (ignored: ${reason})`,
  ignore: !inspircd,
  async fn() {
    const rows = await runBench("--peer", "inspircd");
    checkRows(rows, "chat-server");
    checkRows(rows, "inspircd");
  },
});

Deno.test("--baseline runs another checkout beside ours, named baseline", async () => {
  // This checkout as its own baseline: the same scenarios, a second server.
  const report = await runReport(
    "--scenarios",
    "burst",
    "--baseline",
    new URL("..", import.meta.url).pathname,
  );
  assert.deepEqual(
    report.rows.map((row) => row.server).sort(),
    ["baseline", "chat-server"],
  );
  for (const row of report.rows) assert.equal(row.deliveredRatio, 1);
});

Deno.test("--tls runs the clients over the TLS port, the baseline's too", async () => {
  // Clients that spoke plain TCP to the TLS port would never log in.
  const report = await runReport(
    "--scenarios",
    "burst",
    "--tls",
    "--baseline",
    new URL("..", import.meta.url).pathname,
  );
  assert.equal(report.tls, true);
  assert.deepEqual(
    report.rows.map((row) => row.server).sort(),
    ["baseline", "chat-server"],
  );
  for (const row of report.rows) {
    assert.equal(row.deliveredRatio, 1);
    assert.equal(row.deliveries, 5 * 10 * 20);
  }
});

Deno.test("--tls is refused beside --peer", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "bench/main.ts",
      "--tls",
      "--peer",
      "inspircd",
    ],
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(result.code, 2);
  assert.match(new TextDecoder().decode(result.stderr), /--tls/);
});

Deno.test({
  name: redis
    ? "--nodes 3 runs three servers on one Redis, the clients spread over them, with Redis's commands per line"
    : `deno task bench --nodes 3 (ignored: ${noRedis})`,
  ignore: !redis,
  async fn() {
    const report = await runReport(
      "--scenarios",
      "burst,steady",
      "--nodes",
      "3",
    );
    const rows = report.rows.filter((row) => row.server === "cluster-3");
    assert.deepEqual(rows.map((row) => row.scenario), [
      "burst 20",
      "steady 20",
    ]);
    for (const row of rows) {
      // Every line reached every client, whichever server it was on.
      assert.equal(row.deliveredRatio, 1, row.scenario);
      assert.deepEqual(
        Object.keys(row.processCpu!).sort(),
        ["n1", "n2", "n3", "redis"],
      );
      // One script and one publish per line, read from INFO commandstats
      // (the heartbeats' few commands a second come on top).
      assert.equal(row.publishesPerLine, 1, row.scenario);
      assert.ok(row.redisPerLine!.evalsha >= 1, row.scenario);
      assert.ok(row.redisCommandsPerLine! >= 2, row.scenario);
    }
    assert.equal(rows[0].deliveries, 5 * 10 * 20);
    // The single server beside it has no Redis figures.
    const single = report.rows.find((row) => row.server === "chat-server")!;
    assert.equal(single.publishesPerLine, undefined);
  },
});

Deno.test("--nodes wants a whole number from 2", async () => {
  for (const bad of ["1", "2.5", "many"]) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "bench/main.ts", "--nodes", bad],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(result.code, 2, bad);
    assert.match(new TextDecoder().decode(result.stderr), /--nodes/);
  }
});

Deno.test("--repeat runs a scenario again and reports medians; --samples writes every sample", async () => {
  const samples = await Deno.makeTempDir({ prefix: "chat-samples-" });
  try {
    const report = await runReport(
      "--scenarios",
      "steady",
      "--repeat",
      "3",
      "--samples",
      samples,
    );
    assert.equal(report.repeat, 3);
    assert.deepEqual(report.rows.map((row) => row.repetition), [1, 2, 3]);
    assert.equal(report.medians.length, 1);
    const p99s = report.rows.map((row) => row.latencyMs!.p99).sort((a, b) =>
      a - b
    );
    assert.equal(report.medians[0].latencyMs!.p99, p99s[1]);
    // Quick steady: 50 lines to 20 clients, of which client 0 is timed.
    const files = [...Deno.readDirSync(samples)].map((f) => f.name).sort();
    assert.equal(files.length, 3);
    for (const name of files) {
      const lines = (await Deno.readTextFile(`${samples}/${name}`)).trim()
        .split("\n");
      assert.equal(lines[0], "sent_us latency_us client");
      assert.equal(lines.length, 1 + 50);
      for (const line of lines.slice(1)) {
        const [sent, latency, client] = line.split(" ").map(Number);
        assert.ok(sent > 0 && latency >= 0, line);
        assert.equal(client, 0);
      }
    }
  } finally {
    await Deno.remove(samples, { recursive: true });
  }
});

Deno.test("--repeat wants a whole number from 1", async () => {
  for (const bad of ["0", "1.5", "many"]) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "bench/main.ts", "--repeat", bad],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(result.code, 2, bad);
    assert.match(new TextDecoder().decode(result.stderr), /--repeat/);
  }
});

Deno.test("bench/tail.ts splits the slowest 1% into early samples, senders and the rest", async () => {
  const { analyse } = await import("../bench/tail.ts");
  const lines = ["sent_us latency_us client"];
  const start = 1_000_000;
  // The first 300 ms: 100 samples, 5 of them slow.
  for (let i = 0; i < 100; i++) {
    lines.push(`${start + i * 2000} ${i < 5 ? 50_000 : 1000} 500`);
  }
  // Later: 1,900 samples; 6 slow at a sender (client 3), 4 slow elsewhere.
  for (let i = 0; i < 1900; i++) {
    const sent = start + 400_000 + i * 1000;
    if (i < 6) lines.push(`${sent} 40000 3`);
    else if (i < 10) lines.push(`${sent} 30000 700`);
    else lines.push(`${sent} 1000 ${20 + (i % 900)}`);
  }
  const tail = analyse(lines.join("\n") + "\n");
  assert.equal(tail.samples, 2000);
  assert.equal(tail.p99Ms, 1);
  assert.equal(tail.p99AfterWarmMs, 1);
  assert.deepEqual(
    [tail.slowestEarly, tail.slowestSenders, tail.slowestOther],
    [5, 6, 4],
  );
  // With no warm-up left out, every slow sample counts by its client.
  const cold = analyse(lines.join("\n"), 0);
  assert.deepEqual(
    [cold.slowestEarly, cold.slowestSenders, cold.slowestOther],
    [0, 6, 9],
  );
});

Deno.test("the bench starts our server with deno task start's environment and flags", async () => {
  const { startTask } = await import("../bench/servers.ts");
  const { env, flags } = await startTask();
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const task: string = denoJson.tasks.start;
  const assignments = task.match(/^(?:[A-Z_][A-Z0-9_]*=\S* )*/)![0].trim();
  assert.equal(
    Object.keys(env).length,
    assignments === "" ? 0 : assignments.split(" ").length,
  );
  for (const [name, value] of Object.entries(env)) {
    assert.ok(
      task.startsWith(`${name}=${value} `) ||
        task.includes(` ${name}=${value} `),
    );
  }
  assert.ok(task.includes(`deno run ${flags.join(" ")} main.ts`), task);
  assert.ok(flags.includes("--allow-net"));
});
