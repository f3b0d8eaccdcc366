import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `help`: the command table, one line each. */
export const help: Command = {
  name: "help",
  usage: "help",
  summary: "list the commands",
  loginRequired: true,
  run({ commands, session }) {
    session.reply(
      TEXT.helpHeader,
      ...[...commands.values()].map((command) =>
        TEXT.helpLine(command.usage, command.summary)
      ),
    );
  },
};
