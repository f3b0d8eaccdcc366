/**
 * What must outlive the process, behind one interface: SQLite by default
 * (`src/store/sqlite.ts`), and the same contract for a second backend (Redis,
 * for several servers acting as one). Every backend passes the contract suite
 * in `tests/store_contract.ts`.
 *
 * Reads return promises (a networked backend must wait); the writes that chat
 * makes all the time (history, topics) are queued and return nothing, so a
 * broadcast never waits for the disk: a backend commits them together, once
 * per turn of the event loop. Writes whose answer the user waits for
 * (creating an account, leaving an offline message) return a promise.
 *
 * @module
 */

import type { ChatLine, EventIds, PrivateEvent } from "../events.ts";
import type { Journal, RoomState } from "../registry.ts";

/** A registered name. */
export interface Account {
  /** The case-folded name: the account's identity. */
  readonly key: string;
  /** The name as shown. */
  readonly name: string;
  /** The name's confusable skeleton: no two accounts share one. */
  readonly skeleton: string;
  /** The password hash, with its parameters (see `src/passwords.ts`). */
  readonly hash: string;
  /** When it was registered (epoch ms). */
  readonly created: number;
  /** The last successful login (epoch ms), or null. */
  readonly lastLogin: number | null;
  /**
   * The address of the last login (or of the registration), if known: what
   * keeps an address ban from shutting out a server operator who is
   * offline. Never shown to users.
   */
  readonly lastAddress?: string | null;
}

/** What failed logins there were, for the next try's delay and the report. */
export interface LoginFailures {
  /** Failed tries on the account since its last successful login. */
  readonly account: number;
  /** The addresses those came from, the latest first (at most 10). */
  readonly addresses: readonly string[];
  /** Failed tries from the address (on any account) still remembered. */
  readonly address: number;
}

/** What a sanction does: keeps out (ban) or keeps quiet (mute). */
export type SanctionKind = "ban" | "mute";

/** A ban or a mute, server-wide or in one room. */
export interface Sanction {
  readonly kind: SanctionKind;
  /** The room's key, or "" for the whole server. */
  readonly room: string;
  /**
   * What it matches: `account:KEY` (a registered name), or `address:BLOCK`
   * (an address or a CIDR block, as `formatBlock` writes it).
   */
  readonly target: string;
  /** The target as shown: the name, the address, the block. */
  readonly label: string;
  /** Who set it (their name). */
  readonly by: string;
  /** When it was set (epoch ms). */
  readonly at: number;
  /** When it ends (epoch ms), or null: never. */
  readonly until: number | null;
  readonly reason: string;
}

/**
 * How many moderation lines a store keeps per room (and Redis's in all):
 * `modlog` shows at most 200, and anyone who owns a room can write a line
 * per command (`claim`, `unclaim`, `ban`, `unban` ...), for good.
 */
export const MODLOG_KEEP = 10_000;

/** One line of the moderation log: who did what to whom, when and why. */
export interface ModlogEntry {
  readonly at: number;
  /** Who did it (their name). */
  readonly actor: string;
  /** What: `kick`, `ban`, `unban`, `mute`, `op`, `claim` ... */
  readonly action: string;
  /** To whom or what (a name, an address, `on` for lockdown). */
  readonly target: string;
  /** The room's key, or "" for the whole server. */
  readonly room: string;
  readonly reason: string;
  /** When what was done ends, if it does. */
  readonly until: number | null;
}

/** A room a registered user owns: it stays, even empty. */
export interface ClaimedRoom {
  readonly key: string;
  readonly name: string;
  /** The owner's account key. */
  readonly owner: string;
  /** The room operators' account keys. */
  readonly ops: readonly string[];
  readonly topic: string | null;
}

/** What became of an offline message: see {@linkcode Store.leaveMessage}. */
export type LeaveResult = "kept" | "full" | "sender";

