/**
 * The store on SQLite (`node:sqlite`, part of Deno): one file, in WAL mode,
 * with a schema version and migrations run at open. A crash loses at most
 * the writes queued in the last turn of the event loop, never the file.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import type {
  ChatLine,
  EventIds,
  PrivateEvent,
  TopicEvent,
} from "../events.ts";
import {
  type Account,
  type LoginFailures,
  type Store,
  type StoredRoom,
  StoreError,
} from "./store.ts";

/**
 * The schema, one migration per version: `MIGRATIONS[n]` takes a database
 * from version n to n + 1. A database newer than this list is refused.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  CREATE TABLE rooms (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    topic TEXT,
    topic_by TEXT,
    topic_at INTEGER
  );
  CREATE TABLE history (
    id INTEGER PRIMARY KEY,
    room TEXT NOT NULL,
    type TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX history_by_room ON history (room, id);
  CREATE TABLE accounts (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    skeleton TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_login INTEGER
  );
  CREATE TABLE account_failures (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    addresses TEXT NOT NULL
  );
  CREATE TABLE address_failures (
    address TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    last_at INTEGER NOT NULL
  );
  CREATE TABLE offline (
    id INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  CREATE INDEX offline_by_recipient ON offline (recipient, at);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Ids are reserved this many at a time: a restart skips what was unused. */
const ID_BLOCK = 1000;

/** How many addresses an account's failure report keeps. */
const MAX_FAILURE_ADDRESSES = 10;

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Chat lines kept per room; older ones are deleted. Default 1000. */
  historyKeep?: number;
  /** Called when a queued commit fails (the disk is full, say). */
  onError?: (error: unknown) => void;
  /** Called after each commit of queued writes with its duration in ms. */
  onCommit?: (ms: number) => void;
}

type Row = Record<string, unknown>;

/** The store in one SQLite file, or in memory (`:memory:`). */
export class SqliteStore implements Store {
  readonly ids: EventIds;
  readonly #db: DatabaseSync;
  /** Held while open, so that a second server cannot use the same file. */
  readonly #lock: Deno.FsFile | null;
  readonly #keep: number;
  readonly #onError: (error: unknown) => void;
  readonly #onCommit: (ms: number) => void;
  readonly #statements = new Map<string, StatementSync>();
  /** Chat lines waiting for the next commit, with their room's key. */
  #lines: { room: string; event: ChatLine }[] = [];
  /** Topics waiting for the next commit, by room key. */
  #topics = new Map<string, TopicEvent>();
  #scheduled = false;
  #closed = false;

  private constructor(
    db: DatabaseSync,
    lock: Deno.FsFile | null,
    options: SqliteStoreOptions,
  ) {
    this.#db = db;
    this.#lock = lock;
    this.#keep = options.historyKeep ?? 1000;
    this.#onError = options.onError ?? (() => {});
    this.#onCommit = options.onCommit ?? (() => {});
    this.ids = new ReservedIds(this);
  }

