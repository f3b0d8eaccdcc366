import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `help [COMMAND]`: the command table, or one command explained. */
export const help: Command = {
  name: "help",
  usage: "help [COMMAND]",
  summary: "list the commands, or explain one",
  loginRequired: true,
  run({ commands, session }, word) {
    if (word === "") {
      const all = [...commands.values()];
      const width = Math.max(...all.map((command) => command.usage.length));
      session.reply(
        TEXT.helpHeader,
        ...all.map((command) =>
          TEXT.helpLine(command.usage, command.summary, width)
        ),
        TEXT.helpFooter,
      );
      return;
    }
    const command = commands.get(word.replace(/^\//, "").toLowerCase());
    if (!command) throw new ChatError(TEXT.noSuchCommand(word));
    session.reply(
      TEXT.usage(command.usage),
      `  ${command.summary}`,
      ...(command.details ?? []).map((line) => `  ${line}`),
    );
  },
};
