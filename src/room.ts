/**
 * Users and rooms as the chat sees them: no sockets here.
 *
 * @module
 */

import { encodeLine } from "./text.ts";

/** Where a user's lines go: the session's outbox, or a test's array. */
export interface Recipient {
  /** Queues encoded lines; never waits. */
  deliver(bytes: Uint8Array): void;
}

/** Someone logged in. */
export class User {
  /** The name as shown: NFKC-normalised, as typed otherwise. */
  readonly name: string;
  /** The case-folded name, unique among users online. */
  readonly key: string;
  /** The room the user is in. */
  room: Room | null = null;
  readonly #recipient: Recipient;

  constructor(name: string, key: string, recipient: Recipient) {
    this.name = name;
    this.key = key;
    this.#recipient = recipient;
  }

  /** Sends lines to this user only. */
  send(...lines: string[]): void {
    for (const line of lines) this.#recipient.deliver(encodeLine(line));
  }

  /** Sends bytes already encoded (a broadcast encodes once for everyone). */
  deliver(bytes: Uint8Array): void {
    this.#recipient.deliver(bytes);
  }
}

/** A room: its members, in the order they came in. */
export class Room {
  /** The room's name as shown. */
  readonly name: string;
  readonly #members = new Set<User>();

  constructor(name: string) {
    this.name = name;
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

  /** Sends one line to every member, encoding it once. */
  broadcast(line: string): void {
    const bytes = encodeLine(line);
    for (const member of this.#members) member.deliver(bytes);
  }
}
