import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  PASSWORD,
  registered,
  ServerProcess,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";
import { writeHeapSnapshot } from "node:v8";
import { WebSocketConnection } from "../src/websocket.ts";
import { clientFrame, RawWebSocket, WsClient } from "./ws_helpers.ts";

/** A server with HTTP on a free port. */
function startWeb(options: Parameters<typeof startServer>[0] = {}) {
  return startServer({ httpPort: 0, ...options });
}

/**
 * `watcher` (logged in as watcher) says long lines, 50 at a time, until
 * `name` (a page that reads nothing) is dropped for it and leaves the room;
 * at most 10,000 lines.
 */
async function sayUntilDropped(watcher: Client, name: string): Promise<void> {
  const filler = "y".repeat(900);
  for (let batch = 0; batch < 200; batch++) {
    await watcher.send(
      Array.from({ length: 50 }, (_, i) => `say ${batch}.${i} ${filler}`)
        .join("\r\n"),
    );
    const line = await watcher.waitFor((l) =>
      l === `${name} has left the room.` ||
      l.startsWith(`watcher: ${batch}.49 `)
    );
    if (line === `${name} has left the room.`) return;
  }
  throw new Error(`${name} was never dropped`);
}

/** Opens /ws and logs in as `name`; returns the client after its room frame. */
async function loginWs(port: number, name: string): Promise<WsClient> {
  const page = await WsClient.open(port);
  await page.waitFor((frame) => frame.type === "hello");
  await page.waitForLine("Welcome to TestChat");
  page.send(`login ${name}`);
  await page.waitFor((frame) => frame.type === "room" && frame.you === name);
  return page;
}

Deno.test("a page and a telnet user talk in one room through /ws, the page in JSON", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  await using page = await WsClient.open(port);
  const hello = await page.next();
  assert.equal(hello.type, "hello");
  assert.equal(typeof hello.token, "string");
  assert.deepEqual((await page.next()).lines, ["Welcome to TestChat"]);
  page.send("login web");
  const room = await page.waitFor((frame) => frame.type === "room");
  assert.equal(room.you, "web");
  assert.deepEqual(room.room, {
    name: "main",
    topic: null,
    owner: null,
    members: ["tel", "web"],
    count: 2,
  });
  await tel.expect("web has entered the room.");
  await tel.send("say hello, browser");
  const said = await page.waitFor((frame) => frame.type === "said");
  assert.equal(said.from, "tel");
  assert.equal(said.text, "hello, browser");
  assert.equal(said.room, "main");
  assert.ok(said.id > room.id, "ids grow on a connection");
  page.send("say hello, telnet");
  await tel.expect("tel: hello, browser");
  await tel.expect("web: hello, telnet");
  page.send("look");
  const look = await page.waitFor((frame) => frame.type === "reply");
  assert.deepEqual(look.lines, [
    "The following are in this room:",
    "tel",
    "web",
  ]);
  page.send("msg tel psst");
  const own = await page.waitFor((frame) => frame.type === "private");
  assert.deepEqual([own.from, own.to, own.text], ["web", "tel", "psst"]);
  await tel.expect("[private] web: psst");
  page.send("dance");
  const error = await page.waitFor((frame) => frame.type === "error");
  assert.deepEqual(error.lines, ["Unknown command: dance"]);
});

Deno.test("Origin: another site's page gets 403 before the upgrade; the page's own and --allowed-origin pass", async () => {
  await using server = await startWeb({
    allowedOrigins: ["https://chat.example.org"],
  });
  const port = server.httpAddr!.port;
  {
    using evil = await RawWebSocket.open(port, {
      Origin: "https://evil.example",
    });
    assert.match(evil.status, /^HTTP\/1\.1 403/);
  }
  {
    using own = await RawWebSocket.open(port, {
      Origin: `http://127.0.0.1:${port}`,
    });
    assert.match(own.status, /^HTTP\/1\.1 101/);
  }
  {
    using allowed = await RawWebSocket.open(port, {
      Origin: "https://chat.example.org",
    });
    assert.match(allowed.status, /^HTTP\/1\.1 101/);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(
    metrics,
    /^chat_refused_connections_total\{reason="origin"\} 1$/m,
  );
});

Deno.test("Origin: another site's page cannot take a waiting session over with its token (403), and the page still can", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  const first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  const token = first.frames.findLast((frame) => frame.type === "hello")!.token;
  const lastId = first.lastId;
  first.socket.close();
  await first.closed();
  {
    using evil = await RawWebSocket.open(
      port,
      { Origin: "https://evil.example" },
      undefined,
      `?resume=${token}&last=0`,
    );
    assert.match(evil.status, /^HTTP\/1\.1 403/);
  }
  await using back = await WsClient.open(
    port,
    `?resume=${token}&last=${lastId}`,
  );
  const hello = await back.next();
  assert.equal(hello.type, "hello");
  assert.equal(hello.resumed, true);
  assert.deepEqual(await tel.sync(), [], "tel never saw web leave");
});

Deno.test("--http-host: the HTTP port listens on its own address, the chat port on --host", async () => {
  // Behind a reverse proxy: telnet public, the page and /metrics on
  // loopback only, so that nobody reaches them past the proxy.
  await using server = await startServer({
    host: "127.0.0.1",
    httpPort: 0,
    httpHost: "127.0.0.2",
  });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.equal(server.httpAddr!.hostname, "127.0.0.2");
  const response = await fetch(
    `http://127.0.0.2:${server.httpAddr!.port}/livez`,
  );
  assert.equal(await response.text(), "ok\n");
  await assert.rejects(
    fetch(`http://127.0.0.1:${server.httpAddr!.port}/livez`),
  );
});

Deno.test("a frame over the line cap gets the same answer as a telnet line, as an error, and the session goes on", async () => {
  await using server = await startWeb({ maxLineBytes: 64 });
  await using page = await loginWs(server.httpAddr!.port, "web");
  page.send(`say ${"x".repeat(100)}`);
  // A mistake, as the page shows one: an error frame, not a reply.
  const answer = await page.waitForLine("Line too long (max 64 bytes)");
  assert.equal(answer.type, "error");
  page.send("say short");
  const said = await page.waitFor((frame) => frame.type === "said");
  assert.equal(said.text, "short");
});

