import type { Command } from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/** `me ACTION`: an emote, `* NAME ACTION`, to the room. */
export const me: Command = {
  name: "me",
  usage: "me ACTION",
  summary: "show * NAME ACTION to the room",
  loginRequired: true,
  needsArgs: true,
  run(ctx, action) {
    const { session, user, registry } = ctx;
    checkNotMuted(ctx, user.room);
    registry.emote(user, action);
    session.spoke();
  },
};
