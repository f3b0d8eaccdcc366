import assert from "node:assert/strict";
import { ChatMetrics } from "../src/metrics.ts";
import { Client, startServer } from "./helpers.ts";

/** One family of a scrape: its TYPE, and each series' labels and value. */
interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Map<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const VALUE =
  /^(?:[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf)|NaN)$/;

/** A label set's `{...}`, read as Prometheus's text parser reads it. */
function parseLabels(text: string, line: string): Map<string, string> {
  const labels = new Map<string, string>();
  let at = 0;
  while (at < text.length) {
    const eq = text.indexOf("=", at);
    assert.ok(eq > at, `a label name: ${line}`);
    const name = text.slice(at, eq);
    assert.match(name, LABEL, line);
    assert.ok(!name.startsWith("__"), `a reserved label: ${line}`);
    assert.ok(!labels.has(name), `label ${name} twice: ${line}`);
    assert.equal(text[eq + 1], '"', line);
    let value = "";
    let i = eq + 2;
    for (; text[i] !== '"'; i++) {
      assert.ok(i < text.length, `an unterminated label value: ${line}`);
      if (text[i] === "\\") {
        const escaped = { "\\": "\\", '"': '"', n: "\n" }[text[++i]];
        assert.ok(escaped !== undefined, `a bad escape: ${line}`);
        value += escaped;
      } else {
        assert.notEqual(text[i], "\n", line);
        value += text[i];
      }
    }
    labels.set(name, value);
    at = i + 1;
    if (text[at] === ",") at++;
  }
  return labels;
}

/**
 * Parses a scrape as strictly as Prometheus's text format 0.0.4 allows, and
 * holds it to the conventions (prometheus.io/docs/practices/naming): every
 * family has one HELP and one TYPE before its samples, and its samples
 * together; no series twice; counters end in `_total`; histograms have
 * ascending, cumulative buckets up to `+Inf`, equal to `_count`, and a
 * `_sum`; units are base units (seconds, bytes), never ms or KiB.
 */
function parseScrape(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "the last line ends with a line feed");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: string | null = null;
  const familyOf = (name: string) => {
    if (families.has(name)) return name;
    const base = name.replace(/_(bucket|sum|count)$/, "");
    return families.get(base)?.type === "histogram" ? base : name;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    assert.notEqual(line, "", "no blank lines");
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      assert.match(name, NAME, line);
      const family = families.get(name) ??
        { type: "", help: "", samples: [] };
      families.set(name, family);
      assert.equal(family.samples.length, 0, `${kind} after samples: ${line}`);
      if (kind === "TYPE") {
        assert.equal(family.type, "", `TYPE twice: ${line}`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        family.type = rest;
      } else {
        assert.equal(family.help, "", `HELP twice: ${line}`);
        assert.ok(!/\\[^\\n]/.test(rest), `a bad escape in HELP: ${line}`);
        family.help = rest;
      }
      current = name;
      continue;
    }
    assert.ok(!line.startsWith("# HELP") && !line.startsWith("# TYPE"), line);
    if (line.startsWith("#")) continue;
    const sample = /^([^\s{]+)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    assert.ok(sample, `not a sample: ${JSON.stringify(line)}`);
    const [, name, labelText, value] = sample;
    assert.match(name, NAME, line);
    assert.match(value, VALUE, line);
    const familyName = familyOf(name);
    const family = families.get(familyName);
    assert.ok(family?.type, `no TYPE before ${line}`);
    assert.equal(familyName, current, `samples of ${familyName} apart`);
    const labels = parseLabels(labelText ?? "", line);
    const series = `${name}{${
      [...labels].sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    }}`;
    assert.ok(!seen.has(series), `${series} twice`);
    seen.add(series);
    family.samples.push({
      name,
      labels,
      value: /Inf$/.test(value)
        ? Number(value.replace("Inf", "Infinity"))
        : Number(value),
    });
  }
  for (const [name, family] of families) {
    assert.ok(family.type !== "", `${name} has a TYPE`);
    assert.ok(family.help !== "", `${name} has a HELP`);
    assert.doesNotMatch(
      name,
      /(_ms|milli|micro|_kb|_mb|kib|mib|_minutes|_hours)(_|$)/i,
      `${name} in base units`,
    );
    if (family.type === "counter") {
      assert.match(name, /_total$/, `counter ${name} ends in _total`);
    } else {
      assert.doesNotMatch(name, /_total$/, `${family.type} ${name}`);
    }
    if (family.type === "histogram") checkHistogram(name, family);
  }
  return families;
}

