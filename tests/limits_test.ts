import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import {
  addressKey,
  ConnectionLimits,
  isLoopback,
  LogThrottle,
  RateWindow,
} from "../src/limits.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { FakeClock } from "./fake_clock.ts";
import { missingProgram } from "./required.ts";
import {
  captureLog,
  Client,
  loginAll,
  openDatabase,
  PASSWORD,
  registered,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";

// End to end: every limit of issue "Hardening" from a real socket, with a
// clock the test moves.

Deno.test("flood control delivers a 20-line paste whole and in order, only slowed", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  clock.advance(60_000); // a full bucket: 10 lines
  const paste = Array.from({ length: 20 }, (_, i) => `say line ${i + 1}`);
  await alice.send(paste.join("\r\n"));
  for (let i = 1; i <= 10; i++) await bob.expect(`alice: line ${i}`);
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "line 11 to wait");
  assert.deepEqual(await bob.sync(), [], "and is not delivered meanwhile");
  for (let i = 11; i <= 20; i++) {
    clock.advance(500); // 2 lines per second
    await bob.expect(`alice: line ${i}`);
  }
  await alice.waitFor("alice: line 20");
});

Deno.test("a sender flood control slows for more than a second is told why, once, and again after a pause", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  await using alice = await Client.login(server.addr.port, "alice");
  const slowed =
    "Slow down: lines past 10 at once are handled 2 a second, in order";
  clock.advance(60_000); // a full bucket: 10 lines
  const paste = (from: number) =>
    Array.from({ length: 14 }, (_, i) => `say line ${from + i}`).join("\r\n");
  await alice.send(paste(1));
  for (let i = 1; i <= 10; i++) await alice.expect(`alice: line ${i}`);
  // Lines 11 and 12 wait half a second each: not yet worth telling.
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "line 11 to wait");
  clock.advance(500);
  await alice.expect("alice: line 11");
  clock.advance(500);
  await alice.expect("alice: line 12");
  // Line 13 makes it more than a second.
  await alice.expect(slowed);
  clock.advance(500);
  await alice.expect("alice: line 13");
  clock.advance(500);
  await alice.expect("alice: line 14"); // told once, not once a line
  clock.advance(60_000); // the bucket is full again: a new paste is told anew
  await alice.send(paste(15));
  for (let i = 15; i <= 24; i++) await alice.expect(`alice: line ${i}`);
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "line 25 to wait");
  clock.advance(500);
  await alice.expect("alice: line 25");
  clock.advance(500);
  await alice.expectLines(["alice: line 26", slowed]);
  clock.advance(1_000);
  await alice.expectLines(["alice: line 27", "alice: line 28"]);
});

Deno.test("flood control counts blank lines", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  clock.advance(60_000);
  await alice.send("\r\n".repeat(10) + "say after the blanks");
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "the burst to run out");
  assert.deepEqual(await bob.sync(), [], "so the line waits");
  clock.advance(500);
  await bob.expect("alice: after the blanks");
});

Deno.test('a sustained flood past 100 waiting lines gets "Excess flood"', async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  const flood = Array.from({ length: 150 }, (_, i) => `say ${i}`);
  await alice.send(flood.join("\r\n"));
  await alice.waitFor("Excess flood");
  assert.deepEqual(await alice.closed(), []);
  await bob.waitFor("alice has left the room.");
  assert.equal(server.registry.find("alice"), undefined);
});

