import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `who`: everyone logged in. */
export const who: Command = {
  name: "who",
  usage: "who",
  summary: "list everyone logged in",
  loginRequired: true,
  run({ registry, session }) {
    const names = [...registry.online].map((user) => user.name);
    session.reply(TEXT.whoHeader, ...names);
  },
};
