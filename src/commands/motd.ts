import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** The lines that show a message of the day. */
export function motdLines(motd: readonly string[]): string[] {
  return [TEXT.motdHeader, ...motd];
}

/** `motd`: the message of the day again (it is shown after login). */
export const motd: Command = {
  name: "motd",
  usage: "motd",
  summary: "show the message of the day again",
  loginRequired: true,
  run(ctx) {
    ctx.session.reply(
      ...(ctx.motd.length > 0 ? motdLines(ctx.motd) : [TEXT.noMotd]),
    );
  },
};