Deno.test("a frame far over the line cap closes the socket with 1009 at once, and is counted", async () => {
  await using server = await startWeb({ maxLineBytes: 64 });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  await using page = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  page.send(`say ${"é".repeat(130)}`); // 264 bytes: over 4 x 64
  assert.equal(await page.closed(), 1009);
  await tel.expect("web has left the room.");
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(
    metrics,
    /^chat_disconnects_total\{reason="frame_too_big"\} 1$/m,
  );
});

Deno.test("a frame is one command line: one with a line break inside is refused, a line end at its end is dropped", async () => {
  await using server = await startWeb();
  await using tel = await Client.login(server.addr.port, "tel");
  await using page = await loginWs(server.httpAddr!.port, "web");
  await tel.expect("web has entered the room.");
  page.send("say a\nsay b");
  page.send("say c\r\nsay d");
  page.send("say e\n");
  for (let i = 0; i < 2; i++) {
    await page.waitForLine(
      "Not run: a frame is one command line, and this one has a line break in it",
    );
  }
  const said = await page.waitFor((frame) => frame.type === "said");
  assert.equal(said.text, "e");
  assert.deepEqual(await tel.sync(), ["web: e"], "nothing else was said");
});

Deno.test("flood control holds a page as it holds telnet: past the waiting lines, Excess flood", async () => {
  await using server = await startWeb({
    floodBurst: 2,
    floodRate: 1,
    floodMaxWaiting: 5,
  });
  await using page = await loginWs(server.httpAddr!.port, "web");
  for (let i = 0; i < 20; i++) page.send(`say ${i}`);
  await page.waitForLine("Excess flood");
  assert.equal(await page.closed(), 1000);
});

Deno.test("with flood control off, a page cannot queue more than a MiB of lines while its session waits", async () => {
  const clock = new FakeClock();
  await using server = await startWeb({ clock, floodRate: 0 });
  (await registered(server.addr.port, "alice")).close();
  await using page = await WsClient.open(server.httpAddr!.port);
  await page.waitFor((frame) => frame.type === "hello");
  page.send("login alice not the password");
  await page.waitForLine("Wrong password");
  // The next try waits a second on the fake clock: nothing is read meanwhile.
  page.send("login alice nor this one");
  await page.waitForLine("1 failed login lately: checking in 1 s");
  const line = `say ${"x".repeat(1000)}`;
  for (let i = 0; i < 1100; i++) page.send(line);
  await page.waitForLine("Excess flood");
  assert.equal(await page.closed(), 1000);
});

Deno.test("a page that stops reading is dropped like a slow telnet reader", async () => {
  await using server = await startWeb({
    maxQueueBytes: 64 * 1024,
    softQueueBytes: 32 * 1024,
    floodRate: 0,
  });
  const port = server.httpAddr!.port;
  await using watcher = await Client.login(server.addr.port, "watcher");
  using stalled = await RawWebSocket.open(port);
  await stalled.send("login stalled");
  await watcher.expect("stalled has entered the room.");
  await sayUntilDropped(watcher, "stalled");
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(metrics, /^chat_disconnects_total\{reason="slow_reader"\} 1$/m);
  // No line can reach it past what it had not read: its close frame says
  // why, for the page to show rather than a line from before.
  let frame = await stalled.readFrame();
  while (frame.opcode !== 8) frame = await stalled.readFrame();
  const view = new DataView(frame.payload.buffer);
  assert.equal(view.getUint16(0), 1008);
  assert.equal(
    new TextDecoder().decode(frame.payload.subarray(2)),
    "The server ended the session: this page fell too far behind in reading",
  );
});

