/**
 * Who is online and which rooms exist. Every method is synchronous, so a check
 * ("is this name free?") and the change it guards ("take it") can never be
 * interleaved with another session's.
 *
 * What users do to each other goes through here as events: the registry
 * gives each its id and time, and hands it to the room or the user it is for.
 *
 * @module
 */

import { type Clock, SYSTEM_CLOCK } from "./clock.ts";
import { ChatError } from "./errors.ts";
import {
  type ChatLine,
  type EventIds,
  isChatLine,
  MemoryIds,
  type PrivateEvent,
  type RoomEvent,
  type TopicEvent,
} from "./events.ts";
import { foldName, skeleton, validateName } from "./names.ts";
import { type DeliveryStats, type Recipient, Room, User } from "./room.ts";
import { TEXT } from "./text.ts";

/** The name of the room everyone enters at login; it always exists. */
export const MAIN_ROOM = "main";

/** Where the registry keeps what must outlive the process; never waits. */
export interface Journal {
  /** A chat line said in the room whose case-folded name is `room`. */
  line(room: string, event: ChatLine): void;
  /** A topic set in the room whose case-folded name is `room`. */
  topic(room: string, event: TopicEvent): void;
}

/** What a room had before it was made in this process: from the store. */
export interface RoomState {
  /** Its last chat lines, oldest first. */
  readonly history: readonly ChatLine[];
  readonly topic: string | null;
}

/** A claimed room as the registry makes it at start: it stays, even empty. */
export interface ClaimedRoomState extends RoomState {
  readonly name: string;
  readonly owner: string;
  readonly operators: readonly string[];
}

/**
 * What a registry tells the cluster it is part of: presence (who is where)
 * and the room events to publish. Each call returns at once; the cluster
 * sends them in order.
 */
export interface ClusterHooks {
  /** Publishes a room event to every server; `from`: its sender, if a user. */
  emit(room: Room, event: RoomEvent, from: User | null): void;
  /** `user` is now in `room`. */
  entered(user: User, room: Room): void;
  /** `user` is no longer in `room`. */
  left(user: User, room: Room): void;
  /** `user` was called `old` until now. */
  renamed(user: User, old: string): void;
  /** `user` logged out: the name is free again. */
  loggedOut(user: User): void;
}

/** Options for {@linkcode Registry}. */
export interface RegistryOptions {
  /** Chat lines each room keeps for those who join. Default 0 (none). */
  historyLines?: number;
  /** Where event ids come from. Default: counted in memory from 1. */
  ids?: EventIds;
  /** The clock events are dated by. Default: the real one. */
  clock?: Clock;
  /** Where chat lines and topics are kept. Default: nowhere. */
  journal?: Journal;
  /** The main room's state from before this process, if any. */
  main?: RoomState;
  /** The claimed rooms, made at start. */
  claimed?: readonly ClaimedRoomState[];
  /** The cluster this server is part of (`--redis`). Default: none. */
  cluster?: ClusterHooks;
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
  /** Users who ignore an account: its next login is ignored by them too. */
  readonly #accountIgnorers = new Set<User>();
  readonly #rooms = new Map<string, Room>();
  /**
   * Rooms by the skeleton of their name, to refuse look-alikes: usually one,
   * but a room the store knows may open beside one it looks like, and stays
   * a look-alike to refuse once that one has gone.
   */
  readonly #roomLookalikes = new Map<string, Room[]>();
  /** Rooms a join is reading from the store, by key: how many joins. */
  readonly #opening = new Map<string, number>();
  readonly #historyLines: number;
  readonly #ids: EventIds;
  readonly #clock: Clock;
  readonly #journal: Journal | null;
  #cluster: ClusterHooks | null;
  readonly #stats: DeliveryStats = { deliveries: 0 };
  /** In a cluster: the largest event id that came from Redis. */
  #lastDelivered = 0;
  /** In a cluster: the last id given here while Redis was away. */
  #outageId = 0;

