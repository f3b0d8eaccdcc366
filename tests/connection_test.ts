import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { SocketConnection, unmapped } from "../src/connection.ts";

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
