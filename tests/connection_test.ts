import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { setImmediate } from "node:timers";
import type { Cluster } from "../src/cluster/cluster.ts";
import { COMMANDS } from "../src/commands/mod.ts";
import { DEFAULTS } from "../src/config.ts";
import {
  type Connection,
  SocketConnection,
  unmapped,
} from "../src/connection.ts";
import {
  type ByteFeed,
  LineReader,
  type LineReaderOptions,
} from "../src/line_reader.ts";
import { log } from "../src/log.ts";
import { Moderation } from "../src/moderation.ts";
import { PasswordHasher } from "../src/passwords.ts";
import type { OutputOptions, SessionOutput } from "../src/render/output.ts";
import { TelnetOutput } from "../src/render/telnet_output.ts";
import { Registry } from "../src/registry.ts";
import type { User } from "../src/room.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { type ServerContext, Session } from "../src/session.ts";
import { FakeClock } from "./fake_clock.ts";
import { TIMEOUT_MS, withTimeout } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("unmapped() shows an IPv4-mapped IPv6 address as IPv4", () => {
  assert.equal(unmapped("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(unmapped("::FFFF:10.0.0.1"), "10.0.0.1");
  assert.equal(unmapped("::ffff:c000:201"), "::ffff:c000:201");
  assert.equal(unmapped("2001:db8::1"), "2001:db8::1");
  assert.equal(unmapped("127.0.0.1"), "127.0.0.1");
});

/** A node:net server on port 0 that accepts paused, as the chat server does. */
async function acceptOne(): Promise<
  { server: Server; port: number; accepted: Promise<Socket> }
> {
  const server = createServer({ pauseOnConnect: true });
  let accept: (socket: Socket) => void = () => {};
  const accepted = new Promise<Socket>((resolve) => accept = resolve);
  server.on("connection", accept);
  await new Promise<void>((resolve) =>
    server.listen({ host: "127.0.0.1", port: 0 }, resolve)
  );
  const address = server.address();
  assert.ok(address !== null && typeof address !== "string");
  return { server, port: address.port, accepted };
}

for (const sharedReads of [true, false]) {
  Deno.test(
    `SocketConnection reads lines and writes bytes (${
      sharedReads ? "shared read buffer" : "data events"
    })`,
    async () => {
      const { server, port, accepted } = await acceptOne();
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      const conn = new SocketConnection(await accepted, { sharedReads });
      try {
        assert.equal(conn.remoteAddr.hostname, "127.0.0.1");
        const lines = conn.lines({ maxLineBytes: 1024 });
        // Two lines, the second split across writes, and one too long.
        await client.write(encoder.encode("hello\r\nwor"));
        await client.write(encoder.encode(`ld\n${"x".repeat(2000)}\r\nend\n`));
        const got: unknown[] = [];
        for await (const line of lines) {
          got.push(typeof line === "string" ? line : "(too long)");
          if (got.length === 4) break;
        }
        assert.deepEqual(got, ["hello", "world", "(too long)", "end"]);
        // A small write is taken by the kernel at once: a number, no promise.
        const written = conn.write(encoder.encode("hi there\r\n"));
        assert.equal(written, 10);
        const buffer = new Uint8Array(64);
        const count = await client.read(buffer);
        assert.equal(
          decoder.decode(buffer.subarray(0, count!)),
          "hi there\r\n",
        );
      } finally {
        conn.close();
        client.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
}

for (const sharedReads of [true, false]) {
  const how = sharedReads ? "straight to the handle" : "through socket.write";
  Deno.test(
    `SocketConnection: a write that must wait settles once sent, in order (${how})`,
    async () => {
      const { server, port, accepted } = await acceptOne();
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      const conn = new SocketConnection(await accepted, { sharedReads });
      try {
        conn.lines({});
        // More than loopback's buffers hold while the client reads nothing.
        const big = new Uint8Array(16 * 1024 * 1024).fill(0x61);
        const first = conn.write(big);
        assert.ok(first instanceof Promise, "a 16 MiB write had to wait");
        let settled = false;
        const done = first.then((count) => {
          settled = true;
          return count;
        });
        const tail = conn.write(encoder.encode("\r\nend\r\n"));
        // Read everything: the big write, then the small one, in order.
        const expected = big.length + 7;
        const received = new Uint8Array(expected);
        const reading = (async () => {
          let have = 0;
          while (have < expected) {
            const count = await client.read(received.subarray(have));
            assert.ok(count !== null, "the connection stayed open");
            have += count;
          }
        })();
        await withTimeout(reading, TIMEOUT_MS, "reading every byte");
        assert.equal(
          await withTimeout(done, TIMEOUT_MS, "the big write"),
          big.length,
        );
        assert.ok(settled);
        assert.equal(
          await withTimeout(Promise.resolve(tail), TIMEOUT_MS, "the small one"),
          7,
        );
        assert.ok(received.subarray(0, big.length).every((b) => b === 0x61));
        assert.equal(
          decoder.decode(received.subarray(big.length)),
          "\r\nend\r\n",
        );
      } finally {
        conn.close();
        client.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );

  Deno.test(
    `SocketConnection: writes to a peer that is gone fail (${how})`,
    async () => {
      const { server, port, accepted } = await acceptOne();
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      const conn = new SocketConnection(await accepted, { sharedReads });
      try {
        const lines = conn.lines({});
        client.close();
        // The hang-up is seen as the end of the lines.
        for await (const _ of lines) assert.fail("no lines were sent");
        const chunk = new Uint8Array(64 * 1024);
        let failure: unknown = null;
        // The first writes may still be taken; the reset comes within a few.
        // Each try is a turn of the event loop later, as an outbox's are.
        for (let i = 0; i < 100 && failure === null; i++) {
          const written = Promise.resolve(conn.write(chunk));
          // A write that never settles is a failure of the test, not the one
          // looked for.
          await withTimeout(
            written.catch((error) => failure = error),
            TIMEOUT_MS,
            "a write to a peer that is gone",
          );
          await new Promise((resolve) => setImmediate(resolve));
        }
        assert.ok(failure instanceof Error, "a write failed");
      } finally {
        conn.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );
}

Deno.test("SocketConnection ends its lines when the peer hangs up", async () => {
  const { server, port, accepted } = await acceptOne();
  const client = await Deno.connect({ hostname: "127.0.0.1", port });
  const conn = new SocketConnection(await accepted);
  try {
    const lines = conn.lines({});
    await client.write(encoder.encode("last words\nunfinished"));
    client.close();
    const got: unknown[] = [];
    for await (const line of lines) got.push(line);
    assert.deepEqual(got, ["last words"]);
  } finally {
    conn.close();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A connection without a socket: input is pushed, output is kept. */
class FakeConnection implements Connection, ByteFeed {
  readonly remoteAddr: Deno.NetAddr = {
    transport: "tcp",
    hostname: "192.0.2.1",
    port: 4000,
  };
  /** Every setNoDelay() call, in order. */
  readonly noDelay: boolean[] = [];
  #reader: LineReader | null = null;
  #output = "";
  #waiting: { text: string; resolve(): void } | null = null;

  lines(options: LineReaderOptions): LineReader {
    this.#reader = new LineReader(this, options);
    return this.#reader;
  }

  type(text: string): void {
    this.#reader!.receive(encoder.encode(text));
  }

  /**
   * Set: writes wait until {@linkcode release} (a reader that does not
   * read, whose socket is full).
   */
  #held: (() => void)[] | null = null;

  /** From now on, writes wait until {@linkcode release}. */
  hold(): void {
    this.#held ??= [];
  }

  /** The writes held are done, and writes are done at once again. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const done of held) done();
  }

  write(bytes: Uint8Array): number | Promise<number> {
    if (this.#held !== null) {
      const held = this.#held;
      return new Promise((resolve) =>
        held.push(() => resolve(this.write(bytes) as number))
      );
    }
    this.#output += decoder.decode(bytes);
    if (this.#waiting && this.#output.includes(this.#waiting.text)) {
      this.#waiting.resolve();
      this.#waiting = null;
    }
    return bytes.length;
  }

  /** Resolves once `text` has been written. */
  written(text: string): Promise<void> {
    if (this.#output.includes(text)) return Promise.resolve();
    return withTimeout(
      new Promise((resolve) => this.#waiting = { text, resolve }),
      5000,
      `output ${JSON.stringify(text)}`,
    );
  }

  setNoDelay(noDelay: boolean): void {
    this.noDelay.push(noDelay);
  }

  pause(): void {}
  resume(): void {}

  close(): void {
    this.#reader?.finish();
  }

  output(options: OutputOptions): SessionOutput {
    return new TelnetOutput(this, options);
  }
}

/**
 * A server context for one session on a {@linkcode FakeConnection}, run at
 * once: no flood control and no login timeout, on a fake clock. `ended`
 * resolves once the session has ended.
 */
async function sessionServer(cluster: Cluster | null) {
  const config = { ...DEFAULTS, floodRate: 0, loginTimeout: 0 };
  const ended = Promise.withResolvers<void>();
  const store = await SqliteStore.open(":memory:");
  const clock = new FakeClock();
  const shared: ServerContext = {
    ended: () => ended.resolve(),
    counted: () => {},
    cluster,
    registry: new Registry({ historyLines: config.historyLines }),
    store,
    hasher: new PasswordHasher(),
    moderation: await Moderation.load(store, { operators: [], clock }),
    config,
    commands: COMMANDS,
    log: log("session"),
    clock,
    motd: [],
  };
  const conn = new FakeConnection();
  const session = new Session(conn, shared, "telnet");
  session.run();
  return {
    conn,
    session,
    clock,
    ended: ended.promise,
    [Symbol.asyncDispose]: () => store.close(),
  };
}

Deno.test("a session turns Nagle's algorithm off once its user speaks, not before", async () => {
  await using server = await sessionServer(null);
  const { conn, ended } = server;
  conn.type("login alice\r\nlook\r\nwho\r\n");
  await conn.written("The following are logged in:");
  assert.deepEqual(conn.noDelay, [], "logging in and looking is not talking");
  conn.type("say hello\r\n");
  await conn.written("alice: hello");
  assert.deepEqual(conn.noDelay, [true]);
  conn.type("say again\r\nme waves\r\n");
  await conn.written("* alice waves");
  assert.deepEqual(conn.noDelay, [true], "set once");
  conn.type("logout\r\n");
  await ended;
});

Deno.test("a session of a cluster leaves no timer running once it has ended", async () => {
  // Only what a session asks of its cluster itself, with nothing to wait for.
  const cluster = {
    settled: () => Promise.resolve(),
    sent: () => Promise.resolve(),
    active() {},
  } as unknown as Cluster;
  await using server = await sessionServer(cluster);
  const { conn, clock, ended } = server;
  conn.type("logout\r\n");
  await ended;
  // The wait for the cluster to settle is over: its 2 s bound goes with it.
  assert.equal(clock.pending, 0);
});

Deno.test("Session.flushed() is true only once what was sent is written: not while a slow reader has it queued, nor once the connection is closed", async () => {
  await using server = await sessionServer(null);
  const { conn, session, ended } = server;
  conn.type("login alice\r\n");
  await conn.written("Welcome to TestChat");
  assert.equal(await session.flushed(1000), true, "nothing waits");
  conn.hold();
  session.reply("one");
  // The write stays held for as long as the test likes: the wait gives up
  // with the line still queued.
  assert.equal(await session.flushed(1), false, "still queued");
  conn.release();
  assert.equal(await session.flushed(TIMEOUT_MS), true, "written");
  await conn.written("one");
  conn.hold();
  session.reply("two");
  const flushed = session.flushed(TIMEOUT_MS);
  session.close();
  assert.equal(await flushed, false, "dropped with the connection");
  conn.release();
  await ended;
});

Deno.test("an answer to a question counts as activity, for the cluster too", async () => {
  // A cluster whose Redis is away: the name is taken here, and presence
  // is told of each line (whois on another server shows idle from it).
  const told: string[] = [];
  const cluster = {
    up: false,
    claim: () => Promise.resolve("ok"),
    knownAccount: () => null,
    active: (user: User) => told.push(user.name),
    settled: () => Promise.resolve(),
    sent: () => Promise.resolve(),
  } as unknown as Cluster;
  await using server = await sessionServer(cluster);
  const { conn, ended } = server;
  conn.type("login alice\r\nregister\r\n");
  await conn.written("Choose a password");
  assert.equal(told.length, 1, "the register line");
  conn.type("short\r\n");
  await conn.written("A password needs at least");
  assert.equal(told.length, 2, "and the answer to its question");
  conn.type("logout\r\n");
  await ended;
});