Deno.test("the log says a flood once, and each disconnect says why and each connect how", async () => {
  const records: LogRecord[] = [];
  const text = (record: LogRecord) =>
    record.message.map((part) => String(part)).join("");
  const { promise: disconnected, resolve } = Promise.withResolvers<void>();
  await configure({
    reset: true,
    sinks: {
      memory: (record) => {
        records.push(record);
        if (text(record).startsWith("Disconnected")) resolve();
      },
    },
    loggers: [
      { category: ["chat", "session"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });
  try {
    const clock = new FakeClock();
    await using server = await startServer({ clock });
    await using party = await loginAll(server.addr.port, "alice", "bob");
    const [alice, bob] = party;
    const flood = Array.from({ length: 150 }, (_, i) => `say secret ${i}`);
    await alice.send(flood.join("\r\n"));
    await alice.waitFor("Excess flood");
    await bob.waitFor("alice has left the room.");
    await withTimeout(disconnected, TIMEOUT_MS, "the disconnect's log line");
    const lines = records.map(text);
    assert.equal(
      lines.filter((line) => line.startsWith("Excess flood")).length,
      1,
      lines.join("\n"),
    );
    assert.ok(
      lines.some((line) =>
        /^Disconnected 127\.0\.0\.1:\d+ \(alice\): flood$/.test(line)
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((line) =>
        /^Connected 127\.0\.0\.1:\d+ \(telnet\)$/.test(line)
      ),
      lines.join("\n"),
    );
    assert.ok(!lines.some((line) => line.includes("secret")), "no chat text");
  } finally {
    await reset();
  }
});

Deno.test("a database write failing at every batch (a full disk) is logged once per 10 s, then with how many more", async () => {
  const dir = await Deno.makeTempDir();
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["chat", "store"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });
  try {
    const clock = new FakeClock();
    await using server = await startServer({
      clock,
      db: `${dir}/chat.db`,
      floodRate: 0,
    });
    // What SQLite does on a full disk, without one: the write fails and
    // SQLite rolls its transaction back.
    const other = openDatabase(`${dir}/chat.db`);
    other.exec(
      "CREATE TRIGGER full BEFORE INSERT ON history BEGIN " +
        "SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
    );
    other.close();
    await using alice = await Client.login(server.addr.port, "alice");
    // Each line is its own batch: `history` reads through the same worker,
    // after the failed write has said so.
    const sayAndRead = async (text: string) => {
      await alice.send(`say ${text}`);
      await alice.expect(`alice: ${text}`);
      await alice.send("history 1");
      await alice.expect('Nothing has been said in "main" yet');
    };
    for (let i = 0; i < 5; i++) await sayAndRead(`line ${i}`);
    const failures = () =>
      records.filter((r) =>
        String(r.message[0]).startsWith("Writing to the database failed")
      );
    assert.equal(failures().length, 1);
    assert.equal(failures()[0].properties.skipped, 0);
    assert.match(
      String(failures()[0].properties.error),
      /database or disk is full/,
    );
    clock.advance(10_000);
    await sayAndRead("after ten seconds");
    assert.equal(failures().length, 2);
    assert.equal(failures()[1].properties.skipped, 4);
  } finally {
    await reset();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--flood-rate 0 turns flood control off", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, floodRate: 0 });
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  const flood = Array.from({ length: 500 }, (_, i) => `say ${i}`);
  await alice.send(flood.join("\r\n"));
  for (let i = 0; i < 500; i++) await bob.expect(`alice: ${i}`);
});

Deno.test("a client gets 20 lines to log in, then a reason and the door", async () => {
  await using server = await startServer({ floodRate: 0 });
  await using guest = await Client.connect(server.addr.port);
  await guest.expect("Welcome to TestChat");
  await guest.send(Array(21).fill("hello").join("\r\n"));
  for (let i = 0; i < 20; i++) {
    await guest.expectLines(["Please log in", 'Use "login"']);
  }
  await guest.expect("Too many lines without logging in (max 20).");
  assert.deepEqual(await guest.closed(), []);
});

Deno.test("a client that does not log in within 60 s is told and closed", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  await using guest = await Client.connect(server.addr.port);
  await guest.expect("Welcome to TestChat");
  clock.advance(59_999);
  await guest.send("who");
  await guest.expectLines(["Please log in", 'Use "login"']);
  clock.advance(1);
  await guest.expect("Login timed out.");
  assert.deepEqual(await guest.closed(), []);
});

Deno.test("logging in stops the login timeout", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  await using alice = await Client.login(server.addr.port, "alice");
  clock.advance(120_000);
  await alice.send("look");
  await alice.expectLines(["The following are in this room:", "alice"]);
});

Deno.test("--idle-timeout disconnects a user idle that long, saying why", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, idleTimeout: 600 });
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  clock.advance(300_000);
  await alice.send("say still here");
  await bob.send("say me too");
  await bob.waitFor("bob: me too");
  await alice.waitFor("bob: me too");
  clock.advance(599_000); // 899 s after login, 599 s after the last line
  await bob.send("who");
  await bob.expectLines(["The following are logged in:", "alice", "bob"]);
  clock.advance(1_000);
  await alice.expect("Idle for more than 600 seconds; disconnecting.");
  assert.deepEqual(await alice.closed(), []);
  await bob.expect("alice has left the room.");
});

