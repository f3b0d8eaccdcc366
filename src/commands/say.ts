import type { Command } from "./command.ts";

/** `say TEXT`: everyone in the room, the sender included, sees it. */
export const say: Command = {
  name: "say",
  usage: "say TEXT",
  summary: "say TEXT to everyone in the room",
  details: ["In chat mode (see mode), a line without a leading / is said."],
  loginRequired: true,
  needsArgs: true,
  run({ session, user, registry }, text) {
    registry.say(user, text);
    session.spoke();
  },
};
