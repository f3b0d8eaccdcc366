/**
 * What every moderation command shares: the line for a role one lacks, how
 * a room is named in moderation lines, and the guard rails (not oneself,
 * not a server operator, not the room's owner) that a kick, ban or mute
 * keeps.
 *
 * @module
 */

import { ChatError } from "../errors.ts";
import type { Role } from "../moderation.ts";
import type { Registry } from "../registry.ts";
import type { User } from "../room.ts";
import { TEXT } from "../text.ts";
import type { UserContext } from "./command.ts";

/** The reason when none is given. */
export const NO_REASON = "no reason given";

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

/** What a ban, unban, mute or unmute is aimed at. */
export interface Target {
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

/** The guard rails: not oneself, not a server operator, not the owner. */
export function guard(ctx: UserContext, action: string, target: Target): void {
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
