/**
 * Moderation: server operators anywhere, room owners and room operators in
 * their own room. Each command says in the table which role it needs; the
 * dispatcher checks it once, and `help` lists a command only to those who
 * may use it.
 *
 * What a moderator does to others goes in the moderation log, and bans,
 * mutes, operators and claimed rooms are kept in the store.
 *
 * Here: `kick`, `modlog`, `lockdown`, `op` and `deop`, a room's owner's
 * `claim`, `unclaim`, `roomop` and `roomdeop`, and the table of them all
 * with bans and mutes (`sanctions.ts`); what they share is in
 * `moderation_rules.ts`. What other modules use of these is exported here.
 *
 * @module
 */

import { ChatError } from "../errors.ts";
import { foldName, validateName } from "../names.ts";
import { MAIN_ROOM, type Registry } from "../registry.ts";
import type { User } from "../room.ts";
import { log } from "../log.ts";
import { StoreUnavailable } from "../store/store.ts";
import { formatDate, TEXT } from "../text.ts";
import {
  type Command,
  findElsewhere,
  findHere,
  splitWord,
  takesName,
  takesOneName,
  type UserContext,
} from "./command.ts";
import {
  guard,
  NO_REASON,
  roleRefusal,
  roomShown,
} from "./moderation_rules.ts";
import {
  ban,
  bans,
  mute,
  mutes,
  unban,
  unmute,
  untilText,
} from "./sanctions.ts";

export { roleRefusal, roomShown } from "./moderation_rules.ts";
export {
  applyLift,
  applySanction,
  checkNotMuted,
  parseSanction,
  sanctionText,
  subjectOf,
} from "./sanctions.ts";

/** What `modlog` shows when not told how many, and at most. */
const MODLOG_DEFAULT = 20;
const MODLOG_MAX = 200;

/**
 * Writes the moderation log's entry for what the user just did that has
 * neither a reason nor an end (a lockdown, an op, a claim, a roomop).
 */
function logAction(
  ctx: UserContext,
  entry: { action: string; target: string; room: string },
): Promise<void> {
  return ctx.moderation.log({
    actor: ctx.user.name,
    action: entry.action,
    target: entry.target,
    room: entry.room,
    reason: "",
    until: null,
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
    // Here in no room (null), there is no room to kick them from.
    const found = findHere(registry, name);
    const here = found ?? undefined;
    // On another server of the cluster: that server kicks them.
    const elsewhere = found === undefined
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
      const heard = await cluster!.control(elsewhere!.node, {
        kind: "kick",
        key: elsewhere!.key,
        name: targetName,
        login: elsewhere!.login,
        by: user.name,
        reason,
        room: roomKey,
        roomName,
        from: { node: cluster!.nodeId, key: user.key },
        // An operator kicking from elsewhere does not see the room's line.
        tell: roomKey !== user.room!.key,
      });
      // As a private message to them is answered: their server has died,
      // and they will be gone from the cluster in a moment.
      if (!heard) throw new ChatError(TEXT.kickNotDelivered(targetName));
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
      if (!/^\d+$/.test(args) || Number(args) < 1) {
        throw new ChatError(TEXT.usage(modlog.usage));
      }
      limit = Number(args);
      // As history answers: a number past the most is told, not cut quietly.
      if (limit > MODLOG_MAX) {
        throw new ChatError(TEXT.historyTooMany(MODLOG_MAX));
      }
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
    const { moderation, session } = ctx;
    const wanted = args.toLowerCase();
    if (wanted !== "" && wanted !== "on" && wanted !== "off") {
      throw new ChatError(TEXT.usage(lockdown.usage));
    }
    if (wanted !== "") {
      await moderation.setLockdown(wanted === "on");
      await ctx.cluster?.announce({ kind: "moderation" });
      await logAction(ctx, {
        action: "lockdown",
        target: wanted,
        room: "",
      });
    }
    session.reply(TEXT.lockdownIs(moderation.lockdown));
  },
};

/** `op NAME`: a registered name becomes a server operator. */
export const op: Command = takesOneName({
  name: "op",
  usage: "op NAME",
  summary: "make a registered user a server operator",
  loginRequired: true,
  needsArgs: true,
  role: "operator",
  run: (ctx, name) => serverOperator(ctx, name, true),
});

/** `deop NAME`: no longer a server operator. */
export const deop: Command = takesOneName({
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
  await logAction(ctx, {
    action: command,
    target: account.name,
    room: "",
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
      const claimed = await store.claimedRooms();
      const owned = claimed
        .filter((room) => room.owner === user.account).length;
      if (owned >= MAX_CLAIMS_PER_ACCOUNT) {
        throw new ChatError(TEXT.tooManyClaims(MAX_CLAIMS_PER_ACCOUNT));
      }
      // In all, too: accounts are 5 an hour per address, each with its 15,
      // and every claimed room stays in memory (some 2 KiB), in `rooms` and
      // in the store for good. Others' claims can come between this read
      // and this claim, so it may be passed by a few.
      const max = ctx.config.maxClaimedRooms;
      if (max > 0 && claimed.length >= max) {
        throw new ChatError(TEXT.serverClaimsFull(max));
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
    await logAction(ctx, {
      action: "claim",
      target: room.name,
      room: room.key,
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
    const { user, store, session, registry } = ctx;
    const room = user.room!;
    if (room.owner === null) throw new ChatError(TEXT.notClaimed(room.name));
    await store.unclaimRoom(room.key);
    room.owner = null;
    room.operators.clear();
    await ctx.cluster?.announce({ kind: "rooms" });
    await logAction(ctx, {
      action: "unclaim",
      target: room.name,
      room: room.key,
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
  await logAction(ctx, {
    action: on ? "roomop" : "roomdeop",
    target: account.name,
    room: room.key,
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
export const roomop: Command = takesOneName({
  name: "roomop",
  usage: "roomop NAME",
  summary: "make a registered user a room operator of this room",
  loginRequired: true,
  needsArgs: true,
  role: "roomOwner",
  run: (ctx, name) => roomOperator(ctx, name, true),
});

/** `roomdeop NAME`: no longer a room operator here. */
export const roomdeop: Command = takesOneName({
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
    mutes,
    modlog,
    lockdown,
    op,
    deop,
  ].map((command) => [command.name, command]),
);
