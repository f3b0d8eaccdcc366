import type { Command } from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/** `say TEXT`: everyone in the room, the sender included, sees it. */
export const say: Command = {
  name: "say",
  usage: "say TEXT",
  summary: "say TEXT to everyone in the room",
  details: ["In chat mode (see mode), a line without a leading / is said."],
  loginRequired: true,
  needsArgs: true,
  run(ctx, text) {
    const { session, user, registry } = ctx;
    checkNotMuted(ctx, user.room);
    registry.say(user, text);
    session.spoke();
  },
};
