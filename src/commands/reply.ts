import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { sendPrivate } from "./msg.ts";

/** `reply TEXT`: a private message to whoever sent you the last one. */
export const reply: Command = {
  name: "reply",
  usage: "reply TEXT",
  summary: "send TEXT privately to the last person who messaged you",
  loginRequired: true,
  needsArgs: true,
  run(ctx, text) {
    const target = ctx.user.lastPrivateFrom;
    if (target === null) throw new ChatError(TEXT.noReplyTarget);
    if (!ctx.registry.isOnline(target)) {
      throw new ChatError(TEXT.noSuchUser(target.name));
    }
    sendPrivate(ctx, target, text);
  },
};