function checkHistogram(name: string, family: Family): void {
  const buckets = family.samples.filter((s) => s.name === `${name}_bucket`);
  const bounds = buckets.map((s) => s.labels.get("le")!);
  assert.equal(bounds.at(-1), "+Inf", `${name} ends at +Inf`);
  const numbers = bounds.map((b) => b === "+Inf" ? Infinity : Number(b));
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(numbers[i] > numbers[i - 1], `${name} bounds ascend`);
    assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} cumulative`);
  }
  const count = family.samples.find((s) => s.name === `${name}_count`);
  assert.ok(family.samples.some((s) => s.name === `${name}_sum`));
  assert.equal(count?.value, buckets.at(-1)!.value, `${name}: +Inf = count`);
}

/** The README's metrics table: each metric's name, label names and type. */
function readmeMetrics(): { name: string; labels: string[]; type: string }[] {
  const text = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const section = text.slice(text.indexOf("## Monitoring"));
  const rows = [
    ...section.matchAll(/^\| `([a-z_]+)(?:\{([a-z0-9_,]+)\})?` +\| (\w+) /gm),
  ];
  return rows.map(([, name, labels, type]) => ({
    name,
    labels: labels?.split(",") ?? [],
    type,
  }));
}

Deno.test("metrics: a scrape of every family parses strictly and follows the naming conventions", () => {
  const metrics = new ChatMetrics({
    connections: () => new Map([[{ transport: "telnet" }, 2]]),
    users: () => 1,
    rooms: () => 1,
    deliveries: () => 5,
    redisUp: () => true,
    version: '0.1.0 "quoted" \\ back',
  });
  metrics.lines.inc("say");
  metrics.disconnects.inc("slow_reader");
  metrics.refused.inc("rate", 3);
  metrics.storeWrites.observe(0.0007);
  metrics.storeWrites.observe(3);
  const families = parseScrape(metrics.registry.render());
  assert.equal(
    families.get("chat_build_info")!.samples[0].labels.get("version"),
    '0.1.0 "quoted" \\ back',
  );
  const writes = families.get("chat_store_write_seconds")!.samples;
  assert.equal(writes.find((s) => s.labels.get("le") === "0.001")?.value, 1);
  assert.equal(writes.find((s) => s.labels.get("le") === "+Inf")?.value, 2);
});

Deno.test("metrics: every metric in the README's table is served, with its type and labels, and no others unlisted", async () => {
  await using server = await startServer({ httpPort: 0 });
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("say counted");
  await alice.expect("alice: counted");
  await alice.send("history 1");
  await alice.waitFor("[history] alice: counted");
  await alice.send("logout");
  await alice.closed();
  const response = await fetch(
    `http://127.0.0.1:${server.httpAddr!.port}/metrics`,
  );
  const families = parseScrape(await response.text());
  const listed = readmeMetrics();
  assert.ok(listed.length >= 10, "the README's metrics table is found");
  for (const { name, labels, type } of listed) {
    // Served only with --redis: its type is checked in the test above.
    if (name === "chat_redis_up") continue;
    const family = families.get(name);
    assert.ok(family, `${name} (README) is served`);
    assert.equal(family.type, type, name);
    for (const sample of family.samples) {
      const names = [...sample.labels.keys()].filter((l) => l !== "le");
      assert.deepEqual(names, labels, `${name}'s labels`);
    }
  }
  assert.deepEqual(
    [...families.keys()].filter((name) =>
      !listed.some((row) => row.name === name)
    ),
    [],
    "every metric served is in the README's table",
  );
  const disconnects = families.get("chat_disconnects_total")!.samples;
  assert.equal(
    disconnects.find((s) => s.labels.get("reason") === "logout")?.value,
    1,
  );
});

Deno.test("metrics: an answer to a question is a line received, counted as answer, blank or too_long and never by what it says", async () => {
  await using server = await startServer({ httpPort: 0, maxLineBytes: 64 });
  const scrape = async () => {
    const response = await fetch(
      `http://127.0.0.1:${server.httpAddr!.port}/metrics`,
    );
    const lines = parseScrape(await response.text()).get(
      "chat_lines_received_total",
    )!.samples;
    return new Map(lines.map((s) => [s.labels.get("kind")!, s.value]));
  };
  await using alice = await Client.login(server.addr.port, "alice");
  const before = await scrape();
  // Answered, twice: the two passwords.
  await alice.send("register");
  await alice.waitFor((line) => line.startsWith("Choose a password"));
  await alice.send("correct horse battery");
  await alice.expect("Type the same password again:");
  await alice.send("correct horse battery");
  await alice.waitFor((line) => line.startsWith('Registered "alice"'));
  // Too long, at a question: dropped as any line too long is.
  await alice.send("password");
  await alice.waitFor((line) => line.startsWith("Your current password"));
  await alice.send("x".repeat(100));
  await alice.expect("Line too long (max 64 bytes)");
  // Blank, at a question: it cancels.
  await alice.send("password");
  await alice.waitFor((line) => line.startsWith("Your current password"));
  await alice.send("");
  await alice.expect("Cancelled.");
  const after = await scrape();
  const added = (kind: string) =>
    (after.get(kind) ?? 0) - (before.get(kind) ?? 0);
  assert.equal(added("register"), 1);
  assert.equal(added("password"), 2);
  assert.equal(added("answer"), 2, "each password typed at a question");
  assert.equal(added("too_long"), 1, "the answer over --max-line-bytes");
  assert.equal(added("blank"), 1, "the blank answer that cancelled");
  assert.ok(
    [...after.keys()].every((kind) => !kind.includes("horse")),
    "no kind is what was typed",
  );
});
