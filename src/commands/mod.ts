/**
 * The command table and the dispatcher. Adding a command is one file and one
 * entry here; help is built from this table, so it cannot miss one.
 *
 * @module
 */

import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command, Context } from "./command.ts";
import { help } from "./help.ts";
import { login } from "./login.ts";
import { logout } from "./logout.ts";
import { look } from "./look.ts";
import { say } from "./say.ts";
import { who } from "./who.ts";

export type { Command, Context, SessionControl } from "./command.ts";

/** Every command, by the word that runs it, in the order help lists them. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [login, say, look, who, help, logout].map((
    command,
  ) => [command.name, command]),
);

/** Splits a line into its command word and the text after it, trimmed. */
export function splitCommand(line: string): [word: string, args: string] {
  const trimmed = line.trim();
  const space = trimmed.search(/\s/);
  if (space === -1) return [trimmed, ""];
  return [trimmed.slice(0, space), trimmed.slice(space + 1).trim()];
}

/**
 * Handles one line from a session: blank lines are ignored; the command word
 * may carry a leading `/` and any letter case. User mistakes are thrown as
 * {@linkcode ChatError}s for the session to send back.
 */
export function dispatch(ctx: Context, line: string): void {
  const [word, args] = splitCommand(line);
  if (word === "") return;
  const command = ctx.commands.get(word.replace(/^\//, "").toLowerCase());
  const user = ctx.session.user;
  if (user === null && (command === undefined || command.loginRequired)) {
    throw new ChatError(...TEXT.pleaseLogIn);
  }
  if (command === undefined) throw new ChatError(TEXT.unknownCommand(word));
  if (command.needsArgs && args === "") {
    throw new ChatError(TEXT.usage(command.usage));
  }
  if (command.loginRequired) command.run({ ...ctx, user: user! }, args);
  else command.run(ctx, args);
}
