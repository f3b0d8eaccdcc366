/**
 * Users and rooms as the chat sees them: no sockets here.
 *
 * @module
 */

import { encodeLine, LineArena } from "./text.ts";

/** Where a user's lines go: the session's outbox, or a test's array. */
export interface Recipient {
  /** Queues encoded lines; never waits. */
  deliver(bytes: Uint8Array): void;
}

/** Someone logged in. */
export class User {
  /** The name as shown: NFKC-normalised, as typed otherwise. */
  name: string;
  /** The case-folded name, unique among users online. */
  key: string;
  /** The room the user is in. */
  room: Room | null = null;
  /** When the user logged in, on the server's clock (ms). */
  readonly since: number;
  /** When the user last sent a line that was not blank (ms). */
  lastActive: number;
  /** The away message, or null when here. */
  away: string | null = null;
  /** The user who last sent this user a private message. */
  lastPrivateFrom: User | null = null;
  /**
   * Users whose lines and private messages this user does not see; made on
   * first use, since most users never ignore anyone.
   */
  #ignoring: Set<User> | null = null;
  readonly #recipient: Recipient;

  constructor(
    name: string,
    key: string,
    options: { recipient: Recipient; now: number },
  ) {
    this.name = name;
    this.key = key;
    this.#recipient = options.recipient;
    this.since = this.lastActive = options.now;
  }

  /** Sends lines to this user only. */
  send(...lines: string[]): void {
    for (const line of lines) this.#recipient.deliver(encodeLine(line));
  }

  /** Sends bytes already encoded (a broadcast encodes once for everyone). */
  deliver(bytes: Uint8Array): void {
    this.#recipient.deliver(bytes);
  }

  /** Whether this user ignores `other`. */
  ignores(other: User): boolean {
    return this.#ignoring !== null && this.#ignoring.has(other);
  }

  /** Stops showing `other`'s lines; false if they were ignored already. */
  ignore(other: User): boolean {
    this.#ignoring ??= new Set();
    if (this.#ignoring.has(other)) return false;
    this.#ignoring.add(other);
    return true;
  }

  /** Shows `other`'s lines again. */
  unignore(other: User): void {
    this.#ignoring?.delete(other);
  }

  /** The users this user ignores. */
  get ignored(): User[] {
    return this.#ignoring ? [...this.#ignoring] : [];
  }
}

/** A line of a room's history: what was said, and by whom. */
export interface HistoryEntry {
  readonly line: string;
  readonly from: User;
}

/** A room: its members in the order they came in, its topic, its history. */
export class Room {
  /** The room's name as shown. */
  readonly name: string;
  /** The case-folded name, unique among rooms. */
  readonly key: string;
  /** The topic, or null when none is set. */
  topic: string | null = null;
  readonly #members = new Set<User>();
  /** The room's own arena: its lines stay adjacent for each member. */
  readonly #arena = new LineArena();
  readonly #historyLines: number;
  /** A ring of the last `historyLines` chat lines; `#next` is the oldest. */
  readonly #history: HistoryEntry[] = [];
  #next = 0;

  constructor(
    name: string,
    options: { key?: string; historyLines?: number } = {},
  ) {
    this.name = name;
    this.key = options.key ?? name;
    this.#historyLines = options.historyLines ?? 0;
  }

  /** The members, in the order they entered. */
  get members(): ReadonlySet<User> {
    return this.#members;
  }

  /** Adds a user; callers announce it. */
  add(user: User): void {
    this.#members.add(user);
    user.room = this;
  }

  /** Removes a user; callers announce it. */
  remove(user: User): void {
    this.#members.delete(user);
    if (user.room === this) user.room = null;
  }

  /**
   * Sends one line to every member, encoding it once. A line `from` a user
   * skips the members who ignore that user.
   */
  broadcast(line: string, from?: User): void {
    const bytes = this.#arena.encode(line);
    for (const member of this.#members) {
      if (from === undefined || !member.ignores(from)) member.deliver(bytes);
    }
  }

  /** Broadcasts a chat line from `from` and keeps it in the history. */
  chat(line: string, from: User): void {
    this.broadcast(line, from);
    if (this.#historyLines === 0) return;
    const entry = { line, from };
    if (this.#history.length < this.#historyLines) {
      this.#history.push(entry);
    } else {
      this.#history[this.#next] = entry;
      this.#next = (this.#next + 1) % this.#historyLines;
    }
  }

  /** The kept chat lines, oldest first. */
  history(): HistoryEntry[] {
    return [
      ...this.#history.slice(this.#next),
      ...this.#history.slice(0, this.#next),
    ];
  }
}
