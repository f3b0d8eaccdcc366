import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { motdLines } from "./motd.ts";

/** `login NAME`: take a name and enter the main room. */
export const login: Command = {
  name: "login",
  usage: "login NAME",
  summary: "log in under NAME",
  details: [
    'Names: 1 to 24 letters, digits, "_", "-" or ".", in one script.',
  ],
  loginRequired: false,
  run(ctx, name) {
    const { session, registry, clock } = ctx;
    if (session.user) {
      throw new ChatError(TEXT.alreadyLoggedIn(session.user.name));
    }
    if (name === "") throw new ChatError(TEXT.enterName);
    session.user = registry.login(name, {
      recipient: session.recipient,
      now: clock.now(),
    });
    if (ctx.motd.length > 0) session.reply(...motdLines(ctx.motd));
  },
};
