import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { sendElsewhere, sendPrivate } from "./msg.ts";

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
    if (from.user !== null) {
      // Here: the same user, not whoever has taken the name since.
      if (!ctx.registry.isOnline(from.user)) {
        throw new ChatError(TEXT.noSuchUser(from.name));
      }
      return sendPrivate(ctx, from.user, text);
    }
    if (!await sendElsewhere(ctx, from.name, text)) {
      throw new ChatError(TEXT.noSuchUser(from.name));
    }
  },
};