/**
 * An offline message as {@linkcode Store.waitingMessages} reads it: the
 * event to show, and the backend's own handle on what it stored (a row's
 * key, the exact bytes of a Redis member), which
 * {@linkcode Store.ackMessages} lets go of. Only the backend that made a
 * receipt reads it: rebuilding what was stored from the event (its fields,
 * their order) would silently let go of nothing once either changed, in a
 * cluster whose servers run two versions, say.
 */
export interface WaitingMessage {
  readonly event: PrivateEvent;
  /** Opaque: the backend's own key for this message. */
  readonly receipt: string;
}

/** A room as the store knows it. */
export interface StoredRoom extends RoomState {
  /** The room's name as first shown. */
  readonly name: string;
  /**
   * The owner's account key, if claimed: a server that opens the room
   * after it was claimed (another of a cluster, say) knows who owns it.
   */
  readonly owner: string | null;
  /** The room operators' account keys (none unless claimed). */
  readonly operators: readonly string[];
}

/** What {@linkcode Store.forgetOld} drops. */
export interface ForgetOptions {
  /** Offline messages older than this (epoch ms) are dropped. */
  readonly messagesBefore: number;
  /** Addresses whose last failed login is older than this are forgotten. */
  readonly failuresBefore: number;
  /**
   * Rooms nobody owns with no line and no topic since this (epoch ms) are
   * forgotten. Default: none is (`--room-keep-days 0`).
   */
  readonly roomsQuietBefore?: number;
  /**
   * Rooms kept however quiet: those open on this server (or being opened
   * by a join), asked again before each step of the sweep, since a room
   * can be joined while it runs. Default: none.
   */
  readonly openRooms?: () => Iterable<string>;
}

/** What the store keeps and gives back. */
export interface Store extends Journal {
  /** Event ids: they only grow, restarts included. */
  readonly ids: EventIds;

  /**
   * A room's name, topic, owner and room operators and last `lines` chat
   * lines (oldest first), or null when nothing of it is kept. Includes what
   * is queued.
   */
  room(key: string, lines: number): Promise<StoredRoom | null>;
  /**
   * Up to `limit` chat lines of a room, oldest first: the latest ones, or
   * those just before the line `before` (an event id), to page back.
   */
  history(
    key: string,
    options: { limit: number; before?: number },
  ): Promise<ChatLine[]>;

  /** The account called `key`, or else the one whose skeleton is `skeleton`. */
  accountFor(key: string, skeleton: string): Promise<Account | null>;
  /**
   * Registers an account unless one has its key or its skeleton: checked and
   * done in one step. False if taken.
   */
  createAccount(account: Account): Promise<boolean>;
  /** Replaces an account's password hash. */
  setPassword(key: string, hash: string): Promise<void>;
  /** Deletes an account, with its failures and offline messages. */
  deleteAccount(key: string): Promise<void>;

  /**
   * The failed logins on account `key` since its last login, and from
   * `address` since `since` (epoch ms; older ones are forgotten).
   */
  loginFailures(
    key: string,
    address: string,
    since: number,
  ): Promise<LoginFailures>;
  /**
   * Counts a failed login on `key` from `address` at `at`; the address's
   * count starts again if its last failure was before `since`.
   */
  addLoginFailure(
    key: string,
    address: string,
    options: { at: number; since: number },
  ): Promise<void>;
  /**
   * A successful login at `at`, from `address` (the peer's): the account's
   * failures are cleared.
   */
  recordLogin(
    key: string,
    at: number,
    options?: { address?: string },
  ): Promise<void>;

