import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `who`: everyone logged in (on every server of a cluster). */
export const who: Command = {
  name: "who",
  usage: "who",
  summary: "list everyone logged in",
  loginRequired: true,
  run({ registry, session, cluster }) {
    if (cluster?.up) {
      return cluster.who().then((names) =>
        session.reply(TEXT.whoHeader, ...names)
      );
    }
    const names = [...registry.online].map((user) => user.name);
    session.reply(TEXT.whoHeader, ...names);
  },
};
