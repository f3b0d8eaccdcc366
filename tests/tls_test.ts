import assert from "node:assert/strict";
import { Client, startServer, typeInto } from "./helpers.ts";
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
