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
      // A summary too long for the terminal goes on below, in its column.
      const indent = " ".repeat(TEXT.helpLine("", "", width).length);
      session.reply(
        session.mode === "chat" ? TEXT.helpHeaderChat : TEXT.helpHeader,
        ...all.flatMap((command) =>
          wrap(
            TEXT.helpLine(command.usage, command.summary, width),
            session.columns,
            indent,
          )
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
      ...[
        command.summary,
        ...(command.details ?? []),
        ...(refused ? [roleRefusal(command.role!, command.name)] : []),
      ].flatMap((line) => wrap(`  ${line}`, session.columns, "    ")),
    );
  },
};

/**
 * `line` in lines of at most `columns` characters, broken at spaces, each
 * after the first starting with `indent`; a word longer than a line is left
 * whole. No `columns`: the line as it is.
 */
export function wrap(
  line: string,
  columns: number | undefined,
  indent: string,
): string[] {
  if (columns === undefined || line.length <= columns) return [line];
  const lines: string[] = [];
  let rest = line;
  let prefix = "";
  while (prefix.length + rest.length > columns) {
    const room = columns - prefix.length;
    // The last space that leaves the line within the columns, past the
    // line's own indentation.
    const start = rest.length - rest.trimStart().length;
    let cut = rest.lastIndexOf(" ", room);
    if (cut <= start) cut = rest.indexOf(" ", room);
    if (cut <= start || cut === -1) break;
    lines.push(prefix + rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
    prefix = indent;
  }
  lines.push(prefix + rest);
  return lines;
}
