import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `me ACTION`: an emote, `* NAME ACTION`, to the room. */
export const me: Command = {
  name: "me",
  usage: "me ACTION",
  summary: "show * NAME ACTION to the room",
  loginRequired: true,
  needsArgs: true,
  run({ session, user }, action) {
    user.room?.chat(TEXT.emote(user.name, action), user);
    session.spoke();
  },
};
