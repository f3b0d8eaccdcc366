import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `look`: who is in this room (on every server of a cluster). */
export const look: Command = {
  name: "look",
  usage: "look",
  summary: "list the people in this room",
  loginRequired: true,
  run({ user, session, cluster }) {
    if (cluster?.up && user.room) {
      return cluster.look(user.room.key).then((names) =>
        session.reply(TEXT.lookHeader, ...names)
      );
    }
    const members = user.room ? [...user.room.members] : [];
    session.reply(TEXT.lookHeader, ...members.map((member) => member.name));
  },
};
