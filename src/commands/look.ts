import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `look`: who is in this room. */
export const look: Command = {
  name: "look",
  usage: "look",
  summary: "list the people in this room",
  loginRequired: true,
  run({ user, session }) {
    const members = user.room ? [...user.room.members] : [];
    session.reply(TEXT.lookHeader, ...members.map((member) => member.name));
  },
};
