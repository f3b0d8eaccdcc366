/**
 * The store on Redis, for several servers acting as one chat: the same
 * interface and contract suite as the SQLite store. Each check and the change
 * it guards (an account per name and per skeleton, a claimed room's one
 * owner, an offline box's limit) is one Lua script, so that two servers can
 * never both pass the check.
 *
 * Keys, under a prefix (`chat:` by default):
 *
 *   ids                      the event id counter (INCRBY, in blocks)
 *   room:KEY                 hash: name, topic, topic_by, topic_at, owner
 *   history:KEY              sorted set of chat lines (JSON) by event id
 *   account:KEY              hash: key, name, skeleton, hash, created, last_login,
 *                            last_address
 *   skeleton:SKELETON        the account key holding that skeleton
 *   account-index            hash: every account key to its skeleton
 *   fail:account:KEY         hash: count, addresses (JSON)
 *   fail:address:ADDRESS     hash: count, last (expires a day after the last)
 *   offline:KEY              sorted set of private messages (JSON) by date
 *                            (expires when its newest is too old to deliver)
 *   operators                set of account keys
 *   sanctions                hash: "KIND ROOM TARGET" to the sanction (JSON)
 *   claimed                  set of claimed room keys
 *   roomops:KEY              set of a room's operators
 *   account-rooms:KEY        set of the rooms an account owns or operates
 *   modlog, modlog:KEY       lists of moderation lines (JSON), the last 10,000
 *   lockdown                 "1" while in lockdown
 *
 * @module
 */

import type {
  ChatLine,
  EventIds,
  PrivateEvent,
  TopicEvent,
} from "../events.ts";
import {
  type RedisLink,
  type Reply,
  Script,
  withoutPassword,
} from "../redis/link.ts";
import { BlockIds, ID_BLOCK } from "./ids.ts";
import {
  type Account,
  type ClaimedRoom,
  type ForgetOptions,
  type LeaveResult,
  type LoginFailures,
  MODLOG_KEEP,
  type ModlogEntry,
  type Sanction,
  type SanctionKind,
  type Store,
  type StoredRoom,
  StoreError,
  type WaitingMessage,
} from "./store.ts";

/** How often queued lines and topics are written, in ms. */
const BATCH_MS = 20;

/** How many addresses an account's failure report keeps. */
const MAX_FAILURE_ADDRESSES = 10;

/** How long an address's failure count outlives its last failure, in ms. */
const ADDRESS_FAILURE_TTL_MS = 24 * 60 * 60 * 1000;

const ACCOUNT_FOR = new Script(`
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 and KEYS[2] ~= '' then
  local other = redis.call('GET', KEYS[2])
  if other then h = redis.call('HGETALL', ARGV[1] .. 'account:' .. other) end
end
return h`);

const CREATE_ACCOUNT = new Script(`
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'key', ARGV[1], 'name', ARGV[2], 'skeleton', ARGV[3],
  'hash', ARGV[4], 'created', ARGV[5], 'last_login', ARGV[6],
  'last_address', ARGV[7])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1`);

/**
 * An account's new hash, if the account is still there: a plain HSET would
 * make a hash of one field under a key deleted meanwhile, which reads as no
 * account but keeps CREATE_ACCOUNT from ever making it again.
 */
const SET_PASSWORD = new Script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1])
return 1`);

/** A login's time (and address, if ARGV[2]), as SET_PASSWORD: if still there. */
const RECORD_LOGIN = new Script(`
redis.call('DEL', KEYS[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'last_login', ARGV[1])
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'last_address', ARGV[3]) end
return 1`);

const DELETE_ACCOUNT = new Script(`
local prefix, key = ARGV[1], ARGV[2]
local skeleton = redis.call('HGET', KEYS[1], 'skeleton')
if skeleton and redis.call('GET', prefix .. 'skeleton:' .. skeleton) == key then
  redis.call('DEL', prefix .. 'skeleton:' .. skeleton)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('HDEL', prefix .. 'account-index', key)
redis.call('SREM', KEYS[4], key)
for _, room in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('SREM', prefix .. 'roomops:' .. room, key)
  if redis.call('HGET', prefix .. 'room:' .. room, 'owner') == key then
    redis.call('HDEL', prefix .. 'room:' .. room, 'owner')
    redis.call('DEL', prefix .. 'roomops:' .. room)
    redis.call('SREM', prefix .. 'claimed', room)
  end
