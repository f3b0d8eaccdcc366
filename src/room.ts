/**
 * Users and rooms as the chat sees them: no sockets here.
 *
 * @module
 */

import {
  type ChatEvent,
  type ChatLine,
  isChatLine,
  type RoomEvent,
} from "./events.ts";
import type { Frame, Transport } from "./render/transport.ts";
import type { RemovalReason } from "./metrics.ts";
import { LineArena } from "./text.ts";

/** Where frames rendered for a transport go: a session's outbox. */
export interface FrameSink {
  /** Queues a frame its transport rendered; never waits. */
  deliver(frame: Frame): void;
}

/**
 * Where a user's events go: a session (which renders them for its own
 * transport), or a test's fake.
 */
export interface Recipient {
  /** How this recipient's frames are rendered. */
  readonly transport: Transport;
  /**
   * Where a room's frames go, as they are: the outbox itself, so that the
   * fan-out calls it directly.
   */
  readonly sink: FrameSink;
  /** Renders and queues an event for this recipient alone; never waits. */
  show(event: ChatEvent): void;
  /** The user, called `name`, is now in `room` (null: in none). */
  moved(room: Room | null, name: string): void;
  /** Sends one line of text to this recipient alone (a moderator's word). */
  notice(line: string): void;
  /**
   * Sends `line`, then ends the session (a kick from the server, a ban, its
   * account logged in from elsewhere).
   */
  disconnect(line: string, reason: RemovalReason): void;
  /** The IP address the recipient is connected from. */
  readonly hostname: string;
}

/** The sessions made in this process so far: see {@linkcode User.login}. */
let logins = 0;

/** Someone logged in. */
export class User {
  /**
   * This session's number in the process: with the server's node id, what
   * names it in a cluster, where an ignore follows it through a change of
   * name and ends with it.
   */
  readonly login = ++logins;
  /** The name as shown: NFKC-normalised, as typed otherwise. */
  name: string;
  /** The case-folded name, unique among users online. */
  key: string;
  /** The room the user is in. */
  room: Room | null = null;
  /** When the user logged in, on the server's clock (ms). */
  readonly since: number;
  /** When the user logged in (epoch ms): what other servers compare. */
  readonly sinceDate: number;
  /** When the user last sent a line that was not blank (ms). */
  lastActive: number;
  /** When the user came into their room: the room's count of arrivals. */
  joined = 0;
  /** The away message ("" when away with no reason), or null when here. */
  away: string | null = null;
  /**
   * Who last sent this user a private message: the user, if on this
   * server (so that a reply cannot go to someone who took their name
   * since), their name, and when it came (epoch ms: an account made after
   * that under the name is someone else's); from another server of a
   * cluster, their session there (so that a reply to a guest cannot go to
   * whoever took the name since), or null if it did not say.
   */
  lastPrivateFrom:
    | {
      user: User | null;
      name: string;
      at: number;
      session?: string | null;
    }
    | null = null;
  /** The account this user logged in to (its key), or null for a guest. */
  account: string | null = null;
  /**
   * Users whose lines and private messages this user does not see; made on
   * first use, since most users never ignore anyone.
   */
  #ignoring: Set<User> | null = null;
  /** Those who ignore this user: told to stop when this user logs out. */
  #ignoredBy: Set<User> | null = null;
  /**
   * Accounts ignored, by key to their name as last seen: an account's name
   * is its own, so its next login is ignored too (a guest's is anyone's).
   */
  #ignoringAccounts: Map<string, string> | null = null;
  /**
   * Users of other servers ignored, by the id of their session there to
   * their name as last seen; made on first use.
   */
  #ignoringElsewhere: Map<string, { key: string; name: string }> | null = null;
  /** How this user's frames are rendered (a field: the fan-out reads it). */
  readonly transport: Transport;
  readonly #sink: FrameSink;
  readonly #recipient: Recipient;

  constructor(
    name: string,
    key: string,
    options: { recipient: Recipient; now: number; date?: number },
  ) {
    this.name = name;
    this.key = key;
    this.#recipient = options.recipient;
    this.transport = options.recipient.transport;
    this.#sink = options.recipient.sink;
    this.since = this.lastActive = options.now;
    this.sinceDate = options.date ?? Date.now();
  }

  /** Queues a frame already rendered for this user's transport. */
  deliver(frame: Frame): void {
    this.#sink.deliver(frame);
  }

  /** Shows this user an event meant for them alone. */
  show(event: ChatEvent): void {
    this.#recipient.show(event);
  }

  /** Tells the user's session where they now are. */
  moved(room: Room | null): void {
    this.#recipient.moved(room, this.name);
  }

