import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  registered,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";
import {
  RawWebSocket,
  readHead,
  upgradeRequest,
  WsClient,
} from "./ws_helpers.ts";
import { makeCertificate, openssl, opensslMissing } from "./tls_helpers.ts";
import { bridgePort } from "../src/http/node_http.ts";

/** A server with HTTP on a free port. */
function startWeb(options: Parameters<typeof startServer>[0] = {}) {
  return startServer({ httpPort: 0, ...options });
}

/**
 * Everything `conn` reads until the server closes it (a reset counts as
 * closed), or rejects after TIMEOUT_MS.
 */
async function readToEnd(conn: Deno.Conn): Promise<string> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    const n = await withTimeout(
      conn.read(buffer).catch(() => null),
      TIMEOUT_MS,
      "the server to close the connection",
    );
    if (n === null) return text;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

const encoder = new TextEncoder();

/** The value of header `name` in a raw answer's head, or undefined. */
function header(answer: string, name: string): string | undefined {
  const head = answer.split("\r\n\r\n")[0].split("\r\n");
  const field = head.find((line) =>
    line.toLowerCase().startsWith(`${name.toLowerCase()}:`)
  );
  return field?.slice(field.indexOf(":") + 1).trim();
}

Deno.test("an HTTP connection that sends nothing, or its headers a byte at a time, is closed", async () => {
  await using server = await startWeb({
    httpTimeouts: { headersMs: 400, idleMs: 800 },
  });
  const port = server.httpAddr!.port;
  using silent = await connect(port);
  using slow = await connect(port);
  // A slowloris: a byte every 50 ms, never the blank line; each byte would
  // reset an idle timer, so only a limit on the whole head ends it.
  let writing = true;
  const drip = (async () => {
    const head = encoder.encode(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n${"X-A: b\r\n".repeat(1000)}`,
    );
    for (let i = 0; writing && i < head.length; i++) {
      try {
        await slow.write(head.subarray(i, i + 1));
      } catch {
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const [nothing, dripped] = await Promise.all([
    readToEnd(silent),
    readToEnd(slow),
  ]);
  writing = false;
  await drip;
  for (const answer of [nothing, dripped]) {
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.equal(header(answer, "x-content-type-options"), "nosniff");
  }
  // The server goes on.
  const live = await fetch(`http://127.0.0.1:${port}/livez`);
  assert.equal(await live.text(), "ok\n");
});

Deno.test("HTTP connections count per address from accept: past --max-conns-per-ip one is closed at once", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 2,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  const idle = [await connect(port), await connect(port)];
  // Two that sent nothing hold both places: a third is closed unanswered.
  {
    using third = await connect(port);
    await third.write(
      encoder.encode("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"),
    ).catch(() => {});
    assert.equal(await readToEnd(third), "");
  }
  // One lets go: its place comes back.
  idle.pop()!.close();
  const deadline = Date.now() + TIMEOUT_MS;
  while (true) {
    using next = await connect(port);
    await next.write(
      encoder.encode(
        "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
    ).catch(() => {});
    const answer = await readToEnd(next);
    if (answer !== "") {
      assert.match(answer, /^HTTP\/1\.1 200 /);
      break;
    }
    assert.ok(Date.now() < deadline, "the place was never given back");
  }
  for (const conn of idle) conn.close();
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(
    metrics,
    /^chat_refused_connections_total\{reason="address"\} [1-9]/m,
  );
});

Deno.test("a page's WebSocket stops counting as an HTTP connection: it is counted as a session", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 2,
    limitLoopback: true,
    maxNewConnsPerIp: 1000,
  });
  const port = server.httpAddr!.port;
  // Two pages, each its session's place; their HTTP places were given back
  // at the upgrade, or the second's connection would have been refused.
  await using one = await WsClient.open(port);
  await using two = await WsClient.open(port);
  await one.waitFor((frame) => frame.type === "hello");
  await two.waitFor((frame) => frame.type === "hello");
  // And a plain request still gets in beside them.
  const live = await fetch(`http://127.0.0.1:${port}/livez`);
  assert.equal(await live.text(), "ok\n");
});

