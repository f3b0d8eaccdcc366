import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import type { User } from "../room.ts";
import { TEXT } from "../text.ts";
import { leaveMessage } from "./accounts.ts";
import {
  type Command,
  findHere,
  splitWord,
  takesName,
  type UserContext,
} from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/**
 * Sends a private message: the recipient sees who sent it and that it is
 * private (unless ignoring the sender, who is not told); the sender sees an
 * echo, and the recipient's away message if any.
 */
export function sendPrivate(
  ctx: UserContext,
  target: User,
  text: string,
): void {
  const { user, session, registry } = ctx;
  if (target === user) throw new ChatError(TEXT.privateToSelf);
  checkNotMuted(ctx, null);
  session.show(registry.privateMessage(user, target, text));
  if (target.away !== null) {
    session.reply(TEXT.isAway(target.name, target.away));
  }
  session.spoke();
}

/**
 * Sends a private message to `name` on another server of the cluster, if
 * someone there has it: the name it reached them under, or null if nobody
 * has it. Refused while the other servers cannot be reached. With
 * `session` (a reply to a guest), only to that session: null if someone
 * else holds the name now.
 */
export async function sendElsewhere(
  ctx: UserContext,
  name: string,
  text: string,
  options: { session?: string | null } = {},
): Promise<string | null> {
  const { cluster, session, user } = ctx;
  if (!cluster) return null;
  // To a session, it is theirs whatever the name (one they gave up may be
  // the sender's by now).
  if (options.session == null && foldName(name) === user.key) {
    throw new ChatError(TEXT.privateToSelf);
  }
  checkNotMuted(ctx, null);
  if (!cluster.up) throw new ChatError(TEXT.clusterAway(name));
  const sent = await cluster.privateMessage(user, name, text, options);
  if (sent === null) return null;
  if (!sent.heard) throw new ChatError(TEXT.notDelivered(sent.event.to));
  session.show(sent.event);
  if (sent.away !== null) {
    session.reply(TEXT.isAway(sent.event.to, sent.away));
  }
  session.spoke();
  return sent.event.to;
}

/** `msg NAME TEXT`: a private message. */
export const msg: Command = takesName({
  name: "msg",
  usage: "msg NAME TEXT",
  summary: "send TEXT to NAME only",
  details: [
    'The recipient sees "[private] YOU: TEXT"; "reply" answers.',
    "To a registered name that is offline, it waits for their next login.",
  ],
  loginRequired: true,
  needsArgs: true,
  async run(ctx, args) {
    const [name, text] = splitWord(args);
    if (text === "") throw new ChatError(TEXT.usage(msg.usage));
    // In a cluster, through Redis even to a user here: it gives the message
    // its place among the room events, as a page orders them.
    const target = ctx.registry.find(name);
    if (target !== undefined && !ctx.cluster?.up) {
      return sendPrivate(ctx, target, text);
    }
    if (await sendElsewhere(ctx, name, text)) return;
    // Here and in a room, but not yet so in Redis (a login just done, its
    // move on its way): delivered here, as reply does.
    const here = findHere(ctx.registry, name);
    if (here) return sendPrivate(ctx, here, text);
    // Not online: kept for an account, refused for anyone else.
    const account = await ctx.store.accountFor(foldName(name), "");
    // Logged in here while the account was read: their login's read of
    // what waits for them may be done already, so it goes to them now.
    // Nobody here, it is kept with no await from here to the write, which
    // the store makes before a login's read that comes after.
    const since = findHere(ctx.registry, name);
    if (since) return sendPrivate(ctx, since, text);
    if (account === null) throw new ChatError(TEXT.noSuchUser(name));
    checkNotMuted(ctx, null);
    await leaveMessage(ctx, account, text);
  },
});