Deno.test("an HTTP request line is answered and closed", async () => {
  await using server = await startServer();
  await using browser = await Client.connect(server.addr.port);
  await browser.send("GET / HTTP/1.1\r\nHost: localhost\r\n");
  await browser.expect("Welcome to TestChat");
  await browser.expect(
    "This is a chat server: connect with telnet, not a web browser.",
  );
  assert.deepEqual(await browser.closed(), []);
});

Deno.test("a TLS ClientHello on the plain port is closed at once", async () => {
  await using server = await startServer();
  await using client = await Client.connect(server.addr.port);
  await client.expect("Welcome to TestChat");
  // The start of a TLS 1.2 record carrying a ClientHello.
  await client.sendBytes(
    new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1]),
  );
  assert.deepEqual(await client.closed(), []);
});

Deno.test("--max-conns-per-ip refuses one connection too many", async () => {
  await using server = await startServer({
    limitLoopback: true,
    maxConnsPerIp: 3,
  });
  const port = server.addr.port;
  const clients = await Promise.all([1, 2, 3].map(() => Client.connect(port)));
  for (const client of clients) await client.expect("Welcome to TestChat");
  await using extra = await Client.connect(port);
  await extra.expect("Too many connections from your address");
  assert.deepEqual(await extra.closed(), []);
  assert.equal(server.connections, 3, "no session for the refused one");
  await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
});

Deno.test("loopback is exempt from the per-address limits by default", async () => {
  await using server = await startServer({
    maxConnsPerIp: 2,
    maxNewConnsPerIp: 2,
  });
  const port = server.addr.port;
  const clients = await Promise.all(
    [1, 2, 3, 4].map(() => Client.connect(port)),
  );
  for (const client of clients) await client.expect("Welcome to TestChat");
  await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
});

Deno.test("--max-conns refuses everyone once the server is full", async () => {
  await using server = await startServer({ maxConns: 2 });
  const port = server.addr.port;
  await using one = await Client.connect(port);
  await using two = await Client.connect(port);
  await one.expect("Welcome to TestChat");
  await two.expect("Welcome to TestChat");
  await using three = await Client.connect(port);
  await three.expect("Server is full");
  assert.deepEqual(await three.closed(), []);
});

Deno.test("--max-new-conns-per-ip limits new connections per 10 seconds", async () => {
  const clock = new FakeClock();
  await using server = await startServer({
    clock,
    limitLoopback: true,
    maxNewConnsPerIp: 3,
  });
  const port = server.addr.port;
  for (let i = 0; i < 3; i++) {
    await using client = await Client.connect(port);
    await client.expect("Welcome to TestChat");
  }
  await using fourth = await Client.connect(port);
  await fourth.expect(
    "Too many new connections from your address; try again in a few seconds",
  );
  clock.advance(10_000);
  await using later = await Client.connect(port);
  await later.expect("Welcome to TestChat");
});

/** Connection limits on a fake clock, with no limit on new connections. */
function limitsOf(maxConns: number, maxConnsPerIp: number): ConnectionLimits {
  return new ConnectionLimits({
    maxConns,
    maxConnsPerIp,
    maxNewConnsPerIp: 100,
    limitLoopback: false,
    clock: new FakeClock(),
  });
}

