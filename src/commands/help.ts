import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { MODERATION } from "./moderation.ts";

/** `help [COMMAND]`: the command table, or one command explained. */
export const help: Command = {
  name: "help",
  usage: "help [COMMAND]",
  summary: "list the commands, or explain one",
  loginRequired: true,
  run({ commands, session, user, moderation }, word) {
    // Moderation commands are listed to those who may use them.
    const allowed = [...MODERATION.values()].filter((command) =>
      moderation.allows(user.account, command.role!, user.room)
    );
    if (word === "") {
      const all = [...commands.values(), ...allowed];
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
    // "help look extra" explains look, as "look extra" runs it.
    const first = word.split(/\s/, 1)[0];
    const name = first.replace(/^\//, "").toLowerCase();
    const command = commands.get(name) ??
      allowed.find((command) => command.name === name);
    if (!command) throw new ChatError(TEXT.noSuchCommand(first));
    session.reply(
      TEXT.usage(command.usage),
      `  ${command.summary}`,
      ...(command.details ?? []).map((line) => `  ${line}`),
    );
  },
};
