import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Client, ServerProcess } from "./helpers.ts";

/** The server as users start it, on the database file `db`. */
function start(db: string): Promise<ServerProcess> {
  return ServerProcess.start(
    ServerProcess.mainArgs(
      "--db",
      db,
      "--flood-rate",
      "0",
      "--history-keep",
      "1000000",
    ),
  );
}

/** Every kept line of `main`, by id, read straight from the file. */
function keptLines(db: string): { id: number; text: string }[] {
  const file = new DatabaseSync(db, { readOnly: true });
  try {
    return file.prepare(
      "SELECT id, text FROM history WHERE room = 'main' ORDER BY id",
    ).all() as { id: number; text: string }[];
  } finally {
    file.close();
  }
}

Deno.test("SIGKILL in a burst of chat: the database opens again, history holds all but the last second, ids go on", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  try {
    // Lines and when their echo came back, which is when the server had
    // handled them (and queued them for the store).
    const echoed: number[] = [];
    let killedAt = 0;
    {
      await using server = await start(db);
      await using talker = await Client.login(server.port, "talker");
      let sent = 0;
      const started = Date.now();
      // The kill comes after 1.5 s of chat, once over 100 lines came back
      // more than a second before it (a busy machine can be slow to start),
      // or after 30 s; lines are still being sent when it comes. (A fast
      // machine handles some 400,000 lines a second: the time decides.)
      const echoedBefore = (at: number) => {
        let n = 0;
        while (n < echoed.length && echoed[n] <= at) n++;
        return n;
      };
      while (killedAt === 0) {
        const batch = Array.from({ length: 50 }, () => `say line ${++sent}`);
        await talker.send(batch.join("\r\n"));
        const now = Date.now();
        if (
          (now - started > 1500 && echoedBefore(now - 1100) > 100) ||
          now - started > 30_000
        ) {
          server.child.kill("SIGKILL");
          killedAt = Date.now();
          await server.child.status;
          break;
        }
        while (echoed.length < sent - 50) {
          const line = await talker.readLine();
          assert.equal(line, `talker: line ${echoed.length + 1}`);
          echoed.push(Date.now());
        }
      }
      await talker.closed().catch(() => []);
    }
    assert.ok(killedAt > 0, "the server was killed mid-burst");
    const safe = echoed.filter((at) => at <= killedAt - 1000).length;
    assert.ok(safe > 100, `enough lines before the last second: ${safe}`);

    await using server = await start(db);
    const kept = keptLines(db);
    assert.ok(
      kept.length >= safe,
      `kept ${kept.length} lines; ${safe} were handled over a second before the kill`,
    );
    kept.forEach((line, i) =>
      assert.equal(line.text, `line ${i + 1}`, "no line lost in the middle")
    );
    const lastId = kept.at(-1)!.id;

    await using after = await Client.login(server.port, "after");
    await after.send("say after the restart");
    await after.expect("after: after the restart");
    await after.send("history 1");
    await after.expectLines([
      'The last 1 line of "main":',
      "[history] after: after the restart",
    ]);
    const newest = keptLines(db).at(-1)!;
    assert.equal(newest.text, "after the restart");
    assert.ok(newest.id > lastId, `id ${newest.id} after ${lastId}`);
    assert.equal((await server.stop()).code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