Deno.test("a page dropped for not reading holds its address's place until its socket closes", async () => {
  await using server = await startWeb({
    maxQueueBytes: 64 * 1024,
    softQueueBytes: 32 * 1024,
    floodRate: 0,
    maxConnsPerIp: 1,
    maxNewConnsPerIp: 1000,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  await using watcher = await Client.login(server.addr.port, "watcher", {
    from: "127.0.0.2",
  });
  // From 127.0.0.1, on a Deno.Conn, which reads nothing unless asked.
  const stalled = await RawWebSocket.open(port);
  await stalled.send("login stalled");
  await watcher.expect("stalled has entered the room.");
  await sayUntilDropped(watcher, "stalled");
  // Its session has ended, but the server cannot close a socket whose
  // client reads nothing: it is still open, and still counts.
  {
    await using again = await Client.connect(server.addr.port);
    await again.expect("Too many connections from your address");
  }
  // Once the client lets go of it, the place is given back.
  stalled[Symbol.dispose]();
  const deadline = Date.now() + 5_000;
  while (true) {
    await using next = await Client.connect(server.addr.port);
    const line = await next.readLine();
    if (line === "Welcome to TestChat") break;
    assert.equal(line, "Too many connections from your address");
    assert.ok(Date.now() < deadline, "the place was never given back");
  }
});

Deno.test("a page that reads is not dropped by a burst over the output bound, as a telnet reader is not", async () => {
  await using server = await startWeb({
    floodRate: 0,
    maxQueueBytes: 200_000,
  });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  await using page = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  const filler = "q".repeat(1000);
  // 500 kB of frames at once, twice the bound: Deno reads them in one go.
  for (let i = 0; i < 500; i++) page.send(`say ${i} ${filler}`);
  for (let i = 0; i < 500; i++) {
    const said = await page.waitFor((frame) => frame.type === "said");
    assert.equal(said.text, `${i} ${filler}`);
  }
  // And telnet's burst, to both.
  await tel.send(
    Array.from({ length: 500 }, (_, i) => `say t${i} ${filler}`).join("\r\n"),
  );
  await page.waitFor((frame) => frame.text === `t499 ${filler}`);
  page.send("say still here");
  await tel.waitFor((line) => line === "web: still here");
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.doesNotMatch(metrics, /reason="slow_reader"/);
});

Deno.test("a page that missed more than the output bound resumes with a gap and the newest frames, and is not dropped", async () => {
  await using server = await startWeb({
    floodRate: 0,
    maxQueueBytes: 100_000,
    softQueueBytes: 100_000,
  });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  const first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  const before = first.lastId;
  const filler = "a".repeat(1000);
  const burst = (tag: string, count: number) =>
    tel.send(
      Array.from({ length: count }, (_, i) => `say ${tag}${i} ${filler}`)
        .join("\r\n"),
    );
  await burst("seen", 60);
  await first.waitFor((frame) => frame.text === `seen59 ${filler}`);
  const token = first.frames.findLast((frame) => frame.type === "hello")!.token;
  first.socket.close();
  await first.closed();
  await burst("missed", 80);
  await tel.waitFor((line) => line.startsWith("tel: missed79 "));
  // 60 frames it saw but says it did not, and 80 it missed: over 100 kB.
  await using back = await WsClient.open(
    port,
    `?resume=${token}&last=${before}`,
  );
  assert.equal((await back.next()).resumed, true);
  assert.deepEqual(await back.next(), { type: "gap", after: before });
  const kept = [];
  while (true) {
    const frame = await back.next();
    kept.push(frame);
    if (frame.text === `missed79 ${filler}`) break;
  }
  const bytes = kept.reduce(
    (sum, frame) =>
      sum + new TextEncoder().encode(JSON.stringify(frame)).length,
    0,
  );
  assert.ok(bytes <= 100_000, `${bytes} bytes replayed`);
  assert.ok(kept.some((frame) => frame.text === `missed0 ${filler}`));
  await tel.send("say live");
  assert.equal((await back.next()).text, "live", "and the session goes on");
});

Deno.test("a page that stopped reading resumes with a gap first, then the 64 KiB of frames kept", async () => {
  await using server = await startWeb({ floodRate: 0 });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  using stalled = await RawWebSocket.open(port);
  const { token } = await stalled.waitFor((frame) => frame.type === "hello");
  await stalled.send("login web");
  const room = await stalled.waitFor((frame) => frame.type === "room");
  await tel.expect("web has entered the room.");
  // It reads no more: 100 kB are sent to its socket, past the 64 KiB kept.
  const filler = "g".repeat(1000);
  await tel.send(
    Array.from({ length: 100 }, (_, i) => `say ${i} ${filler}`).join("\r\n"),
  );
  await tel.waitFor((line) => line.startsWith("tel: 99 "));
  await using back = await WsClient.open(
    port,
    `?resume=${token}&last=${room.id}`,
  );
  assert.equal((await back.next()).resumed, true);
  assert.deepEqual(await back.next(), { type: "gap", after: room.id });
  const kept = [];
  while (true) {
    const frame = await back.next();
    assert.equal(frame.type, "said");
    kept.push(frame);
    if (frame.text === `99 ${filler}`) break;
  }
  const first = Number(kept[0].text.split(" ")[0]);
  assert.ok(first > 0, "the oldest were not kept");
  assert.deepEqual(
    kept.map((frame) => frame.text),
    Array.from({ length: 100 - first }, (_, i) => `${first + i} ${filler}`),
    "in order, none twice",
  );
  const bytes = kept.reduce(
    (sum, frame) =>
      sum + new TextEncoder().encode(JSON.stringify(frame)).length,
    0,
  );
  assert.ok(bytes <= 64 * 1024 + 1200, `${bytes} bytes kept`);
});

Deno.test("a resume from another address passes the checks a new connection does, and the session moves there", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 1,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel", {
    from: "127.0.0.9",
  });
  const first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  const token = first.frames.findLast((frame) => frame.type === "hello")!.token;
  const lastId = first.lastId;
  first.socket.close();
  await first.closed();
  await using _other = await Client.login(server.addr.port, "other", {
    from: "127.0.0.2",
  });
  await tel.expect("other has entered the room.");
  {
    using full = await RawWebSocket.open(
      port,
      {},
      "127.0.0.2",
      `?resume=${token}&last=${lastId}`,
    );
    assert.deepEqual(JSON.parse(await full.readText()), {
      type: "refused",
      text: "Too many connections from your address",
    });
  }
  using back = await RawWebSocket.open(
    port,
    {},
    "127.0.0.3",
    `?resume=${token}&last=${lastId}`,
  );
  const hello = JSON.parse(await back.readText());
  assert.equal(hello.resumed, true, "the session waited through the refusal");
  // Counted at its new address, no longer at the old one.
  await using again = await Client.connect(server.addr.port, {
    from: "127.0.0.3",
  });
  await again.expect("Too many connections from your address");
  await using old = await Client.connect(server.addr.port);
  await old.expect("Welcome to TestChat");
  assert.deepEqual(await tel.sync(), [], "tel never saw web leave");
});

Deno.test("after a dropped socket, the page resumes from the last id it saw: nothing missed, nothing twice", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  const first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  for (let i = 1; i <= 3; i++) await tel.send(`say before ${i}`);
  await first.waitFor((frame) =>
    frame.type === "said" && frame.text === "before 3"
  );
  const token = first.frames.findLast((frame) => frame.type === "hello")!.token;
  const lastId = first.lastId;
  first.socket.close();
  await first.closed();
  for (let i = 1; i <= 3; i++) await tel.send(`say while away ${i}`);
  await tel.expect("tel: before 1");
  await tel.expect("tel: before 2");
  await tel.expect("tel: before 3");
  for (let i = 1; i <= 3; i++) await tel.expect(`tel: while away ${i}`);
  await using back = await WsClient.open(
    port,
    `?resume=${token}&last=${lastId}`,
  );
  const hello = await back.next();
  assert.equal(hello.type, "hello");
  assert.equal(hello.resumed, true);
  assert.notEqual(hello.token, token, "a new token for the next time");
  const missed = [await back.next(), await back.next(), await back.next()];
  assert.deepEqual(missed.map((frame) => frame.text), [
    "while away 1",
    "while away 2",
    "while away 3",
  ]);
  assert.ok(missed.every((frame) => frame.id > lastId));
  await tel.send("say live again");
  const live = await back.next();
  assert.equal(live.text, "live again", "and nothing came twice");
  assert.deepEqual(
    await tel.sync(),
    ["tel: live again"],
    "tel never saw web leave",
  );
});

