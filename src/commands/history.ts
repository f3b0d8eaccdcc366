import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { renamedElsewhere } from "./ignore.ts";

/** Lines `history` shows when not told how many. */
export const HISTORY_DEFAULT = 20;
/** The most lines one `history` shows. */
export const HISTORY_MAX = 200;

/** `history [N]`, `history before ID [N]`: the room's earlier lines. */
export const history: Command = {
  name: "history",
  usage: "history [before ID] [N]",
  summary: `show this room's last N lines (default ${HISTORY_DEFAULT})`,
  details: [
    `At most ${HISTORY_MAX} at a time; "history before ID" pages further back.`,
    "Lines from people you ignore are left out.",
  ],
  loginRequired: true,
  async run(ctx, args) {
    const { user, store, session } = ctx;
    const { before, limit } = parseArgs(args);
    // Those ignored on other servers, by their names now.
    const online = await renamedElsewhere(ctx);
    const room = user.room!;
    // One line more than shown tells whether there are older ones to page to.
    const fetched = await store.history(room.key, { limit: limit + 1, before });
    const more = fetched.length > limit;
    const lines = more ? fetched.slice(1) : fetched;
    const shown = lines.filter((line) =>
      !user.ignoresName(foldName(line.from), online)
    );
    if (lines.length === 0) {
      session.reply(
        before === undefined
          ? TEXT.noHistory(room.name)
          : TEXT.noOlderHistory(room.name),
      );
      return;
    }
    session.reply(
      TEXT.historyHeader(
        room.name,
        shown.length,
        before !== undefined,
        lines.length - shown.length,
      ),
    );
    session.showHistory(shown);
    if (more) session.reply(TEXT.historyMore(lines[0].id));
  },
};

function parseArgs(args: string): { before?: number; limit: number } {
  const words = args.split(/\s+/).filter((word) => word !== "");
  let before: number | undefined;
  if (words[0]?.toLowerCase() === "before") {
    // An event id: any whole number (past the last one, it pages from the
    // newest line).
    if (words[1] === undefined || !/^\d{1,15}$/.test(words[1])) {
      throw new ChatError(TEXT.usage(history.usage));
    }
    before = Number(words[1]);
    words.splice(0, 2);
  }
  if (words.length > 1) throw new ChatError(TEXT.usage(history.usage));
  const limit = words.length === 1
    ? count(words[0], HISTORY_MAX)
    : HISTORY_DEFAULT;
  return { before, limit };
}

/** A whole number from 1 to `max`, or the command's usage. */
function count(word: string | undefined, max: number): number {
  // Any run of digits: a huge count is told the most, not the usage (as
  // modlog does).
  if (word === undefined || !/^\d+$/.test(word)) {
    throw new ChatError(TEXT.usage(history.usage));
  }
  const value = Number(word);
  if (value < 1) throw new ChatError(TEXT.usage(history.usage));
  if (value > max) throw new ChatError(TEXT.historyTooMany(max));
  return value;
}
