/**
 * Moderation: server operators anywhere, room owners and room operators in
 * their own room. Each command says in the table which role it needs; the
 * dispatcher checks it once, and `help` lists a command only to those who
 * may use it.
 *
 * What a moderator does to others goes in the moderation log, and bans,
 * mutes, operators and claimed rooms are kept in the store.
 *
 * @module
 */

import { contains, parseBlock, subscriberBlock } from "../addresses.ts";
import { ChatError } from "../errors.ts";
import {
  accountTarget,
  addressTarget,
  looksLikeDuration,
  MAX_SANCTION_MS,
  parseDuration,
  type Role,
  type Subject,
} from "../moderation.ts";
import { foldName, validateName } from "../names.ts";
import { MAIN_ROOM, type Registry } from "../registry.ts";
import type { Room, User } from "../room.ts";
import { log } from "../log.ts";
import {
  type Sanction,
  type SanctionKind,
  StoreUnavailable,
} from "../store/store.ts";
import { formatDate, formatMoment, TEXT } from "../text.ts";
import {
  type Command,
  type Context,
  findElsewhere,
  splitWord,
  takesName,
  type UserContext,
} from "./command.ts";

/** What `modlog` shows when not told how many, and at most. */
const MODLOG_DEFAULT = 20;
const MODLOG_MAX = 200;

/** The reason when none is given. */
const NO_REASON = "no reason given";

/** The line a user sees who lacks `role` for `command`. */
export function roleRefusal(role: Role, command: string): string {
  switch (role) {
    case "operator":
      return TEXT.needsOperator(command);
    case "roomOwner":
      return TEXT.needsRoomOwner(command);
    case "roomModerator":
      return TEXT.needsRoomModerator(command);
    case "registered":
      return TEXT.needsRegistered(command);
  }
}

/**
 * A room key as moderation lines show it: the room's name as typed when it
 * is open here, else the key; null for the whole server ("").
 */
export function roomShown(registry: Registry, key: string): string | null {
  return key === "" ? null : registry.rooms.get(key)?.name ?? key;
}

/** `until ...` or `permanently`, as a sanction's sentences say it. */
export function untilText(until: number | null): string {
  return TEXT.until(until === null ? null : formatMoment(until));
}

/** The line a user sees while a sanction holds them. */
export function sanctionText(sanction: Sanction, roomName: string): string {
  const until = untilText(sanction.until);
  const room = sanction.room === "" ? null : roomName;
  return sanction.kind === "ban"
    ? TEXT.bannedYou(TEXT.scope(room), until, sanction.reason)
    : TEXT.mutedYou(room, until, sanction.reason);
}

/** Who `user` is, as a sanction sees them. */
export function subjectOf(user: User): Subject {
  return { account: user.account, address: user.hostname };
}

/**
 * Throws the line telling `user` they are muted, if they are: on the
 * server, or (with `room`) in that room. For `say`, `me`, `msg`, `reply`,
 * `topic`, `nick` and `away` with a reason: whatever others would read.
 */
export function checkNotMuted(ctx: UserContext, room: Room | null): void {
  const { moderation, user } = ctx;
  // A mute on an address does not silence a server operator behind it, nor
  // a room's owner in their own room (nobody can mute them by name).
  if (moderation.isOperator(user.account)) return;
  const subject = subjectOf(user);
  const mute = moderation.find("mute", "", subject) ??
    (room === null || (user.account !== null && room.owner === user.account)
      ? null
      : moderation.find("mute", room.key, subject));
  if (mute !== null) {
    throw new ChatError(sanctionText(mute, room?.name ?? ""));
  }
}

/** Where a moderator's ban or mute holds: server-wide for an operator. */
function scopeOf(ctx: UserContext): { room: Room | null; key: string } {
  const { moderation, user } = ctx;
  if (moderation.isOperator(user.account)) return { room: null, key: "" };
  return { room: user.room, key: user.room!.key };
}

/** What a ban, unban, mute or unmute is aimed at. */
interface Target {
  /** The sanction's target (`account:KEY` or `address:BLOCK`). */
  readonly target: string;
  /** As shown. */
  readonly label: string;
  /** The user online it names, if it named one. */
  readonly user?: User;
  /** The account it names, if any. */
  readonly account?: string;
  /** The server of the cluster holding the user it names, if not this one. */
  readonly node?: string;
  /** The name's key, for a guest elsewhere. */
  readonly key?: string;
}

/**
 * Resolves a name, an address or a CIDR block: a user online is their
 * account, or for a guest the address they are connected from (an IPv6
 * one's /64, as the connection limits count it); a name not
 * online must be an account.
 */