  constructor(options: RegistryOptions = {}) {
    this.#historyLines = options.historyLines ?? 0;
    this.#ids = options.ids ?? new MemoryIds();
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#journal = options.journal ?? null;
    this.#cluster = options.cluster ?? null;
    this.main = this.#createRoom(MAIN_ROOM, options.main);
    for (const room of options.claimed ?? []) this.#createRoom(room.name, room);
  }

  /** Events delivered so far: each member a room line reached counts. */
  get deliveries(): number {
    return this.#stats.deliveries;
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
    options: { recipient: Recipient; now: number; account?: string | null },
  ): User {
    const { name, key, look } = this.#claimable(typedName, null);
    const user = new User(name, key, { ...options, date: this.#clock.date() });
    user.account = options.account ?? null;
    if (user.account !== null) {
      // Logging out and in again (or from another connection) must not
      // shake off an ignore: an account's name is nobody else's.
      for (const other of this.#accountIgnorers) {
        if (other.ignoresAccount(user.account)) other.ignore(user);
      }
    }
    this.#users.set(key, user);
    this.#online.add(user);
    this.#lookalikes.set(look, user);
    this.#send(this.main, {
      type: "entered",
      id: this.#id(),
      at: this.#clock.date(),
      room: this.main.name,
      name,
    });
    this.main.add(user);
    this.#cluster?.entered(user, this.main);
    return user;
  }

  /**
   * Throws what `rename` would refuse (a bad name, a taken one, a
   * look-alike, the same name), changing nothing.
   */
  checkRename(user: User, typedName: string): void {
    const { name } = this.#claimable(typedName, user);
    if (name === user.name) throw new ChatError(TEXT.sameName(name));
  }

