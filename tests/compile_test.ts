import assert from "node:assert/strict";
import denoJson from "../deno.json" with { type: "json" };
import { Client, ServerProcess, withTimeout } from "./helpers.ts";

const root = new URL("..", import.meta.url);

/**
 * Why `deno compile` cannot run here, or null when it can: it needs Deno's
 * runtime (denort), from DENORT_BIN, from Deno's cache, or downloaded.
 */
async function compileUnavailable(): Promise<string | null> {
  if (Deno.env.get("DENORT_BIN")) return null;
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
  }).output();
  const { denoDir } = JSON.parse(new TextDecoder().decode(info.stdout));
  const file = `denort-${Deno.build.target}.zip`;
  try {
    await Deno.stat(`${denoDir}/dl/release/v${Deno.version.deno}/${file}`);
    return null;
  } catch {
    // Not cached: try the download.
  }
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/${file}`;
  try {
    const response = await fetch(url, {
      method: "HEAD",
      signal: AbortSignal.timeout(5000),
    });
    await response.body?.cancel();
    return response.ok ? null : `${url} answered ${response.status}`;
  } catch (error) {
    return `Deno's runtime cannot be downloaded (${
      (error as Error).message
    }) and DENORT_BIN is not set`;
  }
}

const unavailable = await compileUnavailable();
if (unavailable) console.warn(`compile test ignored: ${unavailable}`);

Deno.test({
  name: unavailable
    ? `deno task compile builds a working ./chat-server (ignored: ${unavailable})`
    : "deno task compile builds a working ./chat-server",
  ignore: unavailable !== null,
  async fn() {
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: root,
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));
    const binary = new URL("chat-server", root).pathname;

    const version = await new Deno.Command(binary, { args: ["--version"] })
      .output();
    assert.equal(
      new TextDecoder().decode(version.stdout).trim(),
      `chat-server ${denoJson.version}`,
    );

    await using server = await ServerProcess.start(
      [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--http-port",
        "0",
        "--db",
        ":memory:",
        "--name",
        "Compiled",
      ],
      binary,
    );
    await using client = await Client.connect(server.port);
    await client.expect("Welcome to Compiled");
    await client.send("login bin");
    await client.send("say built");
    await client.expect("bin: built");
    await checkHttp(server);
    assert.equal((await server.stop("SIGTERM")).code, 0);
  },
});

/**
 * The HTTP side of a running server works: what it loads only when HTTP is
 * served (node:http, web/) is in a compiled binary too.
 */
export async function checkHttp(server: ServerProcess): Promise<void> {
  const port = Number(
    (await withTimeout(
      server.logged(/Serving HTTP on [^\s]*:(\d+)/),
      10_000,
      "the Serving HTTP line",
    ))[1],
  );
  const page = await fetch(`http://127.0.0.1:${port}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html/i);
  const live = await fetch(`http://127.0.0.1:${port}/livez`);
  assert.equal(await live.text(), "ok\n");
}
