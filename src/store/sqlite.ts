/**
 * The store on SQLite, as the chat uses it: the database lives on a worker
 * thread (`sqlite_worker.ts`), so that its commits, which cost about 10 µs a
 * line and now and then a checkpoint's fsync, never hold up a broadcast.
 * Chat lines and topics are queued here and posted together every 20 ms; the
 * worker commits each batch in one transaction. Reads and answered
 * writes are requests the worker handles in order, after every batch posted
 * before them, so a read sees what was said just before it.
 *
 * @module
 */

import type {
  ChatLine,
  EventIds,
  PrivateEvent,
  TopicEvent,
} from "../events.ts";
import { BlockIds, ID_BLOCK } from "./ids.ts";
import type { QueuedLines, QueuedTopic } from "./sqlite_db.ts";
import type { Method, Reply, Request } from "./sqlite_worker.ts";
import {
  type Account,
  type ClaimedRoom,
  type ForgetOptions,
  type LeaveResult,
  type LoginFailures,
  type ModlogEntry,
  type Sanction,
  type SanctionKind,
  type Store,
  type StoredRoom,
  StoreError,
  StoreFailed,
  type WaitingMessage,
} from "./store.ts";

export { SCHEMA_VERSION } from "./sqlite_db.ts";

/**
 * How long lines wait to be posted to the worker, in ms: what is said in
 * that time goes as one batch and is committed as one transaction. Posting
 * every turn of the event loop woke the worker (on the same core, when the
 * server is pinned to one) hundreds of times a second under load, and small
 * commits cost several times more per line than large ones. Reads and
 * closing post what is queued at once.
 */
const BATCH_MS = 20;

/**
 * Rooms forgotten per step of a sweep (one transaction each): a room keeps
 * up to `--history-keep` lines, so a step deletes at most about 100,000 rows
 * (a fraction of a second), however many rooms a sweep finds quiet.
 */
const ROOMS_PER_STEP = 100;

/** How long closing waits for the worker's last commit, in ms. */
const CLOSE_MS = 10_000;

/** Options for {@linkcode SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Chat lines kept per room; older ones are deleted. Default 1000. */
  historyKeep?: number;
  /**
   * Called when a queued commit fails (the disk is full, say), and when a
   * request fails for the same reason (its caller gets a
   * {@linkcode StoreFailed} too).
   */
  onError?: (error: Error) => void;
  /** Called after each commit of queued writes with its duration in ms. */
  onCommit?: (ms: number) => void;
}

/** The store in one SQLite file, or in memory (`:memory:`). */
export class SqliteStore implements Store {
  readonly ids: EventIds;
  /** `ids` itself, which the worker's reservations extend. */
  readonly #blocks: BlockIds;
  readonly #worker: Worker;
  readonly #onError: (error: Error) => void;
  readonly #onCommit: (ms: number) => void;
  readonly #calls = new Map<
    number,
    { resolve(value: unknown): void; reject(error: Error): void }
  >();
  #nextCall = 1;
  #lines: QueuedLines = [];
  #topics: QueuedTopic[] = [];
  #scheduled = false;
  #closing: Promise<void> | null = null;
  /** The worker was told to close: nothing more is posted. */
  #shut = false;
  #closed: (() => void) | null = null;