async function resolve(ctx: UserContext, typed: string): Promise<Target> {
  const { registry, store } = ctx;
  const block = parseBlock(typed);
  if (block !== null) {
    const target = addressTarget(block);
    return { target, label: target.slice("address:".length) };
  }
  const online = registry.find(typed);
  // On another server of the cluster, what Redis knows of them will do.
  const elsewhere = online === undefined && ctx.cluster?.up
    ? await ctx.cluster.find(typed)
    : null;
  const who = online ?? elsewhere;
  if (who) {
    if (who.account !== null) {
      return {
        target: accountTarget(who.account),
        label: who.name,
        user: online,
        account: who.account,
        node: elsewhere?.node,
      };
    }
    const address = subscriberBlock(online?.hostname ?? elsewhere!.address);
    if (address === null) throw new ChatError(TEXT.noSuchTarget(typed));
    const target = addressTarget(address);
    return {
      target,
      label: `${who.name} (${target.slice("address:".length)})`,
      user: online,
      node: elsewhere?.node,
      key: foldName(who.name),
    };
  }
  const key = foldName(typed);
  const account = await store.accountFor(key, "");
  if (account === null) throw new ChatError(TEXT.noSuchTarget(typed));
  return { target: accountTarget(key), label: account.name, account: key };
}

/**
 * Throws the role's line for `command` if the user may no longer moderate
 * where `scope` (read before an await) said they would act.
 */
function stillModerates(
  ctx: UserContext,
  scope: { key: string },
  command: string,
): void {
  const { moderation, user } = ctx;
  if (
    !moderation.allows(user.account, "roomModerator", user.room) ||
    scopeOf(ctx).key !== scope.key
  ) {
    throw new ChatError(roleRefusal("roomModerator", command));
  }
}

/** The guard rails: not oneself, not a server operator, not the owner. */
function guard(ctx: UserContext, action: string, target: Target): void {
  const { user, moderation } = ctx;
  if (
    target.user === user || (target.account && target.account === user.account)
  ) {
    throw new ChatError(TEXT.cannotTargetSelf(action));
  }
  if (target.account && moderation.isOperator(target.account)) {
    throw new ChatError(TEXT.cannotTargetOperator(action));
  }
  const room = user.room;
  if (
    !moderation.isOperator(user.account) && target.account &&
    room?.owner === target.account
  ) {
    throw new ChatError(TEXT.cannotTargetOwner(action));
  }
}

/**
 * The name of a server operator (or, when a room operator acts, the room's
 * owner) online anywhere from an address that `record`, a sanction on an
 * address or block, would match; or null.
 */
async function shieldedBehind(
  ctx: UserContext,
  record: Sanction,
): Promise<{ name: string; operator: boolean } | null> {
  if (!record.target.startsWith("address:")) return null;
  const { moderation, registry, user, cluster } = ctx;
  const block = parseBlock(record.target.slice("address:".length));
  if (block === null) return null;
  const shielded = new Set(moderation.operators);
  const owner = user.room?.owner;
  if (!moderation.isOperator(user.account) && owner) shielded.add(owner);
  const inside = (address: string) => {
    const parsed = parseBlock(address);
    return parsed !== null && contains(block, parsed);
  };
  for (const other of registry.online) {
    if (other.account !== null && shielded.has(other.account)) {
      shielded.delete(other.account);
      if (inside(other.hostname)) {
        return {
          name: other.name,
          operator: moderation.isOperator(other.account),
        };
      }
    }
  }
  // The rest may be online on other servers of a cluster (an account's key
  // is the key of its name).
  if (cluster?.up) {
    for (const key of [...shielded]) {
      const presence = await cluster.find(key);
      if (presence?.account !== key) continue;
      shielded.delete(key);
      if (inside(presence.address)) {
        return { name: presence.name, operator: moderation.isOperator(key) };
      }
    }
  }
  // And the rest are offline: banned from where they last logged in, a
  // server operator would find themselves shut out at their next login, with
  // no operator online to lift it. (Not an offline owner: a room's bans do
  // not keep its owner out.)
  for (const key of shielded) {
    if (!moderation.isOperator(key)) continue;
    const account = await ctx.store.accountFor(key, "");
    if (account?.lastAddress && inside(account.lastAddress)) {
      return { name: account.name, operator: moderation.isOperator(key) };
    }
  }
  return null;
}

/**
 * `NAME [DURATION] [REASON]`: the target word, how long (null: for good),
 * and why.
 */