end
redis.call('DEL', KEYS[5])
return 1`);

const ADD_FAILURE = new Script(`
local address, at, since, keep, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local listed = redis.call('HGET', KEYS[1], 'addresses')
local latest = {address}
if listed then
  for _, other in ipairs(cjson.decode(listed)) do
    if other ~= address and #latest < keep then table.insert(latest, other) end
  end
end
redis.call('HINCRBY', KEYS[1], 'count', 1)
redis.call('HSET', KEYS[1], 'addresses', cjson.encode(latest))
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '-1')
if last >= since then
  redis.call('HINCRBY', KEYS[2], 'count', 1)
else
  redis.call('HSET', KEYS[2], 'count', 1)
end
redis.call('HSET', KEYS[2], 'last', at)
redis.call('PEXPIRE', KEYS[2], ttl)
return 1`);

// ARGV: since, max, at, the event's JSON, its sender, how many one sender
// may leave. Answers 1 (kept), 0 (full) or 2 (the sender's share is).
const LEAVE_MESSAGE = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
local mine = 0
local sender = string.lower(ARGV[5])
for _, json in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.lower(cjson.decode(json).from) == sender then mine = mine + 1 end
end
if mine >= tonumber(ARGV[6]) then return 2 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
-- Gone once its newest message is too old to be delivered (give or take a
-- day: the cut-off comes from the server's clock, the expiry from Redis's).
redis.call('PEXPIRE', KEYS[1], math.max(86400000, tonumber(ARGV[3]) - tonumber(ARGV[1])))
return 1`);

/**
 * Drops ended sanctions (ARGV: field, value, ...), each only if it is still
 * what was read: another server may have set a new one on the same target
 * since, under the same field.
 */
const DROP_ENDED = new Script(`
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return 1`);

/** Keys SCAN looks at per call in {@linkcode RedisStore.forgetOld}. */
const SCAN_COUNT = 200;

/**
 * Forgets each of the rooms (ARGV after the prefix and the cut-off, epoch
 * ms) that nobody owns, that has no member on any server and is not being
 * made (the cluster's members:KEY and opening:KEY), and whose newest line
 * (by id) and topic are older than the cut-off: its record and history.
 * UNLINK frees a long history off Redis's main thread. Answers how many.
 */
const FORGET_QUIET = new Script(`
local prefix, before = ARGV[1], tonumber(ARGV[2])
local forgotten = 0
for i = 3, #ARGV do
  local r = ARGV[i]
  local record, history = prefix .. 'room:' .. r, prefix .. 'history:' .. r
  local h = redis.call('HMGET', record, 'owner', 'topic_at')
  if redis.call('EXISTS', record, history) > 0 and not h[1] and
      redis.call('ZCARD', prefix .. 'members:' .. r) == 0 and
      redis.call('EXISTS', prefix .. 'opening:' .. r) == 0 then
    local last = tonumber(h[2] or '') or 0
    local newest = redis.call('ZRANGE', history, -1, -1)[1]
    if newest then
      local ok, line = pcall(cjson.decode, newest)
      if ok and type(line) == 'table' and type(line.at) == 'number' and
          line.at > last then
        last = line.at
      end
    end
    if last < before then
      redis.call('UNLINK', record, history)
      forgotten = forgotten + 1
    end
  end
end
return forgotten`);

const CLAIM_ROOM = new Script(`
if redis.call('HEXISTS', KEYS[1], 'owner') == 1 then return 0 end
redis.call('HSETNX', KEYS[1], 'name', ARGV[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
-- A new owner starts with no room operators (none left from before).
redis.call('DEL', KEYS[4])
return 1`);

const CLAIMED_ROOMS = new Script(`
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HMGET', ARGV[1] .. 'room:' .. room, 'name', 'owner', 'topic')
  if h[2] then
    table.insert(out, room)
    table.insert(out, h[1] or room)
    table.insert(out, h[2])
    table.insert(out, h[3] or '')
    table.insert(out, cjson.encode(redis.call('SMEMBERS', ARGV[1] .. 'roomops:' .. room)))
  end
end
return out`);

/** A flat `[field, value, ...]` reply as an object. */
function fields(reply: Reply): Record<string, string> {
  const out: Record<string, string> = {};
  const list = (reply ?? []) as string[];
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]] = list[i + 1];
  return out;
}

function toAccount(row: Record<string, string>): Account | null {
  if (row.key === undefined) return null;
  return {
    key: row.key,
    name: row.name,
    skeleton: row.skeleton,
    hash: row.hash,
    created: Number(row.created),
    lastLogin: row.last_login === undefined || row.last_login === ""
      ? null
      : Number(row.last_login),
    lastAddress: row.last_address || null,
  };
}

