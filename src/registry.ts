/**
 * Who is online and which rooms exist. Every method is synchronous, so a check
 * ("is this name free?") and the change it guards ("take it") can never be
 * interleaved with another session's.
 *
 * @module
 */

import { ChatError } from "./errors.ts";
import { foldName, skeleton, validateName } from "./names.ts";
import { type Recipient, Room, User } from "./room.ts";
import { TEXT } from "./text.ts";

/** The users online and the rooms they are in. */
export class Registry {
  /** The room everyone enters at login. */
  readonly main: Room = new Room("main");
  readonly #users = new Map<string, User>();
  /** Users by the skeleton of their name, to refuse look-alikes. */
  readonly #lookalikes = new Map<string, User>();

  /** The users online, in the order they logged in. */
  get users(): ReadonlyMap<string, User> {
    return this.#users;
  }

  /** Finds a user online by name, compared case-insensitively. */
  find(name: string): User | undefined {
    return this.#users.get(foldName(name));
  }

  /**
   * Logs a user in under `typedName` and puts them in the main room, whose
   * members are told. Throws a {@linkcode ChatError} when the name is
   * invalid, taken, or looks like the name of someone online.
   */
  login(typedName: string, recipient: Recipient): User {
    const name = validateName(typedName);
    const key = foldName(name);
    if (this.#users.has(key)) throw new ChatError(...TEXT.nameTaken(name));
    const look = skeleton(name);
    const twin = this.#lookalikes.get(look);
    if (twin) {
      throw new ChatError(
        TEXT.badName(name, `it looks like "${twin.name}", who is online`),
      );
    }
    const user = new User(name, key, recipient);
    this.#users.set(key, user);
    this.#lookalikes.set(look, user);
    this.main.broadcast(TEXT.entered(name));
    this.main.add(user);
    return user;
  }

  /**
   * Takes a user out of their room (whose members are told) and frees the
   * name. Safe to call twice.
   */
  logout(user: User): void {
    if (this.#users.get(user.key) !== user) return;
    this.#users.delete(user.key);
    this.#lookalikes.delete(skeleton(user.name));
    const room = user.room;
    if (room) {
      room.remove(user);
      room.broadcast(TEXT.left(user.name));
    }
  }
}