export function parseSanction(
  args: string,
): { typed: string; ms: number | null; reason: string } {
  const [typed, rest] = splitWord(args);
  // Words that are durations in a row add up: `1h 30m` is `1h30m`, as
  // people write it, not an hour with the reason "30m".
  let ms: number | null = null;
  let spelled = "";
  let reason = rest;
  while (reason !== "") {
    const [first, after] = splitWord(reason);
    // NFKC, as names are: `３０ｍ`, typed with a CJK input method left in
    // full width, is 30m, not the first word of a reason.
    const word = first.normalize("NFKC");
    const part = parseDuration(word);
    if (part === null) {
      // `1.5h`, `0m` or `1e3m` is a mistyped duration, not the first word
      // of a reason: taken as the reason, it would make the sanction
      // permanent (or, after `1h`, an hour instead of longer).
      if (looksLikeDuration(word)) throw new ChatError(TEXT.badDuration(first));
      break;
    }
    spelled = spelled === "" ? first : `${spelled} ${first}`;
    ms = (ms ?? 0) + part;
    if (ms > MAX_SANCTION_MS) throw new ChatError(TEXT.badDuration(spelled));
    reason = after;
  }
  return { typed, ms, reason: reason || NO_REASON };
}

/** Every user online here whom a new sanction matches. */
function matching(
  ctx: Pick<Context, "registry">,
  sanction: Sanction,
): User[] {
  const { registry } = ctx;
  if (sanction.target.startsWith("account:")) {
    const key = sanction.target.slice("account:".length);
    return [...registry.online].filter((other) => other.account === key);
  }
  const block = parseBlock(sanction.target.slice("address:".length));
  if (block === null) return [];
  return [...registry.online].filter((other) => {
    const address = parseBlock(other.hostname);
    return address !== null && contains(block, address);
  });
}

/**
 * The most bans, and the most mutes, one room may hold in force (what a
 * server operator sets server-wide is not counted): InspIRCd's `<maxlist>`
 * and ergo's `chan-list-modes` hold a channel's ban list to 100 as well.
 */
export const MAX_ROOM_SANCTIONS = 100;

async function sanction(
  ctx: UserContext,
  kind: SanctionKind,
  args: string,
): Promise<void> {
  const { user, moderation, clock, session } = ctx;
  const action = kind;
  const { typed, ms, reason } = parseSanction(args);
  const target = await resolve(ctx, typed);
  guard(ctx, action, target);
  const scope = scopeOf(ctx);
  const record: Sanction = {
    kind,
    room: scope.key,
    target: target.target,
    label: target.label,
    by: user.name,
    at: clock.date(),
    until: ms === null ? null : clock.date() + ms,
    reason,
  };
  // An address (a guest's, a block) that is the moderator's own: a ban would
  // shut them out at their next connection, a mute silence them.
  if (matching(ctx, record).includes(user)) {
    throw new ChatError(
      TEXT.sanctionMatchesYou(kind, record.label, user.hostname),
    );
  }
  // An address that is a server operator's (or, for a room operator, the
  // owner's): what the guard rails refuse by name, refused by address too.
  const shielded = await shieldedBehind(ctx, record);
  if (shielded !== null) {
    throw new ChatError(
      TEXT.sanctionMatchesShielded(action, shielded.name, shielded.operator),
    );
  }
  // The role was checked, and the scope read, before the target was looked
  // up in the store: a moderator kicked out of the room meanwhile (to main,
  // which only server operators moderate), roomdeop'd or deop'd, sets
  // nothing, rather than a ban in a room they were never given.
  stillModerates(ctx, scope, kind);
  guard(ctx, action, target);
  // A room's own list is bounded: every line said in the room is checked
  // against the room's sanctions in force, and room owners are anyone
  // registered.
  if (scope.key !== "") {
    const held = moderation.list(kind).filter((other) =>
      other.room === scope.key && other.target !== record.target
    ).length;
    if (held >= MAX_ROOM_SANCTIONS) {
      throw new ChatError(
        TEXT.tooManySanctions(
          kind,
          scope.room?.name ?? scope.key,
          MAX_ROOM_SANCTIONS,
        ),
      );
    }
  }
  await moderation.add(record);
  await moderation.log({
    actor: user.name,
    action,
    target: target.label,
    room: scope.key,
    reason,
    until: record.until,
  });
  const until = untilText(record.until);
  const where = TEXT.scope(scope.room?.name ?? null);
  session.reply(
    kind === "ban"
      ? TEXT.bannedThem(target.label, where, until, reason)
      : TEXT.mutedThem(target.label, where, until, reason),
  );
  applySanction(ctx, record, scope.room?.name ?? "", user);
  // The other servers of a cluster reload it, and act on their users.
  await ctx.cluster?.announce({ kind: "moderation", sanction: record });
}