/** The field of a sanction in the `sanctions` hash. */
function sanctionField(kind: string, room: string, target: string): string {
  return `${kind} ${room} ${target}`;
}

/** Options for {@linkcode RedisStore.open}. */
export interface RedisStoreOptions {
  /** Chat lines kept per room. Default 1000. */
  historyKeep?: number;
  /** The key prefix. Default `chat:`. */
  prefix?: string;
  /** Called when a queued write fails (Redis cannot be reached, say). */
  onError?: (error: Error) => void;
  /** Called after each batch of queued writes with its duration in ms. */
  onCommit?: (ms: number) => void;
}

/**
 * The store on Redis. Every read and answered write waits for the writes
 * queued before it, as the SQLite store's requests do, so that a read sees
 * what was just said.
 */
export class RedisStore implements Store {
  readonly ids: EventIds;
  /** The key prefix. */
  readonly prefix: string;
  readonly #link: RedisLink;
  readonly #keep: number;
  readonly #onError: (error: Error) => void;
  readonly #onCommit: (ms: number) => void;
  /** Commands for the next batch of queued writes. */
  #queued: (string | number)[][] = [];
  #scheduled: ReturnType<typeof setTimeout> | null = null;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(
    link: RedisLink,
    ids: { first: number; reserved: number },
    options: RedisStoreOptions,
  ) {
    this.#link = link;
    this.prefix = options.prefix ?? "chat:";
    this.#keep = options.historyKeep ?? 1000;
    this.#onError = options.onError ?? (() => {});
    this.#onCommit = options.onCommit ?? (() => {});
    const blocks = new BlockIds(ids.first, ids.reserved, (block) => {
      this.#link.call("INCRBY", this.#key("ids"), block).then(
        (reserved) => blocks.extend(Number(reserved)),
        (error) => {
          blocks.failed();
          this.#onError(error as Error);
        },
      );
    });
    this.ids = blocks;
  }

  /**
   * The store on the Redis that `link` reaches. Rejects with a
   * {@linkcode StoreError} if the first ids cannot be reserved.
   */
  static async open(
    link: RedisLink,
    options: RedisStoreOptions = {},
  ): Promise<RedisStore> {
    const prefix = options.prefix ?? "chat:";
    let reserved: number;
    try {
      reserved = Number(await link.call("INCRBY", `${prefix}ids`, ID_BLOCK));
    } catch (error) {
      throw new StoreError(
        `Cannot use Redis at ${withoutPassword(link.url)}: ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
    return new RedisStore(link, {
      first: reserved - ID_BLOCK,
      reserved,
    }, options);
  }

  /** The connection, for the cluster, which shares it. */
  get link(): RedisLink {
    return this.#link;
  }

  // Queued writes: the Journal.

  line(room: string, event: ChatLine): void {
    this.#queue(...this.lineCommands(room, event));
  }

  /**
   * The commands that keep a chat line: in the room's history, trimmed to
   * `--history-keep`, and the room's name if it is new.
   */
  lineCommands(room: string, event: ChatLine): (string | number)[][] {
    const history = this.#key(`history:${room}`);
    return [
      ["ZADD", history, event.id, JSON.stringify(event)],
      ["ZREMRANGEBYRANK", history, 0, -(this.#keep + 1)],
      ["HSETNX", this.#key(`room:${room}`), "name", event.room],
    ];
  }

  topic(room: string, event: TopicEvent): void {
    const key = this.#key(`room:${room}`);
    this.#queue(
      ["HSETNX", key, "name", event.room],
      [
        "HSET",
        key,
        "topic",
        event.text,
        "topic_by",
        event.from,
        "topic_at",
        event.at,
      ],
    );
  }

  // Reads, and writes that are answered.

  async room(key: string, lines: number): Promise<StoredRoom | null> {
    await this.#written();
    const row = fields(
      await this.#link.call("HGETALL", this.#key(`room:${key}`)),
    );
    if (row.name === undefined) return null;
    const owner = row.owner ?? null;
    const operators = owner === null ? [] : await this.#link.call(
      "SMEMBERS",
      this.#key(`roomops:${key}`),
    ) as string[];
    return {
      name: row.name,
      // "" is a cleared topic (a cluster's EMIT writes it so): none.
      topic: row.topic || null,
      owner,
      operators: operators.sort(),
      history: lines === 0 ? [] : await this.#history(key, row.name, lines),
    };
  }

  async history(
    key: string,
    options: { limit: number; before?: number },
  ): Promise<ChatLine[]> {
    await this.#written();
    const name = await this.#link.call(
      "HGET",
      this.#key(`room:${key}`),
      "name",
    );
    if (name === null) return [];
    return await this.#history(
      key,
      String(name),
      options.limit,
      options.before,
    );
  }

  async accountFor(key: string, skeleton: string): Promise<Account | null> {
    await this.#written();
    const reply = await this.#link.eval(ACCOUNT_FOR, [
      this.#key(`account:${key}`),
      skeleton === "" ? "" : this.#key(`skeleton:${skeleton}`),
    ], [this.prefix]);
    return toAccount(fields(reply));
  }

  async createAccount(account: Account): Promise<boolean> {
    await this.#written();
    const reply = await this.#link.eval(CREATE_ACCOUNT, [
      this.#key(`account:${account.key}`),
      this.#key(`skeleton:${account.skeleton}`),
      this.#key("account-index"),
    ], [
      account.key,
      account.name,
      account.skeleton,
      account.hash,
      account.created,
      account.lastLogin ?? "",
      account.lastAddress ?? "",
    ]);
    return reply === 1;
  }

  /**
   * Every account's key and skeleton: what a cluster's server keeps in
   * memory, to know a registered name while Redis cannot be reached.
   */
  async accountIndex(): Promise<Map<string, string>> {
    await this.#written();
    const index = fields(
      await this.#link.call("HGETALL", this.#key("account-index")),
    );
    return new Map(Object.entries(index));
  }

  async setPassword(key: string, hash: string): Promise<void> {
    await this.#written();
    // EVAL with its source, one command, not eval()'s SCRIPT LOAD before
    // it: a change Redis stopped answering stays in its socket and may
    // still go through once it is back (Cluster.passwordUnanswered()).
    await this.#link.call(
      "EVAL",
      SET_PASSWORD.source,
      1,
      this.#key(`account:${key}`),
      hash,
    );
  }

  async deleteAccount(key: string): Promise<void> {
    await this.#written();
    await this.#link.eval(DELETE_ACCOUNT, [
      this.#key(`account:${key}`),
      this.#key(`fail:account:${key}`),
      this.#key(`offline:${key}`),
      this.#key("operators"),
      this.#key(`account-rooms:${key}`),
    ], [this.prefix, key]);
  }

  async loginFailures(
    key: string,
    address: string,
    since: number,
  ): Promise<LoginFailures> {
    await this.#written();
    const [account, from] = await this.#link.transaction([
      ["HMGET", this.#key(`fail:account:${key}`), "count", "addresses"],
      ["HMGET", this.#key(`fail:address:${address}`), "count", "last"],
    ]) as [(string | null)[], (string | null)[]];
    return {
      account: Number(account[0] ?? 0),
      addresses: account[1] ? JSON.parse(account[1]) : [],
      address: from[1] !== null && Number(from[1]) >= since
        ? Number(from[0] ?? 0)
        : 0,
    };
  }

  async addLoginFailure(
    key: string,
    address: string,
    options: { at: number; since: number },
  ): Promise<void> {
    await this.#written();
    await this.#link.eval(ADD_FAILURE, [
      this.#key(`fail:account:${key}`),
      this.#key(`fail:address:${address}`),
    ], [
      address,
      options.at,
      options.since,
      MAX_FAILURE_ADDRESSES,
      ADDRESS_FAILURE_TTL_MS,
    ]);
  }

  async recordLogin(
    key: string,
    at: number,
    options: { address?: string } = {},
  ): Promise<void> {
    await this.#written();
    await this.#link.eval(RECORD_LOGIN, [
      this.#key(`account:${key}`),
      this.#key(`fail:account:${key}`),
    ], [
      at,
      options.address === undefined ? "0" : "1",
      options.address ?? "",
    ]);
  }

  async leaveMessage(
    to: string,
    event: PrivateEvent,
    options: { max: number; perSender: number; since: number },
  ): Promise<LeaveResult> {
    await this.#written();
    const reply = await this.#link.eval(
      LEAVE_MESSAGE,
      [this.#key(`offline:${to}`)],
      [
        options.since,
        options.max,
        event.at,
        JSON.stringify(event),
        event.from,
        options.perSender,
      ],
    );
    return reply === 1 ? "kept" : reply === 2 ? "sender" : "full";
  }

  async waitingMessages(to: string, since: number): Promise<WaitingMessage[]> {
    await this.#written();
    const reply = await this.#link.call(
      "ZRANGEBYSCORE",
      this.#key(`offline:${to}`),
      String(since),
      "+inf",
    ) as string[];
    // By when they were sent: each server numbers the messages it keeps
    // (Registry.offlineMessage), so ids from two servers need not follow it.
    // The receipt is the member exactly as stored, which ZREM needs byte
    // for byte: written again from the event, it would differ as soon as
    // the event's fields did (another version of the server, in a cluster).
    return reply.map((member): WaitingMessage => ({
      event: JSON.parse(member) as PrivateEvent,
      receipt: member,
    })).sort((a, b) => a.event.at - b.event.at || a.event.id - b.event.id);
  }

  async ackMessages(
    to: string,
    messages: readonly WaitingMessage[],
  ): Promise<void> {
    if (messages.length === 0) return;
    await this.#written();
    await this.#link.call(
      "ZREM",
      this.#key(`offline:${to}`),
      ...messages.map((m) => m.receipt),
    );
  }

  /**
   * Offline messages and failures need nothing: an account's offline
   * messages expire with the newest of them, and an address's failures a
   * day after its last one. Quiet rooms are found by SCAN, a batch of keys
   * at a time (Redis serves others between two), and each batch is checked
   * and forgotten in one script: a line said in a room meanwhile, from any
   * server, is either after it or keeps the room.
   */
  async forgetOld(options: ForgetOptions): Promise<number> {
    const before = options.roomsQuietBefore;
    if (before === undefined) return 0;
    await this.#written();
    const records = this.#key("room:");
    const pattern = records.replace(/[*?[\]\\]/g, "\\$&") + "*";
    let forgotten = 0;
    let cursor = "0";
    do {
      const [next, keys] = await this.#link.call(
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        SCAN_COUNT,
      ) as [string, string[]];
      cursor = String(next);
      // As they are now: one joined since the last batch is kept.
      const open = new Set(options.openRooms?.());
      // A ":" is in no room's key: such a key is another prefix's (one
      // that begins with this one's "room:").
      const rooms = keys.map((key) => key.slice(records.length))
        .filter((room) => !room.includes(":") && !open.has(room));
      if (rooms.length > 0) {
        forgotten += Number(
          await this.#link.eval(FORGET_QUIET, [], [
            this.prefix,
            before,
            ...rooms,
          ]),
        );
      }
    } while (cursor !== "0" && !this.#closed);
    return forgotten;
  }

  async operators(): Promise<string[]> {
    await this.#written();
    const reply = await this.#link.call(
      "SMEMBERS",
      this.#key("operators"),
    ) as string[];
    return reply.sort();
  }

  async setOperator(key: string, on: boolean): Promise<void> {
    await this.#written();
    await this.#link.call(on ? "SADD" : "SREM", this.#key("operators"), key);
  }

  async sanctions(now: number): Promise<Sanction[]> {
    await this.#written();
    const all = fields(
      await this.#link.call("HGETALL", this.#key("sanctions")),
    );
    const kept: Sanction[] = [];
    const ended: string[] = [];
    for (const [field, json] of Object.entries(all)) {
      const sanction = JSON.parse(json) as Sanction;
      if (sanction.until !== null && sanction.until <= now) {
        ended.push(field, json);
      } else kept.push(sanction);
    }
    if (ended.length > 0) {
      // In one step, and only as read: a ban set again on the same target
      // since (on another server of a cluster) is not dropped with the old.
      await this.#link.eval(DROP_ENDED, [this.#key("sanctions")], ended);
    }
    return kept.sort((a, b) => a.at - b.at);
  }

  async addSanction(sanction: Sanction): Promise<void> {
    await this.#written();
    await this.#link.call(
      "HSET",
      this.#key("sanctions"),
      sanctionField(sanction.kind, sanction.room, sanction.target),
      JSON.stringify(sanction),
    );
  }

  async removeSanction(
    kind: SanctionKind,
    room: string,
    target: string,
  ): Promise<boolean> {
    await this.#written();
    const removed = await this.#link.call(
      "HDEL",
      this.#key("sanctions"),
      sanctionField(kind, room, target),
    );
    return removed === 1;
  }

  async claimedRooms(): Promise<ClaimedRoom[]> {
    await this.#written();
    const flat = await this.#link.eval(
      CLAIMED_ROOMS,
      [this.#key("claimed")],
      [this.prefix],
    ) as string[];
    const rooms: ClaimedRoom[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      const ops = JSON.parse(flat[i + 4]);
      rooms.push({
        key: flat[i],
        name: flat[i + 1],
        owner: flat[i + 2],
        topic: flat[i + 3] === "" ? null : flat[i + 3],
        // cjson writes an empty array as {}.
        ops: Array.isArray(ops) ? ops.sort() : [],
      });
    }
    return rooms.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  }

  async claimRoom(key: string, name: string, owner: string): Promise<boolean> {
    await this.#written();
    const reply = await this.#link.eval(CLAIM_ROOM, [
      this.#key(`room:${key}`),
      this.#key("claimed"),
      this.#key(`account-rooms:${owner}`),
      this.#key(`roomops:${key}`),
    ], [key, name, owner]);
    return reply === 1;
  }

  async unclaimRoom(key: string): Promise<void> {
    await this.#written();
    await this.#link.transaction([
      ["HDEL", this.#key(`room:${key}`), "owner"],
      ["DEL", this.#key(`roomops:${key}`)],
      ["SREM", this.#key("claimed"), key],
    ]);
  }

  async setRoomOperator(room: string, key: string, on: boolean): Promise<void> {
    await this.#written();
    await this.#link.transaction([
      [on ? "SADD" : "SREM", this.#key(`roomops:${room}`), key],
      on
        ? ["SADD", this.#key(`account-rooms:${key}`), room]
        : ["SREM", this.#key(`account-rooms:${key}`), room],
    ]);
  }

  async addModlog(entry: ModlogEntry): Promise<void> {
    await this.#written();
    const json = JSON.stringify(entry);
    const all = this.#key("modlog");
    const room = this.#key(`modlog:${entry.room}`);
    await this.#link.transaction([
      ["RPUSH", all, json],
      ["LTRIM", all, -MODLOG_KEEP, -1],
      ["RPUSH", room, json],
      ["LTRIM", room, -MODLOG_KEEP, -1],
    ]);
  }

  async modlog(
    options: { limit: number; room?: string },
  ): Promise<ModlogEntry[]> {
    await this.#written();
    const key = this.#key(
      options.room === undefined ? "modlog" : `modlog:${options.room}`,
    );
    const reply = await this.#link.call(
      "LRANGE",
      key,
      -options.limit,
      -1,
    ) as string[];
    return reply.map((json) => JSON.parse(json) as ModlogEntry);
  }

  async lockdown(): Promise<boolean> {
    await this.#written();
    return await this.#link.call("GET", this.#key("lockdown")) === "1";
  }

  async setLockdown(on: boolean): Promise<void> {
    await this.#written();
    await this.#link.call("SET", this.#key("lockdown"), on ? "1" : "0");
  }

  async flush(): Promise<void> {
    await this.#written();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#written().catch(() => {});
  }

  #key(name: string): string {
    return this.prefix + name;
  }

  async #history(
    key: string,
    name: string,
    limit: number,
    before?: number,
  ): Promise<ChatLine[]> {
    const reply = await this.#link.call(
      "ZREVRANGEBYSCORE",
      this.#key(`history:${key}`),
      before === undefined ? "+inf" : `(${before}`,
      "-inf",
      "LIMIT",
      0,
      limit,
    ) as string[];
    return reply.reverse().map((json) => ({
      ...JSON.parse(json) as ChatLine,
      room: name,
    }));
  }

  #queue(...commands: (string | number)[][]): void {
    if (this.#closed) return;
    this.#queued.push(...commands);
    this.#scheduled ??= setTimeout(() => {
      this.#scheduled = null;
      this.#writeQueued();
    }, BATCH_MS);
  }

  /** Sends the queued writes as one transaction. */
  #writeQueued(): Promise<void> {
    if (this.#scheduled !== null) {
      clearTimeout(this.#scheduled);
      this.#scheduled = null;
    }
    const commands = this.#queued;
    if (commands.length === 0) return this.#writing;
    this.#queued = [];
    const started = performance.now();
    this.#writing = this.#writing.then(() =>
      this.#link.transaction(commands).then(
        () => this.#onCommit(performance.now() - started),
        (error) => this.#onError(error as Error),
      )
    );
    return this.#writing;
  }

  /** Resolves once every write queued before it is done. */
  #written(): Promise<void> {
    return this.#writeQueued();
  }
}
