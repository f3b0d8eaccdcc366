/**
 * Bans and mutes: `ban`, `unban`, `bans`, `mute`, `unmute` and `mutes`, and
 * what the rest of the server asks of a sanction: whether a user is muted
 * (`checkNotMuted`), the line a sanctioned user sees (`sanctionText`), and
 * acting on the users a new one matches (`applySanction`) or a lifted one
 * held (`applyLift`).
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
  type Subject,
} from "../moderation.ts";
import { foldName } from "../names.ts";
import { MAIN_ROOM, type Registry } from "../registry.ts";
import type { Room, User } from "../room.ts";
import type { Sanction, SanctionKind } from "../store/store.ts";
import { formatDate, formatMoment, TEXT } from "../text.ts";
import {
  type Command,
  type Context,
  splitWord,
  takesName,
  type UserContext,
} from "./command.ts";
import {
  guard,
  NO_REASON,
  roleRefusal,
  roomShown,
  type Target,
} from "./moderation_rules.ts";

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
  // Only a server-wide ban shuts a server operator out (room bans and
  // mutes do not hold them): for anything else their address is nobody's
  // business, and a refusal would let a room's moderator find where an
  // operator is (or last was) by halving blocks.
  const serverBan = record.kind === "ban" && record.room === "";
  const shielded = new Set(serverBan ? moderation.operators : []);
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

/**
 * `ban` or `mute` (`kind`): the target resolved and checked (the role and
 * the guard rails again after the lookups' waits), then the sanction kept,
 * logged, acted on here and announced to the other servers of a cluster.
 */