/**
 * Acts at once on this server's users whom a new sanction matches (but
 * `actor` and operators): a mute is said, a server ban disconnects, a room
 * ban sends them out of the room. Every server of a cluster does it for its
 * own users.
 */
export function applySanction(
  ctx: Pick<Context, "registry" | "moderation">,
  record: Sanction,
  roomName: string,
  actor: User | null,
): void {
  const { registry, moderation } = ctx;
  const line = sanctionText(record, roomName);
  const owner = record.room === ""
    ? null
    : registry.rooms.get(record.room)?.owner ?? null;
  for (const other of matching(ctx, record)) {
    if (other === actor || moderation.isOperator(other.account)) continue;
    if (owner !== null && other.account === owner) continue;
    if (record.kind === "mute") {
      other.notice(line);
    } else if (record.room === "") {
      other.disconnect(line, "banned");
    } else if (other.room?.key === record.room) {
      // Out of the room, into main, at once.
      other.notice(line);
      other.notice(TEXT.joinedRoom(registry.join(other, MAIN_ROOM).name));
    }
  }
}

async function lift(
  ctx: UserContext,
  kind: SanctionKind,
  typed: string,
): Promise<void> {
  const { user, moderation, session } = ctx;
  const scope = scopeOf(ctx);
  const target = await resolve(ctx, typed).catch((error) => {
    // A guest who has gone is no name any more, but their ban still carries
    // it: "mal (192.0.2.7)".
    const key = foldName(typed);
    const held = moderation.list(kind).find((sanction) =>
      sanction.room === scope.key &&
      foldName(sanction.label.split(" (")[0]) === key &&
      sanction.label.includes(" (")
    );
    if (held === undefined) throw error;
    return { target: held.target, label: held.label } as Target;
  });
  // As at ban: one roomdeop'd, deop'd or kicked out of the room while the
  // name was looked up lifts nothing.
  stillModerates(ctx, scope, `un${kind}`);
  const where = TEXT.scope(scope.room?.name ?? null);
  const lifted = await moderation.remove(kind, scope.key, target.target);
  if (lifted === null) {
    throw new ChatError(
      kind === "ban"
        ? TEXT.notBanned(target.label, where)
        : TEXT.notMuted(target.label, where),
    );
  }
  await moderation.log({
    actor: user.name,
    action: kind === "ban" ? "unban" : "unmute",
    target: target.label,
    room: scope.key,
    reason: "",
    until: null,
  });
  session.reply(
    kind === "ban"
      ? TEXT.unbannedThem(target.label, where)
      : TEXT.unmutedThem(target.label, where),
  );
  const told = kind === "mute"
    ? TEXT.unmutedYou(scope.room?.name ?? null)
    : null;
  if (told !== null) target.user?.notice(told);
  // On another server of the cluster, the user is told by their server
  // once it has reloaded: told before, a line of theirs could still be
  // refused as muted.
  await ctx.cluster?.announce({
    kind: "moderation",
    notice: told !== null && target.user === undefined &&
        target.node !== undefined
      ? { key: target.account ?? target.key!, text: told }
      : undefined,
  });
}

/** Throws the role's line if the user is no server operator (any more). */
function operatorStill(ctx: UserContext, command: string): void {
  if (!ctx.moderation.isOperator(ctx.user.account)) {
    throw new ChatError(roleRefusal("operator", command));
  }
}

/** An account's key by name, or the line saying it is not one. */
async function accountNamed(
  ctx: UserContext,
  name: string,
): Promise<{ key: string; name: string }> {
  const account = await ctx.store.accountFor(foldName(name), "");
  if (account === null) throw new ChatError(TEXT.notAnAccount(name));
  return { key: account.key, name: account.name };
}

