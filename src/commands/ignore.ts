import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { StoreUnavailable } from "../store/store.ts";
import { TEXT } from "../text.ts";
import {
  type Command,
  findElsewhere,
  takesOneName,
  type UserContext,
} from "./command.ts";

/** `ignore [NAME]`: stop seeing someone's lines and private messages. */
export const ignore: Command = takesOneName({
  name: "ignore",
  usage: "ignore [NAME]",
  summary: "stop seeing NAME's lines and private messages (alone: the list)",
  details: [
    "NAME is not told. It follows NAME through a change of name, and lasts",
    "until you log out, or NAME does if a guest (an account is ignored at",
    "its next login too).",
  ],
  loginRequired: true,
  async run(ctx, name) {
    const { user, registry, session } = ctx;
    if (name === "") {
      const online = await renamedElsewhere(ctx);
      const names = user.ignored.filter((u) => registry.isOnline(u))
        .map((u) => u.name);
      // An account is ignored logged out too; one ignored on another
      // server, now here, is listed once.
      const all = new Set([
        ...names,
        ...user.ignoredElsewhereOnline(online),
        ...user.ignoredAccounts,
      ]);
      session.reply(TEXT.ignoreList([...all]));
      return;
    }
    if (registry.find(name) === undefined) {
      // On another server of the cluster: ignored by their session there.
      const there = await findElsewhere(ctx, name);
      if (there !== null) {
        // An account is ignored by its name, which only it can hold: its
        // next session, there or here, is ignored too.
        const account = there.account ?? null;
        const login = account === null ? there.login ?? null : null;
        if (!user.ignoreElsewhere(login, there.key, there.name)) {
          throw new ChatError(TEXT.alreadyIgnoring(there.name));
        }
        if (account !== null) registry.ignoreAccount(user, account, there.name);
        session.reply(TEXT.ignoring(there.name));
        return;
      }
    }
    const target = registry.get(name);
    if (target === user) throw new ChatError(TEXT.ignoreSelf);
    if (!registry.ignore(user, target)) {
      throw new ChatError(TEXT.alreadyIgnoring(target.name));
    }
    // In a cluster, an account's next session may be on another server.
    if (ctx.cluster && target.account !== null) {
      user.ignoreElsewhere(null, target.key, target.name);
    }
    session.reply(TEXT.ignoring(target.name));
  },
});

/** `unignore NAME`: see someone's lines again. */
export const unignore: Command = takesOneName({
  name: "unignore",
  usage: "unignore NAME",
  summary: "see NAME's lines and private messages again",
  loginRequired: true,
  needsArgs: true,
  async run(ctx, name) {
    const { user, session } = ctx;
    const online = await renamedElsewhere(ctx);
    const key = foldName(name);
    const target = user.ignored.find((u) => u.key === key);
    if (target !== undefined) {
      user.unignore(target);
      // An account ignored while on another server: by its name there too.
      user.unignoreElsewhere(key, online);
      session.reply(TEXT.unignored(target.name));
      return;
    }
    // On another server of the cluster, or an account logged out: named as
    // they were last seen, as one here is, not as typed.
    const there = user.unignoreElsewhere(key, online);
    const account = user.unignoreAccount(key);
    if (there === null && account === null) {
      throw new ChatError(TEXT.notIgnoring(name));
    }
    session.reply(TEXT.unignored(there ?? account!));
  },
});

/**
 * The users of other servers that the user ignores, known by their names
 * now: a change of name there is heard here only by its room, and one made
 * where nobody of this server is would leave `ignore` listing, `unignore`
 * knowing, and the history shown leaving out, only the old one (on one
 * server, all three follow it). Returns the sessions online anywhere (an
 * ignore of one gone has ended, and is not listed), or null if not read.
 */
export async function renamedElsewhere(
  ctx: UserContext,
): Promise<ReadonlySet<string> | null> {
  const { user, cluster } = ctx;
  if (!cluster?.up || user.ignoredElsewhere.length === 0) return null;
  let presences;
  try {
    presences = await cluster.presences();
  } catch (error) {
    // Redis gone before the cluster has counted it gone: the names as last
    // seen, as while it is counted gone, rather than a join refused.
    if (error instanceof StoreUnavailable) return null;
    throw error;
  }
  const online = new Set<string>();
  for (const presence of presences) {
    if (presence.login !== undefined) {
      online.add(presence.login);
      user.seenElsewhere(presence.login, presence.key, presence.name);
    }
  }
  return online;
}
