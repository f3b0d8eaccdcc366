/**
 * Several servers acting as one chat, over Redis. Each server keeps its own
 * users in its registry; Redis holds who is online where (names, rooms'
 * members), gives every room event its id and publishes it, and carries
 * private messages to the server that holds their recipient.
 *
 * What each chat action costs in Redis is in the README (Running a
 * cluster), every action in docs/cluster.md. In short: a room line is one
 * EVALSHA (INCR, the history's ZADD and trim, one PUBLISH); a private
 * message across servers one EVALSHA (one
 * PUBLISH, to that one server); a login three (CLAIM for the name, MOVE
 * for a place in its room, EMIT for the room's line), besides the store's
 * lookup of the account; a server subscribes only to the rooms its users
 * are in.
 *
 * When Redis cannot be reached, each server keeps its own users chatting:
 * room lines are shown here only, and the sender is told that the other
 * servers did not get them; private messages to other servers are refused.
 * When it is back (node-redis reconnects and subscribes again by itself),
 * the server takes its users' names and places again; a name taken twice
 * meanwhile stays with whoever logged in first, and the other is renamed and
 * asked to pick another. A server that stalled (or was cut off) long enough
 * to be reaped by the others sees it at its next heartbeat, which finds it
 * no longer listed, and does the same.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import type { Clock, TimerId } from "../clock.ts";
import type { PrivateEvent, RoomEvent } from "../events.ts";
import { StoreError, StoreUnavailable } from "../store/store.ts";
import { isChatLine } from "../events.ts";
import { foldName, skeleton } from "../names.ts";
import type { Room, User } from "../room.ts";
import { ANSWER_MS, type RedisLink, type Subscriber } from "../redis/link.ts";
import type { RedisStore } from "../store/redis.ts";
import type { ClusterHooks } from "../registry.ts";
import {
  CLAIM,
  EMIT,
  LOOK,
  MOVE,
  OPEN_ROOM,
  PRIVATE,
  RAISE,
  REAP,
  RECLAIM,
  RELEASE,
  RENAME,
  ROOMS,
} from "./scripts.ts";
import { PresenceBatches } from "./batches.ts";
import type {
  Announcement,
  ClaimResult,
  ClusterHost,
  Control,
  Presence,
} from "./types.ts";

export type {
  Announcement,
  ClaimResult,
  ClusterHost,
  Control,
  Presence,
} from "./types.ts";

/**
 * The cluster's clockwork, in ms: how often a server says it is alive, how
 * long until one silent is taken for dead, how long after Redis comes back
 * before the dead are reaped, how long until a Redis that does not answer
 * is taken for stalled. What the README and docs/cluster.md promise (a
 * dead server's users gone within about 5 s, Redis taken for gone after
 * 3 s without an answer, names and places put right within 5 s of its
 * return) is of the production values, {@linkcode CLUSTER_TIMINGS}.
 */
export interface ClusterTimings {
  /** How often a server says it is alive. */
  heartbeatMs: number;
  /**
   * A server silent this long is taken for dead: a few heartbeats, so that
   * one late heartbeat is no death.
   */
  aliveTtlMs: number;
  /**
   * After Redis comes back, how long before this server reaps others: they
   * must have had time to say they are alive again (more than
   * `aliveTtlMs`).
   */
  reapGraceMs: number;
  /**
   * How long a command waits for Redis's answer before Redis is taken for
   * stalled: the link's (see {@linkcode ANSWER_MS}), not used here.
   */
  answerMs: number;
}

/** The production timings: the ones every promise about a cluster is of. */
export const CLUSTER_TIMINGS: Readonly<ClusterTimings> = Object.freeze({
  heartbeatMs: 1000,
  aliveTtlMs: 3000,
  reapGraceMs: 5000,
  answerMs: ANSWER_MS,
});

/** How often presence is told that a user was active, at most, in ms. */
const ACTIVE_EVERY_MS = 15_000;
/**
 * Announcements kept to be sent again, at most: past it, they are folded
 * into one of each kind (see `#keepUnsent`).
 */
const UNSENT_MAX = 100;

/** Options for {@linkcode Cluster.start}. */
export interface ClusterOptions {
  link: RedisLink;
  /** The store on the same Redis: accounts are read from it. */
  store: RedisStore;
  /** This server's name in the cluster. */
  nodeId: string;
  /** The key prefix, as the store's. */
  prefix: string;
  /** Chat lines kept per room. */
  historyKeep: number;
  clock: Clock;
  log: Logger;
  /**
   * For tests only (a server's `ServeOptions.clusterTimings`; no flag):
   * shorter timings, for tests that wait for a heartbeat or a reap to
   * happen, not for how long it takes. Default {@linkcode CLUSTER_TIMINGS}.
   */
  timings?: Readonly<ClusterTimings>;
}

