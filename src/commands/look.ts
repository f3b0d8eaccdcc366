import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { MAX_NAMES_LISTED, namesListed } from "./who.ts";

/** `look`: who is in this room (on every server of a cluster). */
export const look: Command = {
  name: "look",
  usage: "look",
  summary: "list the people in this room",
  details: [
    `At most ${MAX_NAMES_LISTED}, those in the room longest, and how many more.`,
  ],
  loginRequired: true,
  run({ user, session, cluster }) {
    if (cluster?.up && user.room) {
      return cluster.look(user.room.key).then((names) =>
        session.reply(TEXT.lookHeader, ...namesListed(names))
      );
    }
    const members = user.room ? [...user.room.members] : [];
    session.reply(
      TEXT.lookHeader,
      ...namesListed(members.map((member) => member.name)),
    );
  },
};