  /**
   * Opens (or creates) the database at `path` (`:memory:` keeps nothing) and
   * brings its schema up to date. Throws a {@linkcode StoreError} with one
   * line for the operator when it cannot: a newer schema, a file another
   * server holds, a file that cannot be written, or not a database.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const memory = path === ":memory:";
    const lock = memory ? null : lockFile(path);
    let db: DatabaseSync | null = null;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 2000");
      if (!memory) {
        const mode = db.prepare("PRAGMA journal_mode = WAL").get() as Row;
        if (mode.journal_mode !== "wal") {
          throw new Error(`journal mode is ${mode.journal_mode}, not WAL`);
        }
      }
      // WAL with synchronous NORMAL: a crash of the process loses nothing
      // committed; a power cut at most the last commits, never the file.
      db.exec("PRAGMA synchronous = NORMAL");
      migrate(db, path);
      const store = new SqliteStore(db, lock, options);
      return store;
    } catch (error) {
      db?.close();
      lock?.close();
      if (error instanceof StoreError) throw error;
      throw new StoreError(
        `Cannot open the database "${path}": ${describe(error)}`,
        { cause: error },
      );
    }
  }

  // Queued writes: the Journal.

  line(room: string, event: ChatLine): void {
    this.#lines.push({ room, event });
    this.#schedule();
  }

  topic(room: string, event: TopicEvent): void {
    this.#topics.set(room, event);
    this.#schedule();
  }

  // Reads, and writes that are answered.

  room(key: string, lines: number): Promise<StoredRoom | null> {
    return this.#answer(() => {
      this.#commit();
      const row = this.#get("SELECT * FROM rooms WHERE key = ?", key);
      if (row === undefined) return null;
      const name = row.name as string;
      return {
        name,
        topic: (row.topic as string | null) ?? null,
        history: lines === 0 ? [] : this.#history(key, name, lines),
      };
    });
  }

  history(
    key: string,
    options: { limit: number; before?: number },
  ): Promise<ChatLine[]> {
    return this.#answer(() => {
      this.#commit();
      const row = this.#get("SELECT name FROM rooms WHERE key = ?", key);
      if (row === undefined) return [];
      return this.#history(
        key,
        row.name as string,
        options.limit,
        options.before,
      );
    });
  }

  accountFor(key: string, skeleton: string): Promise<Account | null> {
    return this.#answer(() => {
      const row = this.#get(
        "SELECT * FROM accounts WHERE key = ?1 OR skeleton = ?2 " +
          "ORDER BY key = ?1 DESC LIMIT 1",
        key,
        skeleton,
      );
      return row === undefined ? null : toAccount(row);
    });
  }

  createAccount(account: Account): Promise<boolean> {
    return this.#answer(() => {
      const result = this.#run(
        "INSERT INTO accounts (key, name, skeleton, hash, created, last_login) " +
          "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        account.key,
        account.name,
        account.skeleton,
        account.hash,
        account.created,
        account.lastLogin,
      );
      return result.changes === 1;
    });
  }

  setPassword(key: string, hash: string): Promise<void> {
    return this.#answer(() => {
      this.#run("UPDATE accounts SET hash = ? WHERE key = ?", hash, key);
    });
  }

  deleteAccount(key: string): Promise<void> {
    return this.#answer(() => {
      this.#transaction(() => {
        this.#run("DELETE FROM accounts WHERE key = ?", key);
        this.#run("DELETE FROM account_failures WHERE key = ?", key);
        this.#run("DELETE FROM offline WHERE recipient = ?", key);
      });
    });
  }

  loginFailures(
    key: string,
    address: string,
    since: number,
  ): Promise<LoginFailures> {
    return this.#answer(() => {
      const account = this.#get(
        "SELECT count, addresses FROM account_failures WHERE key = ?",
        key,
      );
      const from = this.#get(
        "SELECT count FROM address_failures WHERE address = ? AND last_at >= ?",
        address,
        since,
      );
      return {
        account: (account?.count as number | undefined) ?? 0,
        addresses: account ? JSON.parse(account.addresses as string) : [],
        address: (from?.count as number | undefined) ?? 0,
      };
    });
  }

  addLoginFailure(
    key: string,
    address: string,
    options: { at: number; since: number },
  ): Promise<void> {
    return this.#answer(() => {
      this.#transaction(() => {
        const row = this.#get(
          "SELECT addresses FROM account_failures WHERE key = ?",
          key,
        );
        const addresses: string[] = row
          ? JSON.parse(row.addresses as string)
          : [];
        const latest = [address, ...addresses.filter((a) => a !== address)]
          .slice(0, MAX_FAILURE_ADDRESSES);
        this.#run(
          "INSERT INTO account_failures (key, count, addresses) VALUES (?, 1, ?) " +
            "ON CONFLICT (key) DO UPDATE SET count = count + 1, " +
            "addresses = excluded.addresses",
          key,
          JSON.stringify(latest),
        );
        this.#run(
          "INSERT INTO address_failures (address, count, last_at) VALUES (?, 1, ?) " +
            "ON CONFLICT (address) DO UPDATE SET " +
            "count = CASE WHEN last_at >= ? THEN count + 1 ELSE 1 END, " +
            "last_at = excluded.last_at",
          address,
          options.at,
          options.since,
        );
      });
    });
  }

  recordLogin(key: string, at: number): Promise<void> {
    return this.#answer(() => {
      this.#transaction(() => {
        this.#run("DELETE FROM account_failures WHERE key = ?", key);
        this.#run("UPDATE accounts SET last_login = ? WHERE key = ?", at, key);
      });
    });
  }

  leaveMessage(
    to: string,
    event: PrivateEvent,
    options: { max: number; since: number },
  ): Promise<boolean> {
    return this.#answer(() =>
      this.#transaction(() => {
        this.#run(
          "DELETE FROM offline WHERE recipient = ? AND at < ?",
          to,
          options.since,
        );
        const waiting = this.#get(
          "SELECT count(*) AS n FROM offline WHERE recipient = ?",
          to,
        )!.n as number;
        if (waiting >= options.max) return false;
        this.#run(
          "INSERT INTO offline (recipient, event_id, sender, name, text, at) " +
            "VALUES (?, ?, ?, ?, ?, ?)",
          to,
          event.id,
          event.from,
          event.to,
          event.text,
          event.at,
        );
        return true;
      })
    );
  }

  takeMessages(to: string, since: number): Promise<PrivateEvent[]> {
    return this.#answer(() =>
      this.#transaction(() => {
        const rows = this.#all(
          "SELECT * FROM offline WHERE recipient = ? AND at >= ? ORDER BY id",
          to,
          since,
        );
        this.#run("DELETE FROM offline WHERE recipient = ?", to);
        return rows.map((row): PrivateEvent => ({
          type: "private",
          id: row.event_id as number,
          at: row.at as number,
          from: row.sender as string,
          to: row.name as string,
          text: row.text as string,
        }));
      })
    );
  }

  flush(): Promise<void> {
    return this.#answer(() => this.#commit());
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      this.#commit();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#closed = true;
      this.#db.close();
      this.#lock?.close();
    }
  }

  /** Reserves the next block of ids at once (not queued): see ReservedIds. */
  reserveIds(): number {
    const row = this.#get("SELECT value FROM meta WHERE key = 'ids'");
    const reserved = ((row?.value as number | undefined) ?? 0) + ID_BLOCK;
    this.#run(
      "INSERT INTO meta (key, value) VALUES ('ids', ?) " +
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      reserved,
    );
    return reserved;
  }

  /** The last id reserved before this process: no id up to it is used again. */
  reservedIds(): number {
    const row = this.#get("SELECT value FROM meta WHERE key = 'ids'");
    return (row?.value as number | undefined) ?? 0;
  }

  /** Runs a read or an answered write now, as a promise. */
  #answer<T>(work: () => T): Promise<T> {
    try {
      if (this.#closed) throw new StoreError("The store is closed");
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed) return;
      try {
        this.#commit();
      } catch (error) {
        this.#onError(error);
      }
    });
  }

  /** Writes everything queued in one transaction. */
  #commit(): void {
    const lines = this.#lines;
    const topics = this.#topics;
    if (lines.length === 0 && topics.size === 0) return;
    this.#lines = [];
    this.#topics = new Map();
    const started = performance.now();
    this.#transaction(() => {
      const rooms = new Map<string, string>();
      for (const { room, event } of lines) {
        this.#run(
          "INSERT INTO history (id, room, type, sender, text, at) " +
            "VALUES (?, ?, ?, ?, ?, ?)",
          event.id,
          room,
          event.type,
          event.from,
          event.text,
          event.at,
        );
        rooms.set(room, event.room);
      }
      for (const [room, event] of topics) {
        this.#run(
          "INSERT INTO rooms (key, name, topic, topic_by, topic_at) " +
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET " +
            "topic = excluded.topic, topic_by = excluded.topic_by, " +
            "topic_at = excluded.topic_at",
          room,
          event.room,
          event.text,
          event.from,
          event.at,
        );
      }
      for (const [room, name] of rooms) {
        this.#run(
          "INSERT INTO rooms (key, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
          room,
          name,
        );
        this.#run(
          "DELETE FROM history WHERE room = ?1 AND id <= (SELECT id FROM " +
            "history WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
          room,
          this.#keep,
        );
      }
    });
    this.#onCommit(performance.now() - started);
  }

  #history(
    key: string,
    name: string,
    limit: number,
    before?: number,
  ): ChatLine[] {
    const rows = before === undefined
      ? this.#all(
        "SELECT * FROM history WHERE room = ? ORDER BY id DESC LIMIT ?",
        key,
        limit,
      )
      : this.#all(
        "SELECT * FROM history WHERE room = ? AND id < ? " +
          "ORDER BY id DESC LIMIT ?",
        key,
        before,
        limit,
      );
    return rows.reverse().map((row): ChatLine => ({
      type: row.type as "said" | "emote",
      id: row.id as number,
      at: row.at as number,
      room: name,
      from: row.sender as string,
      text: row.text as string,
    }));
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: (string | number | null)[]): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: (string | number | null)[]): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: (string | number | null)[]) {
    return this.#statement(sql).run(...params);
  }
}