/** This server's part in a cluster. */
export class Cluster implements ClusterHooks {
  readonly nodeId: string;
  /**
   * This start's own mark, in every session id this server gives out: a
   * server restarted under the same `--node-id` counts its logins from 1
   * again, and without it a newcomer could take the id of someone ignored
   * before the restart.
   */
  readonly #start = crypto.randomUUID().slice(0, 8);
  readonly #link: RedisLink;
  readonly #store: RedisStore;
  readonly #subscriber: Subscriber;
  /**
   * Every account's key to its skeleton, and back: to know a registered
   * name while Redis (the accounts) cannot be reached.
   */
  #accounts = new Map<string, string>();
  #skeletons = new Map<string, string>();
  readonly #prefix: string;
  readonly #keep: number;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #timings: Readonly<ClusterTimings>;
  #host: ClusterHost | null = null;
  /** Room channels subscribed to, by room key. */
  readonly #watching = new Map<string, Promise<void>>();
  /**
   * Every room channel's one listener. node-redis keeps a set of listeners
   * per channel: a SUBSCRIBE that timed out (Redis stalled) still takes its
   * listener once Redis answers, and the next one for that room, with a new
   * function, would add a second: every line shown twice. The same function
   * is added once.
   */
  readonly #onRoomMessage = (message: string) => this.#fromRoom(message);
  /**
   * Rooms stopped listening to while Redis could not be told: node-redis
   * subscribes again by itself to what it had, so these are unsubscribed
   * once this server takes its places again (unless listened to again).
   */
  readonly #unheard = new Set<string>();
  /**
   * Presence updates on their way to Redis. Reading the cluster (`who`,
   * `look`, ...) waits for those asked for so far: what this server's users
   * just did (a join, `away`) shows in what they read next, as on one
   * server.
   */
  readonly #updates = new PresenceBatches({
    up: () => this.up,
    lost: (failure) => {
      this.#reconcile = true;
      if (failure === null) return;
      this.#log.warn("Updating the cluster failed: {error}", {
        error: failure.reason,
      });
    },
  });
  /**
   * The names (by key) this server has asked Redis to free, each to the
   * batch that frees it: a login or `nick` here under one waits for it, so
   * that a name is free once its user has left, as on one server.
   */
  readonly #releasing = new Map<string, Promise<void>>();
  #heartbeat: TimerId | null = null;
  /** The heartbeat on its way (resolved: none). */
  #beating: Promise<void> = Promise.resolve();
  /** The event id counter as the last heartbeat read it. */
  #latestId = 0;
  /** When Redis last came back (or first answered), on the clock (ms). */
  #readyAt = 0;
  /** Redis was away: once it is back, take names and places again. */
  #reconcile = false;
  /**
   * The link's count of outages as the heartbeat last saw it: one that
   * began and ended between two heartbeats (a stall just past the answer
   * time) is reconciled too, though every heartbeat found Redis up.
   */
  #outages = 0;
  /**
   * The other servers took this one for dead (it stalled, or was cut off
   * from Redis, past the heartbeat's expiry) and told its rooms that its
   * users left: once its names are taken again, the rooms are told that
   * they are back.
   */
  #reaped = false;
  /**
   * Users whose rooms were told they are back, in a retake after a reap
   * that has not finished yet: a retake tried again does not tell them
   * twice.
   */
  #announcedBack = new WeakSet<User>();
  /**
   * Room events made here and not yet back from Redis, by number: the
   * room's count of arrivals when each was made, so that those who came in
   * after do not see it (as on one server, where it is shown at once).
   */
  readonly #made = new Map<number, number>();
  #lastMade = 0;
  /**
   * Each user's last room event made here, by number: what {@linkcode sent}
   * waits for. A user's events go to Redis on one connection and come back
   * on another in the order they were made, so the last one back means all
   * are.
   */
  readonly #lastSent = new WeakMap<User, number>();
  /** Who waits ({@linkcode sent}) for which of {@linkcode #made} to be done. */
  readonly #awaited = new Map<number, () => void>();
  /**
   * Room events made here whose publishing Redis did not answer in time
   * (it stalled): shown here meanwhile, so not shown again if Redis runs it
   * after all, once it answers again. Forgotten once this server has taken
   * its places again.
   */
  readonly #abandoned = new Set<number>();
  /**
   * Guests whose `register` Redis did not answer (it stalled, or the
   * connection closed with the script sent): the key and password hash it
   * carried. Redis may have run it, so once it is back, an account under
   * their name that holds this hash (salted: no other registration has it)
   * is theirs, not one registered elsewhere meanwhile that they must yield.
   */
  readonly #registering = new WeakMap<User, { key: string; hash: string }>();
  /**
   * Accounts' owners here whose new password (this hash) Redis did not
   * answer: once it is back, they are told if it took it after all, since
   * the old one would not log in any more.
   */
  readonly #passwords = new WeakMap<User, { account: string; hash: string }>();
  /**
   * A user who has just left a room here, whose MOVE out of it waits for
   * the rest of this turn: a join (or a kick to main) enters the next room
   * at once, and the two go as one MOVE. Sent as two, another server would
   * read them, for the round trip between, in no room at all: `whois`
   * answered `in room ""`, and a kick from there `is not in ""`.
   */
  #justLeft: { user: User; from: string; presence: Presence } | null = null;
  /**
   * When each user last told presence they were active, on the monotonic
   * clock: on the wall clock, a step back (NTP) would hold every update
   * back until it caught up again, an hour for an hour's step.
   */
  readonly #told = new WeakMap<User, number>();
  /**
   * A session of this server ends that the other servers take for gone
   * already (see `#reclaim`): what it does on the way out is shown here
   * only.
   */
  #leavingHere = false;
  /**
   * Announcements whose PUBLISH failed, in order, to be sent again at the
   * next heartbeat that finds Redis up (see `announce`).
   */
  #unsent: Announcement[] = [];
  /** `#resend` is on its way. */
  #resending: Promise<void> | null = null;
  #closed = false;

  private constructor(options: ClusterOptions, subscriber: Subscriber) {
    this.nodeId = options.nodeId;
    this.#link = options.link;
    this.#store = options.store;
    this.#subscriber = subscriber;
    this.#prefix = options.prefix;
    this.#keep = options.historyKeep;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#timings = options.timings ?? CLUSTER_TIMINGS;
  }

  /**
   * Joins the cluster: subscribes to this server's channel and the
   * cluster's, says it is alive, and starts watching for servers that died.
   */
  static async start(options: ClusterOptions): Promise<Cluster> {
    const subscriber = await options.link.subscriber();
    const cluster = new Cluster(options, subscriber);
    const p = options.prefix;
    await subscriber.subscribe(
      `${p}n:${options.nodeId}`,
      (message) => cluster.#fromNode(message),
    );
    await subscriber.subscribe(
      `${p}all`,
      (message) => cluster.#fromAll(message),
    );
    subscriber.onReady(() => cluster.#redisBack());
    await cluster.#takeOver();
    await cluster.#alive(true);
    await cluster.#loadAccounts();
    cluster.#readyAt = options.clock.now();
    cluster.#heartbeat = options.clock.setTimeout(
      () => cluster.#beat(),
      cluster.#timings.heartbeatMs,
    );
    return cluster;
  }

  /**
   * A server started with the id of one that died (a supervisor restarts
   * it with its --node-id) inherits its names, which nobody would free: the
   * others reap only a server that stops renewing its heartbeat, and this
   * one renews it. So first the dead one's heartbeat is left to expire (at
   * most its 3 s), and it is reaped like any other: its users leave their
   * rooms and their names are free. A heartbeat still renewed meanwhile is
   * a live server with this id: refused.
   */
  async #takeOver(): Promise<void> {
    const alive = this.#key(`alive:${this.nodeId}`);
    const left = Number(await this.#link.call("PTTL", alive));
    if (left > 0) {
      await new Promise((resolve) => setTimeout(resolve, left + 100));
      if (Number(await this.#link.call("EXISTS", alive)) === 1) {
        throw new StoreError(
          `Another server with --node-id "${this.nodeId}" is running on this Redis`,
        );
      }
    }
    const gone = await this.#reap(this.nodeId);
    if (gone.length === 0) return;
    this.#log.warn(
      "A server with this id ({node}) had stopped; its users left",
      { node: this.nodeId },
    );
    for (let i = 0; i + 2 < gone.length; i += 3) {
      await this.#left(gone[i], gone[i + 1], gone[i + 2], this.nodeId);
    }
  }

  /** Connects the cluster to its server (once the registry exists). */
  attach(host: ClusterHost): void {
    this.#host = host;
    host.registry.seenId(this.#latestId);
  }

  /**
   * Whether Redis can be reached now, on both connections: with the
   * subscriber down (Redis drops a pub/sub client that lags behind), lines
   * would be published that this server's own members never hear, so they
   * are shown here only, and said to be, as when Redis is away; /readyz
   * says 503.
   */
  get up(): boolean {
    return this.#link.up && this.#subscriber.up;
  }

  // Names.

  /**
   * The account a name (or a look-alike of it) belongs to, as this server
   * knows it: for while Redis cannot be reached. Null: none known.
   */
  knownAccount(key: string, skeleton: string): string | null {
    if (this.#accounts.has(key)) return key;
    return this.#skeletons.get(skeleton) ?? null;
  }

  /**
   * An account was registered (`registered`: its key) or deleted here:
   * every server hears of it.
   */
  async accountsChanged(registered?: string): Promise<void> {
    await this.#loadAccounts();
    await this.announce({ kind: "accounts", registered });
  }

  async #loadAccounts(): Promise<void> {
    const index = await this.#store.accountIndex();
    this.#accounts = index;
    this.#skeletons = new Map([...index].map(([key, skel]) => [skel, key]));
  }

  /**
   * Takes a name for a user about to log in here: one step in Redis, so two
   * servers never both let the same name in. `offline` when Redis cannot be
   * reached (the name is then checked here only, and taken again in Redis
   * once it is back).
   */
  async claim(
    name: string,
    options: { account: string | null; since: number; address: string },
  ): Promise<ClaimResult> {
    const key = foldName(name);
    await this.#released(key);
    if (!this.up) return "offline";
    const presence = this.#presence({
      name,
      key,
      account: options.account,
      since: options.since,
      room: null,
      away: null,
      address: options.address,
    });
    try {
      const [result, holder] = await this.#link.eval(CLAIM, [
        this.#key("names"),
        this.#key("skeletons"),
        this.#key(`node-users:${this.nodeId}`),
      ], [key, presence.skeleton, JSON.stringify(presence)]) as string[];
      return claimResult(result, holder);
    } catch {
      return "offline";
    }
  }

  /**
   * Gives back a name claimed for a login that did not happen, or (with
   * `user`) one Redis gave `user`, who has left meanwhile.
   */
  unclaim(name: string, user?: User): void {
    this.releaseName(foldName(name), user);
  }

  /**
   * Resolves once this server's own pending release of `key`, if any, is
   * done: the claim that follows then finds the name free in Redis, rather
   * than still held here for a user who has left (another server's claim
   * may still take it first, in one step, as ever).
   */
  async #released(key: string): Promise<void> {
    const freeing = this.#releasing.get(key);
    if (freeing !== undefined) await freeing;
  }

  /**
   * Renames a user of this server in Redis, the new name checked as a
   * login's is; like `claim`, `offline` when Redis cannot be reached.
   */
  async rename(
    user: User,
    name: string,
  ): Promise<ClaimResult> {
    await this.#released(foldName(name));
    if (!this.up) return "offline";
    const presence = this.#presenceOf(user, { name });
    try {
      const [result, holder] = await this.#link.eval(RENAME, this.#nameKeys(), [
        user.key,
        skeleton(user.name),
        presence.key,
        presence.skeleton,
        JSON.stringify(presence),
        this.#prefix,
        user.room?.key ?? "",
        this.nodeId,
        this.#clock.date(),
      ]) as string[];
      return claimResult(result, holder);
    } catch {
      return "offline";
    }
  }

  /**
   * `user`'s `register` (for their name now, with `hash`) got no answer
   * from Redis: see `#registering`.
   */
  registrationUnanswered(user: User, hash: string): void {
    this.#registering.set(user, { key: user.key, hash });
  }

  /**
   * `user`'s new password (`hash`) got no answer from Redis: see
   * `#passwords`.
   */
  passwordUnanswered(user: User, hash: string): void {
    if (user.account !== null) {
      this.#passwords.set(user, { account: user.account, hash });
    }
  }

  // Rooms.

  /**
   * Listens to a room's channel (once); resolves when Redis has confirmed,
   * so that nothing published after it is missed. While Redis cannot be
   * reached, resolves at once: the room is listened to once it is back
   * (`#retake`).
   */
  watch(room: string): Promise<void> {
    let watching = this.#watching.get(room);
    if (watching === undefined) {
      watching = this.#subscriber.subscribe(
        this.#key(`r:${room}`),
        this.#onRoomMessage,
      ).catch((error) => {
        this.#watching.delete(room);
        if (!(error instanceof StoreUnavailable)) throw error;
        this.#reconcile = true;
      });
      this.#watching.set(room, watching);
    }
    return watching;
  }

  /** Whether this server listens to a room's channel (see `watch`). */
  watching(room: string): boolean {
    return this.#watching.has(room);
  }

  /**
   * A room that no server has open (nor the store kept) is about to be
   * made here: the name of one open on any server that it looks like, or
   * null (its look is then taken, so that no server makes a look-alike of
   * it meanwhile). Null too while Redis cannot be reached: each server then
   * checks its own rooms only.
   */
  async openRoom(key: string, name: string): Promise<string | null> {
    if (!this.up) return null;
    try {
      const twin = await this.#link.eval(OPEN_ROOM, [], [
        skeleton(name),
        key,
        name,
        this.#prefix,
      ]);
      return twin === "" || twin === null ? null : String(twin);
    } catch (error) {
      if (error instanceof StoreUnavailable) return null;
      throw error;
    }
  }

  /** Stops listening to a room this server has no members of any more. */
  #unwatch(room: string): void {
    const watching = this.#watching.get(room);
    if (watching === undefined) return;
    this.#watching.delete(room);
    if (!this.#subscriber.up) this.#unheard.add(room);
    watching.then(() => this.#subscriber.unsubscribe(this.#key(`r:${room}`)))
      .catch(() => this.#unheard.add(room));
  }

  // ClusterHooks: what the registry tells the cluster.

  emit(room: Room, event: RoomEvent, from: User | null): void {
    if (this.#leavingHere) {
      this.#host?.registry.deliverHere(room, event, from);
      return;
    }
    const { id: _, ...fields } = event;
    const chat = isChatLine(event);
    const topic = event.type === "topic" ? event : null;
    const made = ++this.#lastMade;
    const arrivals = room.arrivals;
    this.#made.set(made, arrivals);
    if (from !== null) this.#lastSent.set(from, made);
    const fail = () => {
      // It will not come back to place those here before it: they are
      // placed now, and see whatever comes from elsewhere.
      room.place(placedBy(event, arrivals));
      // Redis is away: this server's members see it, and the sender (of a
      // line, or whoever set a topic) hears that nobody else did.
      this.#done(made);
      const host = this.#host;
      host?.registry.deliverHere(room, event, from);
      const sender = from ?? (topic && host?.registry.find(topic.from));
      if (sender) host?.notHeard(sender);
    };
    if (!this.up) return fail();
    this.#link.eval(EMIT, [
      this.#key("ids"),
      this.#key(`r:${room.key}`),
      chat ? this.#key(`history:${room.key}`) : "",
      this.#key(`room:${room.key}`),
    ], [
      JSON.stringify(fields),
      this.#keep,
      room.name,
      `${this.nodeId} ${made}\n${from === null ? "" : this.#sender(from)}`,
      topic?.text ?? "",
      topic?.from ?? "",
      topic?.at ?? "",
    ]).then(() => {
      // Nobody here listens to the room any more (its last member here just
      // left): the event will not come back, and is not waited for.
      if (!this.#watching.has(room.key)) this.#done(made);
    }, () => {
      this.#abandoned.add(made);
      fail();
    });
  }

  entered(user: User, room: Room): void {
    // Out of the room they just left (a join, a kick to main) and into
    // this one, in one MOVE.
    const left = this.#justLeft?.user === user ? this.#justLeft : null;
    if (left !== null) this.#justLeft = null;
    this.#move(user, left?.from ?? "", room);
  }

  left(user: User, room: Room): void {
    this.#leftSent();
    this.#justLeft = {
      user,
      from: room.key,
      presence: this.#presenceOf(user, { room: null }),
    };
    // In no room after all (a logout, a kick off the server): sent by
    // itself, before anything asked for after.
    queueMicrotask(() => this.#leftSent());
    if (room.members.size === 0 && room.key !== "main") this.#unwatch(room.key);
  }

  /** Sends {@linkcode #justLeft}'s MOVE, if it waits, by itself. */
  #leftSent(): void {
    const left = this.#justLeft;
    if (left === null) return;
    this.#justLeft = null;
    this.#sendMove(left.user, left.from, null, left.presence);
  }

  renamed(): void {
    // `rename` did it in Redis before the registry renamed the user here.
  }

  loggedOut(user: User): void {
    this.releaseName(user.key, user);
  }

  /**
   * Frees a name this server holds for nobody any more: `user`'s (who has
   * left), if given, and then only if no other session here holds it now.
   */
  releaseName(key: string, user?: User): void {
    const session = user === undefined ? "" : this.#session(user.login);
    this.#leftSent();
    this.#updates.add(() => this.#release(key, session));
    // The batch it went into: the one gathering, or the one just sent.
    const freed = this.#updates.caughtUp();
    this.#releasing.set(key, freed);
    freed.then(() => {
      if (this.#releasing.get(key) === freed) this.#releasing.delete(key);
    });
  }

  /**
   * Resolves once the room events `user` made here are back from Redis and
   * shown here (to `user` too, if still in the room), or will not come back
   * (Redis failed them, or nobody here listens to the room any more). A
   * session that ends awaits it first, bounded: a line said just before a
   * `logout` went round Redis, and its sender saw it, as on one server.
   */
  sent(user: User): Promise<void> {
    const last = this.#lastSent.get(user);
    if (last === undefined || !this.#made.has(last)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const before = this.#awaited.get(last);
    this.#awaited.set(
      last,
      before === undefined ? resolve : () => {
        before();
        resolve();
      },
    );
    return promise;
  }

  /** Event `made` is back from Redis, or will not be: whoever waits goes on. */
  #done(made: number): void {
    this.#made.delete(made);
    if (this.#awaited.size === 0) return;
    const resolve = this.#awaited.get(made);
    if (resolve === undefined) return;
    this.#awaited.delete(made);
    resolve();
  }

  /** Resolves once the presence updates asked for so far are done. */
  settled(): Promise<void> {
    this.#leftSent();
    return this.#updates.settled();
  }

  /** Tells presence what changed of a user (away, say). */
  updated(user: User): void {
    this.#move(user, user.room?.key ?? "", user.room);
  }

  /** A user sent a line: presence hears of it, at most every 15 s. */
  active(user: User): void {
    const now = this.#clock.now();
    const told = this.#told.get(user);
    if (told !== undefined && now - told < ACTIVE_EVERY_MS) return;
    this.#told.set(user, now);
    this.updated(user);
  }

  // Reading the cluster.

  /** Everyone logged in, on every server, in the order they logged in. */
  async who(): Promise<string[]> {
    return (await this.presences()).sort((a, b) => a.since - b.since)
      .map((p) => p.name);
  }

  /** What presence holds of everyone logged in, on every server. */
  async presences(): Promise<Presence[]> {
    this.#leftSent();
    await this.#updates.caughtUp();
    const all = await this.#link.call("HVALS", this.#key("names")) as string[];
    return all.map((json) => JSON.parse(json) as Presence);
  }

  /** A room's members on every server, in the order they came in. */
  async look(room: string): Promise<string[]> {
    this.#leftSent();
    await this.#updates.caughtUp();
    return await this.#link.eval(LOOK, [
      this.#key(`members:${room}`),
      this.#key("names"),
    ], []) as string[];
  }

  /** Who holds `name`, if anyone does. */
  async find(name: string): Promise<Presence | null> {
    this.#leftSent();
    await this.#updates.caughtUp();
    const json = await this.#link.call(
      "HGET",
      this.#key("names"),
      foldName(name),
    );
    return json === null ? null : JSON.parse(String(json)) as Presence;
  }

  /** The rooms with members anywhere: key, members, name, topic. */
  async rooms(): Promise<
    { key: string; members: number; name: string; topic: string | null }[]
  > {
    this.#leftSent();
    await this.#updates.caughtUp();
    const flat = await this.#link.eval(
      ROOMS,
      [this.#key("rooms")],
      [this.#prefix],
    ) as (string | number)[];
    const rooms = [];
    for (let i = 0; i + 3 < flat.length; i += 4) {
      rooms.push({
        key: String(flat[i]),
        members: Number(flat[i + 1]),
        name: String(flat[i + 2]),
        topic: flat[i + 3] === "" ? null : String(flat[i + 3]),
      });
    }
    return rooms;
  }

  // Private messages and requests to other servers.

  /**
   * Sends a private message to `to` on whichever server holds them: the
   * event (for the sender's own view) or null if nobody has the name (or,
   * with `session`, if whoever has it now is not that session: a reply to
   * a guest who left goes to nobody else). Rejects while Redis cannot be
   * reached.
   */
  async privateMessage(
    from: User,
    to: string,
    text: string,
    options: { session?: string | null } = {},
  ): Promise<
    { event: PrivateEvent; away: string | null; heard: boolean } | null
  > {
    const fields = {
      type: "private",
      at: this.#clock.date(),
      from: from.name,
      text,
    };
    const reply = await this.#link.eval(PRIVATE, [
      this.#key("names"),
      this.#key("ids"),
    ], [
      foldName(to),
      JSON.stringify(fields),
      this.#sender(from),
      this.#prefix,
      options.session ?? "",
    ]);
    if (reply === 0 || reply === null) return null;
    // heard: how many servers the publish reached; none when the holder's
    // server has just died and is not yet reaped.
    const [id, name, away, heard, isAway] = reply as [
      number,
      string,
      string,
      number,
      number,
    ];
    return {
      event: {
        type: "private",
        id: Number(id),
        at: fields.at,
        from: from.name,
        to: name,
        text,
      },
      // "" with isAway is away with no reason, which is still away.
      away: Number(isAway) === 1 ? away : null,
      heard: Number(heard) > 0,
    };
  }

  /**
   * Asks the server holding a user to act (a kick, a notice). False if no
   * server heard it: that one has died, and is not reaped yet.
   */
  async control(node: string, control: Control): Promise<boolean> {
    const heard = await this.#link.call(
      "PUBLISH",
      this.#key(`n:${node}`),
      `control\n${JSON.stringify(control)}`,
    );
    return Number(heard) > 0;
  }

  /**
   * Tells every server (this one too) what a moderator changed. One whose
   * PUBLISH fails is sent again at the next heartbeat that finds Redis up,
   * until it goes: a failed PUBLISH with Redis otherwise up (refused, or
   * one command lost with a connection that came back at once) leaves the
   * other servers with no outage of their own to reload after, and they
   * would act on the change only at some later announcement. Sent again,
   * it is acted on as when first sent: each server reloads and acts on
   * what changed since it last did (so an announcement that also came
   * through after all, Redis having run a PUBLISH it did not answer in
   * time, acts on nothing twice; only its `notice` would be shown again).
   */
  async announce(announcement: Announcement): Promise<void> {
    if (this.#unsent.length > 0) {
      // Behind older ones not sent yet, it waits its turn: sent first, it
      // would have the others act on the older changes without their
      // notices and rooms, and show its notice before theirs (a room
      // operator made and unmade would be told the two the wrong way round).
      this.#keepUnsent(announcement);
      await this.#resend();
      return;
    }
    const failure = await this.#announceNow(announcement);
    if (failure === null) return;
    this.#log.warn(
      "Announcing a change to the other servers failed (sent again once Redis takes it): {error}",
      { error: failure },
    );
    this.#keepUnsent(announcement);
  }

  /** PUBLISHes an announcement: null, or why it failed. */
  async #announceNow(announcement: Announcement): Promise<unknown> {
    try {
      await this.#link.call(
        "PUBLISH",
        this.#key("all"),
        JSON.stringify({ ...announcement, from: this.nodeId }),
      );
      return null;
    } catch (error) {
      return error ?? new Error("PUBLISH failed");
    }
  }

  /**
   * Keeps an announcement to send again, and has this server act on it
   * now. Bounded: past {@linkcode UNSENT_MAX}, what is kept is folded into
   * one bare announcement of each kind kept, which still makes every server
   * reload everything and act on all that changed (the notices, the rooms'
   * names as written and a registered account's key for `--op` are what is
   * lost then).
   */
  #keepUnsent(announcement: Announcement): void {
    // This server reloads it now; the others, once it is sent again (or as
    // they take their places again, if Redis went away for them too). A
    // sanction or a lift is not acted on again here: its caller did that
    // already (its users were told once).
    this.#host?.announced(
      announcement.kind === "moderation"
        ? { ...announcement, sanction: undefined, lifted: undefined }
        : announcement,
    );
    this.#unsent.push(announcement);
    if (this.#unsent.length <= UNSENT_MAX) return;
    const kinds = new Set(this.#unsent.map((a) => a.kind));
    this.#unsent = [...kinds].map((kind) => ({ kind }));
  }

  /**
   * Sends again, in order, the announcements whose PUBLISH failed; stops
   * at the first that fails again (kept, with those after it, for the next
   * heartbeat).
   */
  #resend(): Promise<void> {
    // One at a time: a heartbeat can start while the last one's waits
    // (Redis slow), and two would send the first twice and drop another.
    // Whoever asks meanwhile (an announcement kept behind, the last try of
    // a close) waits for the one running, which sends theirs too.
    if (this.#resending !== null) return this.#resending;
    // (With nothing kept, the loop below would end, and clear what it is
    // assigned to, before it is assigned.)
    if (this.#unsent.length === 0) return Promise.resolve();
    this.#resending = (async () => {
      try {
        while (this.#unsent.length > 0) {
          const next = this.#unsent[0];
          if (await this.#announceNow(next) !== null) return;
          // Unless folded meanwhile (it is then in what replaced it).
          if (this.#unsent[0] === next) this.#unsent.shift();
        }
      } finally {
        this.#resending = null;
      }
    })();
    return this.#resending;
  }

  /**
   * Leaves the cluster gracefully, once this server's users have logged out
   * (their names freed and their rooms told): it is forgotten at once, not
   * reaped later.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== null) this.#clock.clearTimeout(this.#heartbeat);
    // A heartbeat on its way (reaping, say) finishes before the link goes.
    await this.#beating;
    this.#leftSent();
    await this.#updates.settled();
    // A last try: the other servers would else miss it until they reload.
    if (this.#link.up) await this.#resend();
    try {
      await this.#link.transaction([
        ["HDEL", this.#key("nodes"), this.nodeId],
        ["DEL", this.#key(`alive:${this.nodeId}`)],
        ["DEL", this.#key(`node-users:${this.nodeId}`)],
      ]);
    } catch {
      // Redis is away: the others reap this server once it is back.
    }
    await this.#subscriber.close(!this.#link.up);
  }

  // What arrives.

  /**
   * A room event: "NODE NUMBER", the sender (`#sender`: key and session,
   * or "" for none) and the JSON, a line each.
   * "- NODE" is a server's word that NODE's users left (it was taken for
   * dead), and "NODE 0" NODE's word that they are back: NODE's own members
   * never saw them go, so NODE skips both.
   */
  #fromRoom(message: string): void {
    const first = message.indexOf("\n");
    const second = message.indexOf("\n", first + 1);
    const [node, number] = message.slice(0, first).split(" ");
    if (
      (node === "-" && number === this.nodeId) ||
      (node === this.nodeId && number === "0")
    ) {
      return;
    }
    const [fromKey, fromLogin] = parseSender(message.slice(first + 1, second));
    const event = JSON.parse(message.slice(second + 1)) as RoomEvent;
    let arrivals: number | undefined;
    let placed: number | undefined;
    if (node === this.nodeId) {
      // Shown here already, when Redis did not answer in time.
      if (this.#abandoned.delete(Number(number))) return;
      // Made here before what was in flight was forgotten: shown to all.
      arrivals = this.#made.get(Number(number)) ?? Infinity;
      this.#made.delete(Number(number));
      // Everything published to the room before it has come: those here
      // when it was made (and the one it brings in) have their place.
      if (arrivals !== Infinity) placed = placedBy(event, arrivals);
    }
    this.#host?.registry.deliver(
      event,
      fromKey === "" ? null : fromKey,
      fromLogin,
      arrivals,
      placed,
    );
    // After the delivery: whoever waits for it has seen it.
    if (this.#awaited.size > 0 && node === this.nodeId) {
      this.#done(Number(number));
    }
  }

  /**
   * A message on this server's own channel: its kind ("private" from
   * PRIVATE, "control" from `control` or RECLAIM, "yield" from RECLAIM), a
   * newline, and what it carries.
   */
  #fromNode(message: string): void {
    const newline = message.indexOf("\n");
    const kind = message.slice(0, newline);
    const rest = message.slice(newline + 1);
    const host = this.#host;
    if (host === null) return;
    if (kind === "private") {
      const second = rest.indexOf("\n");
      const [fromKey, fromLogin] = parseSender(rest.slice(0, second));
      const event = JSON.parse(rest.slice(second + 1)) as PrivateEvent;
      // From a user of this server (every private message goes through
      // Redis): the reply goes to them, whatever their name is by then.
      const local = host.registry.users.get(fromKey);
      const sender = local !== undefined &&
          fromLogin === this.#session(local.login)
        ? local
        : undefined;
      host.registry.receivePrivate(event, fromKey, fromLogin, { sender });
    } else if (kind === "control") {
      const control = JSON.parse(rest) as Control;
      if (control.kind !== "replace" || control.reclaimed !== true) {
        host.control(control);
        return;
      }
      this.#hereOnly(() => host.control(control));
    } else if (kind === "yield") {
      // The key, and for a look-alike the name kept elsewhere.
      const [key, kept] = rest.split("\n");
      const user = host.registry.users.get(key);
      if (user !== undefined) host.yieldName(user, { lookalike: kept });
    }
  }

  /**
   * An announcement on the cluster's channel: this server's own is skipped
   * (it acted on it already, in `announce`'s caller).
   */
  #fromAll(message: string): void {
    const announcement = JSON.parse(message) as Announcement;
    if (announcement.from === this.nodeId) return;
    if (announcement.kind === "accounts") {
      this.#loadAccounts().catch(() => {});
      // Its --op, if this server was given it: the host makes it one.
      if (announcement.registered === undefined) return;
    }
    this.#host?.announced(announcement);
  }

  // Keeping presence.

  /**
   * Queues a user's MOVE: out of room `from` ("" none) into `room`, or (the
   * same room) what is known of them updated in place.
   */
  #move(user: User, from: string, room: Room | null): void {
    this.#leftSent();
    this.#sendMove(user, from, room, this.#presenceOf(user, { room }));
  }

  /** A MOVE in the next presence batch, with `presence` as Redis is to know it. */
  #sendMove(
    user: User,
    from: string,
    room: Room | null,
    presence: Presence,
  ): void {
    const at = this.#clock.date();
    this.#updates.add(() =>
      this.#link.eval(MOVE, [this.#key("names")], [
        user.key,
        from,
        room?.key ?? "",
        JSON.stringify(presence),
        at,
        this.#prefix,
        this.nodeId,
        room?.name ?? "",
        // What the room looks like, for a move into it (not for an update).
        room === null || room.key === from ? "" : skeleton(room.name),
      ])
    );
  }

  /**
   * What Redis is to know of a user of this server: as they are, or under
   * the new `name` or in the new `room` given.
   */
  #presenceOf(
    user: User,
    changes: { name?: string; room?: Room | null } = {},
  ): Presence {
    const { name = user.name, room = user.room } = changes;
    return this.#presence({
      name,
      key: changes.name === undefined ? user.key : foldName(name),
      account: user.account,
      since: user.sinceDate,
      login: user.login,
      room,
      away: user.away,
      address: user.hostname,
    });
  }

  /**
   * A session's id across the cluster: the node id, this start's mark and
   * {@linkcode User.login}, which a change of name keeps.
   */
  #session(login: number): string {
    return `${this.nodeId}/${this.#start}.${login}`;
  }

  /** The session of a user of this server, as presence has it. */
  sessionOf(user: User): string {
    return this.#session(user.login);
  }

  /**
   * The sender of a line or private message as the other servers hear of
   * it: their key now and, after a space (a name has none), their session
   * (see `#session`).
   */
  #sender(user: User): string {
    return `${user.key} ${this.#session(user.login)}`;
  }

  /**
   * A presence record from its parts: at a claim the user does not exist
   * yet, so has no login (session) to give.
   */
  #presence(user: {
    name: string;
    key: string;
    account: string | null;
    since: number;
    login?: number;
    room: Room | null;
    away: string | null;
    address?: string;
  }): Presence {
    return {
      name: user.name,
      key: user.key,
      skeleton: skeleton(user.name),
      node: this.nodeId,
      since: user.since,
      login: user.login === undefined ? undefined : this.#session(user.login),
      active: this.#clock.date(),
      account: user.account,
      room: user.room?.key ?? "",
      roomName: user.room?.name ?? "",
      away: user.away,
      address: user.address ?? "",
    };
  }

  // Staying alive, and noticing those who did not.

  /**
   * Says this server is alive. In the same transaction, whether it was
   * still listed: if another server reaped it meanwhile (it stalled, or was
   * cut off, past the expiry), its names and places are gone from Redis,
   * and it must take them again. `joining`: the first time, at start.
   */
  async #alive(joining = false): Promise<void> {
    const replies = await this.#link.transaction([
      ["HEXISTS", this.#key("nodes"), this.nodeId],
      [
        "SET",
        this.#key(`alive:${this.nodeId}`),
        "1",
        "PX",
        this.#timings.aliveTtlMs,
      ],
      ["HSET", this.#key("nodes"), this.nodeId, this.#clock.date()],
      ["GET", this.#key("ids")],
      ["GET", this.#key(`reaped:${this.nodeId}`)],
      ["DEL", this.#key(`reaped:${this.nodeId}`)],
    ]);
    if (!joining && replies[0] === 0) {
      this.#reconcile = true;
      if (replies[4] !== null) {
        this.#log.warn(
          "The other servers took this one for dead: taking its names again",
        );
        this.#reaped = true;
      } else {
        // Redis restarted without its data: nobody told the rooms that our
        // users left, so nobody is told that they are back.
        this.#log.warn(
          "Redis forgot this server (it restarted without its data): taking its names again",
        );
      }
    }
    // The cluster's latest event id, for what a page numbers between events
    // (a room quiet here may be busy elsewhere).
    const counter = Number(replies[3]) || 0;
    if (counter < this.#seen()) await this.#raiseIds();
    this.#latestId = Math.max(this.#latestId, counter);
    this.#host?.registry.seenId(this.#latestId);
  }

  /** The largest event id this server has seen or given. */
  #seen(): number {
    return Math.ceil(
      Math.max(this.#latestId, this.#host?.registry.latestId() ?? 0),
    );
  }

  /**
   * Puts Redis's event id counter back past every id this server has seen,
   * if it is behind: Redis restarted with less than it had given out (it
   * kept nothing, or an older snapshot), and would number new lines as old
   * ones, which a page takes for lines it has shown already and `history`
   * sorts among the old.
   */
  async #raiseIds(): Promise<void> {
    const raised = await this.#link.eval(RAISE, [this.#key("ids")], [
      this.#seen(),
    ]);
    if (raised === 1) {
      this.#log.warn(
        "Redis's event ids went back (it restarted without its data): raised to {id}",
        { id: this.#seen() },
      );
    }
  }

  /**
   * Every second: renews the heartbeat (`#alive`), then takes this server's
   * names and places again if anything was missed (`#reconcile`: Redis was
   * away, an update failed, this server was reaped), or else, once Redis
   * has been back long enough for the others to renew theirs, reaps those
   * that stopped. While Redis does not answer, only probes it.
   */
  #beat(): void {
    if (this.#closed) return;
    this.#heartbeat = this.#clock.setTimeout(
      () => this.#beat(),
      this.#timings.heartbeatMs,
    );
    if (this.#link.outages !== this.#outages) {
      // Meanwhile, commands failed here (a nick done here only, a line
      // shown here only) that Redis may or may not have run.
      this.#outages = this.#link.outages;
      this.#reconcile = true;
    }
    if (!this.up) {
      this.#reconcile = true;
      // Redis stalled (not gone): is it answering again?
      this.#link.probe();
      return;
    }
    this.#beating = this.#alive().then(async () => {
      await this.#resend();
      if (this.#reconcile) {
        this.#reconcile = false;
        this.#readyAt = this.#clock.now();
        return this.#retake();
      }
      if (this.#clock.now() - this.#readyAt >= this.#timings.reapGraceMs) {
        return this.#reapOthers();
      }
    }).catch((error) => {
      if (this.#closed) return;
      this.#reconcile = true;
      this.#log.warn("The cluster's heartbeat failed: {error}", { error });
    });
  }

  /** Forgets the servers that stopped saying they are alive. */
  async #reapOthers(): Promise<void> {
    const nodes = await this.#link.call(
      "HKEYS",
      this.#key("nodes"),
    ) as string[];
    for (const node of nodes) {
      if (node === this.nodeId) continue;
      const alive = await this.#link.call("EXISTS", this.#key(`alive:${node}`));
      if (alive === 1) continue;
      const gone = await this.#reap(node);
      if (gone.length === 0) continue;
      this.#log.warn("Server {node} stopped answering; its users left", {
        node,
      });
      for (let i = 0; i + 2 < gone.length; i += 3) {
        this.#left(gone[i], gone[i + 1], gone[i + 2], node);
      }
    }
  }

  /**
   * Forgets `node` (REAP) unless its heartbeat is renewed: the rooms its
   * users were in, with each user's name ([room key, room name, name, ...]),
   * or none when another server reaped it first.
   */
  async #reap(node: string): Promise<string[]> {
    return await this.#link.eval(REAP, [
      this.#key("nodes"),
      this.#key(`alive:${node}`),
      this.#key(`node-users:${node}`),
    ], [node, this.#prefix]) as string[];
  }

  /** Tells a room that a user of `node`, which was reaped, left it. */
  #left(
    room: string,
    roomName: string,
    name: string,
    node: string,
  ): Promise<void> {
    return this.#publish(room, {
      type: "left",
      at: this.#clock.date(),
      room: roomName,
      name,
    }, `- ${node}`);
  }

  /**
   * Tells a room, on behalf of a server (`origin`: see `#fromRoom`), that
   * a user left it or is back in it.
   */
  async #publish(
    room: string,
    event: { type: "left" | "entered"; at: number; room: string; name: string },
    origin: string,
  ): Promise<void> {
    await this.#link.eval(EMIT, [
      this.#key("ids"),
      this.#key(`r:${room}`),
      "",
      this.#key(`room:${room}`),
    ], [
      JSON.stringify(event),
      this.#keep,
      event.room,
      `${origin}\n`,
      "",
      "",
      "",
    ])
      .catch(() => {});
  }

  /** Redis answers again: the subscriber is back; take our places again. */
  #redisBack(): void {
    this.#reconcile = true;
    // At once, before lines are numbered again; the heartbeat checks too.
    this.#raiseIds().catch(() => {});
  }

  /**
   * Takes this server's users' names and places in Redis again, and frees
   * what it held for users who left meanwhile.
   */
  async #retake(): Promise<void> {
    const host = this.#host;
    if (host === null) return;
    const reaped = this.#reaped;
    this.#reaped = false;
    try {
      await this.#reclaim(host, reaped);
      this.#announcedBack = new WeakSet();
    } catch (error) {
      // Tried again at the next heartbeat, rooms told then (of those not
      // told yet).
      this.#reaped ||= reaped;
      throw error;
    }
  }

  /** `#retake`'s work; `reaped`: the rooms were told our users left. */
  async #reclaim(host: ClusterHost, reaped: boolean): Promise<void> {
    this.#log.info("Taking this server's names and places again");
    this.#forgetInFlight();
    await this.#listenAgain(host);
    await this.#freeLeft(host);
    // The accounts first: one registered elsewhere while this server could
    // not hear of it may have let a guest here in under its name (or one
    // like it). The guest picks another, as on one server, where no guest
    // holds a registered name, and does not take it back from its owner,
    // who may have logged in elsewhere meanwhile (a login replaces only the
    // account's own session, so the owner could not have, with the guest
    // holding it).
    await this.#loadAccounts();
    for (const user of [...host.registry.online]) {
      await this.#reclaimUser(host, user, reaped);
    }
    await host.retaken();
  }

  /** What was in flight when Redis went away will not come back. */
  #forgetInFlight(): void {
    this.#made.clear();
    // Nobody here waits for an arrival of theirs to come back any more.
    for (const room of this.#host?.registry.rooms.values() ?? []) {
      room.place(room.arrivals);
    }
    this.#abandoned.clear();
    for (const resolve of this.#awaited.values()) resolve();
    this.#awaited.clear();
  }

  /**
   * Rooms joined while Redis was away are listened to now (node-redis
   * subscribes again by itself to those it had), and those left meanwhile
   * are not.
   */
  async #listenAgain(host: ClusterHost): Promise<void> {
    for (const room of host.registry.rooms.values()) {
      if (room.members.size > 0 || room === host.registry.main) {
        await this.watch(room.key);
      }
    }
    for (const room of [...this.#unheard]) {
      if (!this.#watching.has(room)) {
        await this.#subscriber.unsubscribe(this.#key(`r:${room}`));
      }
      this.#unheard.delete(room);
    }
  }

  /** Frees the names Redis holds here for users who left meanwhile. */
  async #freeLeft(host: ClusterHost): Promise<void> {
    const held = await this.#link.call(
      "SMEMBERS",
      this.#key(`node-users:${this.nodeId}`),
    ) as string[];
    for (const key of held) {
      if (!host.registry.users.has(key)) await this.#release(key, "");
    }
  }

  /**
   * One user's part of `#reclaim`: their name and place taken again
   * (RECLAIM), or given up to whoever has the better claim to it.
   */
  async #reclaimUser(
    host: ClusterHost,
    user: User,
    reaped: boolean,
  ): Promise<void> {
    // Gone since the list was made (each reclaim is a round trip).
    if (host.registry.users.get(user.key) !== user) return;
    // Redis came back without its data (or an older snapshot) and has no
    // account of the session's: it stays, as a guest's, which may register
    // the name again (as one logged in to an account gone, `register`
    // would say it is, `password` that it is not). Its name is taken back
    // first as the account's, so that of two sessions of it (see RECLAIM)
    // the later login keeps it.
    const lost = user.account !== null && !this.#accounts.has(user.account) &&
      // Not one registered here since the accounts were read.
      await this.#store.accountFor(user.account, "") === null;
    // An unanswered register is settled by this re-sync, one way or the
    // other: only one that made the account under this name, now, is told.
    let registeredAfterAll = false;
    if (user.account === null) {
      const key = user.key;
      const account = this.knownAccount(key, skeleton(user.name));
      registeredAfterAll = account !== null &&
        await this.#registeredAfterAll(user, account);
      this.#registering.delete(user);
      if (host.registry.users.get(user.key) !== user) return;
      if (account !== null && !registeredAfterAll) {
        // Not if they took another name (or logged in) while it was read.
        if (user.key === key && user.account === null) {
          host.yieldName(user, { account });
        }
        return;
      }
    }
    this.#registering.delete(user);
    const presence = this.#presenceOf(user);
    const [result, kept] = await this.#link.eval(RECLAIM, this.#nameKeys(), [
      user.key,
      presence.skeleton,
      JSON.stringify(presence),
      user.sinceDate,
      this.nodeId,
      this.#prefix,
      user.room?.key ?? "",
      user.sinceDate,
      user.room === null ? "" : skeleton(user.room.name),
    ]) as string[];
    if (host.registry.users.get(user.key) !== user) {
      // They logged out while it ran, and their release may have come
      // first: the name would stay taken for good.
      if (!host.registry.users.has(user.key)) {
        await this.#release(user.key, this.#session(user.login));
      }
      return;
    }
    if (lost && result !== "replaced" && user.account !== null) {
      const account = user.account;
      user.account = null;
      host.accountLost(user, account);
      // Presence hears of it with the user's next update, not now: a later
      // login of the account elsewhere, taking the name back after this,
      // still finds the account's earlier session (RECLAIM), and keeps it.
    }
    const password = this.#passwords.get(user);
    if (password !== undefined) {
      const account = await this.#store.accountFor(password.account, "");
      this.#passwords.delete(user);
      if (
        account?.hash === password.hash &&
        host.registry.users.get(user.key) === user
      ) {
        host.passwordChangedAfterAll(user);
      }
    }
    if (registeredAfterAll && user.account !== null) {
      await host.registeredAfterAll(user);
    }
    if (result === "replaced") {
      // Its owner logged in to the account elsewhere meanwhile, where the
      // others saw this session leave (it was reaped) or never heard of
      // it (cut off): it ends here, and only this server's users see it
      // leave.
      this.#hereOnly(() =>
        host.control({ kind: "replace", key: user.key, address: kept })
      );
    } else if (result === "later") {
      host.yieldName(user, {
        lookalike: foldName(kept) === user.key ? undefined : kept,
      });
    } else if (
      reaped && user.room !== null && !this.#announcedBack.has(user)
    ) {
      // The others told its room it left: it is back.
      await this.#publish(user.room.key, {
        type: "entered",
        at: this.#clock.date(),
        room: user.room.name,
        name: user.name,
      }, `${this.nodeId} 0`);
      this.#announcedBack.add(user);
    }
  }

  /**
   * Whether the account `account` found under a guest's name is the one
   * their unanswered `register` made (see `#registering`): if so, it is
   * theirs from now on.
   */
  async #registeredAfterAll(user: User, account: string): Promise<boolean> {
    const pending = this.#registering.get(user);
    if (pending === undefined) return false;
    if (pending.key !== user.key || account !== user.key) {
      this.#registering.delete(user);
      return false;
    }
    const made = await this.#store.accountFor(pending.key, "");
    this.#registering.delete(user);
    // Still the guest of that name: a nick (or a login) may have come
    // while the account was read.
    if (
      made?.hash !== pending.hash || user.account !== null ||
      user.key !== pending.key
    ) return false;
    user.account = pending.key;
    return true;
  }

  /**
   * Runs `act` (a session's end that the other servers take for done
   * already) with what it emits shown here only (see `#leavingHere`).
   */
  #hereOnly(act: () => void): void {
    this.#leavingHere = true;
    try {
      act();
    } finally {
      this.#leavingHere = false;
    }
  }

  /** RELEASE (which see) of `key`, for `session` or ("") any of ours. */
  #release(key: string, session: string): Promise<unknown> {
    return this.#link.eval(RELEASE, this.#nameKeys(), [
      key,
      this.nodeId,
      this.#prefix,
      session,
    ]);
  }

  /** The KEYS of CLAIM, RENAME, RELEASE and RECLAIM. */
  #nameKeys(): string[] {
    return [
      this.#key("names"),
      this.#key("skeletons"),
      this.#key(`node-users:${this.nodeId}`),
    ];
  }

  #key(name: string): string {
    return this.#prefix + name;
  }
}

/** CLAIM's or RENAME's answer, as {@linkcode ClaimResult} says it. */
function claimResult(result: string, holder: string): ClaimResult {
  if (result === "ok") return "ok";
  if (result === "taken") return "taken";
  return { lookalike: holder };
}

/**
 * A sender as `#sender` wrote it: their key, and their session (null from
 * a server that does not say).
 */
function parseSender(sender: string): [string, string | null] {
  const space = sender.indexOf(" ");
  return space === -1
    ? [sender, null]
    : [sender.slice(0, space), sender.slice(space + 1)];
}

/**
 * How many of a room's arrivals have their place once `event`, made here
 * when the room had had `arrivals`, is back from Redis: an arrival is made
 * just before its newcomer comes in (see {@linkcode Room.placed}).
 */
function placedBy(event: RoomEvent, arrivals: number): number {
  return event.type === "entered" ? arrivals + 1 : arrivals;
}