  /**
   * Renames a user under the name rules; the room is told. A change of
   * letter case only is allowed.
   */
  rename(user: User, typedName: string): void {
    this.#mustBeOnline(user);
    const { name, key, look } = this.#claimable(typedName, user);
    if (name === user.name) throw new ChatError(TEXT.sameName(name));
    const old = user.name;
    this.#users.delete(user.key);
    this.#lookalikes.delete(skeleton(old));
    user.name = name;
    user.key = key;
    this.#users.set(key, user);
    this.#lookalikes.set(look, user);
    this.#cluster?.renamed(user, old);
    const room = user.room;
    if (room !== null) {
      this.#send(room, {
        type: "renamed",
        id: this.#id(),
        at: this.#clock.date(),
        room: room.name,
        from: old,
        name,
      });
    }
  }

  /**
   * Marks the room `key` as being opened by a join (what the store kept of
   * it read, then joined), so that the store's sweep of quiet rooms keeps
   * it meanwhile; returns the unmarking, for when the join is done.
   */
  opening(key: string): () => void {
    this.#opening.set(key, (this.#opening.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = this.#opening.get(key)! - 1;
      if (left > 0) this.#opening.set(key, left);
      else this.#opening.delete(key);
    };
  }

  /**
   * The keys of the rooms the store's sweep keeps however quiet: those
   * open here, and those a join is opening.
   */
  *keptOpen(): Iterable<string> {
    yield* this.#rooms.keys();
    for (const key of this.#opening.keys()) {
      if (!this.#rooms.has(key)) yield key;
    }
  }

  /**
   * Checks a room name typed by a user and returns it as shown and as keyed.
   * Throws a {@linkcode ChatError} that says what is wrong with it.
   */
  roomName(typedName: string): { name: string; key: string } {
    const name = validateName(typedName, { kind: "room name" });
    return { name, key: foldName(name) };
  }

  /**
   * Moves a user to the room named `typedName`, made on first join (from
   * `state`, what the store kept of it): the old room is told the user left,
   * the new one that the user entered. Returns the room. A room left empty
   * goes away, but main and claimed rooms stay (see
   * {@linkcode Registry.dropIfEmpty}).
   */
  join(user: User, typedName: string, state?: RoomState): Room {
    this.#mustBeOnline(user);
    const { name, key } = this.roomName(typedName);
    if (user.room?.key === key) {
      throw new ChatError(TEXT.alreadyInRoom(user.room.name));
    }
    let room = this.#rooms.get(key);
    if (room === undefined) {
      // A new room may not pass for one that is here ("rnain" for "main").
      // One the store knows (`state`: it has a history, a topic, an owner,
      // or in a cluster members on another server) is no new room: it
      // stays open to all, as on the server where it was made.
      const twin = state === undefined ? this.lookalikeRoom(name) : undefined;
      if (twin !== undefined) {
        throw new ChatError(
          TEXT.badName("room name", name, TEXT.looksLikeRoom(twin.name)),
        );
      }
      room = this.#createRoom(name, state);
    }
    this.#leaveRoom(user);
    this.#send(room, {
      type: "entered",
      id: this.#id(),
      at: this.#clock.date(),
      room: room.name,
      name: user.name,
    });
    room.add(user);
    this.#cluster?.entered(user, room);
    return room;
  }

  /**
   * The room here whose name `name` looks like, if any (another name:
   * `name`'s own room is no look-alike of it).
   */
  lookalikeRoom(name: string): Room | undefined {
    const key = foldName(name);
    return this.#roomLookalikes.get(skeleton(name))?.find((twin) =>
      twin.key !== key
    );
  }

  /** `user` says `text` to their room. */
  say(user: User, text: string): void {
    this.#chatLine("said", user, text);
  }

  /** `user` does `text` (an emote) in their room. */
  emote(user: User, text: string): void {
    this.#chatLine("emote", user, text);
  }

  /** A chat line of `user`'s in their room: shown there, and kept. */
  #chatLine(type: ChatLine["type"], user: User, text: string): void {
    const room = user.room;
    if (room === null) return;
    this.#send(room, {
      type,
      id: this.#id(),
      at: this.#clock.date(),
      room: room.name,
      from: user.name,
      text,
    }, user);
  }

  /** Sets the topic of `user`'s room ("": clears it); everyone there is told. */
  setTopic(user: User, text: string): void {
    const room = user.room;
    if (room === null) return;
    const event: TopicEvent = {
      type: "topic",
      id: this.#id(),
      at: this.#clock.date(),
      room: room.name,
      from: user.name,
      text,
    };
    room.topic = text === "" ? null : text;
    this.#send(room, event);
    // A cluster's servers keep the topic where they publish it.
    if (this.#cluster === null) this.#journal?.topic(room.key, event);
  }

  /**
   * A private message from `from` to `to`: `to` sees it unless ignoring
   * `from`; returns the event, for the sender's own view of it.
   */
  privateMessage(from: User, to: User, text: string): PrivateEvent {
    const event = this.offlineMessage(from, to.name, text);
    if (!to.ignores(from)) {
      to.show(event);
      this.#stats.deliveries++;
      to.lastPrivateFrom = { user: from, name: from.name, at: event.at };
    }
    return event;
  }

  /**
   * A private message through the cluster for a user here: shown unless
   * they ignore its sender (`fromKey`, `fromLogin`: see
   * {@linkcode User.ignoresSender}). `sender`: the sender, when they are a
   * user of this server (a reply then follows them, as on one server).
   */
  receivePrivate(
    event: PrivateEvent,
    fromKey: string,
    fromLogin: string | null,
    options: { sender?: User } = {},
  ): void {
    const to = this.#users.get(foldName(event.to));
    if (
      to === undefined || to.ignoresSender(fromKey, fromLogin, event.from)
    ) return;
    to.show(event);
    this.#stats.deliveries++;
    to.lastPrivateFrom = {
      user: options.sender ?? null,
      name: event.from,
      at: event.at,
      session: fromLogin,
    };
  }

  /**
   * A private message from `from` to `to` (a name) as an event, with its id
   * and time: to be kept for `to`, who is not online, until they are (and
   * shown to its sender now); also what
   * {@linkcode Registry.privateMessage} shows.
   */
  offlineMessage(from: User, to: string, text: string): PrivateEvent {
    return {
      type: "private",
      // In a cluster, #id() leaves the id to Redis, which a private message
      // made here does not go through: it takes one of this server's, as a
      // room event shown here only does (a page orders, resumes and tells
      // frames apart by it: two with id 0 were one message to it).
      id: this.#cluster === null ? this.#ids.next() : this.#localId(),
      at: this.#clock.date(),
      from: from.name,
      to,
      text,
    };
  }

  /**
   * Takes `user` out of their room: its members see that `by` (a name)
   * kicked them, and why. The user is in no room afterwards; the caller
   * moves them on. Returns the room.
   */
  kick(user: User, by: string, reason: string): Room {
    const room = user.room!;
    room.remove(user);
    this.#cluster?.left(user, room);
    this.#send(room, {
      type: "kicked",
      id: this.#id(),
      at: this.#clock.date(),
      room: room.name,
      name: user.name,
      by,
      reason,
    });
    this.dropIfEmpty(room);
    return room;
  }

  /**
   * An account was deleted: the rooms it owned have no owner any more (and
   * go if empty), and it is no room operator anywhere.
   */
  accountDeleted(key: string): void {
    for (const room of [...this.#rooms.values()]) {
      room.operators.delete(key);
      if (room.owner === key) {
        room.owner = null;
        room.operators.clear();
        this.dropIfEmpty(room);
      }
    }
  }

  /**
   * Drops a room that has no members and no owner (main always stays). A
   * room gone already is left alone: a command that held it across an await
   * (`unclaim`) must not drop the room made again under its name since.
   */
  dropIfEmpty(room: Room): void {
    if (
      room.members.size === 0 && room !== this.main && room.owner === null &&
      this.#rooms.get(room.key) === room
    ) {
      this.#rooms.delete(room.key);
      const look = skeleton(room.name);
      const twins = this.#roomLookalikes.get(look)?.filter((twin) =>
        twin !== room
      ) ?? [];
      if (twins.length > 0) this.#roomLookalikes.set(look, twins);
      else this.#roomLookalikes.delete(look);
    }
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
    user.endIgnores();
    this.#accountIgnorers.delete(user);
    // Whom they could reply to no longer matters; held, it would keep that
    // sender's ended session alive through whoever this user last wrote to,
    // and theirs, a chain as long as the relays of messages behind it.
    user.lastPrivateFrom = null;
    this.#cluster?.loggedOut(user);
  }

  /**
   * `user` stops seeing `target`'s lines and private messages, and, if
   * `target` is an account, those of its next logins; false if ignored
   * already.
   */
  ignore(user: User, target: User): boolean {
    if (!user.ignore(target)) return false;
    if (target.account !== null) this.#accountIgnorers.add(user);
    return true;
  }

  /**
   * `user` ignores the account `key` (named `name`), online on another
   * server: its logins here are ignored too.
   */
  ignoreAccount(user: User, key: string, name: string): void {
    user.ignoreAccount(key, name);
    this.#accountIgnorers.add(user);
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
        TEXT.badName("name", name, TEXT.looksLikeOnline(twin.name)),
      );
    }
    return { name, key, look };
  }

  /**
   * The largest event id known here: what frames numbered between events
   * (answers, notices) are numbered after. In a cluster, the largest from
   * Redis, which its heartbeat also reads ({@linkcode Registry.seenId}).
   */
  latestId(): number {
    if (this.#cluster === null) return this.#ids.last();
    return Math.max(this.#lastDelivered, this.#outageId);
  }

  /** In a cluster: an event id Redis has given, here or on another server. */
  seenId(id: number): void {
    if (id > this.#lastDelivered) this.#lastDelivered = id;
  }

  /**
   * A command that waited (for the store, say) may resume for a user logged
   * out meanwhile (their account logged in again elsewhere): nothing of it
   * may bring them back as a ghost in the user table or a room.
   */
  #mustBeOnline(user: User): void {
    if (!this.#online.has(user)) throw new ChatError(...TEXT.pleaseLogIn);
  }

  /**
   * The next event id; 0 in a cluster, where Redis gives each room event its
   * id as it publishes it.
   */
  #id(): number {
    return this.#cluster === null ? this.#ids.next() : 0;
  }

  /**
   * In a cluster, an id for an event shown on this server only: just after
   * the last one Redis gave, so that it sorts where it came (the next from
   * Redis is at least one more), a thousandth more, which leaves the
   * millionths between for a page's other frames.
   */
  #localId(): number {
    this.#outageId = Math.round(
      Math.max(this.#outageId, this.#lastDelivered) * 1000 + 1,
    ) / 1000;
    return this.#outageId;
  }

  /**
   * Shows a room event to the room's members: here at once, or, in a
   * cluster, on every server once Redis has given it its id and published
   * it (this server's members included). A chat line is kept too.
   */
  #send(room: Room, event: RoomEvent, from?: User): void {
    if (this.#cluster !== null) {
      this.#cluster.emit(room, event, from ?? null);
    } else if (isChatLine(event)) {
      room.chat(event, from!);
    } else {
      room.broadcast(event, from);
    }
  }

  /**
   * A room event published by a server of the cluster (this one included):
   * shown to this server's members of the room, if it has any. `fromKey`,
   * `fromLogin`: the sender's key and session, for those who ignore them;
   * an `entered` event skips the one who entered, who is in the room
   * already here. `arrivals` (the room's count of arrivals when the event
   * was made, for one made here) keeps it from those who came in after;
   * one made elsewhere is kept from those here whose own arrival is not
   * back from Redis yet (see {@linkcode Room.placed}). `placed`: for one
   * made here, the arrivals here that it shows have their place now.
   */
  deliver(
    event: RoomEvent,
    fromKey: string | null,
    fromLogin: string | null,
    arrivals?: number,
    placed?: number,
  ): void {
    this.seenId(event.id);
    const room = this.#rooms.get(foldName(event.room));
    if (room === undefined) return;
    if (event.type === "topic") room.topic = event.text || null;
    room.receive(event, {
      fromKey,
      fromLogin,
      except: event.type === "entered" ? foldName(event.name) : null,
      arrivals: arrivals ?? room.placed,
    });
    if (placed !== undefined) room.place(placed);
  }

  /**
   * Shows a room event to this server's members only, with an id of this
   * server's: for a cluster whose Redis cannot be reached now.
   */
  deliverHere(room: Room, event: RoomEvent, from: User | null): RoomEvent {
    const local: RoomEvent = { ...event, id: this.#localId() };
    if (local.type === "topic") room.topic = local.text || null;
    room.receive(local, {
      fromKey: from?.key ?? null,
      except: local.type === "entered" ? foldName(local.name) : null,
    });
    return local;
  }

  #createRoom(
    name: string,
    state?: RoomState | ClaimedRoomState,
  ): Room {
    const key = foldName(name);
    const journal = this.#journal;
    const room = new Room(name, {
      key,
      historyLines: this.#historyLines,
      history: state?.history,
      topic: state?.topic,
      owner: state && "owner" in state ? state.owner : null,
      operators: state && "operators" in state ? state.operators : [],
      keep: journal ? (event) => journal.line(key, event) : undefined,
      stats: this.#stats,
    });
    this.#rooms.set(room.key, room);
    const look = skeleton(name);
    const twins = this.#roomLookalikes.get(look);
    if (twins === undefined) this.#roomLookalikes.set(look, [room]);
    else twins.push(room);
    return room;
  }

  #leaveRoom(user: User): void {
    const room = user.room;
    if (!room) return;
    room.remove(user);
    this.#cluster?.left(user, room);
    this.#send(room, {
      type: "left",
      id: this.#id(),
      at: this.#clock.date(),
      room: room.name,
      name: user.name,
    });
    this.dropIfEmpty(room);
  }
}
