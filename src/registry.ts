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

/** The name of the room everyone enters at login; it always exists. */
export const MAIN_ROOM = "main";

/** Options for {@linkcode Registry}. */
export interface RegistryOptions {
  /** Chat lines each room keeps for those who join. Default 0 (none). */
  historyLines?: number;
}

/** The users online and the rooms they are in. */
export class Registry {
  /** The room everyone enters at login. */
  readonly main: Room;
  readonly #users = new Map<string, User>();
  /** The users in the order they logged in, kept across renames. */
  readonly #online = new Set<User>();
  /** Users by the skeleton of their name, to refuse look-alikes. */
  readonly #lookalikes = new Map<string, User>();
  readonly #rooms = new Map<string, Room>();
  readonly #historyLines: number;

  constructor(options: RegistryOptions = {}) {
    this.#historyLines = options.historyLines ?? 0;
    this.main = this.#createRoom(MAIN_ROOM);
  }

  /** The users online by case-folded name. */
  get users(): ReadonlyMap<string, User> {
    return this.#users;
  }

  /** The users online, in the order they logged in. */
  get online(): ReadonlySet<User> {
    return this.#online;
  }

  /** The rooms, in the order they were made (main first). */
  get rooms(): ReadonlyMap<string, Room> {
    return this.#rooms;
  }

  /** Finds a user online by name, compared case-insensitively. */
  find(name: string): User | undefined {
    return this.#users.get(foldName(name));
  }

  /** Finds a user online by name, or says there is none. */
  get(name: string): User {
    const user = this.find(name);
    if (!user) throw new ChatError(TEXT.noSuchUser(name));
    return user;
  }

  /** Whether `user` is still the one online under its name. */
  isOnline(user: User): boolean {
    return this.#users.get(user.key) === user;
  }

  /**
   * Logs a user in under `typedName` and puts them in the main room, whose
   * members are told. Throws a {@linkcode ChatError} when the name is
   * invalid, taken, or looks like the name of someone online.
   */
  login(
    typedName: string,
    options: { recipient: Recipient; now: number },
  ): User {
    const { name, key, look } = this.#claimable(typedName, null);
    const user = new User(name, key, options);
    this.#users.set(key, user);
    this.#online.add(user);
    this.#lookalikes.set(look, user);
    this.main.broadcast(TEXT.entered(name));
    this.main.add(user);
    return user;
  }

  /**
   * Renames a user under the name rules; the room is told. A change of
   * letter case only is allowed.
   */
  rename(user: User, typedName: string): void {
    const { name, key, look } = this.#claimable(typedName, user);
    if (name === user.name) throw new ChatError(TEXT.sameName(name));
    const old = user.name;
    this.#users.delete(user.key);
    this.#lookalikes.delete(skeleton(old));
    user.name = name;
    user.key = key;
    this.#users.set(key, user);
    this.#lookalikes.set(look, user);
    user.room?.broadcast(TEXT.renamed(old, name));
  }

  /**
   * Moves a user to the room named `typedName`, made on first join: the old
   * room is told the user left, the new one that the user entered. Returns
   * the room. A room left empty goes away, but main stays.
   */
  join(user: User, typedName: string): Room {
    const name = validateName(typedName, { kind: "room name" });
    const key = foldName(name);
    if (user.room?.key === key) {
      throw new ChatError(TEXT.alreadyInRoom(user.room.name));
    }
    const room = this.#rooms.get(key) ?? this.#createRoom(name);
    this.#leaveRoom(user);
    room.broadcast(TEXT.entered(user.name));
    room.add(user);
    return room;
  }

  /**
   * Takes a user out of their room (whose members are told) and frees the
   * name. Safe to call twice.
   */
  logout(user: User): void {
    if (!this.isOnline(user)) return;
    this.#users.delete(user.key);
    this.#online.delete(user);
    this.#lookalikes.delete(skeleton(user.name));
    this.#leaveRoom(user);
  }

  /** Checks that `typedName` may be taken by `user` (null: a newcomer). */
  #claimable(
    typedName: string,
    user: User | null,
  ): { name: string; key: string; look: string } {
    const name = validateName(typedName);
    const key = foldName(name);
    const holder = this.#users.get(key);
    if (holder && holder !== user) {
      throw new ChatError(...TEXT.nameTaken(name));
    }
    const look = skeleton(name);
    const twin = this.#lookalikes.get(look);
    if (twin && twin !== user) {
      throw new ChatError(
        TEXT.badName(
          "name",
          name,
          `it looks like "${twin.name}", who is online`,
        ),
      );
    }
    return { name, key, look };
  }

  #createRoom(name: string): Room {
    const room = new Room(name, {
      key: foldName(name),
      historyLines: this.#historyLines,
    });
    this.#rooms.set(room.key, room);
    return room;
  }

  #leaveRoom(user: User): void {
    const room = user.room;
    if (!room) return;
    room.remove(user);
    room.broadcast(TEXT.left(user.name));
    if (room.members.size === 0 && room !== this.main) {
      this.#rooms.delete(room.key);
    }
  }
}