async function sanction(
  ctx: UserContext,
  kind: SanctionKind,
  args: string,
): Promise<void> {
  const { user, moderation, clock, session } = ctx;
  const { typed, ms, reason } = parseSanction(args);
  const target = await resolve(ctx, typed);
  guard(ctx, kind, target);
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
      TEXT.sanctionMatchesShielded(kind, shielded.name, shielded.operator),
    );
  }
  // The role was checked, and the scope read, before the target was looked
  // up in the store: a moderator kicked out of the room meanwhile (to main,
  // which only server operators moderate), roomdeop'd or deop'd, sets
  // nothing, rather than a ban in a room they were never given.
  stillModerates(ctx, scope, kind);
  guard(ctx, kind, target);
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
    action: kind,
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
  await ctx.cluster?.announce({
    kind: "moderation",
    sanction: record,
    roomName: scope.room?.name,
    roomOwner: scope.room?.owner ?? null,
  });
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
  roomOwner?: string | null,
): void {
  const { registry, moderation } = ctx;
  const line = sanctionText(record, roomName);
  const owner = ownerOf(registry, record, roomOwner);
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

/**
 * `unban` or `unmute`: also of a guest who has gone, found by the name
 * their sanction's label keeps, and of one named by that label whole.
 */
async function lift(
  ctx: UserContext,
  kind: SanctionKind,
  typed: string,
): Promise<void> {
  const { user, moderation, session } = ctx;
  const scope = scopeOf(ctx);
  // A server operator moderates every room: in one, they also lift the
  // room's own ban or mute (once the server holds none on the target), as
  // its owner would. Else what an owner set and then gave the room up over
  // could be lifted by nobody, while `bans` showed it to the operator.
  const scopes: { room: Room | null; key: string }[] = [scope];
  if (scope.key === "" && user.room !== null && user.room.key !== MAIN_ROOM) {
    scopes.push({ room: user.room, key: user.room.key });
  }
  // Found by its label, the sanction listed is the one lifted: not another
  // on its address elsewhere (the server's, found first).
  let labelled: string | null = null;
  const target: Target = await resolve(ctx, typed).catch((error) => {
    // A guest who has gone is no name any more, but their ban still carries
    // it: "mal (192.0.2.7)". That label whole, as `bans` and `mutes` list
    // it (copied from there), names the same one, gone or not.
    const key = foldName(typed);
    const whole = foldName(typed.replace(/\s+/g, " "));
    const held = moderation.list(kind).find((sanction) =>
      scopes.some((s) => s.key === sanction.room) &&
      sanction.label.includes(" (") &&
      (foldName(sanction.label.split(" (")[0]) === key ||
        foldName(sanction.label) === whole)
    );
    if (held === undefined) {
      if (error instanceof ChatError && /^\S+ \(\S+\)$/.test(whole)) {
        // A label, as listed, of nothing here: answered as one.
        const where = TEXT.scopes(scopes.map((s) => s.room?.name ?? null));
        const label = typed.trim().replace(/\s+/g, " ");
        throw new ChatError(
          kind === "ban"
            ? TEXT.notBanned(label, where)
            : TEXT.notMuted(label, where),
        );
      }
      // More words than a target and no label: a slip in the usage
      // ("unmute bob now"), not a search for "bob now" while bob is here.
      if (error instanceof ChatError && /\s/.test(typed)) {
        throw new ChatError(
          TEXT.usage(kind === "ban" ? unban.usage : unmute.usage),
        );
      }
      throw error;
    }
    labelled = held.room;
    return { target: held.target, label: held.label };
  });
  // As at ban: one roomdeop'd, deop'd or kicked out of the room while the
  // name was looked up lifts nothing.
  stillModerates(ctx, scope, `un${kind}`);
  let lifted: Sanction | null = null;
  let from = scope;
  const searched: (string | null)[] = [];
  for (const s of scopes) {
    // A room's only while the operator is still in it.
    if (s.key !== "" && user.room !== s.room) continue;
    if (labelled !== null && s.key !== labelled) continue;
    searched.push(s.room?.name ?? null);
    lifted = await moderation.remove(kind, s.key, target.target);
    if (lifted !== null) {
      from = s;
      break;
    }
  }
  if (lifted === null) {
    // Each place looked in: an operator's "not banned from this server"
    // read as if the room they are in had not been.
    // None, for a room's label after its operator left it meanwhile: that
    // room is where it was looked for.
    const where = TEXT.scopes(
      searched.length > 0
        ? searched
        : [scopes.find((s) => s.key === labelled)?.room?.name ?? null],
    );
    throw new ChatError(
      kind === "ban"
        ? TEXT.notBanned(target.label, where)
        : TEXT.notMuted(target.label, where),
    );
  }
  const where = TEXT.scope(from.room?.name ?? null);
  await moderation.log({
    actor: user.name,
    action: kind === "ban" ? "unban" : "unmute",
    target: target.label,
    room: from.key,
    reason: "",
    until: null,
  });
  session.reply(
    kind === "ban"
      ? TEXT.unbannedThem(target.label, where)
      : TEXT.unmutedThem(target.label, where),
  );
  applyLift(ctx, lifted, from.room?.name ?? "", user);
  // The other servers of a cluster reload it, and tell their users.
  await ctx.cluster?.announce({
    kind: "moderation",
    lifted,
    roomName: from.room?.name,
    roomOwner: from.room?.owner ?? null,
  });
}

/**
 * Tells this server's users whom a lifted mute held (but `actor` and
 * operators) that they may speak again: everyone it matched was told of it,
 * an address's or a block's users too, not only the one a name picked. Not
 * one whom another mute still holds there (their account's, a wider
 * block's), nor those it never held. A lifted ban tells nobody. Every
 * server of a cluster does it for its own users, once it has reloaded (told
 * before, a line of theirs could still be refused as muted).
 */
export function applyLift(
  ctx: Pick<Context, "registry" | "moderation">,
  lifted: Sanction,
  roomName: string,
  actor: User | null,
  roomOwner?: string | null,
): void {
  if (lifted.kind !== "mute") return;
  const { registry, moderation } = ctx;
  const line = TEXT.unmutedYou(lifted.room === "" ? null : roomName);
  const owner = ownerOf(registry, lifted, roomOwner);
  for (const other of matching(ctx, lifted)) {
    if (other === actor || moderation.isOperator(other.account)) continue;
    if (owner !== null && other.account === owner) continue;
    const subject = subjectOf(other);
    // Still muted there, or (a room's mute lifted) on the whole server:
    // told they may speak, their next line would be refused.
    if (moderation.find("mute", lifted.room, subject) !== null) continue;
    if (lifted.room !== "" && moderation.find("mute", "", subject) !== null) {
      continue;
    }
    other.notice(line);
  }
}

/**
 * A room sanction's room's owner (exempt from it): as the room is open
 * here, else as the moderator's server announced it (`announced`), since a
 * server of a cluster with nobody in the room does not have it.
 */
function ownerOf(
  registry: Registry,
  sanction: Sanction,
  announced: string | null | undefined,
): string | null {
  if (sanction.room === "") return null;
  return registry.rooms.get(sanction.room)?.owner ?? announced ?? null;
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
  details: [
    "A server operator lifts the server-wide ban; if there is none and they are in a room, that room's.",
    'A guest may be named as "bans" lists them: NAME (ADDRESS).',
  ],
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => lift(ctx, "ban", args),
});

