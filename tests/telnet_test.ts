import assert from "node:assert/strict";
import { Client, startServer, typeInto } from "./helpers.ts";

/** Where Debian's telnet is, if it is installed. */
function findTelnet(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/telnet`).isFile) return `${dir}/telnet`;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const telnet = findTelnet();
const reason = "telnet is not installed (apt-get install telnet; .ci/run does)";
if (!telnet) console.warn(`telnet test ignored: ${reason}`);

Deno.test({
  name: telnet
    ? "the real telnet client logs in and talks"
    : `the real telnet client logs in and talks (ignored: ${reason})`,
  ignore: !telnet,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    const text = await typeInto(
      telnet!,
      ["127.0.0.1", String(port)],
      async (type) => {
        await type("login tel");
        await watcher.expect("tel has entered the room.");
        await type("say hello from telnet");
        await watcher.expect("tel: hello from telnet");
        await type("look");
        await type("logout");
        await watcher.expect("tel has left the room.");
      },
    );
    assert.match(text, /Welcome to TestChat\r?\n/);
    assert.match(text, /tel: hello from telnet\r?\n/);
    assert.match(
      text,
      /The following are in this room:\r?\nwatcher\r?\ntel\r?\n/,
    );
  },
});