  private constructor(
    worker: Worker,
    ids: { first: number; reserved: number },
    options: SqliteStoreOptions,
  ) {
    this.#worker = worker;
    this.#onError = options.onError ?? (() => {});
    this.#onCommit = options.onCommit ?? (() => {});
    this.ids = this.#blocks = new BlockIds(
      ids.first,
      ids.reserved,
      (block) => this.#post({ kind: "reserve", block }),
    );
    worker.onmessage = (event: MessageEvent<Reply>) => this.#reply(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#fail(
        new StoreError(`The database thread failed: ${event.message}`),
      );
    };
  }

  /**
   * Opens (or creates) the database at `path` (`:memory:` keeps nothing) and
   * brings its schema up to date. Rejects with a {@linkcode StoreError} with
   * one line for the operator when it cannot: a newer schema, a file another
   * server holds, a file that cannot be written, or not a database.
   */
  static open(
    path: string,
    options: SqliteStoreOptions = {},
  ): Promise<SqliteStore> {
    const worker = new Worker(
      new URL("./sqlite_worker.ts", import.meta.url).href,
      { type: "module" },
    );
    return new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<Reply>) => {
        const reply = event.data;
        if (reply.kind === "opened") {
          resolve(new SqliteStore(worker, reply, options));
        } else if (reply.kind === "failed") {
          worker.terminate();
          reject(new StoreError(reply.message));
        }
      };
      worker.onerror = (event) => {
        event.preventDefault();
        worker.terminate();
        reject(
          new StoreError(
            `Cannot open the database "${path}": ${event.message}`,
          ),
        );
      };
      const request: Request = {
        kind: "open",
        path,
        historyKeep: options.historyKeep ?? 1000,
        idBlock: ID_BLOCK,
      };
      worker.postMessage(request);
    });
  }

  // Queued writes: the Journal.

  line(room: string, event: ChatLine): void {
    // The fields of QueuedLines, in its order.
    this.#lines.push(
      room,
      event.room,
      event.id,
      event.type,
      event.from,
      event.text,
      event.at,
    );
    this.#schedule();
  }

  topic(room: string, event: TopicEvent): void {
    this.#topics.push({ room, event });
    this.#schedule();
  }

  // Reads, and writes that are answered.

  room(key: string, lines: number): Promise<StoredRoom | null> {
    return this.#call("room", key, lines);
  }

  history(
    key: string,
    options: { limit: number; before?: number },
  ): Promise<ChatLine[]> {
    return this.#call("history", key, options);
  }

  accountFor(key: string, skeleton: string): Promise<Account | null> {
    return this.#call("accountFor", key, skeleton);
  }

  createAccount(account: Account): Promise<boolean> {
    return this.#call("createAccount", account);
  }

  setPassword(key: string, hash: string): Promise<void> {
    return this.#call("setPassword", key, hash);
  }

  deleteAccount(key: string): Promise<void> {
    return this.#call("deleteAccount", key);
  }

  loginFailures(
    key: string,
    address: string,
    since: number,
  ): Promise<LoginFailures> {
    return this.#call("loginFailures", key, address, since);
  }

  addLoginFailure(
    key: string,
    address: string,
    options: { at: number; since: number },
  ): Promise<void> {
    return this.#call("addLoginFailure", key, address, options);
  }

  recordLogin(
    key: string,
    at: number,
    options: { address?: string } = {},
  ): Promise<void> {
    return this.#call("recordLogin", key, at, options);
  }

  leaveMessage(
    to: string,
    event: PrivateEvent,
    options: { max: number; perSender: number; since: number },
  ): Promise<LeaveResult> {
    return this.#call("leaveMessage", to, event, options);
  }

  waitingMessages(to: string, since: number): Promise<WaitingMessage[]> {
    return this.#call("waitingMessages", to, since);
  }

  ackMessages(to: string, messages: readonly WaitingMessage[]): Promise<void> {
    // Only the receipts cross to the worker: the rows' keys and event ids.
    return this.#call("ackMessages", to, messages.map((m) => m.receipt));
  }

  async forgetOld(options: ForgetOptions): Promise<number> {
    const { messagesBefore, failuresBefore, roomsQuietBefore } = options;
    await this.#call("forgetOld", { messagesBefore, failuresBefore });
    if (roomsQuietBefore === undefined) return 0;
    // Step by step (see SqliteDatabase.forgetQuietRooms): each step is a
    // request of its own, so the lines queued meanwhile are committed
    // between two steps, not behind the whole sweep.
    let forgotten = 0;
    let after: string | null = "";
    // A store closing meanwhile ends the sweep after its step, quietly: the
    // next sweep goes on where it would have.
    while (after !== null && !this.#shut) {
      const step: { forgotten: number; next: string | null } = await this
        .#call("forgetQuietRooms", {
          before: roomsQuietBefore,
          // As they are now: one joined since the last step is kept.
          open: [...options.openRooms?.() ?? []],
          after,
          limit: ROOMS_PER_STEP,
        });
      forgotten += step.forgotten;
      after = step.next;
    }
    return forgotten;
  }

  operators(): Promise<string[]> {
    return this.#call("operators");
  }

  setOperator(key: string, on: boolean): Promise<void> {
    return this.#call("setOperator", key, on);
  }

  sanctions(now: number): Promise<Sanction[]> {
    return this.#call("sanctions", now);
  }

  addSanction(sanction: Sanction): Promise<void> {
    return this.#call("addSanction", sanction);
  }

  removeSanction(
    kind: SanctionKind,
    room: string,
    target: string,
  ): Promise<boolean> {
    return this.#call("removeSanction", kind, room, target);
  }

  claimedRooms(): Promise<ClaimedRoom[]> {
    return this.#call("claimedRooms");
  }

  claimRoom(key: string, name: string, owner: string): Promise<boolean> {
    return this.#call("claimRoom", key, name, owner);
  }

  unclaimRoom(key: string): Promise<void> {
    return this.#call("unclaimRoom", key);
  }

  setRoomOperator(room: string, key: string, on: boolean): Promise<void> {
    return this.#call("setRoomOperator", room, key, on);
  }

  addModlog(entry: ModlogEntry): Promise<void> {
    return this.#call("addModlog", entry);
  }

  modlog(options: { limit: number; room?: string }): Promise<ModlogEntry[]> {
    return this.#call("modlog", options);
  }

  lockdown(): Promise<boolean> {
    return this.#call("lockdown");
  }

  setLockdown(on: boolean): Promise<void> {
    return this.#call("setLockdown", on);
  }

  flush(): Promise<void> {
    return this.#call("sync");
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#writeQueued();
      this.#shut = true;
      const timer = setTimeout(resolve, CLOSE_MS);
      this.#closed = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#post({ kind: "close" });
    }).finally(() => {
      this.#worker.terminate();
      this.#fail(new StoreError("The store is closed"));
    });
    return this.#closing;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => {
      this.#scheduled = false;
      this.#writeQueued();
    }, BATCH_MS);
  }

  /** Posts the queued lines and topics as one batch. */
  #writeQueued(): void {
    if (this.#lines.length === 0 && this.#topics.length === 0) return;
    if (this.#shut) return;
    const request: Request = {
      kind: "write",
      lines: this.#lines,
      topics: this.#topics,
    };
    this.#lines = [];
    this.#topics = [];
    this.#post(request);
  }

  #call<T>(method: Method, ...args: unknown[]): Promise<T> {
    if (this.#shut) {
      return Promise.reject(new StoreError("The store is closed"));
    }
    // What is queued goes first, so that the answer includes it.
    this.#writeQueued();
    const id = this.#nextCall++;
    return new Promise<T>((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#post({ kind: "call", id, method, args });
    });
  }

  #post(request: Request): void {
    this.#worker.postMessage(request);
  }

  #reply(reply: Reply): void {
    switch (reply.kind) {
      case "committed":
        this.#onCommit(reply.ms);
        return;
      case "reserved":
        this.#blocks.extend(reply.reserved);
        return;
      case "reserveFailed":
        this.#blocks.failed();
        this.#onError(new StoreFailed(reply.message));
        return;
      case "result": {
        const call = this.#calls.get(reply.id);
        this.#calls.delete(reply.id);
        if (reply.error === undefined) {
          call?.resolve(reply.value);
        } else if (reply.storage) {
          // The disk's fault: the operator hears of it as of a failed
          // commit (once in a while, not once a request), and the user is
          // told it was not done.
          const error = new StoreFailed(reply.error);
          this.#onError(error);
          call?.reject(error);
        } else {
          call?.reject(new Error(reply.error));
        }
        return;
      }
      case "error":
        this.#onError(new Error(reply.message));
        return;
      case "closed":
        this.#closed?.();
        return;
    }
  }

  /** Every call still waiting fails with `error`. */
  #fail(error: Error): void {
    for (const call of this.#calls.values()) call.reject(error);
    this.#calls.clear();
  }
}
