/**
 * The command table and the dispatcher. Adding a command is one file and one
 * entry here; help is built from this table, so it cannot miss one.
 *
 * @module
 */

import { ChatError } from "../errors.ts";
import { StoreFailed, StoreUnavailable } from "../store/store.ts";
import { TEXT } from "../text.ts";
import { password, register, unregister } from "./accounts.ts";
import { away, back } from "./away.ts";
import {
  type Command,
  type Context,
  splitWord,
  type UserContext,
} from "./command.ts";
import { help } from "./help.ts";
import { history } from "./history.ts";
import { ignore, unignore } from "./ignore.ts";
import { join } from "./join.ts";
import { login } from "./login.ts";
import { logout, quit } from "./logout.ts";
import { look } from "./look.ts";
import { me } from "./me.ts";
import { MODERATION, roleRefusal } from "./moderation.ts";
import { mode } from "./mode.ts";
import { motd } from "./motd.ts";
import { msg } from "./msg.ts";
import { nick } from "./nick.ts";
import { reply } from "./reply.ts";
import { rooms } from "./rooms.ts";
import { say } from "./say.ts";
import { topic } from "./topic.ts";
import { who } from "./who.ts";
import { whois } from "./whois.ts";

export { splitWord } from "./command.ts";
export { MODERATION } from "./moderation.ts";

/** Every command, by the word that runs it, in the order help lists them. */
export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [
    login,
    say,
    me,
    msg,
    reply,
    look,
    who,
    whois,
    join,
    history,
    rooms,
    topic,
    nick,
    away,
    back,
    register,
    password,
    unregister,
    ignore,
    unignore,
    mode,
    motd,
    help,
    logout,
    quit,
  ].map((command) => [command.name, command]),
);

/**
 * Handles one line from a session: blank lines are ignored; the command word
 * may carry a leading `/` and any letter case. In chat mode a line without a
 * leading `/` is said (and `//` says a line that starts with `/`). User
 * mistakes are thrown as {@linkcode ChatError}s for the session to send back
 * (or, from a command that waits, its promise rejects with one).
 */
export function dispatch(ctx: Context, line: string): void | Promise<void> {
  const { session, commands } = ctx;
  const trimmed = line.trim();
  if (trimmed === "") {
    ctx.counted?.("blank");
    return;
  }
  if (session.user !== null && session.mode === "chat") {
    if (!trimmed.startsWith("/") || trimmed.startsWith("//")) {
      ctx.counted?.("say");
      return run(
        ctx,
        say,
        trimmed.startsWith("/") ? trimmed.slice(1) : trimmed,
      );
    }
  }
  const [word, args] = splitWord(trimmed);
  const name = word.replace(/^\//, "").toLowerCase();
  const command = commands.get(name) ?? MODERATION.get(name);
  ctx.counted?.(command === undefined ? "unknown" : command.name);
  if (
    session.user === null && (command === undefined || command.loginRequired)
  ) {
    throw new ChatError(...TEXT.pleaseLogIn);
  }
  if (command === undefined) throw new ChatError(TEXT.unknownCommand(word));
  if (
    command.role !== undefined &&
    !ctx.moderation.allows(
      session.user!.account,
      command.role,
      session.user!.room,
    )
  ) {
    throw new ChatError(roleRefusal(command.role, command.name));
  }
  return run(ctx, command, args);
}

function run(
  ctx: Context,
  command: Command,
  args: string,
): void | Promise<void> {
  if (command.needsArgs && args === "") {
    throw new ChatError(TEXT.usage(command.usage));
  }
  const running = command.loginRequired
    ? command.run(ctx as UserContext, args)
    : command.run(ctx, args);
  return running instanceof Promise ? running.catch(unreachable) : running;
}

/**
 * A command that needed the store while it cannot be reached (a cluster's
 * Redis is away) or its disk fails (full, read-only, the file removed): the
 * user is told so in one line, as for a mistake, and nothing is logged as a
 * bug (the store's own log says what failed, once in a while).
 */
function unreachable(error: unknown): never {
  if (error instanceof StoreFailed) throw new ChatError(TEXT.storeFailed);
  if (error instanceof StoreUnavailable) throw new ChatError(TEXT.storeAway);
  throw error;
}
