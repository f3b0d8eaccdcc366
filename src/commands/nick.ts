import type { Command } from "./command.ts";

/** `nick NAME`: a new name, under the name rules. */
export const nick: Command = {
  name: "nick",
  usage: "nick NAME",
  summary: "change your name to NAME",
  details: ["The room sees OLD is now known as NAME."],
  loginRequired: true,
  needsArgs: true,
  run({ user, registry }, name) {
    registry.rename(user, name);
  },
};
