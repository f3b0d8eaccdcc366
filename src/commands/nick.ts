import { ChatError } from "../errors.ts";
import { foldName, validateName } from "../names.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { accountOf, refuseTaken } from "./login.ts";
import { checkNotMuted } from "./moderation.ts";

/** `nick NAME`: a new name, under the name rules. */
export const nick: Command = {
  name: "nick",
  usage: "nick NAME",
  summary: "change your name to NAME",
  details: [
    "The room sees OLD is now known as NAME.",
    "A registered name is its owner's; an account's name can change case only.",
  ],
  loginRequired: true,
  needsArgs: true,
  async run(ctx, typed) {
    const { user, registry } = ctx;
    // The room is told of a new name: a muted user could shout through it.
    checkNotMuted(ctx, user.room);
    if (user.account !== null) {
      if (foldName(validateName(typed)) !== user.account) {
        throw new ChatError(TEXT.accountName(user.name));
      }
    } else if (await accountOf(ctx, typed) !== null) {
      const name = validateName(typed);
      throw new ChatError(
        TEXT.badName("name", name, TEXT.registeredToOther),
      );
    }
    // A mute set while the store was asked holds too (on one server, with
    // no await between this check and the rename).
    checkNotMuted(ctx, user.room);
    // Checked here first (the registry throws what is wrong with the name),
    // then, in a cluster, taken in Redis in one step.
    registry.checkRename(user, typed);
    const cluster = ctx.cluster;
    if (cluster) {
      const name = validateName(typed);
      const result = await cluster.rename(user, name);
      refuseTaken(name, result);
      // Gone while Redis renamed them: their logout freed the old name
      // only, and a new one Redis gave them would stay held for nobody
      // (a change of letter case only is the same name, freed already).
      if (!registry.isOnline(user)) {
        if (result === "ok" && foldName(name) !== user.key) {
          cluster.unclaim(name, user);
        }
        return;
      }
    }
    registry.rename(user, typed);
  },
};
