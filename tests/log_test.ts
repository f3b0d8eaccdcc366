import assert from "node:assert/strict";
import { withTimeout } from "./helpers.ts";

/** A record as startLogging() writes it: timestamp, level, category, text. */
const RECORD =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d(?::\d\d)? \[(?:INF|WRN)\] chat·[a-z]+: /;

/**
 * Runs a process that logs `count` records through startLogging() in one
 * turn (as a shutdown ends every session at once), then stops logging;
 * returns the lines it wrote to stderr.
 */
async function burst(count: number): Promise<string[]> {
  const code = `
    import { log, startLogging, stopLogging } from "./src/log.ts";
    await startLogging("info");
    const logger = log("session");
    for (let i = 0; i < ${count}; i++) logger.info("Line {i}", { i });
    await stopLogging();
  `;
  const output = await withTimeout(
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", code],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output(),
    30_000,
    "the logging process",
  );
  const text = new TextDecoder().decode(output.stderr);
  assert.ok(output.success, text);
  assert.ok(text.endsWith("\n"), text.slice(-200));
  const lines = text.slice(0, -1).split("\n");
  for (const line of lines) assert.match(line, RECORD);
  return lines;
}

Deno.test("startLogging: a burst of 10,000 records in one turn (a shutdown of --max-conns sessions) reaches stderr whole and in order", async () => {
  const lines = await burst(10_000);
  assert.deepEqual(
    lines.map((line) => line.replace(/^.*: /, "")),
    Array.from({ length: 10_000 }, (_, i) => `Line ${i}`),
  );
});

Deno.test("startLogging: records dropped because stderr takes them slower than they come are told, with how many", async () => {
  const lines = await burst(40_000);
  const written = lines.filter((line) => / Line \d+$/.test(line)).length;
  const told = lines.map((line) =>
    /\[WRN\] chat·log: Log lines dropped \(stderr took them slower than they came\): (\d+)$/
      .exec(line)
  ).filter((match) => match !== null);
  assert.ok(told.length > 0, "the drop is told");
  assert.ok(written < 40_000, "some were dropped: the buffer is bounded");
  assert.equal(
    written + told.reduce((sum, match) => sum + Number(match![1]), 0),
    40_000,
    "what was written and what was told dropped add up",
  );
});
