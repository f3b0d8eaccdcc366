import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { formatDate, formatDuration, TEXT } from "../text.ts";
import {
  type Command,
  findElsewhere,
  findHere,
  takesOneName,
} from "./command.ts";

/** `whois NAME`: where someone is, for how long, and whether away. */
export const whois: Command = takesOneName({
  name: "whois",
  usage: "whois NAME",
  summary: "show NAME's room, time connected and idle, and away message",
  loginRequired: true,
  needsArgs: true,
  async run(ctx, name) {
    const { registry, session, clock, moderation, store } = ctx;
    // Here in no room (null): nobody online, not 'in room ""'.
    const found = findHere(registry, name);
    const here = found ?? undefined;
    let shown: {
      name: string;
      room: string;
      connected: number;
      idle: number;
      account: string | null;
      away: string | null;
    };
    if (here !== undefined) {
      const now = clock.now();
      shown = {
        name: here.name,
        room: here.room!.name,
        connected: now - here.since,
        idle: now - here.lastActive,
        account: here.account,
        away: here.away,
      };
    } else {
      // On another server of a cluster: what Redis knows (idle to 15 s).
      // Nobody there is nobody anywhere, as of the question (one who logged
      // in here while Redis was asked was not online when it was asked).
      const there = found === undefined ? await findElsewhere(ctx, name) : null;
      if (there === null) {
        // An account's owner offline: said so, with where a message goes,
        // rather than only that nobody by the name is online.
        const account = await store.accountFor(foldName(name), "");
        if (account === null) throw new ChatError(TEXT.noSuchUser(name));
        const lastLogin = account.lastLogin ?? account.created;
        // An operator offline is one still: whom to write to about a troll.
        throw new ChatError(
          TEXT.whoisOffline(account.name, formatDate(lastLogin)),
          ...(moderation.isOperator(account.key)
            ? [TEXT.whoisOperator(account.name)]
            : []),
          TEXT.whoisLeaveMessage(account.name),
        );
      }
      const now = clock.date();
      shown = {
        name: there.name,
        room: there.roomName,
        connected: now - there.since,
        idle: now - there.active,
        account: there.account,
        away: there.away,
      };
    }
    session.reply(
      TEXT.whois(
        shown.name,
        shown.room,
        formatDuration(shown.connected),
        formatDuration(shown.idle),
      ),
    );
    if (shown.account !== null) {
      session.reply(TEXT.whoisRegistered(shown.name));
    }
    if (moderation.isOperator(shown.account)) {
      session.reply(TEXT.whoisOperator(shown.name));
    }
    if (shown.away !== null) {
      session.reply(TEXT.isAway(shown.name, shown.away));
    }
  },
});