Deno.test("a page that comes back while its old socket still looks open takes the session over; the old one is shut", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  await using first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  await tel.send("say before");
  await first.waitFor((frame) => frame.type === "said");
  const token = first.frames.findLast((frame) => frame.type === "hello")!.token;
  // The old socket is not closed: to the server it is as open as ever (a
  // laptop that changed networks).
  await using back = await WsClient.open(
    port,
    `?resume=${token}&last=${first.lastId}`,
  );
  const hello = await back.next();
  assert.equal(hello.resumed, true);
  assert.equal(await first.closed(), 4000, "the old socket is shut");
  await tel.send("say after");
  const after = await back.next();
  assert.equal(after.text, "after");
  assert.ok(after.id > first.lastId);
  assert.ok(!first.frames.some((frame) => frame.text === "after"));
  back.send("say still web");
  await tel.expect("tel: before");
  await tel.expect("tel: after");
  await tel.expect("web: still web");
  assert.deepEqual(await tel.sync(), [], "tel never saw web leave");
});

Deno.test("frames between events are numbered after the server's latest event, so a new session's ids start past an old one's", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  const old = await loginWs(port, "old");
  await tel.expect("old has entered the room.");
  for (let i = 1; i <= 3; i++) await tel.send(`say line ${i}`);
  await old.waitFor((frame) => frame.text === "line 3");
  const oldLast = old.lastId;
  old.socket.close();
  await old.closed();
  await tel.expect("tel: line 1");
  await tel.expect("tel: line 2");
  await tel.expect("tel: line 3");
  await using fresh = await WsClient.open(port);
  assert.equal((await fresh.next()).type, "hello", "a hello has no id");
  const welcome = await fresh.next();
  assert.equal(welcome.type, "reply");
  assert.ok(welcome.id > oldLast, `${welcome.id} > ${oldLast}`);
  assert.ok(!Number.isInteger(welcome.id), "no event will take its number");
  fresh.send("login new");
  await tel.expect("new has entered the room.");
  await tel.send("say next");
  const next = await fresh.waitFor((frame) => frame.type === "said");
  assert.ok(Number.isInteger(next.id) && next.id > welcome.id);
});

Deno.test("a page that comes back too late, or with a stale token, starts afresh", async () => {
  const clock = new FakeClock();
  await using server = await startWeb({
    clock,
    resumeSeconds: 30,
    floodRate: 0,
  });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  const first = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  const token = first.frames.find((frame) => frame.type === "hello")!.token;
  first.socket.close();
  await first.closed();
  // The client's close can come back before the server's socket sees its
  // own: its 30 s wait must be on the clock before the clock moves.
  await withTimeout(clock.untilPending(1), TIMEOUT_MS, "the session to wait");
  clock.advance(30_000);
  await tel.expect("web has left the room.");
  await using late = await WsClient.open(port, `?resume=${token}&last=1`);
  const hello = await late.next();
  assert.equal(hello.resumed, false, "a new session, not the old one");
  await late.waitForLine("Welcome to TestChat");
});

Deno.test("/livez, /readyz and the page's headers; /readyz says 503 once a shutdown starts", async () => {
  const server = await startWeb({
    maxQueueBytes: 64 * 1024 * 1024,
    softQueueBytes: 64 * 1024 * 1024,
    floodRate: 0,
  });
  const base = `http://127.0.0.1:${server.httpAddr!.port}`;
  const live = await fetch(`${base}/livez`);
  assert.equal(live.status, 200);
  await live.body?.cancel();
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  await page.body?.cancel();
  const csp = page.headers.get("content-security-policy")!;
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe-inline/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("referrer-policy"), "no-referrer");
  assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
  assert.equal(
    page.headers.get("cross-origin-resource-policy"),
    "same-origin",
  );
  // /ws's refusals too.
  const plain = await fetch(`${base}/ws`);
  assert.equal(plain.status, 426);
  await plain.body?.cancel();
  {
    using evil = await RawWebSocket.open(server.httpAddr!.port, {
      Origin: "https://evil.example",
    });
    assert.match(evil.status, /^HTTP\/1\.1 403/);
    for (const headers of [plain.headers, evil.headers]) {
      assert.equal(headers.get("x-content-type-options"), "nosniff");
      assert.equal(headers.get("referrer-policy"), "no-referrer");
      assert.match(
        headers.get("content-security-policy")!,
        /default-src 'none'/,
      );
      assert.equal(
        headers.get("cross-origin-resource-policy"),
        "same-origin",
      );
    }
  }
  // A page that does not read holds the shutdown in its flush for up to two
  // seconds: long enough to ask /readyz meanwhile.
  await using tel = await Client.login(server.addr.port, "tel");
  using stalled = await RawWebSocket.open(server.httpAddr!.port);
  await stalled.send("login stalled");
  await tel.expect("stalled has entered the room.");
  const filler = "z".repeat(1000);
  for (let batch = 0; batch < 120; batch++) {
    await tel.send(
      Array.from({ length: 50 }, (_, i) => `say ${batch}.${i} ${filler}`)
        .join("\r\n"),
    );
    await tel.waitFor((l) => l.startsWith(`tel: ${batch}.49 `));
  }
  const closing = server.close();
  const during = await fetch(`${base}/readyz`);
  assert.equal(during.status, 503);
  await during.body?.cancel();
  {
    using late = await RawWebSocket.open(server.httpAddr!.port);
    assert.match(late.status, /^HTTP\/1\.1 503/);
    assert.equal(late.headers.get("x-content-type-options"), "nosniff");
  }
  await closing;
});

