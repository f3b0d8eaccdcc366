import assert from "node:assert/strict";
import net from "node:net";
import {
  Client,
  loginAll,
  ServerProcess,
  startServer,
  talkUntil,
} from "./helpers.ts";

const fixture = new URL("./fixtures/client.ts", import.meta.url).pathname;

/** Starts the fixture client as its own process. */
function spawnClient(port: number, name: string, mode: "read" | "write") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", fixture, String(port), name, mode],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** The resident memory of a process, in bytes, from /proc. */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB$/m);
  assert.ok(match, "VmRSS in /proc/PID/status");
  return Number(match[1]) * 1024;
}

Deno.test("50 MiB without a line end: one reason, the session lives, memory stays put", async () => {
  await using server = await ServerProcess.start();
  await using alice = await Client.login(server.port, "alice");
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  async function endlessLine(bytes: number): Promise<void> {
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      await alice.sendBytes(chunk);
    }
  }
  // Warm up first, so that compiled code and the heap's first growth are
  // not counted as the cost of the long line.
  await endlessLine(4 * 1024 * 1024);
  await alice.send("\r\nsay warm");
  await alice.expectLines(["Line too long (max 1024 bytes)", "alice: warm"]);
  const before = await rss(server.child.pid);
  await endlessLine(50 * 1024 * 1024);
  const grown = (await rss(server.child.pid)) - before;
  await alice.send("\r\nsay survived");
  await alice.expectLines([
    "Line too long (max 1024 bytes)",
    "alice: survived",
  ]);
  assert.ok(grown < 10 * 1024 * 1024, `memory grew by ${grown} bytes`);
});

Deno.test("1,000 connect, login and drop cycles leave the registry empty and memory flat", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "deno task test runs with --v8-flags=--expose-gc");
  await using server = await startServer();
  const port = server.addr.port;
  await using watcher = await Client.login(port, "watcher");
  let cycle = 0;
  async function cycles(count: number): Promise<void> {
    for (let batch = 0; batch < count / 50; batch++) {
      const clients = await Promise.all(
        Array.from({ length: 50 }, () => Client.login(port, `u${cycle++}`)),
      );
      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
      for (let left = 0; left < 50;) {
        const line = await watcher.readLine();
        if (line.endsWith(" has left the room.")) left++;
      }
    }
    await watcher.sync();
  }
  await cycles(200); // warm up: caches, JIT, pools
  gc();
  const before = Deno.memoryUsage().heapUsed;
  await cycles(1000);
  gc();
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.equal(server.registry.users.size, 1);
  assert.equal(server.connections, 1);
  assert.ok(grown < 1024 * 1024, `heap grew by ${grown} bytes`);
});

Deno.test("a client killed in the middle of a write leaves; the others keep chatting", async () => {
  await using server = await startServer({ floodRate: 0 });
  const port = server.addr.port;
  await using party = await loginAll(port, "watcher", "talker");
  const [watcher, talker] = party;
  const child = spawnClient(port, "writer", "write");
  try {
    await watcher.waitFor("writer: ready");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  await watcher.waitFor("writer has left the room.");
  await talker.send("say still chatting");
  await watcher.waitFor("talker: still chatting");
  assert.equal(server.registry.find("writer"), undefined);
});

Deno.test("a reader stopped with SIGSTOP is dropped; the others keep chatting", async () => {
  await using server = await startServer({
    floodRate: 0,
    maxQueueBytes: 256 * 1024,
  });
  const port = server.addr.port;
  await using party = await loginAll(port, "watcher", "talker");
  const [watcher, talker] = party;
  const child = spawnClient(port, "sleepy", "read");
  try {
    await watcher.waitFor("sleepy: ready");
    child.kill("SIGSTOP");
    await talkUntil(talker, watcher.waitFor("sleepy has left the room."));
    await talker.send("say still chatting");
    await watcher.waitFor("talker: still chatting");
    await talker.waitFor("talker: still chatting");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("a peer that resets its connection leaves, and the log calls it a disconnect, not an error", async () => {
  await using server = await ServerProcess.start();
  await using watcher = await Client.login(server.port, "watcher");
  const socket = net.connect(server.port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write("login resetter\r\nsay about to go\r\n");
  await watcher.waitFor("resetter: about to go");
  // An RST, as a crashed client or a middlebox sends it.
  socket.resetAndDestroy();
  await watcher.waitFor("resetter has left the room.");
  await watcher.send("logout");
  await watcher.closed();
  const status = await server.stop();
  assert.equal(status.code, 0);
  assert.match(server.stderr, /Disconnected .*resetter/);
  assert.doesNotMatch(server.stderr, /\[ERR\]/);
});
