import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `mode [chat|command]`: how lines are read. */
export const mode: Command = {
  name: "mode",
  usage: "mode [chat|command]",
  summary: "chat: lines are said, commands need /; command: the default",
  details: [
    "In chat mode, start a line with // to say something that starts with /.",
  ],
  loginRequired: true,
  run({ session }, wanted) {
    const value = wanted.toLowerCase();
    if (value === "chat" || value === "command") session.mode = value;
    else if (value !== "") throw new ChatError(TEXT.usage(mode.usage));
    session.reply(session.mode === "chat" ? TEXT.chatMode : TEXT.commandMode);
  },
};
