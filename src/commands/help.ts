import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { MODERATION, roleRefusal } from "./moderation.ts";

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
        session.mode === "chat" ? TEXT.helpHeaderChat : TEXT.helpHeader,
        ...all.map((command) =>
          TEXT.helpLine(command.usage, command.summary, width)
        ),
        session.mode === "chat" ? TEXT.helpFooterChat : TEXT.helpFooter,
      );
      return;
    }
    // "help look extra" explains look, as "look extra" runs it.
    const first = word.split(/\s/, 1)[0];
    const name = first.replace(/^\//, "").toLowerCase();
    // A moderation command the user may not use is still explained, with
    // who may: running it says so too, and "No command called" would say
    // that the command the README lists does not exist.
    const command = commands.get(name) ?? MODERATION.get(name);
    if (!command) throw new ChatError(TEXT.noSuchCommand(first));
    const refused = command.role !== undefined && !allowed.includes(command);
    session.reply(
      TEXT.usage(command.usage),
      `  ${command.summary}`,
      ...(command.details ?? []).map((line) => `  ${line}`),
      ...(refused ? [`  ${roleRefusal(command.role!, command.name)}`] : []),
    );
  },
};