  /**
   * Keeps a private message for the account `event.to` (case-folded as
   * `to`): `kept`, unless `max` messages newer than `since` already wait
   * (`full`), or `perSender` of them from `event.from` (`sender`), so that
   * one sender cannot fill the box for everyone else. Older ones are
   * dropped.
   */
  leaveMessage(
    to: string,
    event: PrivateEvent,
    options: { max: number; perSender: number; since: number },
  ): Promise<LeaveResult>;
  /**
   * The messages waiting for `to` that are newer than `since`, oldest
   * first. They still wait, until {@linkcode Store.ackMessages} says they
   * were shown: a connection or server lost in between loses none.
   */
  waitingMessages(to: string, since: number): Promise<WaitingMessage[]>;
  /**
   * `messages` (from {@linkcode Store.waitingMessages}, by their receipts)
   * were shown to `to`: they wait no longer. Others left since still wait;
   * a receipt already let go of is no error.
   */
  ackMessages(to: string, messages: readonly WaitingMessage[]): Promise<void>;
  /**
   * Drops what nobody can see any more: offline messages older than
   * `messagesBefore` (never delivered) and addresses' failed logins whose
   * last one was before `failuresBefore` (never counted again). Run now and
   * then, so that a long-running server's store does not only grow; a
   * backend whose keys expire by themselves may do nothing for those.
   *
   * With `roomsQuietBefore`, also every room that nobody owns, whose
   * newest line and topic are both older than it (epoch ms; a line or
   * topic at it is kept), loses its history, topic and name: anyone can
   * make rooms, and each kept its last `--history-keep` lines for good.
   * Rooms in `openRooms` (their keys: open on this server) are kept
   * however quiet, as is a room with members on any server of a cluster.
   * Answers how many rooms were forgotten.
   */
  forgetOld(options: ForgetOptions): Promise<number>;

  /** The accounts that are server operators. */
  operators(): Promise<string[]>;
  /** Makes an account a server operator (`on`) or not. */
  setOperator(key: string, on: boolean): Promise<void>;
  /** Every ban and mute that has not ended by `now` (epoch ms). */
  sanctions(now: number): Promise<Sanction[]>;
  /** Adds a ban or mute, replacing one of the same kind, room and target. */
  addSanction(sanction: Sanction): Promise<void>;
  /** Lifts a ban or mute; false if there was none. */
  removeSanction(
    kind: SanctionKind,
    room: string,
    target: string,
  ): Promise<boolean>;
  /** Every claimed room. */
  claimedRooms(): Promise<ClaimedRoom[]>;
  /**
   * Gives an unowned room an owner, checked and done in one step; false if
   * it has one already.
   */
  claimRoom(key: string, name: string, owner: string): Promise<boolean>;
  /** The room has no owner and no room operators any more. */
  unclaimRoom(key: string): Promise<void>;
  /** Makes an account a room operator of `room` (`on`) or not. */
  setRoomOperator(room: string, key: string, on: boolean): Promise<void>;
  /** Adds a line to the moderation log. */
  addModlog(entry: ModlogEntry): Promise<void>;
  /**
   * The last `limit` lines of the moderation log, oldest first: all of it,
   * or those about one room (its key).
   */
  modlog(options: { limit: number; room?: string }): Promise<ModlogEntry[]>;
  /** Whether the server is in lockdown (only accounts may log in). */
  lockdown(): Promise<boolean>;
  setLockdown(on: boolean): Promise<void>;

  /** Commits every queued write now. */
  flush(): Promise<void>;
  /** Commits what is queued and closes. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * The store cannot be reached right now (a cluster's Redis is away): not a
 * bug, and not for good. A user who asked for something that needs it is
 * told so in one line, and may try again in a moment.
 */
export class StoreUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailable";
  }
}

/**
 * The database's disk failed a request (it is full, read-only, or the file
 * was removed while the server ran): not a bug, and the user who asked for
 * it is told in one line that it was not done. A kind of
 * {@linkcode StoreUnavailable}, so that what may go on without the store (a
 * room joined without its kept lines) does.
 */
export class StoreFailed extends StoreUnavailable {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreFailed";
  }
}

/**
 * A store that cannot be opened or used: its message is one line for the
 * operator (main prints it and exits with code 1, without a stack trace).
 */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}
