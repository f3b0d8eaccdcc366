import { formatDuration, TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `whois NAME`: where someone is, for how long, and whether away. */
export const whois: Command = {
  name: "whois",
  usage: "whois NAME",
  summary: "show NAME's room, time connected and idle, and away message",
  loginRequired: true,
  needsArgs: true,
  run({ registry, session, clock, moderation }, name) {
    const target = registry.get(name);
    const now = clock.now();
    session.reply(
      TEXT.whois(
        target.name,
        target.room?.name ?? "",
        formatDuration(now - target.since),
        formatDuration(now - target.lastActive),
      ),
    );
    if (target.account !== null) {
      session.reply(TEXT.whoisRegistered(target.name));
    }
    if (moderation.isOperator(target.account)) {
      session.reply(TEXT.whoisOperator(target.name));
    }
    if (target.away !== null) {
      session.reply(TEXT.isAway(target.name, target.away));
    }
  },
};