/**
 * The most bans (or mutes) one `bans` (or `mutes`) answer lists,
 * server-wide ones first.
 */
export const MAX_BANS_LISTED = 200;

/** What `bans` and `mutes` answer with. */
const LISTING = {
  ban: {
    none: TEXT.noBans,
    header: TEXT.bansHeader,
    line: TEXT.banLine,
    more: TEXT.moreBans,
  },
  mute: {
    none: TEXT.noMutes,
    header: TEXT.mutesHeader,
    line: TEXT.muteLine,
    more: TEXT.moreMutes,
  },
} as const;

/**
 * `bans` or `mutes` (`kind`): those in force (an ended one is dropped by
 * `list`), every one for a server operator, the room's for its owner and
 * room operators.
 */
function listSanctions(ctx: UserContext, kind: SanctionKind): void {
  const { moderation, user, session, registry } = ctx;
  const text = LISTING[kind];
  const all = moderation.isOperator(user.account);
  const found = moderation.list(kind).filter((s) =>
    all || s.room === user.room!.key
  );
  if (found.length === 0) {
    session.reply(text.none);
    return;
  }
  // Server-wide first. Rooms' sanctions are bounded per room, not in all,
  // and each line can carry a long reason: an answer past the output bound
  // would drop the operator who asked.
  const shown = [
    ...found.filter((s) => s.room === ""),
    ...found.filter((s) => s.room !== ""),
  ].slice(0, MAX_BANS_LISTED);
  const more = found.length - shown.length;
  session.reply(
    text.header,
    ...shown.map((s) =>
      text.line(
        s.label,
        TEXT.scope(roomShown(registry, s.room)),
        s.by,
        formatDate(s.at),
        untilText(s.until),
        s.reason,
      )
    ),
    ...(more > 0 ? [text.more(more)] : []),
  );
}

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
  run: (ctx) => listSanctions(ctx, "ban"),
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
  details: [
    "A server operator lifts the server-wide mute; if there is none and they are in a room, that room's.",
    'A guest may be named as "mutes" lists them: NAME (ADDRESS).',
  ],
  loginRequired: true,
  needsArgs: true,
  role: "roomModerator",
  run: (ctx, args) => lift(ctx, "mute", args),
});

/** `mutes`: the mutes in force, as `bans` lists the bans. */
export const mutes: Command = {
  name: "mutes",
  usage: "mutes",
  summary: "list the mutes: target, who set it, when, its end, the reason",
  details: [
    "Server operators see every mute; others, this room's.",
    `At most ${MAX_BANS_LISTED} at a time, server-wide ones first.`,
  ],
  loginRequired: true,
  role: "roomModerator",
  run: (ctx) => listSanctions(ctx, "mute"),
};