Deno.test("ConnectionLimits releases places and keeps per-address counts", () => {
  const limits = limitsOf(3, 2);
  assert.equal(limits.admit("10.0.0.1"), null);
  assert.equal(limits.admit("10.0.0.1"), null);
  assert.equal(limits.admit("10.0.0.1"), "address");
  assert.equal(limits.admit("::ffff:10.0.0.1"), "address", "IPv4-mapped");
  assert.equal(limits.admit("10.0.0.2"), null);
  assert.equal(limits.admit("10.0.0.3"), "full");
  limits.release("10.0.0.1");
  assert.equal(limits.total, 2);
  assert.equal(limits.admit("10.0.0.1"), null);
});

Deno.test("IPv6 addresses are limited by their /64", () => {
  const limits = limitsOf(100, 2);
  assert.equal(limits.admit("2001:db8:1:2::1"), null);
  assert.equal(limits.admit("2001:db8:1:2:ffff::9"), null);
  assert.equal(limits.admit("2001:0db8:0001:0002::77"), "address");
  assert.equal(limits.admit("2001:db8:1:3::1"), null, "another /64");
  assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.ok(isLoopback("::1") && isLoopback("127.0.0.2"));
  assert.ok(!isLoopback("10.0.0.1") && !isLoopback("::2"));
});

Deno.test("invalid UTF-8, NUL, overlong forms and surrogates are never relayed raw", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "bob");
  const [alice, bob] = party;
  await alice.sendBytes(
    new Uint8Array([
      ...new TextEncoder().encode("say a"),
      0x00, // NUL
      0x62,
      0xc0, // overlong "/"
      0xaf,
      0x63,
      0xed, // a UTF-16 surrogate, encoded as UTF-8
      0xa0,
      0x80,
      0x64,
      0xfe, // never valid in UTF-8
      0x0d,
      0x0a,
    ]),
  );
  const line = await bob.readLine();
  assert.match(line, /^alice: ab\ufffd+c\ufffd+d\ufffd$/u);
  assert.ok(!line.includes("/"), "the overlong form is not decoded");
  assert.ok(!/\p{Cs}/u.test(line), "no lone surrogate");
});

/** Whether ss (iproute2) runs here; spawning a missing program throws. */
async function hasSs(): Promise<boolean> {
  try {
    return (await new Deno.Command("ss", { args: ["-V"] }).output()).success;
  } catch {
    return false;
  }
}
const ss = await hasSs();
const ssMissing = missingProgram(
  ss ? null : "ss is not installed (apt-get install iproute2; .ci/run does)",
  "TCP keepalive test",
);

Deno.test({
  name: ssMissing === null
    ? "TCP keepalive is on for every connection"
    : `TCP keepalive is on for every connection (ignored: ${ssMissing})`,
  ignore: ssMissing !== null,
}, async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  // ss shows one timer per socket: the retransmit timer while the server has
  // unacknowledged data, else keepalive. A blank line from the client carries
  // the ACK and gets no answer; try a few times in case ss is faster.
  let text = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    await alice.send("");
    const out = await new Deno.Command("ss", {
      args: ["-tnoH", "state", "established", `( sport = :${port} )`],
    }).output();
    text = new TextDecoder().decode(out.stdout);
    if (!text.includes("timer:(on,")) break;
  }
  assert.match(text, /timer:\(keepalive,/, text);
});

Deno.test("RateWindow: at most max per key in the window, and old keys are dropped", () => {
  const clock = new FakeClock();
  const window = new RateWindow({ max: 2, windowMs: 1000, clock });
  assert.equal(window.take("a"), true);
  assert.equal(window.take("a"), true);
  assert.equal(window.take("a"), false);
  window.giveBack("a");
  assert.equal(window.take("a"), true);
  for (let i = 0; i < 100; i++) assert.equal(window.take(`k${i}`), true);
  assert.equal(window.size, 101);
  clock.advance(1000);
  assert.equal(window.take("a"), true);
  assert.equal(window.size, 1);
});