  /** Sends one line of text to this user alone. */
  notice(line: string): void {
    this.#recipient.notice(line);
  }

  /** Sends `line` and ends the user's session. */
  disconnect(line: string, reason: RemovalReason): void {
    this.#recipient.disconnect(line, reason);
  }

  /** The IP address the user is connected from. */
  get hostname(): string {
    return this.#recipient.hostname;
  }

  /** Whether this user ignores `other`. */
  ignores(other: User): boolean {
    return this.#ignoring !== null && this.#ignoring.has(other);
  }

  /**
   * Whether this user ignores whoever is called `key` (case-folded) now: for
   * events that outlived their sender's session, as history does. `online`:
   * the sessions of the cluster online, if known; an ignore of a user of
   * another server who has logged out has ended (here it is dropped then).
   */
  ignoresName(key: string, online?: ReadonlySet<string> | null): boolean {
    if (this.#ignoringElsewhere !== null) {
      for (const [id, there] of this.#ignoringElsewhere) {
        if (
          there.key === key &&
          (online == null || id.startsWith("=") || online.has(id))
        ) return true;
      }
    }
    if (this.#ignoringAccounts?.has(key)) return true;
    if (this.#ignoring === null) return false;
    for (const other of this.#ignoring) if (other.key === key) return true;
    return false;
  }

  /** Whether this user ignores the account `key` (at its next login too). */
  ignoresAccount(key: string): boolean {
    return this.#ignoringAccounts?.has(key) ?? false;
  }

  /**
   * Whether this user ignores the sender of an event from the cluster:
   * `key`, their name now, and `login`, their session's id (see
   * {@linkcode User.login}; null if not known), by which an ignore follows
   * a user of another server through a change of name and ends with their
   * session, as one here does. `name`: the name the event gives them.
   */
  ignoresSender(key: string, login: string | null, name: string): boolean {
    const elsewhere = this.#ignoringElsewhere;
    if (elsewhere !== null) {
      const there = elsewhere.get(login ?? "") ?? elsewhere.get(`=${key}`);
      if (there !== undefined) {
        there.key = key;
        there.name = name;
        return true;
      }
    }
    if (this.#ignoring === null) return false;
    for (const other of this.#ignoring) if (other.key === key) return true;
    return false;
  }

  /**
   * Stops showing the lines of `name` (key `key`), a user on another server
   * in the session `login` (null: a server that does not say, whose user is
   * ignored by name); false if they were ignored already.
   */
  ignoreElsewhere(login: string | null, key: string, name: string): boolean {
    this.#ignoringElsewhere ??= new Map();
    const id = login ?? `=${key}`;
    if (this.#ignoringElsewhere.has(id)) return false;
    this.#ignoringElsewhere.set(id, { key, name });
    return true;
  }

  /**
   * Shows the lines of a user on another server again, by the name they
   * had when last seen (`key`, case-folded): returns that name as shown,
   * or null if none was ignored under it. Of two ignored under one name,
   * the one among `online` (the sessions of the cluster online, if known),
   * else the later: not one who has logged out, whose ignore is kept only
   * in case their server was just taken for dead and comes back.
   */
  unignoreElsewhere(
    key: string,
    online: ReadonlySet<string> | null = null,
  ): string | null {
    const elsewhere = this.#ignoringElsewhere;
    if (elsewhere === null) return null;
    let found: string | null = null;
    for (const [id, there] of elsewhere) {
      if (there.key !== key) continue;
      found = id;
      if (online !== null && (id.startsWith("=") || online.has(id))) break;
    }
    if (found === null) return null;
    const { name } = elsewhere.get(found)!;
    elsewhere.delete(found);
    return name;
  }

  /**
   * What presence says of a session of another server (`login`): if this
   * user ignores it, it is known by its name now, from a change of name
   * this server did not hear of (made in a room nobody here is in).
   */
  seenElsewhere(login: string, key: string, name: string): void {
    const there = this.#ignoringElsewhere?.get(login);
    if (there === undefined) return;
    there.key = key;
    there.name = name;
  }

  /** The names of the users on other servers this user ignores. */
  get ignoredElsewhere(): string[] {
    return this.ignoredElsewhereOnline(null);
  }

  /**
   * The names of the users on other servers this user ignores whose
   * sessions are among `online` (null: all): one who has logged out is
   * ignored no more, as a user here is not. One ignored by name (a server
   * that does not say which session) is always listed.
   */
  ignoredElsewhereOnline(online: ReadonlySet<string> | null): string[] {
    if (this.#ignoringElsewhere === null) return [];
    const names = [];
    for (const [id, there] of this.#ignoringElsewhere) {
      if (online === null || id.startsWith("=") || online.has(id)) {
        names.push(there.name);
      }
    }
    return names;
  }

  /** Stops showing `other`'s lines; false if they were ignored already. */
  ignore(other: User): boolean {
    this.#ignoring ??= new Set();
    if (this.#ignoring.has(other)) return false;
    this.#ignoring.add(other);
    (other.#ignoredBy ??= new Set()).add(this);
    if (other.account !== null) {
      (this.#ignoringAccounts ??= new Map()).set(other.account, other.name);
    }
    return true;
  }

  /**
   * Stops showing the lines of the account `key` (named `name`), online
   * elsewhere or not yet: its next login here is ignored too.
   */
  ignoreAccount(key: string, name: string): void {
    (this.#ignoringAccounts ??= new Map()).set(key, name);
  }

  /** Shows `other`'s lines again. */
  unignore(other: User): void {
    this.#ignoring?.delete(other);
    other.#ignoredBy?.delete(this);
    if (other.account !== null) this.#ignoringAccounts?.delete(other.account);
  }

  /**
   * Shows the lines of the account `key` again while it is not online
   * here: returns its name as last seen, or null if it was not ignored.
   */
  unignoreAccount(key: string): string | null {
    const name = this.#ignoringAccounts?.get(key);
    if (name === undefined) return null;
    this.#ignoringAccounts!.delete(key);
    return name;
  }

  /**
   * Ends every ignore this user is part of, either way: they logged out.
   * Without it, whoever ignored them went on ignoring their name (in
   * history, and from another server) after they came back, and held on to
   * their ended session.
   */
  endIgnores(): void {
    for (const other of this.#ignoredBy ?? []) other.#ignoring?.delete(this);
    for (const other of this.#ignoring ?? []) other.#ignoredBy?.delete(this);
    this.#ignoredBy = null;
    this.#ignoring = null;
    this.#ignoringAccounts = null;
  }

  /** The names of the accounts this user ignores, online or not. */
  get ignoredAccounts(): string[] {
    return this.#ignoringAccounts ? [...this.#ignoringAccounts.values()] : [];
  }

  /** The users this user ignores. */
  get ignored(): User[] {
    return this.#ignoring ? [...this.#ignoring] : [];
  }
}

/** Options for {@linkcode Room}. */
export interface RoomOptions {
  /** The case-folded name. Default: the name itself. */
  key?: string;
  /** Chat lines kept in memory for those who join. Default 0. */
  historyLines?: number;
  /** The last chat lines said before this room was made, oldest first. */
  history?: readonly ChatLine[];
  /** The topic it starts with. Default: none. */
  topic?: string | null;
  /** Called with every chat line, to keep it (the store). Never waits. */
  keep?: (event: ChatLine) => void;
  /** The owner's account key, for a claimed room. */
  owner?: string | null;
  /** The room operators' account keys. */
  operators?: readonly string[];
  /** Where deliveries are counted, for /metrics. */
  stats?: DeliveryStats;
}

/** Deliveries made, counted by the rooms that make them. */
export interface DeliveryStats {
  deliveries: number;
}

/** A room: its members in the order they came in, its topic, its history. */
export class Room {
  /** The room's name as shown. */
  readonly name: string;
  /** The case-folded name, unique among rooms. */
  readonly key: string;
  /** The topic, or null when none is set. */
  topic: string | null;
  /**
   * The owner's account key, or null: a claimed room stays, even empty,
   * and its owner names its room operators.
   */
  owner: string | null;
  /** The room operators' account keys. */
  readonly operators: Set<string>;
  readonly #members = new Set<User>();
  #arrivals = 0;
  #placed = 0;
  /** The room's own arena: its lines stay adjacent for each member. */
  readonly #arena = new LineArena();
  readonly #historyLines: number;
  /** A ring of the last `historyLines` chat lines; `#next` is the oldest. */
  readonly #history: ChatLine[] = [];
  #next = 0;
  readonly #keep: ((event: ChatLine) => void) | null;
  readonly #stats: DeliveryStats;

  constructor(name: string, options: RoomOptions = {}) {
    this.name = name;
    this.key = options.key ?? name;
    this.topic = options.topic ?? null;
    this.owner = options.owner ?? null;
    this.operators = new Set(options.operators);
    this.#historyLines = options.historyLines ?? 0;
    this.#keep = options.keep ?? null;
    this.#stats = options.stats ?? { deliveries: 0 };
    for (const event of options.history ?? []) this.#remember(event);
  }

  /** The members, in the order they entered. */
  get members(): ReadonlySet<User> {
    return this.#members;
  }

  /** Adds a user (whose session is told); callers announce it. */
  add(user: User): void {
    this.#members.add(user);
    user.room = this;
    user.joined = ++this.#arrivals;
    user.moved(this);
  }

  /**
   * How many have come into the room so far: an event made now is not for
   * anyone who comes after (see `receive`).
   */
  get arrivals(): number {
    return this.#arrivals;
  }

  /**
   * In a cluster, how many of the arrivals here have their place in the
   * order Redis gives the room's events: each newcomer's once their own
   * arrival is back from Redis (after every event published before it). An
   * arrival or departure from another server is shown to those only: the
   * others came in after it, and it is not news to them (see `receive`).
   */
  get placed(): number {
    return this.#placed;
  }

  /** The first `arrivals` arrivals have their place (see `placed`). */
  place(arrivals: number): void {
    this.#placed = Math.max(this.#placed, arrivals);
  }

  /** Removes a user; callers announce it. */
  remove(user: User): void {
    this.#members.delete(user);
    if (user.room === this) user.room = null;
  }

  /**
   * Shows an event to every member, rendered once per transport among them
   * (usually one). An event `from` a user skips the members who ignore them.
   */
  broadcast(event: RoomEvent, from?: User): void {
    // Most rooms are all one transport: one render, no map.
    let transport: Transport | null = null;
    let frame: Frame | null = null;
    let others: Map<Transport, Frame> | null = null;
    let delivered = 0;
    for (const member of this.#members) {
      if (from !== undefined && member.ignores(from)) continue;
      delivered++;
      const mine = member.transport;
      if (mine !== transport) {
        if (transport === null) {
          transport = mine;
          frame = mine.renderRoom(event, this.#arena);
        } else {
          others ??= new Map();
          let theirs = others.get(mine);
          if (theirs === undefined) {
            others.set(mine, theirs = mine.renderRoom(event, this.#arena));
          }
          member.deliver(theirs);
          continue;
        }
      }
      member.deliver(frame!);
    }
    this.#stats.deliveries += delivered;
  }

  /**
   * Shows an event that came from the cluster (or was made here while it
   * cannot be reached) to the members here: those who ignore its sender
   * (`fromKey`, and `fromLogin`: see {@linkcode User.ignoresSender}), the
   * one named by `except`, and, for an arrival or a departure made on this
   * server, those who came in after it was made (`arrivals`: the room's
   * count then) are skipped; a chat line is remembered for those who join.
   */
  receive(
    event: RoomEvent,
    options: {
      fromKey: string | null;
      fromLogin?: string | null;
      except: string | null;
      arrivals?: number;
    },
  ): void {
    const { fromKey, except } = options;
    const fromLogin = options.fromLogin ?? null;
    // Only a chat line has a sender.
    const fromName = isChatLine(event) ? event.from : "";
    // Who came or went before a newcomer arrived is not news to them; a
    // line said just before, they may as well read.
    const arrivals = event.type === "entered" || event.type === "left" ||
        event.type === "kicked"
      ? options.arrivals ?? Infinity
      : Infinity;
    let transport: Transport | null = null;
    let frame: Frame | null = null;
    let others: Map<Transport, Frame> | null = null;
    let delivered = 0;
    for (const member of this.#members) {
      if (member.key === except || member.joined > arrivals) continue;
      if (
        fromKey !== null && member.ignoresSender(fromKey, fromLogin, fromName)
      ) continue;
      const mine = member.transport;
      let theirs: Frame;
      if (transport === null || mine === transport) {
        transport = mine;
        theirs = frame ??= mine.renderRoom(event, this.#arena);
      } else {
        others ??= new Map();
        theirs = others.get(mine) ?? mine.renderRoom(event, this.#arena);
        others.set(mine, theirs);
      }
      member.deliver(theirs);
      delivered++;
    }
    this.#stats.deliveries += delivered;
    if (isChatLine(event)) this.#remember(event);
  }

  /** Replaces the remembered chat lines (a room seen again after a while). */
  recall(history: readonly ChatLine[]): void {
    this.#history.length = 0;
    this.#next = 0;
    for (const event of history) this.#remember(event);
  }

  /** Broadcasts a chat line from `from`, and keeps it in the history. */
  chat(event: ChatLine, from: User): void {
    this.broadcast(event, from);
    this.#remember(event);
    this.#keep?.(event);
  }

  /** The chat lines kept in memory, oldest first. */
  history(): ChatLine[] {
    return [
      ...this.#history.slice(this.#next),
      ...this.#history.slice(0, this.#next),
    ];
  }

  #remember(event: ChatLine): void {
    if (this.#historyLines === 0) return;
    if (this.#history.length < this.#historyLines) {
      this.#history.push(event);
    } else {
      this.#history[this.#next] = event;
      this.#next = (this.#next + 1) % this.#historyLines;
    }
  }
}