Deno.test("HEAD of a page's file says the length its GET has, with no body", async () => {
  await using server = await startWeb();
  const base = `http://127.0.0.1:${server.httpAddr!.port}`;
  for (const path of ["/", "/app.js", "/style.css"]) {
    const get = await fetch(`${base}${path}`);
    const body = new Uint8Array(await get.arrayBuffer());
    assert.ok(body.length > 0);
    const head = await fetch(`${base}${path}`, { method: "HEAD" });
    assert.equal(head.status, 200);
    // The length of what a GET sends (gzipped, to fetch, which unpacks it).
    assert.match(get.headers.get("content-length") ?? "", /^[1-9]\d*$/);
    assert.equal(
      head.headers.get("content-length"),
      get.headers.get("content-length"),
    );
    assert.equal(
      head.headers.get("content-encoding"),
      get.headers.get("content-encoding"),
    );
    assert.equal(
      head.headers.get("content-type"),
      get.headers.get("content-type"),
    );
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  }
});

Deno.test("/metrics is the Prometheus text format, line by line", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  await using page = await loginWs(port, "web");
  await tel.expect("web has entered the room.");
  await tel.send("say one");
  await page.waitFor((frame) => frame.type === "said");
  await tel.send("bogus");
  await tel.expect("tel: one");
  await tel.expect("Unknown command: bogus");
  // history reads the store after its queued line: the commit is measured.
  await tel.send("history");
  await tel.expect('The last 1 line of "main":');
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.match(
    response.headers.get("content-type")!,
    /^text\/plain; version=0\.0\.4/,
  );
  const text = await response.text();
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.trimEnd().split("\n")) {
    if (line.startsWith("# HELP ")) {
      assert.match(line, /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* \S.*$/);
      continue;
    }
    if (line.startsWith("# TYPE ")) {
      const [, name, type] = line.match(
        /^# TYPE ([a-z_]+) (counter|gauge|histogram)$/,
      )!;
      types.set(name, type);
      continue;
    }
    const match = line.match(
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|\+Inf)$/,
    );
    assert.ok(match, `not a sample: ${JSON.stringify(line)}`);
    const family = match[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(
      types.has(match[1]) || types.has(family),
      `no TYPE for ${match[1]}`,
    );
    samples.set(match[1] + (match[2] ?? ""), Number(match[3]));
  }
  assert.equal(samples.get('chat_connections{transport="telnet"}'), 1);
  assert.equal(samples.get('chat_connections{transport="websocket"}'), 1);
  assert.equal(samples.get("chat_users_online"), 2);
  assert.equal(samples.get("chat_rooms"), 1);
  assert.ok(samples.get('chat_lines_received_total{kind="say"}')! >= 1);
  assert.ok(samples.get('chat_lines_received_total{kind="unknown"}')! >= 1);
  assert.ok(samples.get("chat_deliveries_total")! >= 2);
  assert.ok(samples.get("process_resident_memory_bytes")! > 0);
  assert.ok(samples.get("chat_store_write_seconds_count")! >= 1);
  assert.ok(
    samples.has('chat_store_write_seconds_bucket{le="0.0005"}'),
    "bucket bounds in their shortest form",
  );
  assert.ok(
    [...samples.keys()].some((key) => key.startsWith("chat_build_info{")),
  );
  assert.ok(
    ![...samples.keys()].some((key) => /="(tel|web|main)"/.test(key)),
    "no label per user or per room",
  );
});

Deno.test("a banned address is refused at /ws with one frame saying why", async () => {
  await using server = await startWeb({ ops: ["root"] });
  const port = server.httpAddr!.port;
  await using root = await Client.login(server.addr.port, "root");
  await root.send("register correct horse");
  await root.waitFor((line) => line.startsWith("Registered"));
  await root.send("ban 127.0.0.2 closed for maintenance");
  await root.waitFor((line) => line.startsWith("Banned 127.0.0.2"));
  using banned = await RawWebSocket.open(port, {}, "127.0.0.2");
  assert.match(banned.status, /^HTTP\/1\.1 101/);
  assert.deepEqual(JSON.parse(await banned.readText()), {
    type: "refused",
    text: "You are banned from this server permanently: closed for maintenance",
  });
  using other = await RawWebSocket.open(port, {}, "127.0.0.3");
  assert.equal(JSON.parse(await other.readText()).type, "hello");
});

Deno.test("a malformed upgrade gets 400 and gives its connection slot back", async () => {
  await using server = await startWeb({ maxConns: 3 });
  const port = server.httpAddr!.port;
  for (let i = 0; i < 6; i++) {
    // Upgrade: websocket, but no Sec-WebSocket-Key.
    const response = await fetch(`http://127.0.0.1:${port}/ws`, {
      headers: {
        Upgrade: "websocket",
        Connection: "Upgrade",
        "Sec-WebSocket-Version": "13",
      },
    });
    await response.body?.cancel();
    assert.equal(response.status, 400);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  }
  await using telnet = await Client.connect(server.addr.port);
  await telnet.expect("Welcome to TestChat");
});

/**
 * Sends `head` (a request's lines, without the blank line that ends them)
 * on a bare TCP socket to `port`; the answer's status line and headers, by
 * lower-case name. For requests `fetch` will not send (a Host that makes
 * no URL).
 */
async function rawHttp(
  port: number,
  head: string[],
): Promise<{ status: string; headers: Map<string, string> }> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      [...head, "Connection: close", "", ""].join("\r\n"),
    ),
  );
  let text = "";
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  while (!text.includes("\r\n\r\n")) {
    const n = await withTimeout(conn.read(buffer), TIMEOUT_MS, "an answer");
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  const [status, ...fields] = text.split("\r\n\r\n")[0].split("\r\n");
  return {
    status,
    headers: new Map(fields.map((field) => {
      const colon = field.indexOf(":");
      return [
        field.slice(0, colon).trim().toLowerCase(),
        field.slice(colon + 1).trim(),
      ];
    })),
  };
}

