import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  ServerProcess,
  startServer,
  TIMEOUT_MS,
  typeInto,
  withTimeout,
} from "./helpers.ts";
import { certificateWarning, readCertificate } from "../src/tls/certificate.ts";
import {
  makeCertificate,
  openssl,
  opensslMissing as reason,
} from "./tls_helpers.ts";

Deno.test({
  name: openssl
    ? "TLS beside the plain port: a Deno TLS client and a plain one share a room"
    : `TLS beside the plain port (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({ tlsPort: 0, cert, key });
      assert.ok(server.tlsAddr);
      await using plain = await Client.login(server.addr.port, "plain");
      await using secure = Client.from(
        await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.tlsAddr.port,
          caCerts: [await Deno.readTextFile(ca)],
        }),
      );
      await secure.expect("Welcome to TestChat");
      await secure.send("login secure");
      await plain.expect("secure has entered the room.");
      await secure.send("say over TLS");
      await plain.expect("secure: over TLS");
      await plain.send("say in the clear");
      await secure.waitFor("plain: in the clear");
      // A logout ends TLS cleanly (close_notify), not with a cut that the
      // client reads as an error.
      await secure.send("logout");
      assert.deepEqual(await secure.closed(), []);
      await plain.waitFor("secure has left the room.");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: openssl s_client logs in and talks"
    : `TLS: openssl s_client logs in and talks (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({ tlsPort: 0, cert, key });
      await using watcher = await Client.login(server.addr.port, "watcher");
      const text = await typeInto("openssl", [
        "s_client",
        "-connect",
        `127.0.0.1:${server.tlsAddr!.port}`,
        "-CAfile",
        ca,
        "-verify_return_error",
        "-quiet",
      ], async (type) => {
        await type("login ossl");
        await watcher.expect("ossl has entered the room.");
        await type("say verified");
        await watcher.expect("ossl: verified");
        await type("logout");
        await watcher.expect("ossl has left the room.");
      });
      assert.match(text, /Welcome to TestChat\r\n/);
      assert.match(text, /ossl: verified\r\n/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a client that ends its input still gets the answers to its lines, as on the plain port"
    : `TLS: a client that ends its input gets its answers (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      await using server = await startServer({ tlsPort: 0, cert, key });
      await using watcher = await Client.login(server.addr.port, "watcher");
      const conn = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.tlsAddr!.port,
        caCerts: [await Deno.readTextFile(ca)],
      });
      await using client = Client.from(conn);
      // A script that writes its lines, then shuts its write side
      // (close_notify and a FIN), and reads on until the server closes. The
      // TLS socket is half-open as the listener's raw socket is: were it
      // not, node would end it at the FIN, before any answer.
      await conn.handshake();
      await client.sendBytes(
        new TextEncoder().encode("login tls\nsay hi\nlook\n"),
      );
      await conn.closeWrite();
      assert.deepEqual(await client.closed(), [
        "Welcome to TestChat",
        "tls: hi",
        "The following are in this room:",
        "watcher",
        "tls",
      ]);
      await watcher.expectLines([
        "tls has entered the room.",
        "tls: hi",
        "tls has left the room.",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a handshake never finished is closed, and gives its place back"
    : `TLS: a handshake never finished is closed (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    const caCerts = [await Deno.readTextFile(ca)];
    try {
      const clock = new FakeClock();
      await using server = await startServer({
        tlsPort: 0,
        cert,
        key,
        clock,
        limitLoopback: true,
        maxConnsPerIp: 2,
      });
      const port = server.tlsAddr!.port;
      // Two that connect and never say a word of TLS: they hold both places.
      await using silent = await Client.connect(port);
      await using partial = await Client.connect(port);
      await partial.sendBytes(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xc8));
      await clock.untilPending(2);
      await using third = Client.from(
        await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts }),
      );
      await third.expect("Too many connections from your address");
      // A refused one that never finishes its handshake is not counted: it
      // has a second, as a refused plain connection has to read its line.
      await using refusedSilent = await Client.connect(port);
      await clock.untilPending(3);
      clock.advance(1000);
      await refusedSilent.closed();
      // Past the handshake's time and the login's: both are closed (their
      // sockets, not only their sessions).
      clock.advance(61_000);
      await silent.closed();
      await partial.closed();
      await using next = Client.from(
        await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts }),
      );
      await next.expect("Welcome to TestChat");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a client that gives up in the middle of its handshake gives its place back at once"
    : `TLS: a handshake given up gives its place back (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    const caCerts = [await Deno.readTextFile(ca)];
    try {
      // The fake clock never reaches the handshake's 10 s.
      await using server = await startServer({
        tlsPort: 0,
        cert,
        key,
        clock: new FakeClock(),
        limitLoopback: true,
        maxConnsPerIp: 1,
        maxNewConnsPerIp: 1000,
      });
      const port = server.tlsAddr!.port;
      // The first bytes of a ClientHello, then the client closes (a
      // scanner, a client that found the certificate wrong).
      const quitter = await Deno.connect({ hostname: "127.0.0.1", port });
      await quitter.write(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xc8));
      quitter.close();
      // Its socket's FIN ends the handshake, which cannot finish now: the
      // address's one place is free again, not held until the 10 s.
      await untilAdmitted(async () =>
        Client.from(
          await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts }),
        )
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a session the server ended holds its address's place until its socket has closed, as a lingering page's does"
    : `TLS: an ended session's socket holds its place (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    const caCerts = [await Deno.readTextFile(ca)];
    try {
      // The close_notify's second runs on this clock.
      const clock = new FakeClock();
      await using server = await startServer({
        tlsPort: 0,
        cert,
        key,
        clock,
        limitLoopback: true,
        maxConnsPerIp: 1,
        maxNewConnsPerIp: 1000,
      });
      const port = server.tlsAddr!.port;
      const connect = async () =>
        Client.from(
          await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts }),
        );
      await using reader = await connect();
      await reader.expect("Welcome to TestChat");
      await reader.send("login reader");
      await reader.send("logout");
      // It reads the close_notify but keeps its socket open.
      await reader.closed();
      {
        await using second = await connect();
        await second.expect("Too many connections from your address");
      }
      // The second is up: the socket is destroyed, and its place is free.
      clock.advance(1000);
      await untilAdmitted(connect);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a shutdown tells a TLS client and is done without waiting for it to close its side, as on the plain port"
    : `TLS: a shutdown does not wait for a TLS client (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, ca, cert, key } = await makeCertificate();
    try {
      // The close_notify's wait for the client runs on this clock, which
      // the test never moves.
      const clock = new FakeClock();
      const server = await startServer({ tlsPort: 0, cert, key, clock });
      await using client = Client.from(
        await Deno.connectTls({
          hostname: "127.0.0.1",
          port: server.tlsAddr!.port,
          caCerts: [await Deno.readTextFile(ca)],
        }),
      );
      await client.expect("Welcome to TestChat");
      await client.send("login reader");
      await client.sync();
      const closing = server.close();
      await client.expect("Server is shutting down.");
      // A clean end (close_notify), which the client reads, but it keeps
      // its socket open: the session is over all the same.
      assert.deepEqual(await client.closed(), []);
      await withTimeout(closing, TIMEOUT_MS, "server.close()");
      assert.equal(server.connections, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Connects until the server lets a connection in (its address's place
 * given back), each refused with the per-address line; fails after 5 s.
 */
async function untilAdmitted(connect: () => Promise<Client>): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (true) {
    await using next = await connect();
    const line = await next.readLine();
    if (line === "Welcome to TestChat") return;
    assert.equal(line, "Too many connections from your address");
    assert.ok(Date.now() < deadline, "the place was never given back");
  }
}

/** Reads `conn` to its end; the bytes that came (a server that never
 * closes fails the test, rather than holding it). */
function readToEnd(conn: Deno.Conn): Promise<number> {
  const read = async () => {
    const buffer = new Uint8Array(1024);
    let count = 0;
    while (true) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return count;
      count += n;
    }
  };
  return withTimeout(read(), TIMEOUT_MS, "the server's close");
}

Deno.test({
  name: openssl
    ? "TLS: a handshake that fails or never finishes is logged and counted, as a TLS handshake on the plain port is"
    : `TLS: a handshake that fails is logged and counted (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const { dir, cert, key } = await makeCertificate();
    const records: LogRecord[] = [];
    const text = (record: LogRecord) =>
      record.message.map((part) => String(part)).join("");
    const disconnects: string[] = [];
    let heard: (() => void) | null = null;
    await configure({
      reset: true,
      sinks: {
        memory: (record) => {
          records.push(record);
          if (text(record).startsWith("Disconnected")) {
            disconnects.push(text(record));
            heard?.();
          }
        },
      },
      loggers: [
        { category: ["chat"], lowestLevel: "info", sinks: ["memory"] },
        { category: ["logtape", "meta"], lowestLevel: "fatal", sinks: [] },
      ],
    });
    /** Waits until `count` disconnects have been logged. */
    const logged = (count: number) =>
      withTimeout(
        new Promise<void>((resolve) => {
          heard = () => disconnects.length >= count && resolve();
          heard();
        }),
        TIMEOUT_MS,
        `${count} disconnects logged`,
      );
    try {
      const clock = new FakeClock();
      await using server = await startServer({
        tlsPort: 0,
        cert,
        key,
        clock,
        httpPort: 0,
      });
      const port = server.tlsAddr!.port;
      // telnet to the TLS port: its first line is no ClientHello. It gets
      // the TLS alert and the close it got before; now the log and
      // /metrics say so.
      using plain = await Deno.connect({ hostname: "127.0.0.1", port });
      await plain.write(new TextEncoder().encode("login plain\r\n"));
      assert.ok(await readToEnd(plain) > 0, "a TLS alert");
      await logged(1);
      // A ClientHello's first bytes, then nothing, past the 10 s.
      using silent = await Deno.connect({ hostname: "127.0.0.1", port });
      await silent.write(Uint8Array.of(0x16, 0x03, 0x01, 0x00, 0xc8));
      await clock.untilPending(1);
      clock.advance(10_000);
      assert.equal(await readToEnd(silent), 0);
      await logged(2);
      assert.match(
        disconnects[0],
        /^Disconnected 127\.0\.0\.1:\d+ \(TLS handshake\): tls_handshake_failed$/,
      );
      assert.match(
        disconnects[1],
        /^Disconnected 127\.0\.0\.1:\d+ \(TLS handshake\): tls_handshake_timeout$/,
      );
      const metrics = await (await fetch(
        `http://127.0.0.1:${server.httpAddr!.port}/metrics`,
      )).text();
      for (
        const reason of [
          "tls_handshake_failed",
          "tls_handshake_timeout",
        ]
      ) {
        assert.match(
          metrics,
          new RegExp(`^chat_disconnects_total\\{reason="${reason}"\\} 1$`, "m"),
        );
      }
    } finally {
      await reset();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: openssl
    ? "TLS: a certificate that ends within two weeks, or has ended, is warned about"
    : `TLS: a certificate near its end is warned about (ignored: ${reason})`,
  ignore: !openssl,
  async fn() {
    const month = await makeCertificate(30);
    const day = await makeCertificate(1);
    try {
      const read = readCertificate(month.cert, month.key);
      const now = Date.now();
      const dayMs = 24 * 60 * 60 * 1000;
      assert.equal(certificateWarning(read, now), null);
      assert.match(
        certificateWarning(read, now + 20 * dayMs) ?? "",
        /^expires on \d{4}-\d\d-\d\dT.*: renew it, then restart the server$/,
      );
      assert.match(
        certificateWarning(read, now + 31 * dayMs) ?? "",
        /^expired on .*: clients will refuse it$/,
      );
      // A real start with a certificate for one more day says so in its log.
      await using server = await ServerProcess.start(
        ServerProcess.mainArgs(
          ...["--db", ":memory:", "--tls-port", "0"],
          ...["--cert", day.cert, "--key", day.key],
        ),
      );
      assert.match(
        server.stderr,
        /The TLS certificate .*cert\.pem expires on .*: renew it, then restart/,
      );
    } finally {
      await Deno.remove(month.dir, { recursive: true });
      await Deno.remove(day.dir, { recursive: true });
    }
  },
});
