import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/** `away [REASON]`: mark yourself away; private messages get the reason. */
export const away: Command = {
  name: "away",
  usage: "away [REASON]",
  summary: "mark yourself away; whois and private messages show REASON",
  loginRequired: true,
  run(ctx, reason) {
    const { user, session, cluster } = ctx;
    // A reason is shown to whoever messages or looks them up: a muted user
    // could say through it what they may not say.
    if (reason !== "") checkNotMuted(ctx, null);
    // No reason is "": away all the same, and shown as just that ("bob is
    // away"), never as a made-up reason ("bob is away: away").
    user.away = reason;
    cluster?.updated(user);
    session.reply(TEXT.awayNow(user.away));
  },
};

/** `back`: no longer away. */
export const back: Command = {
  name: "back",
  usage: "back",
  summary: "no longer away",
  loginRequired: true,
  run({ user, session, cluster }) {
    if (user.away === null) {
      session.reply(TEXT.notAway);
      return;
    }
    user.away = null;
    cluster?.updated(user);
    session.reply(TEXT.backNow);
  },
};
