import assert from "node:assert/strict";
import {
  DEFAULTS,
  OPTIONS,
  parseFlags,
  usage,
  UsageError,
} from "../src/config.ts";

Deno.test("parseFlags() gives the defaults without flags", () => {
  assert.deepEqual(parseFlags([]), { action: "serve", config: DEFAULTS });
  assert.equal(DEFAULTS.port, 5005);
  assert.equal(DEFAULTS.host, "0.0.0.0");
  assert.equal(DEFAULTS.name, "TestChat");
  assert.equal(DEFAULTS.maxLineBytes, 1024);
  assert.equal(DEFAULTS.maxQueueBytes, 1024 * 1024);
});

Deno.test("parseFlags() reads every option", () => {
  const result = parseFlags([
    "--host=127.0.0.1",
    "--port",
    "6000",
    "--name",
    "MyChat",
    "--max-line-bytes",
    "512",
    "--max-queue-bytes=65536",
    "--log-level",
    "debug",
  ]);
  assert.deepEqual(result, {
    action: "serve",
    config: {
      host: "127.0.0.1",
      port: 6000,
      name: "MyChat",
      maxLineBytes: 512,
      maxQueueBytes: 65536,
      logLevel: "debug",
    },
  });
});

Deno.test("parseFlags() refuses unknown and malformed flags", () => {
  for (
    const args of [
      ["--nope"],
      ["--port", "http"],
      ["--port", "70000"],
      ["--port", "-1"],
      ["--port"],
      ["--max-line-bytes", "1e3"],
      ["--log-level", "loud"],
      ["stray"],
    ]
  ) {
    assert.throws(() => parseFlags(args), UsageError, args.join(" "));
  }
});

Deno.test("parseFlags() answers --help and --version first", () => {
  assert.deepEqual(parseFlags(["--port", "1", "--help"]), { action: "help" });
  assert.deepEqual(parseFlags(["-V"]), { action: "version" });
});

Deno.test("usage() lists every option with its default", () => {
  const text = usage();
  for (const option of OPTIONS) {
    assert.match(
      text,
      new RegExp(`--${option.flag} .*default ${DEFAULTS[option.key]}`),
    );
  }
});