Deno.test("a trusted proxy's HTTP connections are not counted at accept: they carry many clients", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 1,
    limitLoopback: true,
    trustedProxies: ["127.0.0.1"],
  });
  const port = server.httpAddr!.port;
  using a = await connect(port);
  using b = await connect(port);
  using c = await connect(port);
  await c.write(
    encoder.encode(
      "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
  );
  assert.match(await readToEnd(c), /^HTTP\/1\.1 200 /);
  assert.ok(a && b);
});

Deno.test("a request the parser refuses gets our headers: 431 for a head over 16 KiB, 400 for no HTTP", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  const cases: [string, RegExp][] = [
    [
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      /^HTTP\/1\.1 431 /,
    ],
    [
      `GET /${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      /^HTTP\/1\.1 431 /,
    ],
    [
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
      /^HTTP\/1\.1 400 /,
    ],
    [
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      /^HTTP\/1\.1 400 /,
    ],
  ];
  for (const [request, status] of cases) {
    using conn = await connect(port);
    await conn.write(encoder.encode(request)).catch(() => {});
    const answer = await readToEnd(conn);
    assert.match(answer, status, JSON.stringify(request.slice(0, 40)));
    assert.equal(header(answer, "x-content-type-options"), "nosniff");
    assert.match(
      header(answer, "content-security-policy")!,
      /frame-ancestors 'none'/,
    );
  }
});

Deno.test("an Expect the server does not know gets 417 with our headers, and the connection goes on", async () => {
  await using server = await startWeb();
  using conn = await connect(server.httpAddr!.port);
  // node:http answered this one itself, with none of them.
  await conn.write(
    encoder.encode(
      "GET /livez HTTP/1.1\r\nHost: x\r\nExpect: lunch\r\n\r\n" +
        "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
  );
  const answer = await readToEnd(conn);
  assert.match(answer, /^HTTP\/1\.1 417 /);
  assert.equal(header(answer, "x-content-type-options"), "nosniff");
  assert.equal(header(answer, "referrer-policy"), "no-referrer");
  assert.match(
    header(answer, "content-security-policy")!,
    /frame-ancestors 'none'/,
  );
  assert.match(
    answer,
    /\r\n\r\nExpectation failed\nHTTP\/1\.1 200 [^]*\r\n\r\nok\n$/,
  );
});

Deno.test("an upgrade pipelined behind a request is not made: that request's answer comes whole, and no session is left", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  using conn = await connect(port);
  // In one write, so that the upgrade comes before the answer is out.
  const request = encoder.encode("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
  const upgrade = upgradeRequest(port);
  const both = new Uint8Array(request.length + upgrade.length);
  both.set(request);
  both.set(upgrade, request.length);
  await conn.write(both);
  const answer = await readToEnd(conn);
  // Deno's 101 went out first, the 200 then inside the WebSocket's stream,
  // and the session outlived its socket until the login timeout.
  assert.match(answer, /^HTTP\/1\.1 200 [^]*\r\n\r\nok\n$/);
  assert.doesNotMatch(answer, /101 Switching/);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(metrics, /^chat_connections\{transport="websocket"\} 0$/m);
});

Deno.test({
  name: openssl
    ? "HTTPS: the page, /livez and a WebSocket over TLS"
    : `HTTPS: the page, /livez and a WebSocket over TLS (ignored: ${opensslMissing})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({ httpsPort: 0, cert, key });
      const port = server.httpsAddr!.port;
      const caCerts = [await Deno.readTextFile(ca)];
      {
        using conn = await Deno.connectTls({
          hostname: "127.0.0.1",
          port,
          caCerts,
        });
        await conn.write(
          encoder.encode(
            "GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
          ),
        );
        const answer = await readToEnd(conn);
        assert.match(answer, /^HTTP\/1\.1 200 /);
        assert.ok(answer.endsWith("\r\n\r\nok\n"));
      }
      using conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts,
      });
      await conn.write(upgradeRequest(port));
      let text = "";
      const buffer = new Uint8Array(4096);
      while (!text.includes('"type":"hello"')) {
        const n = await withTimeout(conn.read(buffer), TIMEOUT_MS, "hello");
        assert.notEqual(n, null, text);
        text += new TextDecoder().decode(buffer.subarray(0, n!));
      }
      assert.match(text, /^HTTP\/1\.1 101 /);
      // Both ways through the TLS socket: a line in, its answer out.
      const line = encoder.encode("login secure");
      const mask = [1, 2, 3, 4];
      await conn.write(
        new Uint8Array([
          0x81,
          0x80 | line.length,
          ...mask,
          ...line.map((byte, i) => byte ^ mask[i % 4]),
        ]),
      );
      while (!text.includes('"you":"secure"')) {
        const n = await withTimeout(conn.read(buffer), TIMEOUT_MS, "room");
        assert.notEqual(n, null, text);
        text += new TextDecoder().decode(buffer.subarray(0, n!));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "--hsts-seconds: the HTTPS port's answers say Strict-Transport-Security, the HTTP port's never, and none without the flag"
    : `--hsts-seconds: the HTTPS port's answers say Strict-Transport-Security (ignored: ${opensslMissing})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    const caCerts = [await Deno.readTextFile(ca)];
    /** The head of the answer to GET `path` on `port`, over TLS or not. */
    const head = async (port: number, tls: boolean, path: string) => {
      using conn = tls
        ? await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts })
        : await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(encoder.encode(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      ));
      const answer = await readToEnd(conn);
      return answer.slice(0, answer.indexOf("\r\n\r\n")).toLowerCase();
    };
    try {
      {
        await using server = await startServer({
          httpPort: 0,
          httpsPort: 0,
          hstsSeconds: 600,
          cert,
          key,
        });
        for (const path of ["/", "/livez", "/nothing-here"]) {
          const secure = await head(server.httpsAddr!.port, true, path);
          assert.match(secure, /^strict-transport-security: max-age=600$/m);
          assert.match(secure, /^x-content-type-options: nosniff$/m);
          const plain = await head(server.httpAddr!.port, false, path);
          assert.doesNotMatch(plain, /strict-transport-security/);
        }
      }
      await using server = await startServer({ httpsPort: 0, cert, key });
      const secure = await head(server.httpsAddr!.port, true, "/livez");
      assert.match(secure, /^http\/1\.1 200 /);
      assert.doesNotMatch(secure, /strict-transport-security/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a refused WebSocket is closed by the server within a second, though its client answers nothing", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 1,
    maxNewConnsPerIp: 1000,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  // The address's one session.
  await using page = await WsClient.open(port);
  await page.waitFor((frame) => frame.type === "hello");
  // A second is refused: its frame, then a close (1008), then the end of
  // the connection, though the client neither reads on nor answers the
  // close (with Deno's WebSocket, such a socket stayed open for good).
  const refused = await RawWebSocket.open(port);
  assert.match(refused.status, /^HTTP\/1\.1 101 /);
  assert.equal(
    refused.headers.get("sec-websocket-accept"),
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", // RFC 6455 1.3's example
  );
  assert.deepEqual(JSON.parse(await refused.readText()), {
    type: "refused",
    text: "Too many connections from your address",
  });
  // The close frame's payload: its code (1008, checked below) and reason.
  assert.ok((await refused.readText()).endsWith("refused"));
  const rest = await withTimeout(
    refused.conn.read(new Uint8Array(16)).catch(() => null),
    TIMEOUT_MS,
    "the server to close the refused socket",
  );
  assert.equal(rest, null);
  refused[Symbol.dispose]();
  // A browser sees the refusal as before: the frame, then 1008.
  const other = await WsClient.open(port);
  assert.equal((await other.next()).type, "refused");
  assert.equal(await other.closed(), 1008);
});

Deno.test("a WebSocket that never logs in is closed at --login-timeout, as a telnet one is", async () => {
  const clock = new FakeClock();
  await using server = await startWeb({ clock, loginTimeout: 30 });
  const port = server.httpAddr!.port;
  await using page = await WsClient.open(port);
  await page.waitForLine("Welcome to TestChat");
  await withTimeout(clock.untilPending(1), TIMEOUT_MS, "the login timer");
  clock.advance(30_000);
  await page.waitForLine("Login timed out.");
  await page.closed();
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(
    metrics,
    /^chat_disconnects_total\{reason="login_timeout"\} 1$/m,
  );
  assert.match(metrics, /^chat_connections\{transport="websocket"\} 0$/m);
});

Deno.test("a connection that pipelines many requests is closed past 16 waiting, not answered without end", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  using conn = await connect(port);
  // 500 requests in one write, and nothing read until they are all sent:
  // without a bound the server holds every answer for a client that may
  // never read (1.1 GB in 4 s, measured, for GET /metrics).
  await conn.write(
    encoder.encode("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n".repeat(500)),
  ).catch(() => {});
  const answers = (await readToEnd(conn)).match(/HTTP\/1\.1 200 /g) ?? [];
  assert.ok(answers.length <= 16, `${answers.length} answers`);
  // A few pipelined, as a client that does it at all would, are answered.
  using polite = await connect(port);
  await polite.write(
    encoder.encode(
      "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3) +
        "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ),
  );
  const polite4 = (await readToEnd(polite)).match(/HTTP\/1\.1 200 /g) ?? [];
  assert.equal(polite4.length, 4);
});

Deno.test("Origin edge cases: null, another port, no port and a longer name are refused; what a URL takes for the same host passes", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  for (
    const origin of [
      "null",
      `http://127.0.0.1:${port + 1}`,
      "http://127.0.0.1",
      `http://127.0.0.1:${port}.evil.example`,
    ]
  ) {
    using socket = await RawWebSocket.open(port, { Origin: origin });
    assert.match(socket.status, /^HTTP\/1\.1 403 /, origin);
  }
  // What a browser on the page sends; the same in capitals (a URL's scheme
  // and host are case-blind); and the address with a trailing dot, which a
  // URL reads as the same IPv4 address (this server, on this port).
  for (
    const origin of [
      `http://127.0.0.1:${port}`,
      `HTTP://127.0.0.1:${port}`,
      `http://127.0.0.1.:${port}`,
    ]
  ) {
    using socket = await RawWebSocket.open(port, { Origin: origin });
    assert.match(socket.status, /^HTTP\/1\.1 101 /, origin);
  }
});