Deno.test("a Host that makes no URL gets 400 with the usual headers, not a 500", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  for (const path of ["/", "/ws", "/nope"]) {
    for (const host of ["a b", "[", "x:99999"]) {
      const { status, headers } = await rawHttp(port, [
        `GET ${path} HTTP/1.1`,
        `Host: ${host}`,
      ]);
      assert.match(status, /^HTTP\/1\.1 400 /, `${path} with Host ${host}`);
      assert.equal(headers.get("x-content-type-options"), "nosniff");
      assert.match(
        headers.get("content-security-policy")!,
        /frame-ancestors 'none'/,
      );
    }
  }
  // And the server goes on.
  const live = await fetch(`http://127.0.0.1:${port}/livez`);
  assert.equal(await live.text(), "ok\n");
});

Deno.test("an upgrade of another WebSocket version gets 426 naming 13; a malformed or doubled key gets 400", async () => {
  await using server = await startWeb({ maxConns: 3 });
  const port = server.httpAddr!.port;
  const upgrade = (fields: string[]) =>
    rawHttp(port, [
      "GET /ws HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      ...fields,
    ]);
  const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
  for (const version of [["Sec-WebSocket-Version: 8"], []]) {
    const { status, headers } = await upgrade([key, ...version]);
    assert.match(status, /^HTTP\/1\.1 426 /, version.join() || "no version");
    assert.equal(headers.get("sec-websocket-version"), "13");
    assert.equal(headers.get("x-content-type-options"), "nosniff");
  }
  for (
    const keys of [
      ["Sec-WebSocket-Key: short"],
      ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ"],
      [key, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="],
    ]
  ) {
    const { status } = await upgrade([...keys, "Sec-WebSocket-Version: 13"]);
    assert.match(status, /^HTTP\/1\.1 400 /, keys.join(" "));
  }
  // None of them kept a connection's place.
  await using telnet = await Client.connect(server.addr.port);
  await telnet.expect("Welcome to TestChat");
  const { status } = await upgrade([key, "Sec-WebSocket-Version: 13"]);
  assert.match(status, /^HTTP\/1\.1 101 /);
});

Deno.test("a socket taken over holds its address's place until it closes: takeovers cannot pile up open sockets", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 2,
    maxNewConnsPerIp: 1000,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  const hello = async (socket: RawWebSocket) => {
    const frame = JSON.parse(await socket.readText());
    assert.equal(frame.type, "hello");
    return frame;
  };
  // Sockets that read nothing past their hello and never answer a close:
  // the server shuts each one taken over (4000), and it stays open.
  const first = await RawWebSocket.open(port);
  const { token } = await hello(first);
  await first.send("login chain");
  const second = await RawWebSocket.open(
    port,
    {},
    undefined,
    `?resume=${token}`,
  );
  const resumed = await hello(second);
  assert.equal(resumed.resumed, true);
  {
    // The first still holds its place, the second has one: no third.
    using third = await RawWebSocket.open(
      port,
      {},
      undefined,
      `?resume=${resumed.token}`,
    );
    assert.deepEqual(JSON.parse(await third.readText()), {
      type: "refused",
      text: "Too many connections from your address",
    });
  }
  // Once the first client lets go, its place is given back, and the
  // session (which waited on with the second) can be taken over again.
  first[Symbol.dispose]();
  const deadline = Date.now() + 5_000;
  while (true) {
    using next = await RawWebSocket.open(
      port,
      {},
      undefined,
      `?resume=${resumed.token}`,
    );
    const frame = JSON.parse(await next.readText());
    if (frame.type === "hello") {
      assert.equal(frame.resumed, true);
      break;
    }
    assert.equal(frame.text, "Too many connections from your address");
    assert.ok(Date.now() < deadline, "the place was never given back");
  }
  second[Symbol.dispose]();
});

Deno.test("a request is answered for the path it sent: no Host or backslash turns /livez or /x into /metrics", async () => {
  // Behind nginx, `location /metrics { deny all; }` judges the path it
  // sees; both of these reached /metrics past it, through `location /`.
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  for (const host of ["x\\metrics?", "x/metrics?", "x\\metrics#", "x@y"]) {
    const { status, headers } = await rawHttp(port, [
      "GET /livez HTTP/1.1",
      `Host: ${host}`,
    ]);
    assert.match(status, /^HTTP\/1\.1 400 /, `Host: ${host}`);
    assert.equal(headers.get("x-content-type-options"), "nosniff");
  }
  for (const path of ["/x/..\\metrics", "/x\\..\\metrics", "/\\metrics"]) {
    const { status } = await rawHttp(port, [
      `GET ${path} HTTP/1.1`,
      "Host: chat.example.org",
    ]);
    assert.match(status, /^HTTP\/1\.1 404 /, path);
  }
  // What a browser sends still works, port, IPv6 literal and query too.
  for (const host of [`127.0.0.1:${port}`, "[::1]:8080", "chat.example.org"]) {
    const { status } = await rawHttp(port, [
      "GET /metrics?x=1 HTTP/1.1",
      `Host: ${host}`,
    ]);
    assert.match(status, /^HTTP\/1\.1 200 /, `Host: ${host}`);
  }
});

