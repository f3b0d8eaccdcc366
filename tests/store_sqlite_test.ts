import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, SqliteStore } from "../src/store/sqlite.ts";
import {
  MIGRATIONS,
  type QueuedLines,
  SqliteDatabase,
} from "../src/store/sqlite_db.ts";
import { MODLOG_KEEP, StoreError, StoreFailed } from "../src/store/store.ts";
import { storeContract } from "./store_contract.ts";

storeContract("SqliteStore on a file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/chat.db`;
  return {
    open: (options) => SqliteStore.open(path, options),
    async reopen(store, options) {
      await store.close();
      return await SqliteStore.open(path, options);
    },
    cleanup: () => Deno.remove(dir, { recursive: true }),
  };
});

storeContract("SqliteStore in memory", () =>
  Promise.resolve({
    open: (options) => SqliteStore.open(":memory:", options),
    cleanup: () => Promise.resolve(),
  }));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Rejects with a StoreError whose message matches `message`. */
async function refuses(opening: Promise<unknown>, message: RegExp) {
  await assert.rejects(
    opening,
    (error: Error) =>
      error instanceof StoreError && message.test(error.message),
  );
}

Deno.test("SqliteStore.open() writes WAL and the schema version", () =>
  withDir(async (dir) => {
    const store = await SqliteStore.open(`${dir}/chat.db`);
    await store.close();
    const db = new DatabaseSync(`${dir}/chat.db`);
    try {
      const mode = db.prepare("PRAGMA journal_mode").get();
      assert.equal(mode?.journal_mode, "wal");
      const version = db.prepare("PRAGMA user_version").get();
      assert.equal(version?.user_version, SCHEMA_VERSION);
    } finally {
      db.close();
    }
  }));

Deno.test(
  "SqliteStore.open() makes a new database readable by its owner only, and leaves an existing one's mode",
  {
    ignore: Deno.build.os === "windows",
  },
  () =>
    withDir(async (dir) => {
      // It holds password hashes and the addresses accounts logged in from;
      // SQLite gives its -wal and -shm the database file's mode.
      const store = await SqliteStore.open(`${dir}/chat.db`);
      try {
        for (const name of ["chat.db", "chat.db-wal", "chat.db-shm"]) {
          const mode = (await Deno.stat(`${dir}/${name}`)).mode! & 0o777;
          assert.equal(mode.toString(8), "600", name);
        }
      } finally {
        await store.close();
      }
      await Deno.chmod(`${dir}/chat.db`, 0o640);
      await (await SqliteStore.open(`${dir}/chat.db`)).close();
      assert.equal((await Deno.stat(`${dir}/chat.db`)).mode! & 0o777, 0o640);
    }),
);

Deno.test("SqliteStore.open() refuses a database from a newer version", () =>
  withDir(async (dir) => {
    const db = new DatabaseSync(`${dir}/chat.db`);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await refuses(
      SqliteStore.open(`${dir}/chat.db`),
      /written by a newer chat-server \(schema version \d+; this one knows up to \d+\)/,
    );
  }));

Deno.test("SqliteStore.open() refuses a file another store holds, until it closes", () =>
  withDir(async (dir) => {
    const first = await SqliteStore.open(`${dir}/chat.db`);
    await refuses(
      SqliteStore.open(`${dir}/chat.db`),
      new RegExp(
        `^Cannot open the database "${dir}/chat\\.db": another chat-server is using it$`,
      ),
    );
    await first.close();
    await (await SqliteStore.open(`${dir}/chat.db`)).close();
  }));

