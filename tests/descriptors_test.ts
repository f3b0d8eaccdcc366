import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import {
  DESCRIPTOR_LOG_MS,
  DescriptorWatch,
  relisten,
} from "../src/descriptors.ts";
import { FakeClock } from "./fake_clock.ts";
import { Client, ServerProcess, TIMEOUT_MS } from "./helpers.ts";

/** A watch that records its calls, on a clock the test moves. */
function watched(freed = true) {
  const calls: string[] = [];
  const clock = new FakeClock();
  const watch = new DescriptorWatch({
    clock,
    onExhausted: (times) => void calls.push(`exhausted ${times}`),
    onFreed: (reported) => {
      calls.push(`freed${reported ? "" : " quietly"}`);
      return Promise.resolve(freed);
    },
  });
  return { watch, calls, clock };
}

Deno.test("DescriptorWatch says once that the descriptors ran out, and listens anew once one is free", async () => {
  const { watch, calls } = watched();
  await watch.update(false);
  assert.deepEqual(calls, []);
  await watch.update(true);
  await watch.update(true);
  assert.deepEqual(calls, ["exhausted 1"]);
  assert.equal(watch.exhausted, true);
  await watch.update(false);
  await watch.update(false);
  assert.deepEqual(calls, ["exhausted 1", "freed"]);
  assert.equal(watch.exhausted, false);
});

Deno.test("DescriptorWatch says at most once a minute that the descriptors ran out, and how often", async () => {
  const { watch, calls, clock } = watched();
  await watch.update(true);
  await watch.update(false);
  await watch.update(true);
  await watch.update(false);
  await watch.update(true);
  await watch.update(false);
  assert.deepEqual(calls, [
    "exhausted 1",
    "freed",
    "freed quietly",
    "freed quietly",
  ]);
  clock.advance(DESCRIPTOR_LOG_MS);
  await watch.update(true);
  assert.equal(calls.at(-1), "exhausted 3");
});

Deno.test("DescriptorWatch tries again on the next check when a port could not listen anew", async () => {
  const { watch, calls } = watched(false);
  await watch.update(true);
  await watch.update(false);
  await watch.update(false);
  assert.deepEqual(calls, ["exhausted 1", "freed", "freed"]);
  assert.equal(watch.exhausted, true);
});

Deno.test("DescriptorWatch keeps the ports stopped when descriptors ran out again while they were listened to anew", async () => {
  const clock = new FakeClock();
  let again = true;
  const watch: DescriptorWatch = new DescriptorWatch({
    clock,
    onExhausted: () => {},
    onFreed: async () => {
      // One port listens already, takes connections and runs out, while
      // another still waits to listen.
      if (again) await watch.update(true);
      again = false;
      return true;
    },
  });
  await watch.update(true);
  await watch.update(false);
  assert.equal(watch.exhausted, true);
  await watch.update(false);
  assert.equal(watch.exhausted, false);
});

Deno.test("DescriptorWatch says so once a minute has passed when descriptors ran out again too soon after the last line, and it lasts", async () => {
  const { watch, calls, clock } = watched();
  await watch.update(true);
  await watch.update(false);
  await watch.update(true);
  assert.deepEqual(calls, ["exhausted 1", "freed"]);
  clock.advance(DESCRIPTOR_LOG_MS);
  await watch.update(true);
  await watch.update(true);
  assert.deepEqual(calls, ["exhausted 1", "freed", "exhausted 1"]);
  await watch.update(false);
  assert.equal(calls.at(-1), "freed");
});

Deno.test("DescriptorWatch says every time descriptors run out that the ports stopped, also while one could not listen anew", async () => {
  const clock = new FakeClock();
  let stops = 0;
  let listens = false;
  const watch = new DescriptorWatch({
    clock,
    onStopped: () => void stops++,
    onExhausted: () => {},
    onFreed: () => Promise.resolve(listens),
  });
  await watch.update(true);
  assert.equal(stops, 1);
  // One port could not listen anew; the others did, and run out again.
  await watch.update(false);
  await watch.update(true);
  assert.equal(stops, 2, "the ports that listened are to listen anew too");
  listens = true;
  await watch.update(false);
  assert.equal(watch.exhausted, false);
});

/** Listens on `port` (0: a free one) of loopback; the port it has. */
function listening(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port }, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}

Deno.test("relisten() answers why a port could not listen again, leaves no listener behind, and gives the port back its own error handlers", async () => {
  const port = createServer();
  const number = await listening(port);
  const logged: unknown[] = [];
  port.on("error", (error) => logged.push(error));
  const other = createServer();
  try {
    // Another takes the port in the gap: each try fails, and says why.
    port.close();
    await listening(other, number);
    for (let i = 0; i < 3; i++) {
      const error = await relisten({
        server: port,
        host: "127.0.0.1",
        port: number,
      });
      assert.match(String(error), /EADDRINUSE|in use/i);
    }
    assert.equal(port.listenerCount("listening"), 0);
    assert.equal(port.listenerCount("error"), 1);
    assert.deepEqual(
      logged,
      [],
      "the port's own handler heard no failed listen",
    );
    await new Promise((resolve) => other.close(resolve));
    assert.equal(
      await relisten({ server: port, host: "127.0.0.1", port: number }),
      null,
    );
    assert.equal(port.listenerCount("listening"), 0);
    assert.equal(port.listenerCount("error"), 1);
  } finally {
    port.close();
    other.close();
  }
});

/** Waits until the server's log matches `pattern`. */
async function logged(server: ServerProcess, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (!pattern.test(server.stderr)) {
    if (Date.now() > deadline) {
      throw new Error(`No log line ${pattern} in:\n${server.stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("Out of file descriptors, the telnet port accepts again once connections close, and sessions already there go on", async () => {
  // Deno raises the soft limit to the hard one: `ulimit -n` sets both.
  await using server = await ServerProcess.start(
    [
      "-c",
      'ulimit -n 64 && exec "$0" "$@"',
      Deno.execPath(),
      ...ServerProcess.mainArgs("--db", ":memory:", "--flood-rate", "0"),
    ],
    "bash",
  );
  await using stayer = await Client.login(server.port, "stayer");
  // More than the server has descriptors for: the kernel takes each
  // connection, the server accepts until it has none left.
  const flood: Client[] = [];
  try {
    for (let i = 0; i < 60; i++) flood.push(await Client.connect(server.port));
    await logged(server, /Out of file descriptors: /);
  } finally {
    await Promise.all(flood.map((client) => client[Symbol.asyncDispose]()));
  }
  await logged(server, /File descriptors free again/);
  await using late = await Client.login(server.port, "late");
  await stayer.waitFor("late has entered the room.");
  await late.send("say hello");
  await stayer.waitFor("late: hello");
});

Deno.test("A server that may not read /dev/null says it does not watch for running out of descriptors, and serves", async () => {
  const args = ServerProcess.mainArgs("--db", ":memory:")
    .map((arg) => arg === "--allow-read" ? "--allow-read=." : arg);
  await using server = await ServerProcess.start(args);
  await using alice = await Client.login(server.port, "alice");
  await alice.send("say hi");
  await alice.expect("alice: hi");
  assert.match(
    server.stderr,
    /Not watching for running out of file descriptors/,
  );
});