Deno.test("an upgrade that is not a GET gets 405, and no session", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  for (const method of ["HEAD", "OPTIONS", "POST"]) {
    const { status, headers } = await rawHttp(port, [
      `${method} /ws HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
    ]);
    assert.match(status, /^HTTP\/1\.1 405 /, method);
    assert.match(headers.get("allow")!, /^GET\b/);
  }
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(metrics, /^chat_connections\{transport="websocket"\} 0$/m);
});

Deno.test("a page shown its offline messages lets go of them: the next login has none", async () => {
  await using server = await startWeb();
  const port = server.addr.port;
  {
    await using owner = await registered(port, "dora");
    await owner.send("logout");
    await owner.closed();
  }
  await using tel = await Client.login(port, "tel");
  await tel.send("msg dora hello page");
  await tel.waitFor((line) => line.startsWith("dora is offline"));
  {
    await using page = await WsClient.open(server.httpAddr!.port);
    await page.waitForLine("Welcome to TestChat");
    page.send(`login dora ${PASSWORD}`);
    const shown = await page.waitFor((frame) =>
      frame.type === "reply" &&
      frame.lines?.includes(
        "While you were away, 1 private message came for you:",
      )
    );
    assert.match(shown.lines.at(-1), /^\[private, [^\]]+\] tel: hello page$/);
    page.send("logout");
    await page.closed();
  }
  await tel.waitFor("dora has left the room.");
  await using again = await Client.connect(port);
  await again.expect("Welcome to TestChat");
  await again.send(`login dora ${PASSWORD}`);
  await again.expect("You are logged in as dora.");
  assert.deepEqual(await again.sync(), [], "shown once, to the page");
});

/** What a WebSocketConnection asks of its socket, which a test moves. */
class FakeSocket extends EventTarget {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  send(frame: string): void {
    this.sent.push(frame);
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
  }
  /** The page's socket goes (a tunnel, a laptop lid). */
  drop(): void {
    this.readyState = WebSocket.CLOSED;
    this.dispatchEvent(new Event("close"));
  }
}

Deno.test("a page's output is written only once its socket has nothing left to send, and not while the page is away", () => {
  const clock = new FakeClock();
  const socket = new FakeSocket();
  const conn = new WebSocketConnection(
    socket as unknown as WebSocket,
    { transport: "tcp", hostname: "192.0.2.1", port: 4000 },
    {
      latestId: () => 0,
      clock,
      resumeMs: 60_000,
      resumable: () => true,
      onToken() {},
    },
  );
  const output = conn.output({
    maxBytes: 1024 * 1024,
    softBytes: 512 * 1024,
    softMs: 10_000,
    clock,
    onOverflow() {},
    onError() {},
    telnetLike: () => false,
    echoAnswer: () => null,
  });
  output.reply(["one"]);
  assert.equal(output.written, true);
  socket.bufferedAmount = 100;
  assert.equal(output.written, false, "Deno has some of it still to send");
  socket.bufferedAmount = 0;
  assert.equal(output.written, true);
  // Away, resumable: what it is sent now is kept for its return, and so
  // not written (offline messages shown now stay for the next login).
  socket.drop();
  output.reply(["two"]);
  assert.equal(output.written, false, "the page is away");
  conn.close();
  assert.equal(output.written, false, "closed");
  assert.equal(clock.pending, 0);
});

/** `text` as UTF-8. */
function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Reads frames off `socket` until one of `opcode`; returns its payload. */
async function frameOf(
  socket: RawWebSocket,
  opcode: number,
): Promise<Uint8Array> {
  while (true) {
    const frame = await socket.readFrame();
    if (frame.opcode === opcode) return frame.payload;
  }
}

/** Waits, asking /metrics, until no WebSocket is counted open on `port`. */
async function noWebSocketOpen(port: number): Promise<void> {
  const deadline = Date.now() + TIMEOUT_MS;
  while (true) {
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
      .text();
    if (/^chat_connections\{transport="websocket"\} 0$/m.test(metrics)) return;
    assert.ok(Date.now() < deadline, "the session never ended");
    // Asked again shortly, not at once: a session that never ends would
    // otherwise have /metrics asked thousands of times a second.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("RFC 6455: a ping gets a pong of its payload, also between a message's fragments, and UTF-8 split across fragments is one line", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  using page = await RawWebSocket.open(port);
  await page.send("login web");
  await tel.expect("web has entered the room.");
  await page.write(clientFrame(0x89, utf8("are you there")));
  assert.equal(
    new TextDecoder().decode(await frameOf(page, 0xa)),
    "are you there",
  );
  // "say café" in three fragments, the é's two bytes split between the
  // last two, and a ping between those (control frames may come inside a
  // fragmented message: RFC 6455 5.4).
  const line = utf8("say café");
  await page.write(clientFrame(0x01, line.subarray(0, 4)));
  await page.write(clientFrame(0x00, line.subarray(4, 8)));
  await page.write(clientFrame(0x89, utf8("mid")));
  await page.write(clientFrame(0x80, line.subarray(8)));
  assert.equal(new TextDecoder().decode(await frameOf(page, 0xa)), "mid");
  await tel.expect("web: café");
});

Deno.test("RFC 6455: a close frame is answered with a close of the same code", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  for (const code of [1000, 1001, 4001]) {
    using page = await RawWebSocket.open(port);
    await page.write(
      clientFrame(
        0x88,
        new Uint8Array([code >> 8, code & 0xff, ...utf8("bye")]),
      ),
    );
    assert.equal(await page.ending(), code);
  }
  using page = await RawWebSocket.open(port);
  await page.write(clientFrame(0x88, new Uint8Array(0)));
  assert.equal(await page.ending(), "none");
});

Deno.test("RFC 6455: a frame against the protocol ends the connection (with 1002, or 1007 for UTF-8, when a close frame is sent), and its session", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  const cases: [string, Uint8Array[], number][] = [
    ["a ping over 125 bytes", [clientFrame(0x89, new Uint8Array(126))], 1002],
    ["a fragmented ping", [
      clientFrame(0x09, utf8("ab")),
      clientFrame(0x80, utf8("cd")),
    ], 1002],
    ["a reserved bit set (RSV1)", [clientFrame(0xc1, utf8("help"))], 1002],
    ["a reserved bit set (RSV3)", [clientFrame(0x91, utf8("help"))], 1002],
    ["an unknown data opcode", [clientFrame(0x83, utf8("help"))], 1002],
    ["an unknown control opcode", [clientFrame(0x8b, utf8("help"))], 1002],
    ["a continuation with no message", [clientFrame(0x80, utf8("help"))], 1002],
    ["a text frame inside a fragmented message", [
      clientFrame(0x01, utf8("he")),
      clientFrame(0x81, utf8("lp")),
    ], 1002],
    ["a close code no endpoint may send (1005)", [
      clientFrame(0x88, new Uint8Array([0x03, 0xed])),
    ], 1002],
    ["a close code under 1000", [
      clientFrame(0x88, new Uint8Array([0x03, 0xe7])),
    ], 1002],
    [
      "a one-byte close payload",
      [clientFrame(0x88, new Uint8Array([3]))],
      1002,
    ],
    ["invalid UTF-8 in a text frame", [
      clientFrame(0x81, new Uint8Array([0x6c, 0xff, 0xfe])),
    ], 1007],
    ["invalid UTF-8 in a message's last fragment", [
      clientFrame(0x01, utf8("say ")),
      clientFrame(0x80, new Uint8Array([0xff])),
    ], 1007],
    ["an encoded surrogate (CESU-8)", [
      clientFrame(0x81, new Uint8Array([0xed, 0xa0, 0x80])),
    ], 1007],
    ["invalid UTF-8 in a close reason", [
      clientFrame(0x88, new Uint8Array([0x03, 0xe8, 0xff])),
    ], 1007],
  ];
  for (const [what, frames, code] of cases) {
    using page = await RawWebSocket.open(port);
    assert.match(page.status, /^HTTP\/1\.1 101/);
    await frameOf(page, 0x1); // hello: the session is running
    // In one write: a second, after the first's error has dropped the
    // socket, could fail with a reset instead of reading the ending.
    const bytes = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
    frames.reduce((at, frame) => (bytes.set(frame, at), at + frame.length), 0);
    await page.write(bytes);
    const ending = await page.ending().catch((error) => {
      throw new Error(`${what}: ${error}`);
    });
    assert.ok(
      ending === "dropped" || ending === code,
      `${what}: ended with ${ending}, not ${code}`,
    );
    await noWebSocketOpen(port);
  }
});

Deno.test("RFC 6455: a message over four times --max-line-bytes closes with 1009 also when it comes in fragments each under it", async () => {
  await using server = await startWeb({ maxLineBytes: 64 });
  const port = server.httpAddr!.port;
  await using tel = await Client.login(server.addr.port, "tel");
  using page = await RawWebSocket.open(port);
  await page.send("login web");
  await tel.expect("web has entered the room.");
  // 5 x 60 bytes: each fragment under the cap, the message (4 + 300) over
  // four times it.
  await page.write(clientFrame(0x01, utf8("say ")));
  for (let i = 0; i < 4; i++) {
    await page.write(clientFrame(0x00, utf8("x".repeat(60))));
  }
  await page.write(clientFrame(0x80, utf8("x".repeat(60))));
  assert.equal(await page.ending(), 1009);
  await tel.expect("web has left the room.");
});

Deno.test("a question's end is an answered frame, also when a line sent before the question reached the page was taken for its answer", async () => {
  await using server = await startWeb({ floodRate: 0 });
  (await registered(server.addr.port, "alice")).close();
  await using page = await WsClient.open(server.httpAddr!.port);
  await page.waitFor((frame) => frame.type === "hello");
  page.send(`login alice ${PASSWORD}`);
  await page.waitFor((frame) => frame.type === "room");
  // The page's own line, sent before the question came back.
  page.send("password");
  page.send("rooms");
  const asked = await page.waitFor((frame) => frame.type === "prompt");
  assert.equal(asked.secret, true);
  const frames = [await page.next(), await page.next()];
  assert.deepEqual(
    frames.map(({ type, lines }) => ({ type, lines })),
    [
      { type: "answered", lines: undefined },
      { type: "reply", lines: ["Wrong password"] },
    ],
  );
});

Deno.test("a line sent as soon as the 101 is in, before the server's hello, is not lost", async () => {
  // Its own process: in this one, the server's side of the upgrade would
  // run to its end before the client's read of the 101 resumed.
  await using server = await ServerProcess.start(
    ServerProcess.mainArgs("--db", ":memory:").filter((arg) =>
      arg !== "--no-http"
    ).concat("--http-port", "0", "--http-host", "127.0.0.1"),
  );
  const port = Number(
    (await withTimeout(
      server.logged(/Serving HTTP on [^\s]*:(\d+)/),
      TIMEOUT_MS,
      "the Serving HTTP line",
    ))[1],
  );
  // A client need not wait for hello (a telnet user need not wait for the
  // greeting either). Lost, it was one such line in two or so: twenty that
  // all arrive do not do so by chance.
  for (let i = 0; i < 20; i++) {
    using ws = await RawWebSocket.open(port);
    assert.match(ws.status, /^HTTP\/1\.1 101 /);
    await ws.send(`login early${i}`);
    const room = await withTimeout(
      ws.waitFor((frame) => frame.type === "room"),
      TIMEOUT_MS,
      `the room frame of early${i}'s login`,
    );
    assert.equal(room.you, `early${i}`);
  }
});

