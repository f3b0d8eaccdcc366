import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { msg, sendElsewhere, sendPrivate } from "./msg.ts";

/** `reply TEXT`: a private message to whoever sent you the last one. */
export const reply: Command = {
  name: "reply",
  usage: "reply TEXT",
  summary: "send TEXT privately to the last person who messaged you",
  loginRequired: true,
  needsArgs: true,
  async run(ctx, text) {
    const from = ctx.user.lastPrivateFrom;
    if (from === null) throw new ChatError(TEXT.noReplyTarget);
    if (from.user !== null && ctx.registry.isOnline(from.user)) {
      // In a cluster through Redis, as msg goes (it gives the message its
      // place among the room events), to their session under its name now.
      if (ctx.cluster?.up && from.session != null) {
        const sent = await sendElsewhere(ctx, from.user.name, text, {
          session: from.session,
        });
        if (sent) return;
        // Still here, but not (yet) in Redis under that session: just after
        // Redis came back, or in the middle of a rename. Delivered here, as
        // while Redis is away.
        if (!ctx.registry.isOnline(from.user)) {
          throw new ChatError(TEXT.replyGone(from.user.name));
        }
      }
      return sendPrivate(ctx, from.user, text);
    }
    // An account's name is its owner's: the reply goes as "msg" would send
    // it, online again or kept for their next login (an offline message's
    // sender may well be away by now). A guest's is not: it goes to the
    // same user, not to whoever has taken the name since.
    const owner = from.user === null || from.user.account !== null;
    const account = owner
      ? await ctx.store.accountFor(foldName(from.name), "")
      : null;
    // Not one made under the name after the message came: someone else's.
    if (account !== null && account.created <= from.at) {
      return msg.run(ctx, `${from.name} ${text}`);
    }
    // Gone: named as they were last known (a rename since was shown), not
    // as they were called when they wrote; someone may have the name by now.
    if (from.user !== null) {
      throw new ChatError(TEXT.replyGone(from.user.name));
    }
    // An account made under the name since they wrote: someone else's.
    if (account !== null) throw new ChatError(TEXT.replyGone(from.name));
    const { cluster } = ctx;
    let session = from.session;
    if (session == null) {
      // An offline message's guest sender: the one online under the name,
      // if online since before they wrote (names are unique among those
      // online); one who logged in after took the name of someone gone.
      if (!cluster?.up) {
        const here = ctx.registry.find(from.name);
        if (here === undefined) throw new ChatError(TEXT.noSuchUser(from.name));
        if (here.sinceDate > from.at) {
          throw new ChatError(TEXT.replyGone(from.name));
        }
        return sendPrivate(ctx, here, text);
      }
      const holder = await cluster.find(from.name);
      if (holder === null) throw new ChatError(TEXT.noSuchUser(from.name));
      if (holder.key === ctx.user.key) throw new ChatError(TEXT.privateToSelf);
      if (holder.since > from.at || holder.login === undefined) {
        throw new ChatError(TEXT.replyGone(from.name));
      }
      session = holder.login;
    }
    // To their session (here or on another server), not whoever has the
    // name now.
    const to = await sendElsewhere(ctx, from.name, text, { session });
    if (to === null) {
      // Gone, as on one server: said so, named as last known (someone else
      // may be online under the name by now).
      throw new ChatError(
        from.session == null
          ? TEXT.noSuchUser(from.name)
          : TEXT.replyGone(from.name),
      );
    }
    // Known by the name it reached them under (a change of name shown in a
    // room they share, or not), for a reply after they have gone.
    if (ctx.user.lastPrivateFrom === from && to !== from.name) {
      ctx.user.lastPrivateFrom = { ...from, name: to };
    }
  },
};
