/**
 * Offline messages end to end: real sockets, and a real database file, so
 * that what is let go of is what the next login finds on disk.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  Client,
  loginAccount,
  PASSWORD,
  registered,
  startServer,
} from "./helpers.ts";

Deno.test("offline messages survive a login whose connection is gone before they are written, and a login that reads them sees each once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = await startServer({ db: `${dir}/chat.db` });
    const port = server.addr.port;
    const alice = await registered(port, "alice");
    await alice.send("logout");
    await alice.closed();
    await using bob = await Client.login(port, "bob");
    for (const text of ["one", "two"]) {
      await bob.send(`msg alice ${text}`);
      await bob.expectLines([
        `[private to alice] ${text}`,
        "alice is offline and will get your message at their next login",
      ]);
    }

    // Logs in and is gone at once, without reading a byte: its socket,
    // closed with the welcome unread, is reset, so the server's first
    // write to it fails.
    const gone = await Client.connect(port, { read: false });
    await gone.send(`login alice ${PASSWORD}`);
    gone.close();
    // Its login is done, acknowledgement and all, once its logout is seen.
    await bob.expectLines([
      "alice has entered the room.",
      "alice has left the room.",
    ]);

    await using back = await loginAccount(port, "alice");
    const shown = await back.sync();
    assert.deepEqual(
      shown.map((line) => line.replace(/^\[private, [^\]]*\] /, "")),
      [
        "While you were away, 2 private messages came for you:",
        "bob: one",
        "bob: two",
      ],
      "kept for this login",
    );
    await back.send("logout");
    await back.closed();
    await bob.waitFor("alice has left the room.");

    await using again = await loginAccount(port, "alice");
    assert.deepEqual(await again.sync(), [], "shown once, then let go of");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