/** `kick NAME [REASON]`: out of the room (a server operator in main: off the server). */
export const kick: Command = takesName({
  name: "kick",
  usage: "kick NAME [REASON]",
  summary: "send NAME out of this room, to main (from main: off the server)",
  details: [
    "The room sees NAME was kicked by YOU: REASON; NAME is told why.",
    "A server operator in main disconnects NAME; elsewhere NAME goes to main.",
  ],
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  async run(ctx, args) {
    const { user, registry, moderation, cluster } = ctx;
    const [name, rest] = splitWord(args);
    const reason = rest || NO_REASON;
    const here = registry.find(name);
    // On another server of the cluster: that server kicks them.
    const elsewhere = here === undefined
      ? await findElsewhere(ctx, name)
      : null;
    // Checked after that wait, not before: a moderator kicked to main,
    // roomdeop'd or deop'd meanwhile kicks nobody (from main, a kick by
    // a server operator disconnects).
    if (!moderation.allows(user.account, "roomModerator", user.room)) {
      throw new ChatError(roleRefusal("roomModerator", "kick"));
    }
    const operator = moderation.isOperator(user.account);
    if (here === undefined && elsewhere === null) {
      throw new ChatError(TEXT.noSuchUser(name));
    }
    const targetName = here?.name ?? elsewhere!.name;
    const roomKey = here?.room?.key ?? elsewhere!.room;
    const roomName = here?.room?.name ?? elsewhere!.roomName;
    guard(ctx, "kick", {
      target: "",
      label: targetName,
      user: here,
      account: (here?.account ?? elsewhere?.account) ?? undefined,
    });
    if (!operator && roomKey !== user.room!.key) {
      throw new ChatError(TEXT.notInRoom(targetName, user.room!.name));
    }
    if (here !== undefined) {
      // Kicked before the log is written, with no await since they were
      // found: while the log was awaited first, they could leave (or their
      // account log in elsewhere), and the kick then threw, logged already.
      kickHere(registry, here, user.name, reason);
      await moderation.log({
        actor: user.name,
        action: "kick",
        target: targetName,
        room: roomKey,
        reason,
        until: null,
      });
      // An operator kicking from elsewhere does not see the room's line.
      if (roomKey !== user.room!.key) {
        ctx.session.reply(
          roomKey === MAIN_ROOM
            ? TEXT.kickedOff(targetName)
            : TEXT.kickedOut(targetName, roomName),
        );
      }
    } else {
      // Logged by their server, once it has kicked them: they may have left.
      await cluster!.control(elsewhere!.node, {
        kind: "kick",
        key: elsewhere!.key,
        by: user.name,
        reason,
        room: roomKey,
        roomName,
        from: { node: cluster!.nodeId, key: user.key },
        // An operator kicking from elsewhere does not see the room's line.
        tell: roomKey !== user.room!.key,
      });
    }
  },
});

/**
 * Kicks a user of this server out of their room: the room is told, and the
 * user goes to main (or, kicked from main, off the server).
 */
export function kickHere(
  registry: Registry,
  target: User,
  by: string,
  reason: string,
): void {
  const room = registry.kick(target, by, reason);
  if (room === registry.main) {
    target.disconnect(TEXT.kickedFromServer(by, reason), "kicked");
  } else {
    target.notice(TEXT.kickedYou(room.name, by, reason));
    target.notice(TEXT.joinedRoom(registry.join(target, MAIN_ROOM).name));
  }
}

/** What `help ban` and `help mute` say of DURATION. */
const DURATION_HELP =
  "DURATION: whole numbers with s, m, h, d, w or y (30m, 2h, 1h30m or 1h 30m, 7d), at most 366d; none: for good.";

/** `ban TARGET [DURATION] [REASON]`. */
export const ban: Command = takesName({
  name: "ban",
  usage: "ban TARGET [DURATION] [REASON]",
  summary:
    "keep a name, address or CIDR block out (30m, 2h, 7d; none: for good)",
  details: [
    "A server operator's ban is server-wide; anyone else's, for this room.",
    "A guest is banned by the address they are connected from (IPv6: its /64).",
    DURATION_HELP,
    "Whoever matches is removed at once.",
  ],
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => sanction(ctx, "ban", args),
});

/** `unban TARGET`. */
export const unban: Command = takesName({
  name: "unban",
  usage: "unban TARGET",
  summary: "lift a ban",
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => lift(ctx, "ban", args),
});

/** The most bans one `bans` answer lists (server-wide ones first). */
export const MAX_BANS_LISTED = 200;

