import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, SqliteStore } from "../src/store/sqlite.ts";
import { StoreError } from "../src/store/store.ts";
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
