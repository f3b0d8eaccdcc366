/**
 * Who may moderate, and the bans and mutes in force: kept in the store, and
 * in memory for the checks that run on every connection and every line
 * (a ban at connect, a mute at `say`), which must not wait for the store.
 *
 * @module
 */

import { type Block, contains, formatBlock, parseBlock } from "./addresses.ts";
import type { Clock } from "./clock.ts";
import type { Room } from "./room.ts";
import { log } from "./log.ts";
import {
  type ModlogEntry,
  type Sanction,
  type SanctionKind,
  type Store,
  StoreUnavailable,
} from "./store/store.ts";

/** What a moderation command needs of its user. */
export type Role =
  /** A registered account. */
  | "registered"
  /** The room's owner (or a server operator). */
  | "roomOwner"
  /** The room's owner or one of its room operators (or a server operator). */
  | "roomModerator"
  /** A server operator. */
  | "operator";

/** Who a sanction is checked against: an account, if any, and an address. */
export interface Subject {
  /** The account's key, or null for a guest. */
  readonly account: string | null;
  /** The IP address the user is connected from. */
  readonly address: string;
}

/** The target of a ban on an address or a CIDR block. */
export function addressTarget(block: Block): string {
  return `address:${formatBlock(block)}`;
}

/** The target of a ban or mute on an account. */
export function accountTarget(key: string): string {
  return `account:${key}`;
}

/** The server's moderators and sanctions. */
export class Moderation {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #operators: Set<string>;
  /** Accounts `--op` names: operators once they exist. */
  readonly #configured: ReadonlySet<string>;
  #sanctions: Sanction[] = [];
  /**
   * The same sanctions by kind and room (`ban ` + a room key, "" for the
   * server), so that the checks on every line and every connection look
   * only at the lists that can hold them: every registered user may own 15
   * rooms of 100 bans and 100 mutes, and a scan of them all for each line
   * (100,000 took 2.7 ms a line) would slow the chat of everyone.
   */
  readonly #scoped = new Map<string, Sanction[]>();
  /** Parsed blocks of address targets. */
  readonly #blocks = new Map<string, Block | null>();
  #lockdown: boolean;
  /**
   * Changes made here, counted: a reload (another server's announcement)
   * whose reads a change here overtook reads again rather than undo it.
   */
  #changes = 0;
  /**
   * Whether {@linkcode Moderation.load} made an `--op` account a server
   * operator: the other servers of a cluster, running already, must hear
   * of it.
   */
  readonly madeOperators: boolean;

  private constructor(
    store: Store,
    clock: Clock,
    state: {
      operators: string[];
      configured: ReadonlySet<string>;
      sanctions: Sanction[];
      lockdown: boolean;
      madeOperators: boolean;
    },
  ) {
    this.madeOperators = state.madeOperators;
    this.#store = store;
    this.#clock = clock;
    this.#operators = new Set(state.operators);
    this.#configured = state.configured;
    this.#set(state.sanctions);
    this.#lockdown = state.lockdown;
  }

  /**
   * Loads what the store keeps. Each account in `operators` (case-folded
   * keys, from `--op`) that exists is made a server operator now; one that
   * does not yet, as soon as it is registered.
   */
  static async load(
    store: Store,
    options: { operators: readonly string[]; clock: Clock },
  ): Promise<Moderation> {
    const configured = new Set(options.operators);
    const operators = new Set(await store.operators());
    let madeOperators = false;
    for (const key of configured) {
      if (operators.has(key)) continue;
      if ((await store.accountFor(key, ""))?.key === key) {
        await store.setOperator(key, true);
        operators.add(key);
        madeOperators = true;
      }
    }
    return new Moderation(store, options.clock, {
      operators: [...operators],
      configured,
      sanctions: await store.sanctions(options.clock.date()),
      lockdown: await store.lockdown(),
      madeOperators,
    });
  }

  /**
   * Reads operators, sanctions and the lockdown switch again: in a cluster,
   * a moderator on another server changed them. Answers what changed
   * meanwhile that this server has not acted on: the sanctions now in
   * force that were not before (`added`), and those no longer in force
   * that were lifted rather than ran out (`lifted`). Every change is
   * answered by one reload only (each compared with what is in force here
   * as it puts its own in force: what the one before put there, and the
   * changes made here since, whose callers acted on them), so nobody is
   * told of one twice. Reloads take turns: one whose reads began before
   * another's ended cannot put back, stale, what that one found lifted.
   */
  reload(): Promise<SanctionChanges> {
    const run = this.#reloading.then(() => this.#reload());
    this.#reloading = run.then(() => {}, () => {});
    return run;
  }