/** `bans`: the bans in force, with who set them, when, until when and why. */
export const bans: Command = {
  name: "bans",
  usage: "bans",
  summary: "list the bans: target, who set it, when, its end, the reason",
  details: [
    "Server operators see every ban; others, this room's.",
    `At most ${MAX_BANS_LISTED} at a time, server-wide ones first.`,
  ],
  loginRequired: true,
  role: "roomModerator",
  run({ moderation, user, session, registry }) {
    const all = moderation.isOperator(user.account);
    const found = moderation.list("ban").filter((b) =>
      all || b.room === user.room!.key
    );
    if (found.length === 0) {
      session.reply(TEXT.noBans);
      return;
    }
    // Server-wide first. Rooms' bans are bounded per room, not in all, and
    // each line can carry a long reason: an answer past the output bound
    // would drop the operator who asked.
    const shown = [
      ...found.filter((b) => b.room === ""),
      ...found.filter((b) => b.room !== ""),
    ].slice(0, MAX_BANS_LISTED);
    const more = found.length - shown.length;
    session.reply(
      TEXT.bansHeader,
      ...shown.map((b) =>
        TEXT.banLine(
          b.label,
          TEXT.scope(roomShown(registry, b.room)),
          b.by,
          formatDate(b.at),
          untilText(b.until),
          b.reason,
        )
      ),
      ...(more > 0 ? [TEXT.moreBans(more)] : []),
    );
  },
};

/** `mute NAME [DURATION] [REASON]`. */
export const mute: Command = takesName({
  name: "mute",
  usage: "mute NAME [DURATION] [REASON]",
  summary:
    "NAME still reads but cannot say, me, msg, reply, set a topic, nick or away",
  details: [
    "A server operator's mute is server-wide; anyone else's, for this room.",
    DURATION_HELP,
  ],
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => sanction(ctx, "mute", args),
});

/** `unmute NAME`. */
export const unmute: Command = takesName({
  name: "unmute",
  usage: "unmute NAME",
  summary: "lift a mute",
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => lift(ctx, "mute", args),
});

/** `modlog [N]`: who did what to whom, when and why. */
export const modlog: Command = {
  name: "modlog",
  usage: "modlog [N]",
  summary: `the last N moderation actions (default ${MODLOG_DEFAULT})`,
  details: [
    "Server operators see all of it; others, this room's.",
    `At most ${MODLOG_MAX} at a time.`,
  ],
  loginRequired: true,
  role: "roomModerator",
  async run({ moderation, user, store, session, registry }, args) {
    let limit = MODLOG_DEFAULT;
    if (args !== "") {
      if (!/^\d{1,4}$/.test(args) || Number(args) < 1) {
        throw new ChatError(TEXT.usage(modlog.usage));
      }
      limit = Math.min(Number(args), MODLOG_MAX);
    }
    const entries = await store.modlog({
      limit,
      room: moderation.isOperator(user.account) ? undefined : user.room!.key,
    });
    if (entries.length === 0) {
      session.reply(TEXT.noModlog);
      return;
    }
    session.reply(
      TEXT.modlogHeader,
      ...entries.map((e) =>
        TEXT.modlogLine(
          formatDate(e.at),
          e.actor,
          e.action,
          // A claim is of its room, lockdown of the whole server: "bob claim
          // on "den"", "root lockdown on", not "den on "den"", "on on ...".
          e.action === "claim" || e.action === "unclaim" ? "" : e.target,
          e.action === "lockdown"
            ? ""
            : TEXT.scope(roomShown(registry, e.room)),
          // A ban or mute for good says so; a kick, an op ... have no end.
          e.until !== null || e.action === "ban" || e.action === "mute"
            ? untilText(e.until)
            : null,
          e.reason,
        )
      ),
    );
  },
};

/** `lockdown [on|off]`: only registered users may log in. */
export const lockdown: Command = {
  name: "lockdown",
  usage: "lockdown [on|off]",
  summary: "while on, only registered users may log in (for a wave of bots)",
  loginRequired: true,
  role: "operator",
  async run(ctx, args) {
    const { moderation, session, user } = ctx;
    const wanted = args.toLowerCase();
    if (wanted !== "" && wanted !== "on" && wanted !== "off") {
      throw new ChatError(TEXT.usage(lockdown.usage));
    }
    if (wanted !== "") {
      await moderation.setLockdown(wanted === "on");
      await ctx.cluster?.announce({ kind: "moderation" });
      await moderation.log({
        actor: user.name,
        action: "lockdown",
        target: wanted,
        room: "",
        reason: "",
        until: null,
      });
    }
    session.reply(TEXT.lockdownIs(moderation.lockdown));
  },
};

/** `op NAME`: a registered name becomes a server operator. */
export const op: Command = takesName({
  name: "op",
  usage: "op NAME",
  summary: "make a registered user a server operator",
  loginRequired: true,
  needsArgs: true,
  role: "operator",
  run: (ctx, name) => serverOperator(ctx, name, true),
});

