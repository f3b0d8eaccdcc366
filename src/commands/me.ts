import type { Command } from "./command.ts";

/** `me ACTION`: an emote, `* NAME ACTION`, to the room. */
export const me: Command = {
  name: "me",
  usage: "me ACTION",
  summary: "show * NAME ACTION to the room",
  loginRequired: true,
  needsArgs: true,
  run({ session, user, registry }, action) {
    registry.emote(user, action);
    session.spoke();
  },
};
