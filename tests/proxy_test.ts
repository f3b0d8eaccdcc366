/**
 * The reverse proxy of docs/operations.md, for real: Debian's nginx, run
 * with the documented `server` block as written (only the port, the
 * certificate and the upstream's port changed), in front of a server that
 * trusts it (`--trusted-proxy 127.0.0.1`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import {
  Client,
  NodeConn,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";
import { missingProgram } from "./required.ts";
import { makeCertificate, openssl } from "./tls_helpers.ts";
import { RawWebSocket } from "./ws_helpers.ts";

const NGINX = existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";

async function hasNginx(): Promise<boolean> {
  try {
    const out = await new Deno.Command(NGINX, { args: ["-v"] }).output();
    return out.success;
  } catch {
    return false;
  }
}

const nginxMissing = missingProgram(
  (await hasNginx())
    ? null
    : "nginx is not installed (apt-get install nginx; .ci/run does)",
  "The reverse proxy tests",
);

/** The nginx example of docs/operations.md, as written there. */
async function documentedConfig(): Promise<string> {
  const doc = await Deno.readTextFile(
    new URL("../docs/operations.md", import.meta.url),
  );
  const section = doc.slice(doc.indexOf("## Behind a reverse proxy"));
  const block = section.match(/```nginx\n([\s\S]*?)```/);
  assert.ok(block, "docs/operations.md has no nginx block");
  return block[1];
}

/** `text` with `from` replaced by `to`, which must be there. */
function replaced(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the documented config has no ${from}`);
  return text.replaceAll(from, to);
}

/** A free port on 127.0.0.1 (free a moment ago). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** nginx running `conf` in `dir`, once it has its workers (and ports). */
async function startNginx(dir: string, conf: string) {
  await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
  const child = new Deno.Command(NGINX, {
    args: ["-e", "stderr", "-p", dir, "-c", `${dir}/nginx.conf`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const started = (async () => {
    for await (
      const text of child.stderr.pipeThrough(new TextDecoderStream())
    ) {
      log += text;
      if (log.includes("start worker process ")) return;
    }
    throw new Error(`nginx exited: ${log}`);
  })();
  await withTimeout(started, TIMEOUT_MS, "nginx to start").catch(
    async (error) => {
      child.kill("SIGKILL");
      await child.status;
      throw error;
    },
  );
  return {
    async [Symbol.asyncDispose]() {
      // SIGTERM: the master stops its workers too (SIGKILL would not).
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

Deno.test({
  name:
    "through the documented nginx config: the page's headers once each, /metrics kept off, /ws by origin, chat both ways, limits on the real client whatever X-Forwarded-For it sends",
  ignore: nginxMissing !== null || !openssl,
  async fn() {
    await using server = await startServer({
      httpPort: 0,
      trustedProxies: ["127.0.0.1"],
      maxConnsPerIp: 1,
      limitLoopback: true,
    });
    const upstream = server.httpAddr!.port;
    const certs = await makeCertificate();
    const port = freePort();
    let snippet = await documentedConfig();
    snippet = replaced(
      snippet,
      "listen 443 ssl;",
      `listen 127.0.0.1:${port} ssl;`,
    );
    snippet = replaced(
      snippet,
      "/etc/letsencrypt/live/chat.example.org/fullchain.pem",
      certs.cert,
    );
    snippet = replaced(
      snippet,
      "/etc/letsencrypt/live/chat.example.org/privkey.pem",
      certs.key,
    );
    snippet = replaced(snippet, "127.0.0.1:8080", `127.0.0.1:${upstream}`);
    const dir = certs.dir;
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
      .map((kind) => `${kind}_temp_path ${dir}/${kind};`).join("\n");
    await using _nginx = await startNginx(
      dir,
      `daemon off;\npid ${dir}/nginx.pid;\nerror_log stderr notice;\n` +
        `worker_processes 1;\nevents { worker_connections 64; }\n` +
        `http {\naccess_log off;\n${temp}\n${snippet}\n}\n`,
    );
    const ca = await Deno.readTextFile(certs.ca);
    using client = Deno.createHttpClient({ caCerts: [ca] });
    const base = `https://localhost:${port}`;

    // The page: the server's headers, each once (fetch would join a doubled
    // one with a comma), as they are without the proxy.
    const direct = await fetch(`http://127.0.0.1:${upstream}/`);
    await direct.body?.cancel();
    const page = await fetch(`${base}/`, { client });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    for (
      const name of [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "etag",
        "cache-control",
      ]
    ) {
      assert.ok(direct.headers.get(name), name);
      assert.equal(page.headers.get(name), direct.headers.get(name), name);
    }
    // /metrics is the proxy's to refuse; the probes pass.
    for (
      const [path, status] of [["/metrics", 403], ["/livez", 200], [
        "/readyz",
        200,
      ]] as const
    ) {
      const answer = await fetch(`${base}${path}`, { client });
      await answer.body?.cancel();
      assert.equal(answer.status, status, path);
    }

    const connect = (from: string) =>
      NodeConn.connectTls("127.0.0.1", port, {
        from,
        ca,
        servername: "localhost",
      });
    const own = `https://127.0.0.1:${port}`;
    {
      using other = await RawWebSocket.over(await connect("127.0.0.2"), port, {
        Origin: "https://evil.example",
      });
      assert.match(other.status, /^HTTP\/1\.1 403 /);
    }
    // A page at 127.0.0.2 that claims to be elsewhere.
    using web = await RawWebSocket.over(await connect("127.0.0.2"), port, {
      Origin: own,
      "X-Forwarded-For": "203.0.113.9",
    });
    assert.match(web.status, /^HTTP\/1\.1 101 /);
    await web.send("login web");
    await withTimeout(
      web.waitFor((frame) => frame.type === "room"),
      TIMEOUT_MS,
      "web's login",
    );
    // Its address holds its one place (--max-conns-per-ip 1), whatever a
    // second socket of its says it is; another address gets in.
    for (const claim of ["198.51.100.7", "127.0.0.1", "127.0.0.3"]) {
      using again = await RawWebSocket.over(await connect("127.0.0.2"), port, {
        Origin: own,
        "X-Forwarded-For": claim,
      });
      const refused = await withTimeout(
        again.waitFor(() => true),
        TIMEOUT_MS,
        `the answer to a socket claiming ${claim}`,
      );
      assert.deepEqual(refused, {
        type: "refused",
        text: "Too many connections from your address",
      });
    }
    using elsewhere = await RawWebSocket.over(
      await connect("127.0.0.3"),
      port,
      {
        Origin: own,
      },
    );
    assert.equal(
      (await withTimeout(elsewhere.waitFor(() => true), TIMEOUT_MS, "hello"))
        .type,
      "hello",
    );

    // Chat both ways with a telnet user.
    await using tel = await Client.connect(server.addr.port, {
      from: "127.0.0.4",
    });
    await tel.send("login tel");
    await withTimeout(
      web.waitFor((frame) => frame.type === "entered" && frame.name === "tel"),
      TIMEOUT_MS,
      "tel's entry",
    );
    await web.send("say hello through nginx");
    await tel.waitFor((line) => line === "web: hello through nginx");
    await tel.send("say and back");
    const said = await withTimeout(
      web.waitFor((frame) => frame.type === "said" && frame.from === "tel"),
      TIMEOUT_MS,
      "tel's line",
    );
    assert.equal(said.text, "and back");
  },
});