  /** The reload in turn (see {@linkcode Moderation.reload}). */
  #reloading: Promise<void> = Promise.resolve();

  async #reload(): Promise<SanctionChanges> {
    let operators: string[], sanctions: Sanction[], lockdown: boolean;
    while (true) {
      // A change made here while the store was read may be missing from
      // what it answered (read before it was written): read again.
      const changes = this.#changes;
      [operators, sanctions, lockdown] = await Promise.all([
        this.#store.operators(),
        this.#store.sanctions(this.#clock.date()),
        this.#store.lockdown(),
      ]);
      if (this.#changes === changes) break;
    }
    this.#operators.clear();
    for (const key of operators) this.#operators.add(key);
    // Compared with what is in force here at this very moment: a change
    // made here while the store was read is in both, and was acted on by
    // the command that made it.
    const before = new Set(this.#sanctions.map(sanctionId));
    const after = new Set(sanctions.map(sanctionId));
    const now = this.#clock.date();
    const lifted = this.#sanctions.filter((s) =>
      !after.has(sanctionId(s)) && (s.until === null || s.until > now)
    );
    const added = sanctions.filter((s) => !before.has(sanctionId(s)));
    this.#set(sanctions);
    this.#lockdown = lockdown;
    return { added, lifted };
  }

  /** Whether `account` is a server operator. */
  isOperator(account: string | null): boolean {
    return account !== null && this.#operators.has(account);
  }

  /** The server operators' account keys. */
  get operators(): ReadonlySet<string> {
    return this.#operators;
  }

  /** Whether `account` may act as `role` in `room`. */
  allows(account: string | null, role: Role, room: Room | null): boolean {
    if (account === null) return false;
    if (role === "registered" || this.isOperator(account)) return true;
    if (role === "operator" || room === null) return false;
    if (room.owner === account) return true;
    return role === "roomModerator" && room.operators.has(account);
  }

  /**
   * A new account was registered: `--op` may name it. True if it was made
   * a server operator (in a cluster, the other servers must hear of it).
   */
  async registered(key: string): Promise<boolean> {
    if (!this.#configured.has(key)) return false;
    try {
      await this.setOperator(key, true);
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      // The account is made by now, and `--op` says what it is: so it is,
      // here, and in the store from the next start (load() makes every
      // registered --op account one). The registration is not failed for
      // it.
      log("moderation").warn(
        "Not kept in the database ({error}): {key} is a server operator",
        { key, error: error.message },
      );
      this.#operators.add(key);
      this.#changes++;
    }
    return true;
  }

  /**
   * An account was deleted (the store has dropped its roles): it is no
   * operator here either, so that whoever registers the name next is not.
   */
  accountDeleted(key: string): void {
    this.#operators.delete(key);
    this.#changes++;
  }

  /**
   * A ban or mute in force on the account itself (server-wide or in a
   * room), or null: while one is, the account cannot be deleted, which
   * would let its owner go on as a guest.
   */
  onAccount(key: string): Sanction | null {
    const now = this.#clock.date();
    const target = accountTarget(key);
    return this.#sanctions.find((sanction) =>
      sanction.target === target &&
      (sanction.until === null || sanction.until > now)
    ) ?? null;
  }

  /** Makes an account a server operator or not. */
  async setOperator(key: string, on: boolean): Promise<void> {
    await this.#store.setOperator(key, on);
    if (on) this.#operators.add(key);
    else this.#operators.delete(key);
    this.#changes++;
  }

  /** Whether only registered users may log in. */
  get lockdown(): boolean {
    return this.#lockdown;
  }

  async setLockdown(on: boolean): Promise<void> {
    await this.#store.setLockdown(on);
    this.#lockdown = on;
    this.#changes++;
  }

