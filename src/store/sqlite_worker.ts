/**
 * The worker thread that owns the database: `SqliteStore` posts it requests
 * and queued writes, and it answers each request in the order it came, so a
 * read always sees the writes posted before it. Its commits, and the fsyncs
 * of SQLite's checkpoints, happen here, off the chat's event loop.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import {
  DatabaseMoved,
  type QueuedLines,
  type QueuedTopic,
  SqliteDatabase,
} from "./sqlite_db.ts";
import { StoreError } from "./store.ts";

/**
 * How many times a batch of queued writes is tried while the database is
 * locked by another process: each try waits SQLite's busy timeout (2 s),
 * 8 s in all, inside the 10 s a closing store waits for its worker (so a
 * shutdown meanwhile still ends with the batch written or logged).
 */
const WRITE_TRIES = 4;

/** Whether SQLite gave up waiting for a lock (SQLITE_BUSY). */
function isBusy(error: unknown): boolean {
  const { errcode, message } = error as { errcode?: number; message?: string };
  return (errcode !== undefined && (errcode & 0xff) === 5) ||
    /database is locked/.test(message ?? "");
}

/**
 * SQLite's result codes (the low byte of `errcode`) that say the disk or the
 * file failed, not the code: SQLITE_BUSY (5), SQLITE_READONLY (8),
 * SQLITE_IOERR (10), SQLITE_CORRUPT (11), SQLITE_FULL (13),
 * SQLITE_CANTOPEN (14), SQLITE_NOTADB (26).
 */
const STORAGE_CODES = new Set([5, 8, 10, 11, 13, 14, 26]);

/**
 * SQLite's own messages for the same codes: what `DatabaseSync.exec()`
 * throws (a failed COMMIT, say) has no `errcode` in Deno 2.9, only these.
 */
const STORAGE_MESSAGES =
  /^(database is locked|attempt to write a readonly database|disk I\/O error|database disk image is malformed|database or disk is full|unable to open database file|file is not a database)/;

/** Whether `error` is the disk's or the file's fault, not a bug. */
function isStorage(error: unknown): boolean {
  if (error instanceof DatabaseMoved) return true;
  const { errcode, message } = error as { errcode?: number; message?: string };
  return (errcode !== undefined && STORAGE_CODES.has(errcode & 0xff)) ||
    STORAGE_MESSAGES.test(message ?? "");
}

/** What the store asks of its worker. */
export type Request =
  | { kind: "open"; path: string; historyKeep: number; idBlock: number }
  | { kind: "write"; lines: QueuedLines; topics: QueuedTopic[] }
  | { kind: "reserve"; block: number }
  | { kind: "call"; id: number; method: Method; args: unknown[] }
  | { kind: "close" };

/** What the worker answers. */
export type Reply =
  | { kind: "opened"; reserved: number; first: number }
  | { kind: "failed"; message: string }
  | { kind: "committed"; ms: number }
  | { kind: "reserved"; reserved: number }
  | {
    kind: "result";
    id: number;
    value?: unknown;
    error?: string;
    /** The error is the disk's or the file's (see `isStorage`). */
    storage?: boolean;
  }
  | { kind: "error"; message: string }
  | { kind: "reserveFailed"; message: string }
  | { kind: "closed" };

/** The database's calls that the store forwards as they are. */
export type Method =
  | "room"
  | "history"
  | "accountFor"
  | "createAccount"
  | "setPassword"
  | "deleteAccount"
  | "loginFailures"
  | "addLoginFailure"
  | "recordLogin"
  | "leaveMessage"
  | "waitingMessages"
  | "ackMessages"
  | "forgetOld"
  | "forgetQuietRooms"
  | "operators"
  | "setOperator"
  | "sanctions"
  | "addSanction"
  | "removeSanction"
  | "claimedRooms"
  | "claimRoom"
  | "unclaimRoom"
  | "setRoomOperator"
  | "addModlog"
  | "modlog"
  | "lockdown"
  | "setLockdown"
  | "sync";

let db: SqliteDatabase | null = null;

function reply(message: Reply): void {
  self.postMessage(message);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

self.onmessage = (event: MessageEvent<Request>) => {
  const request = event.data;
  switch (request.kind) {
    case "open": {
      try {
        db = SqliteDatabase.open(request.path, request.historyKeep);
        const first = db.reservedIds();
        reply({
          kind: "opened",
          first,
          reserved: db.reserveIds(request.idBlock),
        });
      } catch (error) {
        reply({
          kind: "failed",
          message: error instanceof StoreError
            ? error.message
            : `Cannot open the database "${request.path}": ${messageOf(error)}`,
        });
      }
      return;
    }
    case "write": {
      // Another process holding the write lock past SQLite's busy timeout
      // (2 s: an operator's DELETE, a backup tool) would cost the batch:
      // it is tried again, WRITE_TRIES times in all, before it is given up
      // (and the error logged). It was rolled back each time, so a retry
      // writes it once.
      for (let attempt = 1;; attempt++) {
        try {
          const ms = db!.write(request.lines, request.topics);
          reply({ kind: "committed", ms });
        } catch (error) {
          if (attempt < WRITE_TRIES && isBusy(error)) continue;
          reply({ kind: "error", message: messageOf(error) });
        }
        return;
      }
    }
    case "reserve": {
      try {
        reply({ kind: "reserved", reserved: db!.reserveIds(request.block) });
      } catch (error) {
        reply({ kind: "reserveFailed", message: messageOf(error) });
      }
      return;
    }
    case "call": {
      try {
        const method = db![request.method] as (...args: unknown[]) => unknown;
        const value = method.apply(db, request.args);
        reply({ kind: "result", id: request.id, value });
      } catch (error) {
        reply({
          kind: "result",
          id: request.id,
          error: messageOf(error),
          storage: isStorage(error),
        });
      }
      return;
    }
    case "close": {
      try {
        db?.close();
      } catch (error) {
        reply({ kind: "error", message: messageOf(error) });
      }
      db = null;
      reply({ kind: "closed" });
      self.close();
      return;
    }
  }
};