Deno.test("a storm of refused connections is a log line per address per 10 s, not one each", async () => {
  await using log = await captureLog(["chat", "server"], "info");
  const records = log.records;
  const clock = new FakeClock();
  await using server = await startServer({
    clock,
    limitLoopback: true,
    maxNewConnsPerIp: 1,
  });
  const port = server.addr.port;
  const refusal =
    "Too many new connections from your address; try again in a few seconds";
  await using first = await Client.connect(port);
  await first.expect("Welcome to TestChat");
  for (let i = 0; i < 20; i++) {
    await using refused = await Client.connect(port);
    await refused.expect(refusal);
  }
  // Another address is logged on its own.
  await using elsewhere = await Client.connect(port, { from: "127.0.0.2" });
  await elsewhere.expect("Welcome to TestChat");
  await using refusedThere = await Client.connect(port, {
    from: "127.0.0.2",
  });
  await refusedThere.expect(refusal);
  clock.advance(10_000);
  await using later = await Client.connect(port);
  await later.expect("Welcome to TestChat");
  await using again = await Client.connect(port);
  await again.expect(refusal);
  const refusals = records.filter((r) => r.properties.reason === "rate");
  assert.deepEqual(
    refusals.map((r) => [
      String(r.properties.remote).split(":")[0],
      r.properties.skipped,
    ]),
    [["127.0.0.1", 0], ["127.0.0.2", 0], ["127.0.0.1", 19]],
  );
});

Deno.test("registrations and new rooms a per-address limit refuses are a log line per address per 10 s, not one each", async () => {
  await using log = await captureLog(["chat", "server"], "info");
  const records = log.records;
  const clock = new FakeClock();
  await using server = await startServer({
    clock,
    limitLoopback: true,
    maxRegistrationsPerIp: 1,
    maxNewRoomsPerIp: 1,
  });
  const port = server.addr.port;
  const noAccount =
    "Too many accounts registered from your address (at most 1 an hour); try again later";
  const noRoom =
    "Too many new rooms made from your address (at most 1 an hour); join one that exists, or try again later";
  await using alice = await registered(port, "alice");
  await alice.send("join r0");
  await alice.expect('You are now in room "r0".');
  await using bob = await Client.login(port, "bob");
  for (let i = 1; i <= 3; i++) {
    await bob.send(`register ${PASSWORD}`);
    await bob.expect(noAccount);
    await alice.send(`join r${i}`);
    await alice.expect(noRoom);
  }
  // Another address is logged on its own.
  await using carol = await Client.login(port, "carol", {
    from: "127.0.0.2",
  });
  await carol.send("join c0");
  await carol.expect('You are now in room "c0".');
  await carol.send("join c1");
  await carol.expect(noRoom);
  clock.advance(10_000);
  await bob.send(`register ${PASSWORD}`);
  await bob.waitFor(noAccount);
  // Left out and not followed by another in the next window: told alone.
  clock.advance(10_000);
  const refusals = records.filter((r) =>
    r.properties.reason === "too_many_registrations" ||
    r.properties.reason === "too_many_new_rooms"
  ).map((r) => [
    r.rawMessage,
    String(r.properties.remote ?? r.properties.address).split(":")[0],
    r.properties.name,
    r.properties.reason,
    r.properties.skipped,
  ]);
  const first = "Refused {remote} ({name}): {reason}";
  assert.deepEqual(refusals, [
    [first, "127.0.0.1", "bob", "too_many_registrations", 0],
    [first, "127.0.0.1", "alice", "too_many_new_rooms", 0],
    [first, "127.0.0.2", "carol", "too_many_new_rooms", 0],
    [
      "Refused {remote} ({name}): {reason} (and {skipped} more from this address not logged)",
      "127.0.0.1",
      "bob",
      "too_many_registrations",
      2,
    ],
    [
      "Refused {skipped} more {reason} from {address} not logged",
      "127.0.0.1",
      undefined,
      "too_many_new_rooms",
      2,
    ],
  ]);
  assert.ok(
    !JSON.stringify(records.map((r) => r.properties)).includes(PASSWORD),
    "no password",
  );
});