Deno.test("SqliteStore.open() says so when the file is not a database or its folder is missing", () =>
  withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/notes.txt`, "x".repeat(4096));
    await refuses(
      SqliteStore.open(`${dir}/notes.txt`),
      /Cannot open the database ".*notes\.txt": it is not a chat-server database/,
    );
    await refuses(
      SqliteStore.open(`${dir}/missing/chat.db`),
      /Cannot open the database ".*missing\/chat\.db": its folder does not exist/,
    );
  }));

Deno.test("SqliteStore.open() refuses another program's database, and leaves it as it was", () =>
  withDir(async (dir) => {
    const path = `${dir}/other.db`;
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)");
    db.close();
    await refuses(
      SqliteStore.open(path),
      new RegExp(
        `^Cannot open the database "${dir}/other\\.db": it is not a chat-server database \\(it holds tables, and no schema version\\)$`,
      ),
    );
    const after = new DatabaseSync(path);
    try {
      assert.deepEqual(
        after.prepare("SELECT name FROM sqlite_schema ORDER BY name").all()
          .map((row) => row.name),
        ["invoices"],
      );
      assert.equal(
        after.prepare("PRAGMA journal_mode").get()?.journal_mode,
        "delete",
      );
    } finally {
      after.close();
    }
  }));

Deno.test("SqliteStore.open() migrates a version 1 database, keeping what it holds", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    {
      // A file as the first version wrote it: rooms, history, accounts.
      const db = new DatabaseSync(path);
      db.exec(MIGRATIONS[0]);
      db.exec("PRAGMA user_version = 1");
      db.prepare(
        "INSERT INTO rooms (key, name, topic, topic_by, topic_at) VALUES (?, ?, ?, ?, ?)",
      ).run("den", "Den", "old times", "alice", 1);
      db.prepare(
        "INSERT INTO history (room, id, type, sender, text, at) VALUES (?, ?, ?, ?, ?, ?)",
      ).run("den", 7, "said", "alice", "from version 1", 2);
      db.close();
    }
    const store = await SqliteStore.open(path);
    try {
      const room = await store.room("den", 10);
      assert.equal(room?.topic, "old times");
      assert.deepEqual(room?.history.map((line) => line.text), [
        "from version 1",
      ]);
      // What later versions added works.
      assert.equal(await store.claimRoom("den", "Den", "alice"), true);
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(path);
    try {
      const version = db.prepare("PRAGMA user_version").get();
      assert.equal(version?.user_version, SCHEMA_VERSION);
    } finally {
      db.close();
    }
  }));

Deno.test("SqliteStore.open() migrates a version 2 database, keeping what every table holds", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    {
      // A file as version 2 wrote it, something in each of its tables.
      const db = new DatabaseSync(path);
      db.exec(MIGRATIONS[0]);
      db.exec(MIGRATIONS[1]);
      db.exec(`
        PRAGMA user_version = 2;
        INSERT INTO meta VALUES ('ids', 300000), ('lockdown', 1);
        INSERT INTO rooms VALUES ('den', 'Den', 'old times', 'alice', 1, 'alice');
        INSERT INTO history VALUES ('den', 7, 'said', 'alice', 'from version 2', 2);
        INSERT INTO accounts VALUES ('alice', 'Alice', 'alice', 'h', 1, 5);
        INSERT INTO account_failures VALUES ('alice', 2, '["192.0.2.1"]');
        INSERT INTO address_failures VALUES ('192.0.2.1', 2, 9);
        INSERT INTO offline VALUES (1, 'alice', 8, 'bob', 'Alice', 'waiting', 3);
        INSERT INTO operators VALUES ('alice');
        INSERT INTO room_operators VALUES ('den', 'bob');
        INSERT INTO sanctions VALUES ('ban', '', 'address:192.0.2.66', '192.0.2.66', 'alice', 4, NULL, 'spam');
        INSERT INTO modlog VALUES (1, 4, 'alice', 'ban', '192.0.2.66', '', 'spam', NULL);
      `);
      db.close();
    }
    const store = await SqliteStore.open(path);
    try {
      assert.ok(store.ids.next() > 300000, "ids go on past the reserved");
      assert.equal(await store.lockdown(), true);
      const room = await store.room("den", 10);
      assert.equal(room?.topic, "old times");
      assert.equal(room?.owner, "alice");
      assert.deepEqual(room?.operators, ["bob"]);
      assert.deepEqual(room?.history.map((line) => line.text), [
        "from version 2",
      ]);
      const alice = await store.accountFor("alice", "");
      assert.equal(alice?.name, "Alice");
      assert.equal(alice?.lastLogin, 5);
      assert.equal(alice?.lastAddress, null);
      const failures = await store.loginFailures("alice", "192.0.2.1", 0);
      assert.deepEqual(failures, {
        account: 2,
        addresses: ["192.0.2.1"],
        address: 2,
      });
      assert.deepEqual(await store.operators(), ["alice"]);
      assert.deepEqual(
        (await store.sanctions(0)).map((s) => s.label),
        ["192.0.2.66"],
      );
      assert.deepEqual(
        (await store.modlog({ limit: 10 })).map((e) => e.action),
        ["ban"],
      );
      assert.deepEqual(
        (await store.waitingMessages("alice", 0)).map((m) => m.event.text),
        ["waiting"],
      );
      // What version 3 added works.
      await store.recordLogin("alice", 6, { address: "192.0.2.5" });
      assert.equal(
        (await store.accountFor("alice", ""))?.lastAddress,
        "192.0.2.5",
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore.addModlog() keeps each room's last MODLOG_KEEP lines, as Redis does", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    await (await SqliteStore.open(path)).close();
    {
      // A room owner's claim and unclaim, over and over: a full log for den,
      // and a few lines for main, older than all of den's.
      const db = new DatabaseSync(path);
      db.exec(`
        INSERT INTO modlog (at, actor, action, target, room, reason, until)
          VALUES (1, 'root', 'kick', 'carol', 'main', 'old', NULL);
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n
          WHERE i < ${MODLOG_KEEP})
        INSERT INTO modlog (at, actor, action, target, room, reason, until)
          SELECT i + 1, 'mallory', 'claim', 'den', 'den', '', NULL FROM n;
      `);
      db.close();
    }
    const store = await SqliteStore.open(path);
    try {
      await store.addModlog({
        at: MODLOG_KEEP + 2,
        actor: "mallory",
        action: "unclaim",
        target: "den",
        room: "den",
        reason: "",
        until: null,
      });
      const den = await store.modlog({ limit: 2, room: "den" });
      assert.deepEqual(den.map((e) => e.action), ["claim", "unclaim"]);
      const main = await store.modlog({ limit: 2, room: "main" });
      assert.deepEqual(main.map((e) => e.reason), ["old"]);
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(path);
    try {
      const rows = db.prepare(
        "SELECT room, count(*) AS n, min(at) AS first FROM modlog " +
          "GROUP BY room ORDER BY room",
      ).all();
      assert.deepEqual(rows.map((row) => ({ ...row })), [
        { room: "den", n: MODLOG_KEEP, first: 3 },
        { room: "main", n: 1, first: 1 },
      ]);
    } finally {
      db.close();
    }
  }));

Deno.test("SqliteDatabase remembers at most 10,000 rooms, however many are written to, and keeps each one's lines", () => {
  const db = SqliteDatabase.open(":memory:", 2);
  try {
    let id = 0;
    // room key, room name, id, type, sender, text, date
    const line = (room: string): (string | number)[] => [
      room,
      room,
      ++id,
      "said",
      "mallory",
      `in ${room}`,
      id,
    ];
    db.write([...line("den"), ...line("den"), ...line("den")], []);
    // One line in each of 25,000 new rooms: join, say, join, say ...
    for (let batch = 0; batch < 50; batch++) {
      const lines: QueuedLines = [];
      for (let i = 0; i < 500; i++) lines.push(...line(`r${batch * 500 + i}`));
      db.write(lines, []);
    }
    const tracked = db.trackedRooms;
    assert.ok(tracked.rows <= 10_000, `rows remembered: ${tracked.rows}`);
    assert.ok(
      tracked.untrimmed <= 10_000,
      `untrimmed remembered: ${tracked.untrimmed}`,
    );
    // A room forgotten is written to and read as before, trimmed to its 2.
    db.write(line("r0"), []);
    db.write(line("den"), []);
    assert.deepEqual(db.history("r0", { limit: 10 }).map((l) => l.id), [
      4,
      id - 1,
    ]);
    assert.deepEqual(db.history("den", { limit: 10 }).map((l) => l.text), [
      "in den",
      "in den",
    ]);
    assert.equal(db.room("r24999", 5)?.history.length, 1);
  } finally {
    db.close();
  }
});

Deno.test("SqliteStore.claimedRooms() reads the claimed rooms by an index, not every room with history", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = await SqliteStore.open(path);
    try {
      await store.claimRoom("den", "Den", "alice");
      assert.deepEqual((await store.claimedRooms()).map((r) => r.key), [
        "den",
      ]);
    } finally {
      await store.close();
    }
    const db = new DatabaseSync(path);
    try {
      // The query claimedRooms() makes, as the database plans it.
      const plan = db.prepare(
        "EXPLAIN QUERY PLAN SELECT key, name, owner, topic FROM rooms " +
          "WHERE owner IS NOT NULL ORDER BY key",
      ).all().map((row) => String(row.detail));
      assert.deepEqual(plan, ["SCAN rooms USING INDEX rooms_claimed"]);
    } finally {
      db.close();
    }
  }));

Deno.test("SqliteStore.forgetOld() drops offline messages and address failures too old to matter", () =>
  withDir(async (dir) => {
    const store = await SqliteStore.open(`${dir}/chat.db`);
    try {
      const message = (at: number, text: string) => ({
        type: "private" as const,
        id: store.ids.next(),
        at,
        from: "bob",
        to: "alice",
        text,
      });
      const limits = { max: 50, perSender: 10, since: 0 };
      await store.leaveMessage("alice", message(1_000, "old"), limits);
      await store.leaveMessage("alice", message(5_000, "new"), limits);
      await store.addLoginFailure("alice", "192.0.2.1", {
        at: 1_000,
        since: 0,
      });
      await store.addLoginFailure("alice", "192.0.2.2", {
        at: 5_000,
        since: 0,
      });
      await store.forgetOld({ messagesBefore: 2_000, failuresBefore: 2_000 });
      assert.equal(
        (await store.loginFailures("alice", "192.0.2.1", 0)).address,
        0,
      );
      assert.equal(
        (await store.loginFailures("alice", "192.0.2.2", 0)).address,
        1,
      );
      assert.deepEqual(
        (await store.waitingMessages("alice", 0)).map((m) => m.event.text),
        ["new"],
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore.ackMessages(): a late receipt lets go of nothing kept since under the key SQLite gave again", () =>
  withDir(async (dir) => {
    const store = await SqliteStore.open(`${dir}/chat.db`);
    try {
      const message = (text: string) => ({
        type: "private" as const,
        id: store.ids.next(),
        at: 1_000,
        from: "bob",
        to: "alice",
        text,
      });
      const limits = { max: 50, perSender: 10, since: 0 };
      await store.leaveMessage("alice", message("first"), limits);
      // Two logins read it; one lets go of it, and SQLite, with no
      // AUTOINCREMENT, gives its key to the next message kept.
      const late = await store.waitingMessages("alice", 0);
      await store.ackMessages("alice", await store.waitingMessages("alice", 0));
      await store.leaveMessage("alice", message("second"), limits);
      await store.ackMessages("alice", late);
      assert.deepEqual(
        (await store.waitingMessages("alice", 0)).map((m) => m.event.text),
        ["second"],
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: a write SQLite rolled back itself fails with SQLite's own error", () =>
  withDir(async (dir) => {
    // SQLite ends the transaction itself on a full disk; a trigger that
    // raises ROLLBACK does the same, without a full disk. The store's own
    // ROLLBACK then used to throw "no transaction is active" instead.
    const store = await SqliteStore.open(`${dir}/chat.db`);
    try {
      assert.equal(
        await store.createAccount({
          key: "alice",
          name: "alice",
          skeleton: "alice",
          hash: "hash-of-alice",
          created: 0,
          lastLogin: null,
        }),
        true,
      );
      const other = new DatabaseSync(`${dir}/chat.db`);
      other.exec(
        "CREATE TRIGGER full BEFORE DELETE ON accounts BEGIN " +
          "SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
      );
      other.close();
      await assert.rejects(
        store.deleteAccount("alice"),
        /database or disk is full/,
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: chat lines wait out another process's write lock longer than SQLite's busy timeout", () =>
  withDir(async (dir) => {
    const errors: Error[] = [];
    const store = await SqliteStore.open(`${dir}/chat.db`, {
      onError: (error) => errors.push(error),
    });
    const other = new DatabaseSync(`${dir}/chat.db`);
    try {
      // An operator's DELETE, say, holds the write lock for 3 s: longer
      // than the 2 s SQLite waits before it gives up.
      other.exec("BEGIN IMMEDIATE");
      store.line("den", {
        type: "said",
        id: store.ids.next(),
        at: 0,
        room: "den",
        from: "alice",
        text: "said during the lock",
      });
      const flushed = store.flush();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      other.exec("COMMIT");
      await flushed;
      assert.deepEqual(errors, []);
      const kept = await store.history("den", { limit: 10 });
      assert.deepEqual(kept.map((line) => line.text), ["said during the lock"]);
    } finally {
      other.close();
      await store.close();
    }
  }));

function anAccount(key: string) {
  return {
    key,
    name: key,
    skeleton: key,
    hash: `hash-of-${key}`,
    created: 0,
    lastLogin: null,
  };
}

Deno.test("SqliteStore: a database whose folder is removed while open fails its writes and says so, instead of keeping them nowhere", async () => {
  const dir = await Deno.makeTempDir();
  const errors: Error[] = [];
  const store = await SqliteStore.open(`${dir}/chat.db`, {
    onError: (error) => errors.push(error),
  });
  try {
    assert.equal(await store.createAccount(anAccount("alice")), true);
    await Deno.remove(dir, { recursive: true });
    // SQLite, in WAL mode, goes on writing to the file no one can open
    // again: "bob" would be told he is registered, and be gone at the next
    // start.
    await assert.rejects(
      store.createAccount(anAccount("bob")),
      (error: Error) =>
        error instanceof StoreFailed &&
        error.message === `The database file "${dir}/chat.db" was deleted ` +
            "or replaced while the server ran: nothing more is kept until it is restarted",
    );
    store.line("den", {
      type: "said",
      id: store.ids.next(),
      at: 0,
      room: "den",
      from: "alice",
      text: "said after the removal",
    });
    await store.flush();
    assert.deepEqual(
      errors.map((error) => /was deleted or replaced/.test(error.message)),
      [true, true],
    );
    // What it holds can still be read.
    assert.equal((await store.accountFor("alice", ""))?.name, "alice");
  } finally {
    await store.close();
  }
});

Deno.test("SqliteStore: a database file replaced while open (a restore over a running server) fails its writes", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = await SqliteStore.open(path);
    try {
      await Deno.rename(path, `${dir}/aside.db`);
      await Deno.copyFile(`${dir}/aside.db`, path);
      await assert.rejects(
        store.setLockdown(true),
        (error: Error) =>
          error instanceof StoreFailed &&
          /was deleted or replaced/.test(error.message),
      );
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: a room first spoken in during a failed commit keeps the lines said once commits work again", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const errors: Error[] = [];
    let store = await SqliteStore.open(path, {
      onError: (error) => errors.push(error),
    });
    const say = (text: string) =>
      store.line("den", {
        type: "said",
        id: store.ids.next(),
        at: 0,
        room: "den",
        from: "alice",
        text,
      });
    const other = new DatabaseSync(path);
    try {
      // A full disk, for the first line only: SQLite rolls the batch back.
      other.exec(
        "CREATE TRIGGER full BEFORE INSERT ON history WHEN NEW.text = 'lost' " +
          "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
      );
      say("lost");
      await store.flush();
      assert.equal(errors.length, 1);
      other.exec("DROP TRIGGER full");
      say("kept");
      await store.flush();
    } finally {
      other.close();
      await store.close();
    }
    store = await SqliteStore.open(path);
    try {
      const kept = await store.history("den", { limit: 10 });
      assert.deepEqual(kept.map((line) => line.text), ["kept"]);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: a room whose trim the disk refuses can still be read", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = await SqliteStore.open(path, { historyKeep: 2 });
    try {
      for (const text of ["one", "two", "three"]) {
        store.line("den", {
          type: "said",
          id: store.ids.next(),
          at: 0,
          room: "den",
          from: "alice",
          text,
        });
      }
      await store.flush();
      // A full disk refuses a delete too (it needs room in the WAL).
      const other = new DatabaseSync(path);
      try {
        other.exec(
          "CREATE TRIGGER full BEFORE DELETE ON history BEGIN " +
            "SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
        );
      } finally {
        other.close();
      }
      const read = await store.history("den", { limit: 10 });
      assert.deepEqual(read.map((line) => line.text), ["one", "two", "three"]);
      const room = await store.room("den", 10);
      assert.equal(room?.history.length, 3);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore.open() with a lower historyKeep trims every room at once, not only those written to", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    let store = await SqliteStore.open(path, { historyKeep: 10 });
    for (let i = 1; i <= 10; i++) {
      store.line("den", {
        type: "said",
        id: store.ids.next(),
        at: 0,
        room: "den",
        from: "alice",
        text: `line ${i}`,
      });
    }
    await store.close();
    store = await SqliteStore.open(path, { historyKeep: 3 });
    try {
      const kept = await store.history("den", { limit: 10 });
      assert.deepEqual(kept.map((line) => line.text), [
        "line 8",
        "line 9",
        "line 10",
      ]);
    } finally {
      await store.close();
    }
    const file = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(
        file.prepare("SELECT count(*) AS n FROM history").get()?.n,
        3,
        "gone from the file too",
      );
    } finally {
      file.close();
    }
    // A higher one later keeps what there is, and trims nothing.
    store = await SqliteStore.open(path, { historyKeep: 5 });
    try {
      assert.equal((await store.history("den", { limit: 10 })).length, 3);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: ids reserved while the disk was full are asked for again, so a restart never hands out an id twice", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const errors: Error[] = [];
    let store = await SqliteStore.open(path, {
      onError: (error) => errors.push(error),
    });
    const other = new DatabaseSync(path);
    let last = 0;
    try {
      other.exec(
        "CREATE TRIGGER full BEFORE UPDATE ON meta WHEN NEW.key = 'ids' " +
          "BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
      );
      // Half the first block: the next one is asked for, and refused.
      for (let i = 0; i < 60_000; i++) last = store.ids.next();
      await store.flush();
      assert.ok(errors.length > 0, "the refused reservation is reported");
      other.exec("DROP TRIGGER full");
      // Past the end of the first block, with the disk back.
      for (let i = 0; i < 60_000; i++) last = store.ids.next();
      await store.flush();
    } finally {
      other.close();
      await store.close();
    }
    store = await SqliteStore.open(path);
    try {
      const next = store.ids.next();
      assert.ok(next > last, `${next} comes after ${last}`);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: a file left with lines and messages past its reservation (by an older version) is mended at open", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    let store = await SqliteStore.open(path);
    const said = (id: number, text: string) =>
      store.line("den", {
        type: "said",
        id,
        at: 0,
        room: "den",
        from: "alice",
        text,
      });
    const base = store.ids.last();
    for (let i = 1; i <= 5; i++) said(base + i, `old ${i}`);
    const left = store.leaveMessage("bob", {
      type: "private",
      id: base + 9,
      at: Date.now(),
      from: "alice",
      to: "bob",
      text: "waiting",
    }, { max: 50, perSender: 10, since: 0 });
    await store.close();
    assert.equal(await left, "kept");
    // As a crash with the database thread behind left it before the
    // reservation followed the lines: ids past it kept.
    const file = new DatabaseSync(path);
    file.prepare("UPDATE meta SET value = ? WHERE key = 'ids'").run(base);
    file.close();
    store = await SqliteStore.open(path);
    try {
      const next = store.ids.next();
      assert.ok(next > base + 9, `${next} comes after ${base + 9}`);
      said(next, "new after the restart");
      const kept = await store.history("den", { limit: 10 });
      assert.deepEqual(kept.at(-1)?.text, "new after the restart");
      assert.equal(kept.length, 6);
    } finally {
      await store.close();
    }
  }));

Deno.test("SqliteStore: lines and offline messages kept with ids past the reservation (its thread behind the chat) are above where a restart starts", () =>
  withDir(async (dir) => {
    const path = `${dir}/chat.db`;
    let store = await SqliteStore.open(path);
    const said = (id: number, text: string) =>
      store.line("main", {
        type: "said",
        id,
        at: 0,
        room: "main",
        from: "alice",
        text,
      });
    // The chat does not wait for the database thread: the next block is
    // asked for at half of this one, and ids go on meanwhile. Here 250,000
    // go before the thread answers (a flood, a slow disk or another
    // process's lock has it that far behind); the lines with the last ones
    // are kept, and the server dies before the block after is asked for.
    let last = 0;
    for (let i = 0; i < 250_000; i++) last = store.ids.next();
    said(last - 1, "past the reservation");
    const message = {
      type: "private" as const,
      id: last,
      at: Date.now(),
      from: "alice",
      to: "bob",
      text: "waiting",
    };
    const left = store.leaveMessage("bob", message, {
      max: 50,
      perSender: 10,
      since: 0,
    });
    await store.close();
    assert.equal(await left, "kept");
    const file = new DatabaseSync(path, { readOnly: true });
    try {
      const reserved = file.prepare(
        "SELECT value FROM meta WHERE key = 'ids'",
      ).get() as { value: number };
      assert.ok(reserved.value >= last, `${reserved.value} covers ${last}`);
    } finally {
      file.close();
    }

    store = await SqliteStore.open(path);
    try {
      const next = store.ids.next();
      assert.ok(next > last, `${next} comes after ${last}`);
      said(next, "after the restart");
      const kept = await store.history("main", { limit: 10 });
      assert.deepEqual(kept.map((line) => line.text), [
        "past the reservation",
        "after the restart",
      ]);
    } finally {
      await store.close();
    }
  }));