/** `deop NAME`: no longer a server operator. */
export const deop: Command = takesName({
  name: "deop",
  usage: "deop NAME",
  summary: "a server operator is one no more",
  loginRequired: true,
  needsArgs: true,
  role: "operator",
  run: (ctx, name) => serverOperator(ctx, name, false),
});

/** `op` (`on`) and `deop`. */
async function serverOperator(
  ctx: UserContext,
  name: string,
  on: boolean,
): Promise<void> {
  const { moderation, session, user } = ctx;
  const command = on ? "op" : "deop";
  const account = await accountNamed(ctx, name);
  // Deop'd while the name was looked up: no operator makes one (one deop'd
  // would otherwise op an account of theirs to come back through), nor
  // unmakes one.
  operatorStill(ctx, command);
  if (on === moderation.isOperator(account.key)) {
    throw new ChatError(
      on ? TEXT.alreadyOperator(account.name) : TEXT.notOperator(account.name),
    );
  }
  await moderation.setOperator(account.key, on);
  await moderation.log({
    actor: user.name,
    action: command,
    target: account.name,
    room: "",
    reason: "",
    until: null,
  });
  session.reply(
    on ? TEXT.nowOperator(account.name) : TEXT.noLongerOperator(account.name),
  );
  await announceTo(ctx, { kind: "moderation" }, {
    key: account.key,
    text: on ? TEXT.youAreOperator : TEXT.youAreNoLongerOperator,
    // One who deops themselves has just been told, by the reply; one who
    // ops has been an operator all along, so is never the account op'd.
    except: on ? null : user,
  });
}

/**
 * The most rooms one account may own (server operators: any number). A
 * claimed room stays in memory, in `rooms` and in the store for good, so
 * one account claiming room after room would grow all three without bound;
 * ergo's `max-channels-per-account` is 15 by default.
 */
export const MAX_CLAIMS_PER_ACCOUNT = 15;

/** `claim`: the room you are in becomes yours, if nobody owns it. */
export const claim: Command = {
  name: "claim",
  usage: "claim",
  summary: "own this room: it stays, with its topic, even when empty",
  details: [
    "Its owner names room operators (roomop) and can unclaim it.",
    `An account may own at most ${MAX_CLAIMS_PER_ACCOUNT} rooms.`,
  ],
  loginRequired: true,
  role: "registered",
  async run(ctx) {
    const { user, store, session, moderation } = ctx;
    const room = user.room!;
    if (room.key === MAIN_ROOM) throw new ChatError(TEXT.mainIsOperators);
    if (room.owner !== null) {
      throw new ChatError(TEXT.roomOwned(room.name, room.owner));
    }
    // One session per account reads its lines in turn, so the count cannot
    // change between this read and the claim.
    if (!moderation.isOperator(user.account)) {
      const owned = (await store.claimedRooms())
        .filter((claimed) => claimed.owner === user.account).length;
      if (owned >= MAX_CLAIMS_PER_ACCOUNT) {
        throw new ChatError(TEXT.tooManyClaims(MAX_CLAIMS_PER_ACCOUNT));
      }
    }
    if (!await store.claimRoom(room.key, room.name, user.account!)) {
      throw new ChatError(TEXT.roomOwned(room.name, "someone"));
    }
    // Kicked or banned out of the room while the claim waited for the
    // store: owning it, they would walk back in past the ban.
    if (user.room !== room) {
      try {
        await store.unclaimRoom(room.key);
      } catch (error) {
        if (!(error instanceof StoreUnavailable)) throw error;
        // The store keeps the claim (its disk is full, say): so does this
        // server. Else the two disagree until the next start, when the
        // store's claim wins anyway, and meanwhile nobody can claim the
        // room (the store says it is owned) nor unclaim it (here it is not).
        log("moderation").warn(
          "The claim of {room} by {owner} could not be undone ({error}): it holds",
          { room: room.name, owner: user.name, error: error.message },
        );
        room.owner = user.account;
        room.operators.clear();
        throw new ChatError(TEXT.claimKept(room.name));
      }
      throw new ChatError(TEXT.claimMovedOut(room.name));
    }
    room.owner = user.account;
    // A new owner starts with no room operators, as the store says: none
    // left from before (a roomop that raced the last unclaim) is theirs.
    room.operators.clear();
    await ctx.cluster?.announce({ kind: "rooms" });
    await moderation.log({
      actor: user.name,
      action: "claim",
      target: room.name,
      room: room.key,
      reason: "",
      until: null,
    });
    session.reply(TEXT.claimedRoom(room.name));
  },
};

