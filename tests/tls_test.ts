import assert from "node:assert/strict";
import { Client, startServer, typeInto } from "./helpers.ts";

/** Whether a command runs here. */
async function has(command: string, ...args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args }).output()).success;
  } catch {
    return false;
  }
}

const reason =
  "openssl is not installed (apt-get install openssl; .ci/run does)";
const openssl = await has("openssl", "version");
if (!openssl) console.warn(`TLS tests ignored: ${reason}`);

/** Runs openssl with `args`; fails the test if it fails. */
async function run(...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/**
 * A throwaway certificate authority and a certificate it signed for
 * 127.0.0.1 and localhost, made by openssl in a temporary folder. (rustls
 * refuses a self-signed CA certificate used as the server's own.)
 */
async function makeCertificate(): Promise<
  { dir: string; ca: string; cert: string; key: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "chat-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await run(
    "req",
    "-x509",
    ...ec,
    "-nodes",
    "-subj",
    "/CN=chat test CA",
    "-days",
    "1",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  );
  await run(
    "req",
    ...ec,
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/cert.csr`,
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await run(
    "x509",
    "-req",
    "-in",
    `${dir}/cert.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${dir}/ext.cnf`,
    "-out",
    `${dir}/cert.pem`,
  );
  return {
    dir,
    ca: `${dir}/ca.pem`,
    cert: `${dir}/cert.pem`,
    key: `${dir}/key.pem`,
  };
}

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
