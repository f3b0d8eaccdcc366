/**
 * An operator's chat.db from an older release opens with this code and keeps
 * everything. Each fixture in tests/fixtures/chat_db_*.sql is a file the old
 * server itself wrote (over telnet), dumped as SQL; unlike the migration tests
 * in store_sqlite_test.ts, which build old versions from this code's
 * MIGRATIONS, these catch a migration edited in place: 3fe5dc3 changed
 * version 1's history table after 87df5b6 had shipped it at the same number.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { PasswordHasher } from "../src/passwords.ts";
import { SCHEMA_VERSION, SqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";

/** When the fixtures were made (2026-12-04 04:53 UTC). */
const MADE = 1796360000000;

const hasher = new PasswordHasher();

async function withFixture(
  name: string,
  fn: (store: Store, path: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/chat.db`;
    const sql = await Deno.readTextFile(
      new URL(`./fixtures/${name}.sql`, import.meta.url),
    );
    const db = new DatabaseSync(path);
    db.exec(sql);
    db.close();
    const store = await SqliteStore.open(path);
    try {
      await fn(store, path);
    } finally {
      await store.close();
    }
    const after = new DatabaseSync(path);
    try {
      const row = after.prepare("PRAGMA user_version").get();
      assert.equal(row?.user_version, SCHEMA_VERSION);
    } finally {
      after.close();
    }
    // And it opens again, as after the next restart.
    await (await SqliteStore.open(path)).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The texts of a room's kept lines, and an id given now is past them all. */
async function history(store: Store, room: string): Promise<string[]> {
  const kept = await store.room(room, 100);
  const lines = kept?.history ?? [];
  const next = store.ids.next();
  for (const line of lines) assert.ok(next > line.id, `${next} > ${line.id}`);
  return lines.map((line) => line.text);
}

async function logsIn(store: Store, name: string, password: string) {
  const account = await store.accountFor(name, "");
  assert.ok(account, `account ${name} kept`);
  assert.equal(await hasher.verify(password, account.hash), true);
  assert.equal(await hasher.verify("wrong-password", account.hash), false);
}

Deno.test("SqliteStore.open() upgrades a chat.db of 87df5b6 (version 1, history keyed by id alone)", () =>
  withFixture("chat_db_v1_87df5b6", async (store) => {
    const dev = await store.room("dev", 10);
    assert.equal(dev?.topic, "dev talk");
    assert.deepEqual(await history(store, "dev"), ["in dev 1", "waves"]);
    assert.deepEqual(await history(store, "main"), ["hello one", "hello two"]);
    // New lines go on after the old ones, and come back in order.
    const id = store.ids.next();
    store.line("dev", {
      type: "said",
      id,
      at: MADE,
      room: "dev",
      from: "alice",
      text: "after the upgrade",
    });
    await store.flush();
    assert.deepEqual(await history(store, "dev"), [
      "in dev 1",
      "waves",
      "after the upgrade",
    ]);
    assert.equal(await store.claimRoom("dev", "dev", "alice"), true);
  }));

Deno.test("SqliteStore.open() upgrades a chat.db of 3fe5dc3 (version 1 with accounts)", () =>
  withFixture("chat_db_v1_3fe5dc3", async (store) => {
    await logsIn(store, "alice", "alicepass1");
    await logsIn(store, "bob", "bobpass12");
    assert.deepEqual(await history(store, "main"), [
      "bob line main",
      "alice line main",
    ]);
    assert.equal((await store.room("dev", 10))?.topic, "dev talk");
    const waiting = await store.waitingMessages("bob", 0);
    assert.deepEqual(waiting.map((m) => [m.event.from, m.event.text]), [
      ["alice", "offline hello for bob"],
    ]);
    assert.ok(store.ids.next() > waiting[0].event.id);
    const failures = await store.loginFailures("alice", "127.0.0.1", 0);
    assert.equal(failures.account, 1);
    assert.deepEqual(failures.addresses, ["127.0.0.1"]);
  }));

for (const name of ["chat_db_v2_42ba9fe", "chat_db_v3_ebb550e"]) {
  Deno.test(`SqliteStore.open() upgrades a chat.db of ${name.slice(11)} (version ${name[9]}, moderation)`, () =>
    withFixture(name, async (store) => {
      for (const user of ["root", "alice", "bob", "dave", "eve", "mallory"]) {
        await logsIn(store, user, `${user}pass123`);
      }
      assert.deepEqual((await store.operators()).sort(), ["alice", "root"]);
      const dev = await store.room("dev", 10);
      assert.equal(dev?.owner, "alice");
      assert.deepEqual(dev?.operators, ["bob"]);
      assert.equal(dev?.topic, "dev talk");
      assert.deepEqual(await history(store, "dev"), ["dev line 1"]);
      assert.deepEqual(await history(store, "main"), ["main line 1"]);
      assert.deepEqual(
        (await store.claimedRooms()).map((room) => [room.key, room.owner]),
        [["dev", "alice"]],
      );
      const sanctions = (await store.sanctions(MADE)).map((s) =>
        `${s.kind} ${s.room || "*"} ${s.label} ${s.until === null}`
      ).sort();
      assert.deepEqual(sanctions, [
        "ban * mallory true",
        "ban dev dave false",
        "mute * eve false",
        "mute dev eve false",
      ]);
      assert.deepEqual(
        (await store.modlog({ limit: 20 })).map((e) => e.action),
        ["claim", "roomop", "ban", "mute", "ban", "mute", "op"],
      );
      const waiting = await store.waitingMessages("eve", 0);
      assert.deepEqual(waiting.map((m) => m.event.text), [
        "offline note for eve",
      ]);
      assert.ok(store.ids.next() > waiting[0].event.id);
      const failures = await store.loginFailures("bob", "127.0.0.1", 0);
      assert.equal(failures.account, 1);
    }));
}
