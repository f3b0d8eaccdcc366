import assert from "node:assert/strict";

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
if (!inspircd) console.warn(`bench peer ignored: ${reason}`);

interface Row {
  scenario: string;
  server: string;
  clients: number;
  deliveredRatio?: number;
  deliveries?: number;
  loginsPerSecond?: number;
  bytesPerConnection?: number;
  latencyMs?: { p50: number; p99: number; max: number };
}

async function runBench(...args: string[]): Promise<Row[]> {
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
    return report.rows;
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