/** `unclaim`: the room has no owner any more. */
export const unclaim: Command = {
  name: "unclaim",
  usage: "unclaim",
  summary: "give this room up: it goes when empty, as other rooms do",
  loginRequired: true,
  role: "roomOwner",
  async run(ctx) {
    const { user, store, session, moderation, registry } = ctx;
    const room = user.room!;
    if (room.owner === null) throw new ChatError(TEXT.notClaimed(room.name));
    await store.unclaimRoom(room.key);
    room.owner = null;
    room.operators.clear();
    await ctx.cluster?.announce({ kind: "rooms" });
    await moderation.log({
      actor: user.name,
      action: "unclaim",
      target: room.name,
      room: room.key,
      reason: "",
      until: null,
    });
    session.reply(TEXT.unclaimedRoom(room.name));
    registry.dropIfEmpty(room);
  },
};

async function roomOperator(
  ctx: UserContext,
  name: string,
  on: boolean,
): Promise<void> {
  const { user, store, session, moderation } = ctx;
  const room = user.room!;
  if (room.key === MAIN_ROOM) throw new ChatError(TEXT.mainIsOperators);
  if (room.owner === null) throw new ChatError(TEXT.notClaimed(room.name));
  const account = await accountNamed(ctx, validateName(name));
  // Checked again after the store read: a room unclaimed meanwhile (and
  // perhaps claimed by someone else) must not get, or keep in the store for
  // its next owner, a room operator its old owner named.
  if (room.owner === null) throw new ChatError(TEXT.notClaimed(room.name));
  if (
    user.room !== room || !moderation.allows(user.account, "roomOwner", room)
  ) {
    throw new ChatError(roleRefusal("roomOwner", on ? "roomop" : "roomdeop"));
  }
  if (on === room.operators.has(account.key)) {
    throw new ChatError(
      on
        ? TEXT.alreadyRoomOperator(account.name, room.name)
        : TEXT.notRoomOperator(account.name, room.name),
    );
  }
  await store.setRoomOperator(room.key, account.key, on);
  if (on) room.operators.add(account.key);
  else room.operators.delete(account.key);
  await moderation.log({
    actor: user.name,
    action: on ? "roomop" : "roomdeop",
    target: account.name,
    room: room.key,
    reason: "",
    until: null,
  });
  const line = on
    ? TEXT.nowRoomOperator(account.name, room.name)
    : TEXT.noLongerRoomOperator(account.name, room.name);
  session.reply(line);
  await announceTo(ctx, { kind: "rooms" }, {
    key: account.key,
    text: line,
    except: user,
  });
}

/**
 * Announces what a moderator changed to every server of a cluster, with a
 * line for the account's user if online (unless that is `except`): shown
 * here at once, or by the server holding them once it has reloaded what
 * changed (told before, they could be refused what they were just told
 * they may do).
 */
async function announceTo(
  ctx: UserContext,
  announcement: { kind: "moderation" | "rooms" },
  notice: { key: string; text: string; except: User | null },
): Promise<void> {
  const here = ctx.registry.find(notice.key);
  if (here !== undefined && here !== notice.except) here.notice(notice.text);
  await ctx.cluster?.announce({
    ...announcement,
    notice: here === undefined
      ? { key: notice.key, text: notice.text }
      : undefined,
  });
}

/** `roomop NAME`: a registered user becomes a room operator here. */
export const roomop: Command = takesName({
  name: "roomop",
  usage: "roomop NAME",
  summary: "make a registered user a room operator of this room",
  loginRequired: true,
  needsArgs: true,
  role: "roomOwner",
  run: (ctx, name) => roomOperator(ctx, name, true),
});

/** `roomdeop NAME`: no longer a room operator here. */
export const roomdeop: Command = takesName({
  name: "roomdeop",
  usage: "roomdeop NAME",
  summary: "a room operator of this room is one no more",
  loginRequired: true,
  needsArgs: true,
  role: "roomOwner",
  run: (ctx, name) => roomOperator(ctx, name, false),
});

/**
 * The moderation commands, by the word that runs them: kept apart from the
 * commands everyone has (`COMMANDS`), since help lists each only to those
 * whose role allows it.
 */
export const MODERATION: ReadonlyMap<string, Command> = new Map(
  [
    claim,
    unclaim,
    roomop,
    roomdeop,
    kick,
    ban,
    unban,
    bans,
    mute,
    unmute,
    modlog,
    lockdown,
    op,
    deop,
  ].map((command) => [command.name, command]),
);