Deno.test("X-Forwarded-For from a peer that is no trusted proxy is not believed: the limits see the peer", async () => {
  await using server = await startWeb({
    maxConnsPerIp: 1,
    maxNewConnsPerIp: 1000,
    limitLoopback: true,
  });
  const port = server.httpAddr!.port;
  using first = await RawWebSocket.open(port, {
    "X-Forwarded-For": "203.0.113.1",
  });
  assert.equal(JSON.parse(await first.readText()).type, "hello");
  using second = await RawWebSocket.open(port, {
    "X-Forwarded-For": "203.0.113.2",
  });
  assert.deepEqual(JSON.parse(await second.readText()), {
    type: "refused",
    text: "Too many connections from your address",
  });
});

Deno.test("a binary frame closes the page's socket with 1003, and its session ends", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  const page = await WsClient.open(port);
  await page.waitForLine("Welcome to TestChat");
  page.socket.send(new Uint8Array([0x6c, 0x6f, 0x67, 0x69, 0x6e]));
  assert.equal(await page.closed(), 1003);
  const deadline = Date.now() + TIMEOUT_MS;
  while (true) {
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
      .text();
    if (/^chat_connections\{transport="websocket"\} 0$/m.test(metrics)) break;
    assert.ok(Date.now() < deadline, "the session never ended");
  }
});