/**
 * Ids handed out from blocks reserved in the database: reserving writes
 * once per block, and a restart goes on after the last block reserved, so
 * ids only grow even when the last moments before a crash were lost.
 */
class ReservedIds implements EventIds {
  readonly #store: SqliteStore;
  #last: number;
  #reserved: number;

  constructor(store: SqliteStore) {
    this.#store = store;
    this.#last = this.#reserved = store.reservedIds();
  }

  next(): number {
    if (this.#last >= this.#reserved) this.#reserved = this.#store.reserveIds();
    return ++this.#last;
  }
}

/**
 * Takes an advisory lock on the database file, so that a second server on
 * the same file stops at once instead of sharing it. SQLite's own locks are
 * another kind (POSIX record locks), so this one does not get in their way,
 * nor in the way of a backup taken from another process.
 */
function lockFile(path: string): Deno.FsFile {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true });
  } catch (error) {
    throw new StoreError(
      `Cannot open the database "${path}": ${describe(error)}`,
      { cause: error },
    );
  }
  if (!file.tryLockSync(true)) {
    file.close();
    throw new StoreError(
      `Cannot open the database "${path}": another chat-server is using it`,
    );
  }
  return file;
}

function migrate(db: DatabaseSync, path: string): void {
  const row = db.prepare("PRAGMA user_version").get() as Row;
  const version = row.user_version as number;
  if (version > SCHEMA_VERSION) {
    throw new StoreError(
      `Cannot open the database "${path}": it was written by a newer ` +
        `chat-server (schema version ${version}; this one knows up to ` +
        `${SCHEMA_VERSION})`,
    );
  }
  for (let next = version; next < SCHEMA_VERSION; next++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[next]);
      db.exec(`PRAGMA user_version = ${next + 1}`);
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  }
}

function toAccount(row: Row): Account {
  return {
    key: row.key as string,
    name: row.name as string,
    skeleton: row.skeleton as string,
    hash: row.hash as string,
    created: row.created as number,
    lastLogin: (row.last_login as number | null) ?? null,
  };
}

/** An error as one line for the operator. */
function describe(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) {
    return "permission denied (it cannot be written)";
  }
  if (error instanceof Deno.errors.NotFound) {
    return "its folder does not exist";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return "Deno was not given --allow-read and --allow-write for it";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/readonly database/i.test(message)) return "it cannot be written";
  if (/not a database/i.test(message)) {
    return "it is not a chat-server database";
  }
  return message.split("\n")[0];
}