  /**
   * The sanction of `kind` in force on `subject`, in `room` (a key) or on
   * the whole server (""), or null. Ended ones are dropped as they are met.
   */
  find(kind: SanctionKind, room: string, subject: Subject): Sanction | null {
    // Usually none at all: then no key is made, no clock read (this runs
    // for every line said).
    if (this.#sanctions.length === 0) return null;
    const now = this.#clock.date();
    let address: Block | null | undefined;
    let ended = false;
    for (const sanction of this.#scoped.get(scopeKey(kind, room)) ?? []) {
      if (sanction.until !== null && sanction.until <= now) {
        ended = true;
        continue;
      }
      if (sanction.target.startsWith("account:")) {
        if (
          subject.account !== null &&
          sanction.target.slice(8) === subject.account
        ) {
          return sanction;
        }
        continue;
      }
      address ??= parseBlock(subject.address);
      const block = this.#block(sanction.target);
      if (address !== null && block !== null && contains(block, address)) {
        return sanction;
      }
    }
    if (ended) this.#expire(now);
    return null;
  }

  /** The sanctions in force, server-wide and in rooms, oldest first. */
  list(kind: SanctionKind): Sanction[] {
    const now = this.#clock.date();
    this.#expire(now);
    return this.#sanctions.filter((sanction) => sanction.kind === kind);
  }

  /** Puts a sanction in force (replacing one of the same target). */
  async add(sanction: Sanction): Promise<void> {
    await this.#store.addSanction(sanction);
    this.#sanctions = [
      ...this.#sanctions.filter((other) => !same(other, sanction)),
      sanction,
    ];
    // Its own list only: a ban in one room costs no rebuild of them all.
    const key = scopeKey(sanction.kind, sanction.room);
    this.#scoped.set(key, [
      ...(this.#scoped.get(key) ?? []).filter((other) =>
        !same(other, sanction)
      ),
      sanction,
    ]);
    this.#changes++;
  }

  /**
   * Lifts a sanction; the one lifted, or null if there was none here. One
   * this server has not heard of yet (set on another server of a cluster, not
   * yet announced) is left in the store too: the moderator is told there was
   * none, and nothing else may change.
   */
  async remove(
    kind: SanctionKind,
    room: string,
    target: string,
  ): Promise<Sanction | null> {
    const found =
      this.#sanctions.find((sanction) =>
        same(sanction, { kind, room, target })
      ) ?? null;
    if (found === null) return null;
    await this.#store.removeSanction(kind, room, target);
    // By what it is, not by the object found: a reload that read the store
    // before the delete may have put a fresh copy in its place meanwhile.
    const lifted = { kind, room, target };
    this.#sanctions = this.#sanctions.filter((s) => !same(s, lifted));
    const key = scopeKey(kind, room);
    const rest = (this.#scoped.get(key) ?? []).filter((s) => !same(s, lifted));
    if (rest.length > 0) this.#scoped.set(key, rest);
    else this.#scoped.delete(key);
    this.#forgetBlocks();
    this.#changes++;
    return found;
  }

  /**
   * Writes a line of the moderation log. What it logs is done by then (a
   * ban in force, a room claimed): a store that cannot take the line (a
   * full disk, Redis away) costs the line, said in the server's log
   * instead, not the rest of the command (the banned user put out, the
   * moderator told it is done).
   */
  async log(entry: Omit<ModlogEntry, "at">): Promise<void> {
    const line = { at: this.#clock.date(), ...entry };
    try {
      await this.#store.addModlog(line);
    } catch (error) {
      if (!(error instanceof StoreUnavailable)) throw error;
      log("moderation").warn(
        "Not kept in the moderation log ({error}): {actor} {action} {target}",
        { ...line, error: error.message },
      );
      return;
    }
    // And in the server's log, once (where it was done), for an operator
    // who reads the journal rather than `modlog`: who did what to whom. As
    // modlog does, a claim is of its room ("bob claim on room den") and a
    // lockdown of the server ("root lockdown on").
    const claim = line.action === "claim" || line.action === "unclaim";
    log("moderation").info(
      "Moderation: {actor} {action}{object}{scope}{until}{reason}",
      {
        ...line,
        object: claim ? "" : ` ${line.target}`,
        scope: line.action === "lockdown"
          ? ""
          : line.room === ""
          ? " on the server"
          : ` on room ${line.room}`,
        until: line.until === null
          ? ""
          : ` until ${new Date(line.until).toISOString()}`,
        reason: line.reason === "" ? "" : `: ${line.reason}`,
      },
    );
  }

  #block(target: string): Block | null {
    let block = this.#blocks.get(target);
    if (block === undefined) {
      block = parseBlock(target.slice("address:".length));
      this.#blocks.set(target, block);
    }
    return block;
  }

  /** Puts `sanctions` (oldest first) in force, in place of those before. */
  #set(sanctions: Sanction[]): void {
    this.#sanctions = sanctions;
    this.#scoped.clear();
    for (const sanction of sanctions) {
      const key = scopeKey(sanction.kind, sanction.room);
      const list = this.#scoped.get(key);
      if (list === undefined) this.#scoped.set(key, [sanction]);
      else list.push(sanction);
    }
    this.#forgetBlocks();
  }

  /** How many address targets are kept parsed (for tests). */
  get parsedBlocks(): number {
    return this.#blocks.size;
  }

  /**
   * Drops the parsed blocks of targets no sanction holds any more, so that
   * bans set and lifted over months do not pile up (kept while there are
   * fewer than twice as many as sanctions: the sweep is then rare).
   */
  #forgetBlocks(): void {
    if (this.#blocks.size < 2 * this.#sanctions.length + 64) return;
    const held = new Set(this.#sanctions.map((s) => s.target));
    for (const target of this.#blocks.keys()) {
      if (!held.has(target)) this.#blocks.delete(target);
    }
  }

  /** Drops what has ended from memory (the store drops it at next load). */
  #expire(now: number): void {
    if (this.#sanctions.some((s) => s.until !== null && s.until <= now)) {
      this.#set(
        this.#sanctions.filter((s) => s.until === null || s.until > now),
      );
    }
  }
}