Deno.test("a request with no Host (HTTP/1.0, a health check) is answered; CONNECT gets 405, not a dropped connection", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  {
    using conn = await connect(port);
    // The page itself: "http://" and "/" alone make no URL.
    await conn.write(encoder.encode("GET / HTTP/1.0\r\n\r\n"));
    const answer = await readToEnd(conn);
    assert.match(answer, /^HTTP\/1\.[01] 200 /);
    assert.match(header(answer, "content-type")!, /^text\/html/);
  }
  using conn = await connect(port);
  await conn.write(
    encoder.encode(
      "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n",
    ),
  );
  const answer = await readToEnd(conn);
  assert.match(answer, /^HTTP\/1\.1 405 /);
  assert.equal(header(answer, "x-content-type-options"), "nosniff");
});

Deno.test({
  name: openssl
    ? "HTTPS: connections count per address from accept, and a handshake not done in 10 s is closed"
    : `HTTPS: connections count per address from accept, and a handshake not done in 10 s is closed (ignored: ${opensslMissing})`,
  ignore: !openssl,
  async fn() {
    const { dir, cert, key } = await makeCertificate();
    try {
      const clock = new FakeClock();
      await using server = await startServer({
        httpsPort: 0,
        cert,
        key,
        clock,
        maxConnsPerIp: 1,
        limitLoopback: true,
      });
      const port = server.httpsAddr!.port;
      // A client that connects and never starts its handshake.
      using silent = await connect(port);
      await withTimeout(clock.untilPending(1), TIMEOUT_MS, "its timer");
      // It holds the address's place: the next is closed at once.
      {
        using next = await connect(port);
        assert.equal(await readToEnd(next), "");
      }
      clock.advance(10_000);
      assert.equal(await readToEnd(silent), "");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "HTTPS: a page dropped for not reading has its socket closed by the server, not kept open by its client"
    : `HTTPS: a page dropped for not reading has its socket closed by the server, not kept open by its client (ignored: ${opensslMissing})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({
        httpsPort: 0,
        cert,
        key,
        maxQueueBytes: 64 * 1024,
        softQueueBytes: 32 * 1024,
        floodRate: 0,
      });
      const port = server.httpsAddr!.port;
      await using watcher = await Client.login(server.addr.port, "watcher");
      using conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(ca)],
      });
      await conn.write(upgradeRequest(port));
      const line = encoder.encode("login stalled");
      const mask = [9, 8, 7, 6];
      await conn.write(
        new Uint8Array([
          0x81,
          0x80 | line.length,
          ...mask,
          ...line.map((byte, i) => byte ^ mask[i % 4]),
        ]),
      );
      await watcher.expect("stalled has entered the room.");
      // It reads nothing more: the watcher talks until it is dropped (up to
      // 45 MB: the loopback pair's kernel buffers take some MB first).
      const filler = "y".repeat(900);
      let dropped = false;
      for (let batch = 0; batch < 1000 && !dropped; batch++) {
        await watcher.send(
          Array.from({ length: 50 }, (_, i) => `say ${batch}.${i} ${filler}`)
            .join("\r\n"),
        );
        const seen = await watcher.waitFor((l) =>
          l === "stalled has left the room." ||
          l.startsWith(`watcher: ${batch}.49 `)
        );
        dropped = seen === "stalled has left the room.";
      }
      assert.ok(dropped, "stalled was never dropped");
      // Its session is over; it now reads what was sent, and then its
      // connection ends, though it never answers the close.
      assert.equal(typeof await readToEnd(conn), "string");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "HTTPS: a stranger that connects to the WebSocket bridge's loopback port and resets costs nobody anything"
    : `HTTPS: a stranger that resets on the WebSocket bridge's port (ignored: ${opensslMissing})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({ httpsPort: 0, cert, key });
      const port = server.httpsAddr!.port;
      using page = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(ca)],
      });
      await page.write(upgradeRequest(port));
      assert.match(await readHead(page), /^HTTP\/1\.1 101 /);
      const bridge = await bridgePort()!;
      // Anyone on the machine can reach it: one that resets at once, and
      // one that connects and sits there.
      const { connect: nodeConnect } = await import("node:net");
      const reset = nodeConnect({ host: "127.0.0.1", port: bridge });
      const closed = new Promise((resolve) => reset.once("close", resolve));
      reset.on("error", () => {});
      reset.once("connect", () => reset.resetAndDestroy());
      await withTimeout(closed, TIMEOUT_MS, "the reset");
      using sitter = await connect(bridge);
      assert.equal(await readToEnd(sitter), "", "closed by the bridge");
      // The server lives on, and a second page still gets its WebSocket.
      await using alice = await Client.login(server.addr.port, "alice");
      using second = await Deno.connectTls({
        hostname: "127.0.0.1",
        port,
        caCerts: [await Deno.readTextFile(ca)],
      });
      await second.write(upgradeRequest(port));
      assert.match(await readHead(second), /^HTTP\/1\.1 101 /);
      await alice.send("look");
      await alice.expectLines(["The following are in this room:", "alice"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("an upgrade whose client resets as it asks is judged by its address all the same: a banned one makes no session", async () => {
  await using server = await startWeb({ ops: ["root"] });
  const port = server.httpAddr!.port;
  await using root = await registered(server.addr.port, "root");
  await root.send("ban 127.0.0.2 resets");
  await root.waitFor((line) => line.startsWith("Banned 127.0.0.2 "));
  const { connect: nodeConnect } = await import("node:net");
  // Gone by the time its request is read, the socket has no address left:
  // what it had at accept is what the ban and the limits must see.
  const resets = Array.from(
    { length: 30 },
    () =>
      new Promise<void>((resolve) => {
        const socket = nodeConnect({
          host: "127.0.0.1",
          port,
          localAddress: "127.0.0.2",
        });
        socket.on("error", () => {});
        socket.once("close", () => resolve());
        socket.once("connect", () => {
          socket.write(upgradeRequest(port));
          socket.resetAndDestroy();
        });
      }),
  );
  await withTimeout(Promise.all(resets), TIMEOUT_MS, "the resets");
  // A page that comes after them, and logs in: by then the server has read
  // what came before it.
  await using page = await WsClient.open(port);
  page.send("login pagey");
  await page.waitFor((frame) => frame.type === "room" && frame.you === "pagey");
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`))
    .text();
  assert.match(metrics, /^chat_connections\{transport="websocket"\} 1$/m);
});

Deno.test("a Host with credentials in it (a@b) gets 400 with the usual headers", async () => {
  await using server = await startWeb();
  const port = server.httpAddr!.port;
  using conn = await connect(port);
  await conn.write(
    encoder.encode("GET / HTTP/1.1\r\nHost: a@b\r\nConnection: close\r\n\r\n"),
  );
  const answer = await readToEnd(conn);
  assert.match(answer, /^HTTP\/1\.1 400 /);
  assert.equal(header(answer, "x-content-type-options"), "nosniff");
});

Deno.test("the page's files go gzipped to a browser that takes it, and an unchanged one is a 304", async () => {
  await using server = await startWeb();
  const base = `http://127.0.0.1:${server.httpAddr!.port}`;
  const file = await Deno.readFile(new URL("../web/app.js", import.meta.url));
  // As it is, to a client that takes no gzip.
  const plain = await fetch(`${base}/app.js`, {
    headers: { "Accept-Encoding": "identity" },
  });
  assert.equal(plain.headers.get("content-encoding"), null);
  assert.deepEqual(new Uint8Array(await plain.arrayBuffer()), file);
  const etag = plain.headers.get("etag");
  assert.match(etag ?? "", /^"[\w-]+"$/);
  assert.equal(plain.headers.get("vary"), "Accept-Encoding");
  // Gzipped, smaller on the wire, the same file once unpacked.
  using conn = await connect(server.httpAddr!.port);
  await conn.write(encoder.encode(
    "GET /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Accept-Encoding: gzip, deflate, br\r\nConnection: close\r\n\r\n",
  ));
  const raw = new Uint8Array(
    await new Response(conn.readable).arrayBuffer(),
  );
  const split = new TextDecoder("latin1").decode(raw).indexOf("\r\n\r\n");
  const head = new TextDecoder().decode(raw.subarray(0, split));
  assert.equal(header(head, "content-encoding"), "gzip");
  const body = raw.subarray(split + 4);
  assert.ok(body.byteLength < file.byteLength / 2, `${body.byteLength}`);
  const { gunzipSync } = await import("node:zlib");
  assert.deepEqual(new Uint8Array(gunzipSync(body)), file);
  // A reload with the tag it has: 304, no body.
  const again = await fetch(`${base}/app.js`, {
    headers: { "If-None-Match": etag!, "Accept-Encoding": "identity" },
  });
  assert.equal(again.status, 304);
  assert.equal((await again.arrayBuffer()).byteLength, 0);
  assert.equal(again.headers.get("etag"), etag);
  // The gzipped copy has a tag of its own: the plain one's is no match
  // for it (a cache in front would else serve gzip to whoever asks).
  assert.notEqual(header(head, "etag"), etag);
  const packed = await fetch(`${base}/app.js`, {
    headers: { "If-None-Match": etag!, "Accept-Encoding": "gzip" },
  });
  assert.equal(packed.status, 200);
  assert.equal(packed.headers.get("etag"), header(head, "etag"));
  await packed.body?.cancel();
  // A gzip refused with q=0 is not sent, whatever a * says.
  for (const accepted of ["gzip;q=0, identity", "gzip;q=0, *"]) {
    const refused = await fetch(`${base}/app.js`, {
      headers: { "Accept-Encoding": accepted },
    });
    assert.equal(refused.headers.get("content-encoding"), null, accepted);
    await refused.body?.cancel();
  }
});

Deno.test("serve({ noHttp: true }) listens on no HTTP port, as --no-http does", async () => {
  // httpPort 0 here, where an embedder's default would take 8080.
  await using server = await startWeb({ noHttp: true });
  assert.equal(server.httpAddr, null);
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("look");
  await alice.expectLines(["The following are in this room:", "alice"]);
});