Deno.test("LogThrottle: the first per key per window, then how many were left out", () => {
  const clock = new FakeClock();
  const throttle = new LogThrottle({ windowMs: 1000, clock });
  assert.equal(throttle.admit("a"), 0);
  assert.equal(throttle.admit("a"), null);
  assert.equal(throttle.admit("a"), null);
  assert.equal(throttle.admit("b"), 0);
  clock.advance(1000);
  assert.equal(throttle.admit("a"), 2);
  clock.advance(2000);
  assert.equal(throttle.admit("c"), 0);
  assert.equal(throttle.size, 1, "a and b are forgotten");
});

Deno.test("LogThrottle: what was left out is told by itself when the next window passes with no line, and at close", () => {
  const clock = new FakeClock();
  const told: [string, number][] = [];
  const throttle = new LogThrottle({
    windowMs: 1000,
    clock,
    onQuiet: (key, skipped) => told.push([key, skipped]),
  });
  // A steady storm: one line a window, with the count, as before.
  assert.equal(throttle.admit("a"), 0);
  clock.advance(500);
  assert.equal(throttle.admit("a"), null);
  clock.advance(500);
  assert.equal(throttle.admit("a"), 1);
  // Then it stops.
  assert.equal(throttle.admit("a"), null);
  assert.equal(throttle.admit("a"), null);
  assert.equal(throttle.admit("b"), 0);
  clock.advance(1999);
  assert.deepEqual(told, []);
  clock.advance(1);
  // "b" left nothing out: nothing to tell.
  assert.deepEqual(told, [["a", 2]]);
  assert.equal(throttle.admit("a"), 0, "told already, not counted again");
  assert.equal(throttle.admit("a"), null);
  throttle.close();
  assert.deepEqual(told, [["a", 2], ["a", 1]]);
  clock.advance(5000);
  assert.equal(told.length, 2, "no timer is left after close");
});

Deno.test("the store's sweep at start forgets a room quiet for --room-keep-days, and keeps main and a room spoken in since", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  const clock = new FakeClock();
  const day = 24 * 60 * 60 * 1000;
  const seed = await SqliteStore.open(path);
  const line = (room: string, at: number) =>
    seed.line(room, {
      type: "said",
      id: seed.ids.next(),
      at,
      room,
      from: "alice",
      text: `in ${room}`,
    });
  line("den", clock.date() - 91 * day);
  // main is open on every server, members or not: what it shows stays.
  line("main", clock.date() - 91 * day);
  line("lab", clock.date() - 89 * day);
  await seed.close();
  const records: LogRecord[] = [];
  const { promise: swept, resolve } = Promise.withResolvers<void>();
  await configure({
    reset: true,
    sinks: {
      memory: (record) => {
        records.push(record);
        if (String(record.message[0]).startsWith("Forgot")) resolve();
      },
    },
    loggers: [
      { category: ["chat", "server"], lowestLevel: "info", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
    ],
  });
  try {
    const server = await startServer({ clock, db: path, roomKeepDays: 90 });
    await withTimeout(swept, TIMEOUT_MS, "the sweep's log line");
    await server.close();
    const forgot = records.find((r) =>
      String(r.message[0]).startsWith("Forgot")
    )!;
    assert.deepEqual(forgot.properties, { rooms: 1, days: 90 });
    const store = await SqliteStore.open(path);
    try {
      assert.equal(await store.room("den", 1), null);
      assert.equal((await store.room("main", 1))?.history[0].text, "in main");
      assert.equal((await store.room("lab", 1))?.history[0].text, "in lab");
    } finally {
      await store.close();
    }
  } finally {
    await reset();
    await Deno.remove(dir, { recursive: true });
  }
});
