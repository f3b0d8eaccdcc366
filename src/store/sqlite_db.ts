/**
 * The database itself: SQLite (`node:sqlite`, part of Deno), one file in WAL
 * mode, with a schema version and migrations run at open. Every call here is
 * synchronous and may take milliseconds (a commit, a checkpoint's fsync), so
 * it runs on a worker thread of its own (`sqlite_worker.ts`), never on the
 * chat's event loop; `SqliteStore` (`sqlite.ts`) is how the chat talks to it.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { ChatLine, PrivateEvent, TopicEvent } from "../events.ts";
import {
  type Account,
  type ClaimedRoom,
  type LeaveResult,
  type LoginFailures,
  MODLOG_KEEP,
  type ModlogEntry,
  type Sanction,
  type SanctionKind,
  type StoredRoom,
  StoreError,
  type WaitingMessage,
} from "./store.ts";

/**
 * The schema, one migration per version: `MIGRATIONS[n]` takes a database
 * from version n to n + 1. A database newer than this list is refused.
 */
export const MIGRATIONS: readonly string[] = [
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
    room TEXT NOT NULL,
    id INTEGER NOT NULL,
    type TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (room, id)
  ) WITHOUT ROWID;
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
  // 2: moderation.
  `
  CREATE TABLE operators (key TEXT PRIMARY KEY);
  ALTER TABLE rooms ADD COLUMN owner TEXT;
  CREATE TABLE room_operators (
    room TEXT NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (room, key)
  ) WITHOUT ROWID;
  CREATE TABLE sanctions (
    kind TEXT NOT NULL,
    room TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    by TEXT NOT NULL,
    at INTEGER NOT NULL,
    until INTEGER,
    reason TEXT NOT NULL,
    PRIMARY KEY (kind, room, target)
  ) WITHOUT ROWID;
  CREATE TABLE modlog (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    room TEXT NOT NULL,
    reason TEXT NOT NULL,
    until INTEGER
  );
  CREATE INDEX modlog_by_room ON modlog (room, id);
  `,
  // 3: the address of each account's last login, for the shield of an
  // offline server operator from an address ban.
  `
  ALTER TABLE accounts ADD COLUMN last_address TEXT;
  `,
  // 4: the claimed rooms, read at each claim, found without a scan of every
  // room with history (which anyone can add to: join, say, join ...).
  `
  CREATE INDEX rooms_claimed ON rooms (key) WHERE owner IS NOT NULL;
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * A room's history is trimmed to `--history-keep` once this many lines were
 * written to it since the last trim (and when the database closes).
 */
const TRIM_SLACK = 100;

/**
 * Deletes the lines of room `?1` past its newest `?2`: at a trim while
 * open, and at open for a lower `--history-keep` (one statement, so that
 * the two cannot come to keep different lines).
 */
const TRIM_HISTORY =
  "DELETE FROM history WHERE room = ?1 AND id <= (SELECT id FROM " +
  "history WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)";

/**
 * Up to `?4` rooms after key `?1`, in key order, that nobody owns, whose
 * newest line (the highest id: ids only grow) and topic are older than
 * `?2`, and that are not among the keys in the JSON array `?3`. Walks the
 * rooms' key index from `?1`, with one search of history's primary key per
 * room; a room with neither lines nor topic (left from an unclaim) is quiet.
 */
const QUIET_ROOMS = "SELECT key FROM rooms WHERE key > ?1 AND owner IS NULL " +
  "AND coalesce(topic_at, 0) < ?2 AND coalesce((SELECT at FROM history " +
  "WHERE room = rooms.key ORDER BY id DESC LIMIT 1), 0) < ?2 " +
  "AND key NOT IN (SELECT value FROM json_each(?3)) ORDER BY key LIMIT ?4";

/** Sets `meta`'s value `?2` under key `?1` (`ids`, `lockdown`, ...). */
const SET_META = "INSERT INTO meta (key, value) VALUES (?1, ?2) " +
  "ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/**
 * The most rooms remembered here, as known to have a row or as written to
 * since their last trim: anyone can `join` room after room and say a line
 * in each, a room a second per connection, and each was remembered until
 * the server stopped. Past it the rows are upserted again, and every room
 * written to is trimmed at the next commit.
 */
const TRACKED_ROOMS = 10_000;

/** How many addresses an account's failure report keeps. */
const MAX_FAILURE_ADDRESSES = 10;

type Row = Record<string, unknown>;

/**
 * Chat lines to keep, flattened into one array, {@linkcode LINE_FIELDS}
 * values a line: room key, room name, id, type, sender, text, date. A flat
 * array of strings and numbers is the cheapest thing to post to a worker
 * (structured cloning objects cost more than a microsecond a line).
 */
export type QueuedLines = (string | number)[];

/** Values per line in {@linkcode QueuedLines}. */
export const LINE_FIELDS = 7;

/** Lines per INSERT statement: one statement for many rows costs less. */
const ROWS_PER_INSERT = 50;

/** A topic to keep, with its room's key. */
export interface QueuedTopic {
  readonly room: string;
  readonly event: TopicEvent;
}

/** The database in one SQLite file, or in memory (`:memory:`). */
export class SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #path: string;
  /** Held while open, so that a second server cannot use the same file. */
  readonly #lock: Deno.FsFile | null;
  readonly #keep: number;
  readonly #statements = new Map<string, StatementSync>();
  /** Rooms known to have a row, so that a line does not upsert one each. */
  readonly #rooms = new Set<string>();
  /**
   * The -wal and -shm files as first seen: SQLite keeps them open, and
   * makes no others while the database is open here.
   */
  readonly #beside = new Map<
    "wal" | "shm",
    { ino: number | null; dev: number | null }
  >();
  /** One was found deleted, and what the WAL held is checkpointed. */
  #walGone = false;
  /** Lines written per room since its history was last trimmed. */
  readonly #untrimmed = new Map<string, number>();
  /**
   * The reservation of event ids as committed (`meta.ids`): no id kept in
   * the file is above it (see {@linkcode SqliteDatabase.#cover}).
   */
  #reservedIds = 0;
  #closed = false;

  private constructor(
    db: DatabaseSync,
    options: { path: string; lock: Deno.FsFile | null; historyKeep: number },
  ) {
    const { path, lock, historyKeep } = options;
    this.#db = db;
    this.#path = path;
    this.#lock = lock;
    this.#keep = historyKeep;
  }

  /**
   * Opens (or creates) the database at `path` (`:memory:` keeps nothing) and
   * brings its schema up to date. Throws a {@linkcode StoreError} with one
   * line for the operator when it cannot: a newer schema, a file another
   * server holds, a file that cannot be written, or not a database.
   */
  static open(path: string, historyKeep = 1000): SqliteDatabase {
    const memory = path === ":memory:";
    const lock = memory ? null : lockFile(path);
    let db: DatabaseSync | null = null;
    try {
      db = new DatabaseSync(path);
      db.exec("PRAGMA busy_timeout = 2000");
      refuseForeign(db, path);
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
      trimToKeep(db, historyKeep);
      coverKeptIds(db);
      return new SqliteDatabase(db, { path, lock, historyKeep });
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

  /** Writes queued lines and topics in one transaction; returns its ms. */
  write(lines: QueuedLines, topics: readonly QueuedTopic[]): number {
    if (lines.length === 0 && topics.length === 0) return 0;
    const started = performance.now();
    let top = 0;
    for (let at = 2; at < lines.length; at += LINE_FIELDS) {
      if ((lines[at] as number) > top) top = lines[at] as number;
    }
    this.#transaction(() => {
      this.#insertLines(lines);
      this.#cover(top);
      for (const { room, event } of topics) {
        this.#run(
          "INSERT INTO rooms (key, name, topic, topic_by, topic_at) " +
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET " +
            "topic = excluded.topic, topic_by = excluded.topic_by, " +
            "topic_at = excluded.topic_at",
          room,
          event.room,
          // A cleared topic is no topic: NULL, as for a room never given one.
          event.text === "" ? null : event.text,
          event.from,
          event.at,
        );
        this.#known(room);
      }
      this.#trim(TRIM_SLACK);
    });
    this.#covered(top);
    return performance.now() - started;
  }

  /** Inserts flattened lines, many rows per statement. */
  #insertLines(lines: QueuedLines): void {
    const count = lines.length / LINE_FIELDS;
    const rows: (string | number)[] = [];
    for (let line = 0; line < count; line++) {
      const at = line * LINE_FIELDS;
      const room = lines[at] as string;
      if (!this.#rooms.has(room)) {
        this.#run(
          "INSERT INTO rooms (key, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
          room,
          lines[at + 1],
        );
        this.#known(room);
      }
      this.#untrimmed.set(room, (this.#untrimmed.get(room) ?? 0) + 1);
      // room, id, type, sender, text, at
      rows.push(
        room,
        lines[at + 2],
        lines[at + 3],
        lines[at + 4],
        lines[at + 5],
        lines[at + 6],
      );
      if (rows.length === ROWS_PER_INSERT * 6) {
        this.#insertRows(rows);
        rows.length = 0;
      }
    }
    if (rows.length > 0) this.#insertRows(rows);
  }

  #insertRows(rows: (string | number)[]): void {
    const count = rows.length / 6;
    this.#statement(
      "INSERT INTO history (room, id, type, sender, text, at) VALUES " +
        Array(count).fill("(?, ?, ?, ?, ?, ?)").join(", "),
    ).run(...rows);
  }

  room(key: string, lines: number): StoredRoom | null {
    this.#trimBeforeRead(key);
    const row = this.#get("SELECT * FROM rooms WHERE key = ?", key);
    if (row === undefined) return null;
    const name = row.name as string;
    const owner = (row.owner as string | null) ?? null;
    return {
      name,
      topic: (row.topic as string | null) ?? null,
      owner,
      operators: owner === null ? [] : this.#all(
        "SELECT key FROM room_operators WHERE room = ? ORDER BY key",
        key,
      ).map((op) => op.key as string),
      history: lines === 0 ? [] : this.#history(key, name, lines),
    };
  }

  history(
    key: string,
    options: { limit: number; before?: number },
  ): ChatLine[] {
    this.#trimBeforeRead(key);
    const row = this.#get("SELECT name FROM rooms WHERE key = ?", key);
    if (row === undefined) return [];
    return this.#history(
      key,
      row.name as string,
      options.limit,
      options.before,
    );
  }

  accountFor(key: string, skeleton: string): Account | null {
    const row = this.#get(
      "SELECT * FROM accounts WHERE key = ?1 OR skeleton = ?2 " +
        "ORDER BY key = ?1 DESC LIMIT 1",
      key,
      skeleton,
    );
    return row === undefined ? null : toAccount(row);
  }

  createAccount(account: Account): boolean {
    const result = this.#write(
      "INSERT INTO accounts " +
        "(key, name, skeleton, hash, created, last_login, last_address) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      account.key,
      account.name,
      account.skeleton,
      account.hash,
      account.created,
      account.lastLogin,
      account.lastAddress ?? null,
    );
    return result.changes === 1;
  }

  setPassword(key: string, hash: string): void {
    this.#write("UPDATE accounts SET hash = ? WHERE key = ?", hash, key);
  }

  deleteAccount(key: string): void {
    this.#transaction(() => {
      this.#run("DELETE FROM accounts WHERE key = ?", key);
      this.#run("DELETE FROM account_failures WHERE key = ?", key);
      this.#run("DELETE FROM offline WHERE recipient = ?", key);
      this.#run("DELETE FROM operators WHERE key = ?", key);
      this.#run("DELETE FROM room_operators WHERE key = ?", key);
      // Its rooms are unclaimed: their room operators go, as at "unclaim",
      // so that whoever claims one next does not find them there.
      this.#run(
        "DELETE FROM room_operators WHERE room IN " +
          "(SELECT key FROM rooms WHERE owner = ?)",
        key,
      );
      this.#run("UPDATE rooms SET owner = NULL WHERE owner = ?", key);
    });
  }

  loginFailures(key: string, address: string, since: number): LoginFailures {
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
  }

  addLoginFailure(
    key: string,
    address: string,
    options: { at: number; since: number },
  ): void {
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
  }

  recordLogin(
    key: string,
    at: number,
    options: { address?: string } = {},
  ): void {
    this.#transaction(() => {
      this.#run("DELETE FROM account_failures WHERE key = ?", key);
      this.#run(
        "UPDATE accounts SET last_login = ?, " +
          "last_address = coalesce(?, last_address) WHERE key = ?",
        at,
        options.address ?? null,
        key,
      );
    });
  }

  leaveMessage(
    to: string,
    event: PrivateEvent,
    options: { max: number; perSender: number; since: number },
  ): LeaveResult {
    const result = this.#transaction((): LeaveResult => {
      this.#run(
        "DELETE FROM offline WHERE recipient = ? AND at < ?",
        to,
        options.since,
      );
      // One sender whatever the letter case of their name: an account may
      // change only that (as Redis's script, ASCII's case).
      const waiting = this.#get(
        "SELECT count(*) AS n, " +
          "count(CASE WHEN lower(sender) = lower(?) THEN 1 END) AS mine " +
          "FROM offline WHERE recipient = ?",
        event.from,
        to,
      )!;
      if ((waiting.n as number) >= options.max) return "full";
      if ((waiting.mine as number) >= options.perSender) return "sender";
      this.#cover(event.id);
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
      return "kept";
    });
    if (result === "kept") this.#covered(event.id);
    return result;
  }

  forgetOld(options: { messagesBefore: number; failuresBefore: number }): void {
    this.#transaction(() => {
      this.#run("DELETE FROM offline WHERE at < ?", options.messagesBefore);
      this.#run(
        "DELETE FROM address_failures WHERE last_at < ?",
        options.failuresBefore,
      );
    });
  }

  /**
   * Forgets up to `limit` rooms quiet since before `before`, from those
   * whose keys come after `after` (see {@linkcode Store.forgetOld}): their
   * lines, topic and name. Answers how many, and the key to go on after,
   * or null once every room was looked at. A step at a time, in key order,
   * so that a sweep with much to forget (the first after an upgrade) lets
   * the chat's queued commits in between its steps, and no room is looked
   * at twice. One look up each room's history index for its newest line.
   */
  forgetQuietRooms(
    options: {
      before: number;
      open: readonly string[];
      after: string;
      limit: number;
    },
  ): { forgotten: number; next: string | null } {
    const rooms = this.#transaction(() => {
      const rooms = this.#all(
        QUIET_ROOMS,
        options.after,
        options.before,
        JSON.stringify(options.open),
        options.limit,
      ).map((row) => row.key as string);
      for (const room of rooms) {
        this.#run("DELETE FROM history WHERE room = ?", room);
        this.#run("DELETE FROM rooms WHERE key = ?", room);
      }
      return rooms;
    });
    // Not before the commit: a rolled-back step leaves them as they were.
    for (const room of rooms) {
      this.#rooms.delete(room);
      this.#untrimmed.delete(room);
    }
    return {
      forgotten: rooms.length,
      next: rooms.length < options.limit ? null : rooms[rooms.length - 1],
    };
  }

  waitingMessages(to: string, since: number): WaitingMessage[] {
    const rows = this.#all(
      "SELECT * FROM offline WHERE recipient = ? AND at >= ? ORDER BY id",
      to,
      since,
    );
    return rows.map((row): WaitingMessage => ({
      event: {
        type: "private",
        id: row.event_id as number,
        at: row.at as number,
        from: row.sender as string,
        to: row.name as string,
        text: row.text as string,
      },
      // The row's own key, and its event's id: SQLite may give a deleted
      // row's key to a later one, which a late ack must not take with it.
      receipt: `${row.id}:${row.event_id}`,
    }));
  }

  /** `receipts`: the rows' keys and event ids, from {@linkcode waitingMessages}. */
  ackMessages(to: string, receipts: readonly string[]): void {
    this.#transaction(() => {
      for (const receipt of receipts) {
        const [id, eventId] = receipt.split(":").map(Number);
        this.#run(
          "DELETE FROM offline WHERE id = ? AND event_id = ? AND recipient = ?",
          id,
          eventId,
          to,
        );
      }
    });
  }

  /**
   * Moves the reservation of event ids `block` further and returns its new
   * end: no id up to it is ever handed out again, restarts included.
   */
  reserveIds(block: number): number {
    const reserved = this.#transaction(() => {
      const reserved = this.reservedIds() + block;
      this.#setReservedIds(reserved);
      return reserved;
    });
    this.#reservedIds = reserved;
    return reserved;
  }

  /**
   * Moves the reservation up to `id`, in the transaction that keeps it, if
   * `id` is past it. The chat hands out ids without waiting for the next
   * block, which is asked for when half of this one is used: with this
   * thread behind (a flood, a disk or another process's lock slowing its
   * commits) lines past the committed end were kept, and a restart, which
   * starts from that end, gave their ids out again. Every batch with one
   * of them then failed on the history's key, and with it every line of
   * every room in it, until the ids had passed the old ones.
   */
  #cover(id: number): void {
    if (id <= this.#reservedIds) return;
    if (id <= this.reservedIds()) return;
    this.#setReservedIds(id);
  }

  /** `id` is covered by a committed reservation (once #cover's commits). */
  #covered(id: number): void {
    if (id > this.#reservedIds) this.#reservedIds = id;
  }

  #setReservedIds(value: number): void {
    this.#run(
      SET_META,
      "ids",
      value,
    );
  }

  operators(): string[] {
    return this.#all("SELECT key FROM operators ORDER BY key").map((row) =>
      row.key as string
    );
  }

  setOperator(key: string, on: boolean): void {
    this.#write(
      on
        ? "INSERT INTO operators (key) VALUES (?) ON CONFLICT DO NOTHING"
        : "DELETE FROM operators WHERE key = ?",
      key,
    );
  }

  sanctions(now: number): Sanction[] {
    this.#run(
      "DELETE FROM sanctions WHERE until IS NOT NULL AND until <= ?",
      now,
    );
    return this.#all("SELECT * FROM sanctions ORDER BY at").map((row) => ({
      kind: row.kind as SanctionKind,
      room: row.room as string,
      target: row.target as string,
      label: row.label as string,
      by: row.by as string,
      at: row.at as number,
      until: (row.until as number | null) ?? null,
      reason: row.reason as string,
    }));
  }

  addSanction(sanction: Sanction): void {
    this.#write(
      "INSERT INTO sanctions (kind, room, target, label, by, at, until, reason) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, room, target) " +
        "DO UPDATE SET label = excluded.label, by = excluded.by, " +
        "at = excluded.at, until = excluded.until, reason = excluded.reason",
      sanction.kind,
      sanction.room,
      sanction.target,
      sanction.label,
      sanction.by,
      sanction.at,
      sanction.until,
      sanction.reason,
    );
  }

  removeSanction(kind: SanctionKind, room: string, target: string): boolean {
    return this.#write(
      "DELETE FROM sanctions WHERE kind = ? AND room = ? AND target = ?",
      kind,
      room,
      target,
    ).changes === 1;
  }

  claimedRooms(): ClaimedRoom[] {
    const ops = new Map<string, string[]>();
    for (const row of this.#all("SELECT * FROM room_operators ORDER BY key")) {
      const room = row.room as string;
      ops.set(room, [...ops.get(room) ?? [], row.key as string]);
    }
    return this.#all(
      "SELECT key, name, owner, topic FROM rooms WHERE owner IS NOT NULL " +
        "ORDER BY key",
    ).map((row) => ({
      key: row.key as string,
      name: row.name as string,
      owner: row.owner as string,
      ops: ops.get(row.key as string) ?? [],
      topic: (row.topic as string | null) ?? null,
    }));
  }

  claimRoom(key: string, name: string, owner: string): boolean {
    return this.#transaction(() => {
      this.#run(
        "INSERT INTO rooms (key, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        key,
        name,
      );
      this.#known(key);
      const claimed = this.#run(
        "UPDATE rooms SET owner = ? WHERE key = ? AND owner IS NULL",
        owner,
        key,
      ).changes === 1;
      // A new owner starts with no room operators: none left from before
      // (a roomop that raced the last unclaim) is theirs.
      if (claimed) {
        this.#run("DELETE FROM room_operators WHERE room = ?", key);
      }
      return claimed;
    });
  }

  unclaimRoom(key: string): void {
    this.#transaction(() => {
      this.#run("UPDATE rooms SET owner = NULL WHERE key = ?", key);
      this.#run("DELETE FROM room_operators WHERE room = ?", key);
    });
  }

  setRoomOperator(room: string, key: string, on: boolean): void {
    this.#write(
      on
        ? "INSERT INTO room_operators (room, key) VALUES (?, ?) " +
          "ON CONFLICT DO NOTHING"
        : "DELETE FROM room_operators WHERE room = ? AND key = ?",
      room,
      key,
    );
  }

  addModlog(entry: ModlogEntry): void {
    this.#transaction(() => {
      this.#run(
        "INSERT INTO modlog (at, actor, action, target, room, reason, until) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?)",
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.room,
        entry.reason,
        entry.until,
      );
      // The room's last MODLOG_KEEP lines, as Redis keeps them: a room
      // owner's claim and unclaim, or ban and unban, over and over grew the
      // table for good. The last lines in all are each among their room's.
      this.#run(
        "DELETE FROM modlog WHERE room = ?1 AND id <= (SELECT id FROM " +
          "modlog WHERE room = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        entry.room,
        MODLOG_KEEP,
      );
    });
  }

  modlog(options: { limit: number; room?: string }): ModlogEntry[] {
    const rows = options.room === undefined
      ? this.#all(
        "SELECT * FROM modlog ORDER BY id DESC LIMIT ?",
        options.limit,
      )
      : this.#all(
        "SELECT * FROM modlog WHERE room = ? ORDER BY id DESC LIMIT ?",
        options.room,
        options.limit,
      );
    return rows.reverse().map((row) => ({
      at: row.at as number,
      actor: row.actor as string,
      action: row.action as string,
      target: row.target as string,
      room: row.room as string,
      reason: row.reason as string,
      until: (row.until as number | null) ?? null,
    }));
  }

  lockdown(): boolean {
    const row = this.#get("SELECT value FROM meta WHERE key = 'lockdown'");
    return row?.value === 1;
  }

  setLockdown(on: boolean): void {
    this.#write(
      SET_META,
      "lockdown",
      on ? 1 : 0,
    );
  }

  /** Answers once everything posted before it is done: for flush(). */
  sync(): boolean {
    return true;
  }

  /** The end of the last reservation of ids: none up to it is used again. */
  reservedIds(): number {
    const row = this.#get("SELECT value FROM meta WHERE key = 'ids'");
    return (row?.value as number | undefined) ?? 0;
  }

  /** Trims every room to its kept lines, and closes. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#transaction(() => this.#trim(0));
    } finally {
      this.#db.close();
      this.#lock?.close();
    }
  }

  /**
   * Deletes one room's lines past `--history-keep`, if any were written
   * since its last trim: before a read (`#trimBeforeRead`), at a commit
   * (`#trim`) and at close.
   */
  #trimRoom(key: string): void {
    if (!this.#untrimmed.has(key)) return;
    this.#run(
      TRIM_HISTORY,
      key,
      this.#keep,
    );
    this.#untrimmed.delete(key);
  }

  /**
   * Trims a room before a read of it, if it can: a delete the disk refuses
   * (a full disk needs room in the WAL to delete, too) leaves the read with
   * a few lines past `--history-keep`, rather than failing it (a join, a
   * `history`) for housekeeping.
   */
  #trimBeforeRead(key: string): void {
    try {
      this.#trimRoom(key);
    } catch {
      // Trimmed at the next commit or read that can.
    }
  }

  /**
   * Deletes the lines past `--history-keep` of each room written to more
   * than `slack` times since its last trim: trimming at every commit would
   * cost a delete per room per commit.
   */
  #trim(slack: number): void {
    const all = this.#untrimmed.size > TRACKED_ROOMS;
    for (const [room, count] of this.#untrimmed) {
      if (all || count > slack) this.#trimRoom(room);
    }
  }

  /** Remembers that `room` has a row, forgetting all others past the bound. */
  #known(room: string): void {
    if (this.#rooms.size >= TRACKED_ROOMS) this.#rooms.clear();
    this.#rooms.add(room);
  }

  /** Rooms remembered (for tests: at most {@linkcode TRACKED_ROOMS}). */
  get trackedRooms(): { rows: number; untrimmed: number } {
    return { rows: this.#rooms.size, untrimmed: this.#untrimmed.size };
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
    this.#inPlace();
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      // SQLite rolls back by itself on some errors (a full disk, out of
      // memory): a ROLLBACK then throws "no transaction is active", which
      // replaced the error that says what went wrong.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      // Rooms it inserted are not there after all: a room first spoken in
      // while the disk was full kept its lines, once it was not, without
      // the row its history is read by.
      this.#rooms.clear();
      throw error;
    }
  }

  /**
   * Throws unless the file at the database's path is still the one open.
   * One deleted (its folder removed, say) or put aside while the server
   * runs takes every later write without a word, into a file no one will
   * open again: the next start finds nothing of it (SQLite's own check for
   * this, SQLITE_READONLY_DBMOVED, is not made in WAL mode). Four stats per
   * commit, on the worker.
   */
  #inPlace(): void {
    if (this.#lock === null) return;
    let here: Deno.FileInfo | null = null;
    try {
      here = Deno.statSync(this.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const open = this.#lock.statSync();
    if (here === null || here.ino !== open.ino || here.dev !== open.dev) {
      throw new DatabaseMoved(this.#path);
    }
    this.#walInPlace();
  }

  /**
   * Throws unless the -wal and -shm files beside the database are still the
   * ones SQLite has open (see {@linkcode SqliteDatabase.#moved} for -shm).
   * One deleted while the server runs (`rm chat.db-*`, taken for leftovers)
   * holds every commit since the last checkpoint where no other process
   * sees it (a backup then copies a database without them; sqlite3 saw one
   * without its tables), and a crash loses them. What it holds is
   * checkpointed into the database's own file at once, and nothing more is
   * written into it.
   */
  #walInPlace(): void {
    const gone = this.#moved("wal") ?? this.#moved("shm");
    if (gone === null) return;
    if (!this.#walGone) {
      // A reader (a backup's VACUUM INTO, say) can hold the checkpoint back,
      // and the pragma does not throw for it: its answer says. Tried again
      // at each write until it is whole.
      const done = this.#db.prepare("PRAGMA wal_checkpoint(FULL)").get() as
        | { busy: number; log: number; checkpointed: number }
        | undefined;
      this.#walGone = done !== undefined && done.busy === 0 &&
        done.log === done.checkpointed;
    }
    throw new DatabaseMoved(
      this.#path,
      `The database's file "${this.#path}-${gone}" was deleted while the ` +
        (this.#walGone
          ? `server ran: what it held is now in "${this.#path}", and nothing `
          : `server ran, and what it held is not yet all in "${this.#path}" ` +
            "(a reader holds it back; tried again at each write): nothing ") +
        "more is kept until the server is restarted",
    );
  }

  /**
   * Whether the -wal or -shm file is no longer the one first seen: `kind`
   * if so, else null. The -shm is SQLite's index of the WAL and where its
   * processes take their locks: one deleted (taken for a stale lock file)
   * while the server runs, another process (sqlite3, a backup) makes a new
   * one, and writes into the same WAL unseen and unlocked by this one. A
   * `PRAGMA wal_checkpoint(TRUNCATE)` from sqlite3 then emptied the WAL
   * with the server's commits in it: lines, and an account whose owner was
   * told it was registered, gone at the next start.
   */
  #moved(kind: "wal" | "shm"): "wal" | "shm" | null {
    let here: Deno.FileInfo | null = null;
    try {
      here = Deno.statSync(`${this.#path}-${kind}`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const seen = this.#beside.get(kind);
    if (seen === undefined) {
      if (here !== null) {
        this.#beside.set(kind, { ino: here.ino, dev: here.dev });
      }
      return null;
    }
    return here?.ino === seen.ino && here.dev === seen.dev ? null : kind;
  }

  /** A write of one statement, to the database still in place. */
  #write(sql: string, ...params: (string | number | null)[]) {
    this.#inPlace();
    return this.#run(sql, ...params);
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
 * The database's file was deleted or replaced while it was open: nothing
 * written now would be kept.
 */
export class DatabaseMoved extends Error {
  constructor(path: string, message?: string) {
    super(
      message ??
        `The database file "${path}" was deleted or replaced while the server ` +
          "ran: nothing more is kept until it is restarted",
    );
    this.name = "DatabaseMoved";
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
    // A new file is the owner's alone (SQLite gives its -wal and -shm the
    // same mode): it holds password hashes and where accounts logged in
    // from. An existing file keeps the mode it has.
    file = Deno.openSync(path, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
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

/**
 * Refuses a file at schema version 0 (a new, empty one) that has tables of
 * its own: another program's database (a --db mistyped), which the
 * migrations would fill with this one's tables, and WAL mode change. Before
 * anything is written to it.
 */
function refuseForeign(db: DatabaseSync, path: string): void {
  const row = db.prepare("PRAGMA user_version").get() as Row;
  if (row.user_version !== 0) return;
  const tables = db.prepare(
    "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'",
  ).get() as Row;
  if ((tables.n as number) > 0) {
    throw new StoreError(
      `Cannot open the database "${path}": it is not a chat-server ` +
        "database (it holds tables, and no schema version)",
    );
  }
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
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  }
}

/**
 * Moves the reservation of ids up to the highest id kept, where it is
 * below: a file written before the reservation followed the lines kept (a
 * database thread behind the chat, then a crash) would hand those ids out
 * again, and every batch of lines holding one would fail on history's key.
 * One look up each room's index, and offline messages (at most 50 each).
 */
function coverKeptIds(db: DatabaseSync): void {
  const reserved = db.prepare("SELECT value FROM meta WHERE key = 'ids'")
    .get() as Row | undefined;
  let highest = Number(
    (db.prepare("SELECT max(event_id) AS id FROM offline").get() as Row).id ??
      0,
  );
  const top = db.prepare("SELECT max(id) AS id FROM history WHERE room = ?");
  for (const room of db.prepare("SELECT key FROM rooms").all() as Row[]) {
    highest = Math.max(
      highest,
      Number((top.get(room.key as string) as Row).id ?? 0),
    );
  }
  if (highest <= Number(reserved?.value ?? 0)) return;
  db.prepare(SET_META).run("ids", highest);
}

/**
 * A `--history-keep` lower than the last start's takes effect now, in every
 * room: rooms are otherwise trimmed only once written to or read, so one
 * nobody spoke in since kept its old lines on disk, and `history` there paged
 * back through them. The keep is remembered in `meta`; an older database
 * (which did not remember it) is trimmed once.
 */
function trimToKeep(db: DatabaseSync, keep: number): void {
  const row = db.prepare("SELECT value FROM meta WHERE key = 'history_keep'")
    .get() as Row | undefined;
  const last = row?.value as number | undefined;
  if (last === keep) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (last === undefined || last > keep) {
      const trim = db.prepare(TRIM_HISTORY);
      const rooms = db.prepare("SELECT key FROM rooms").all() as Row[];
      for (const room of rooms) trim.run(room.key as string, keep);
    }
    db.prepare(SET_META).run("history_keep", keep);
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
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
    lastAddress: (row.last_address as string | null) ?? null,
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
  // What SQLite says when it cannot make the -shm file of a database on a
  // full disk: a restart loop saying only that does not say where to look.
  if (/^disk I\/O error/.test(message)) {
    return `${message.split("\n")[0]} (is its disk full?)`;
  }
  return message.split("\n")[0];
}