/** The key of the sanctions of one kind in one room ("": the server). */
function scopeKey(kind: SanctionKind, room: string): string {
  return `${kind} ${room}`;
}

/**
 * One sanction as set: a new one on the same target (a mute set again with
 * another reason) is another.
 */
export function sanctionId(
  s: Pick<Sanction, "kind" | "room" | "target" | "at">,
): string {
  return `${s.kind} ${s.room} ${s.target} ${s.at}`;
}

/** What a {@linkcode Moderation.reload} found changed. */
export interface SanctionChanges {
  /** In force now, not before. */
  added: Sanction[];
  /** In force before, lifted since (not those that merely ran out). */
  lifted: Sanction[];
}

function same(
  a: Pick<Sanction, "kind" | "room" | "target">,
  b: Pick<Sanction, "kind" | "room" | "target">,
): boolean {
  return a.kind === b.kind && a.room === b.room && a.target === b.target;
}

/** The longest a ban or mute may last before it must be for good. */
export const MAX_SANCTION_MS = 366 * 86_400_000;

/**
 * Each unit a duration may name, in seconds: a Map, since a plain object's
 * keys include `constructor` (`1constructor` is typed text, not a unit).
 */
const UNIT_SECONDS: ReadonlyMap<string, number> = new Map(Object.entries({
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  d: 86_400,
  day: 86_400,
  days: 86_400,
  w: 604_800,
  week: 604_800,
  weeks: 604_800,
  y: 31_536_000,
  yr: 31_536_000,
  yrs: 31_536_000,
  year: 31_536_000,
  years: 31_536_000,
}));

/**
 * A duration as moderators type it: `30m`, `2h`, `7d`, `45s`, `2w`, `1y`,
 * `1h30m`, `90min`; its length in ms, or null if `text` is not one. Only
 * whole numbers; longer than {@linkcode MAX_SANCTION_MS} is not one either.
 */
export function parseDuration(text: string): number | null {
  const parts = /^(?:\d{1,6}[a-z]+)+$/i.test(text)
    ? text.toLowerCase().match(/\d+|[a-z]+/g)!
    : null;
  if (parts === null) return null;
  let seconds = 0;
  for (let i = 0; i < parts.length; i += 2) {
    const unit = UNIT_SECONDS.get(parts[i + 1]);
    if (unit === undefined) return null;
    seconds += Number(parts[i]) * unit;
  }
  const ms = seconds * 1000;
  return ms > 0 && ms <= MAX_SANCTION_MS ? ms : null;
}

/**
 * Units a mistyped duration may name that {@linkcode parseDuration} does
 * not take: an exponent (`1e3m`, which `Number()` would read as 1000),
 * milliseconds, months (30 days or 31?), and other spellings of minutes
 * and weeks. A word with one is refused, not taken for a reason's first.
 */
const UNITS_REFUSED: ReadonlySet<string> = new Set([
  "e",
  "ms",
  "mn",
  "mo",
  "mos",
  "mon",
  "mons",
  "month",
  "months",
  "wk",
  "wks",
]);

/**
 * Whether a word was meant as a duration (`1.5h`, `0m`, `5000d`, `1e3m`,
 * `1h30`, a bare `90`, as in `1 hour`, or a signed `-5m`) even if
 * {@linkcode parseDuration} cannot take it: a number, alone or then a unit
 * (one it takes or one of {@linkcode UNITS_REFUSED}) whatever follows. An
 * ordinal (`3rd`, `1st`) or `2fa`, `4chan`, `10x` is not.
 */
export function looksLikeDuration(text: string): boolean {
  const match = /^[-+]?\d[\d.,:]*([a-z]*)/i.exec(text);
  if (match === null) return false;
  const unit = match[1].toLowerCase();
  if (unit === "") return match[0].length === text.length;
  return UNIT_SECONDS.has(unit) || UNITS_REFUSED.has(unit);
}