/**
 * How many objects made by the constructor `name` are alive in this
 * process, from a heap snapshot (which collects garbage first).
 */
async function liveObjects(name: string): Promise<number> {
  const path = await Deno.makeTempFile({ suffix: ".heapsnapshot" });
  try {
    writeHeapSnapshot(path);
    const snapshot = JSON.parse(await Deno.readTextFile(path));
    const meta = snapshot.snapshot.meta;
    const fields: string[] = meta.node_fields;
    const width = fields.length;
    const type = fields.indexOf("type");
    const nameAt = fields.indexOf("name");
    const objectType = meta.node_types[0].indexOf("object");
    const nameIndex = snapshot.strings.indexOf(name);
    const nodes: number[] = snapshot.nodes;
    let count = 0;
    for (let i = 0; i < nodes.length; i += width) {
      if (nodes[i + type] === objectType && nodes[i + nameAt] === nameIndex) {
        count++;
      }
    }
    return count;
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("a page's session that has ended leaves nothing of its node socket behind (Deno kept each one for good)", async () => {
  await using server = await startWeb({ resumeSeconds: 0 });
  const port = server.httpAddr!.port;
  await using watcher = await Client.login(server.addr.port, "watcher");
  const pages = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const page = await loginWs(port, `p${i}`);
      await page[Symbol.asyncDispose]();
      await watcher.waitFor(`p${i} has left the room.`);
    }
  };
  await pages(0, 10);
  const before = await liveObjects("Socket");
  await pages(10, 100);
  const after = await liveObjects("Socket");
  assert.equal(server.connections, 1);
  assert.ok(after - before < 10, `${after - before} more node sockets alive`);
});
