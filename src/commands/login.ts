import type { ClaimResult } from "../cluster/cluster.ts";
import { sleep } from "../clock.ts";
import { ChatError } from "../errors.ts";
import { log } from "../log.ts";
import { foldName, skeleton, validateName } from "../names.ts";
import type { Registry } from "../registry.ts";
import type { User } from "../room.ts";
import type { Account } from "../store/store.ts";
import { TEXT } from "../text.ts";
import { checkPassword, welcome } from "./accounts.ts";
import { type Context, splitWord } from "./command.ts";
import type { Command } from "./command.ts";
import { sanctionText } from "./moderation.ts";
import { motdLines } from "./motd.ts";
import { showMembers } from "./join.ts";

/**
 * Throws what the user sees when the cluster refused a name they asked
 * for (at login, or `nick`): taken, or a look-alike of a name online.
 */
export function refuseTaken(
  name: string,
  result: ClaimResult,
): void {
  if (result === "taken") throw new ChatError(...TEXT.nameTaken(name));
  if (typeof result === "object") {
    throw new ChatError(
      TEXT.badName("name", name, TEXT.looksLikeOnline(result.lookalike)),
    );
  }
}

/**
 * The account a typed name belongs to, if any: the same name, or one that
 * looks like it (then the name is refused: it is reserved).
 */
export async function accountOf(
  ctx: Context,
  typedName: string,
): Promise<Account | null> {
  const name = validateName(typedName);
  const { cluster } = ctx;
  if (cluster && !cluster.up) {
    // Redis, and the accounts with it, cannot be reached: a guest may use a
    // name this server knows is nobody's; an account must wait.
    if (cluster.knownAccount(foldName(name), skeleton(name)) !== null) {
      throw new ChatError(TEXT.accountsAway(name));
    }
    return null;
  }
  const account = await ctx.store.accountFor(foldName(name), skeleton(name));
  if (account !== null && account.key !== foldName(name)) {
    throw new ChatError(
      TEXT.badName("name", name, TEXT.looksLikeAccount(account.name)),
    );
  }
  return account;
}

/**
 * Logs the session in as `typed` (an account's, with `account`): in a
 * cluster, the name is first taken in Redis, in one step, so that two
 * servers never both let it in. Null when a server ban set meanwhile ended
 * the session instead.
 */
async function loginAs(
  ctx: Context,
  typed: string,
  account: string | null,
): Promise<User | null> {
  const { session, registry, clock, cluster } = ctx;
  let claimed = false;
  if (cluster) {
    const name = validateName(typed);
    const result = await cluster.claim(name, {
      account,
      since: clock.date(),
      address: session.recipient.hostname,
    });
    refuseTaken(name, result);
    claimed = result === "ok";
  }
  // A ban set (or, in a cluster, announced) since the caller's check found
  // nobody here to remove: it holds now, with no await from here to the
  // login.
  if (refusedBanned(ctx, account, typed)) {
    if (claimed) cluster?.unclaim(typed);
    return null;
  }
  // So does a lockdown turned on (or announced) meanwhile, for a guest.
  if (account === null && ctx.moderation.lockdown) {
    if (claimed) cluster?.unclaim(typed);
    throw new ChatError(TEXT.lockdownGuest);
  }
  let user: User;
  try {
    user = registry.login(typed, {
      recipient: session.recipient,
      now: clock.now(),
      account,
    });
  } catch (error) {
    if (claimed) cluster!.unclaim(typed);
    throw error;
  }
  if (user.room !== null) await showMembers(ctx, user, user.room);
  return user;
}

/**
 * How long a login that took over an account on another server waits for
 * that server to let the name go, in ms, checking every
 * {@linkcode RELEASE_POLL_MS}.
 */
const RELEASE_WAIT_MS = 5000;
const RELEASE_POLL_MS = 100;

/**
 * Ends the session of `user` (here) because its account has logged in
 * again from `address`: told why, then out, the room told it left, at once
 * (its name is free for the new login before this returns).
 */
export function replaceHere(
  registry: Registry,
  user: User,
  address: string,
): void {
  user.disconnect(TEXT.replaced(address), "replaced");
  registry.logout(user);
}

/**
 * The owner of `account` has just given its password: a session that
 * holds it, here or on another server of the cluster, ends so that this
 * one can take its place (IRC services' REGAIN; a MUD's reconnect to a
 * link-dead character). Without it, a connection that died without a word
 * (a laptop closed) would keep its owner out until TCP noticed, hours
 * later. Resolves once the name is free, or as free as it will get.
 */
async function takeOver(ctx: Context, account: Account): Promise<void> {
  const { registry, cluster, session, clock } = ctx;
  const address = session.recipient.hostname;
  const here = registry.find(account.key);
  // The account's own session (a registered name is nobody else's).
  if (here !== undefined && here.account === account.key) {
    replaceHere(registry, here, address);
    // In a cluster, the name is freed in Redis before it is claimed again.
    await cluster?.settled();
    return;
  }
  if (!cluster?.up) return;
  const there = await cluster.find(account.key);
  if (there === null) return;
  await cluster.control(there.node, {
    kind: "replace",
    key: account.key,
    address,
  });
  for (
    let waited = 0;
    waited < RELEASE_WAIT_MS && session.active &&
    await cluster.find(account.key) !== null;
    waited += RELEASE_POLL_MS
  ) {
    await sleep(clock, RELEASE_POLL_MS);
  }
}

/**
 * Ends the session with the ban's line if a server ban holds the account
 * (if any) or the address; whether it did. The log names who tried, `name`
 * (a valid name by now, the account's or a guest's), and from where: the
 * session's own `Disconnected` line can only say "not logged in".
 */
function refusedBanned(
  ctx: Context,
  account: Account | string | null,
  name: string,
): boolean {
  const { session, moderation } = ctx;
  const ban = moderation.find("ban", "", {
    account: typeof account === "string" ? account : account?.key ?? null,
    address: session.recipient.hostname,
  });
  if (ban === null) return false;
  log("accounts").info("Refused login as {name} from {remote}: banned", {
    name,
    remote: session.remote,
  });
  session.reply(sanctionText(ban, ""));
  session.end("banned");
  return true;
}

/** `login NAME [PASSWORD]`: take a name and enter the main room. */
export const login: Command = {
  name: "login",
  usage: "login NAME",
  summary: "log in under NAME (a registered name asks for its password)",
  details: [
    'Names: 1 to 24 letters, digits, "_", "-" or ".", in one script.',
    '"login NAME PASSWORD" logs in to an account in one line, for scripts.',
    "An account online already (elsewhere) moves here with its password.",
  ],
  loginRequired: false,
  async run(ctx, args) {
    const { session } = ctx;
    if (session.user) {
      throw new ChatError(TEXT.alreadyLoggedIn(session.user.name));
    }
    if (args === "") throw new ChatError(TEXT.enterName);
    // The seed takes the whole line as the name ("login two words" is a bad
    // name), unless its first word is an account and the rest its password.
    const [first, rest] = splitWord(args);
    let typed = args;
    let password: string | null = null;
    let account: Account | null = null;
    if (rest !== "") {
      const key = foldName(first.normalize("NFKC"));
      // While a cluster's Redis is away, the accounts cannot be read: a
      // name this server knows is one is refused for now (accountOf), as
      // without a password, and the rest is never shown back.
      const accountsUp = ctx.cluster?.up ?? true;
      account = accountsUp
        ? await ctx.store.accountFor(key, skeleton(first))
        : await accountOf(ctx, first);
      if (account?.key === key) {
        typed = first;
        password = rest;
      } else if (account !== null) {
        // A look-alike of an account's name: reserved, as without a password.
        throw new ChatError(
          TEXT.badName("name", first, TEXT.looksLikeAccount(account.name)),
        );
      } else {
        // Not an account: the seed's error would name the whole line, and
        // the rest may be a password typed for a misspelt name.
        throw new ChatError(
          TEXT.badName("name", `${first} …`, TEXT.oneWord(first)),
        );
      }
    }
    account ??= await accountOf(ctx, typed);
    const { moderation } = ctx;
    if (refusedBanned(ctx, account, account?.name ?? typed)) return;
    if (account === null) {
      if (moderation.lockdown) throw new ChatError(TEXT.lockdownGuest);
      // A guest: exactly the seed's login.
      session.user = await loginAs(ctx, typed, null);
      if (session.user === null) return;
      if (ctx.motd.length > 0) session.reply(...motdLines(ctx.motd));
      return;
    }
    // Online already, somewhere: the right password takes its place.
    for (let tries = 0;; tries++) {
      const typedPassword = password ??
        await session.ask(TEXT.passwordFor(account.name), {
          secret: true,
          again: tries > 0,
        });
      if (typedPassword === null) {
        // Not after the farewell of a session that ended meanwhile.
        if (session.active) session.reply(TEXT.cancelled);
        return;
      }
      const failures = await checkPassword(ctx, account, typedPassword);
      if (!session.active) return;
      if (failures !== null) {
        // A ban set while the password was asked for, or checked, holds.
        if (refusedBanned(ctx, account, account.name)) return;
        await takeOver(ctx, account);
        if (!session.active) return;
        const user = await loginAs(ctx, account.name, account.key);
        if (user === null) return;
        session.user = user;
        if (ctx.motd.length > 0) session.reply(...motdLines(ctx.motd));
        await welcome(ctx, user, account, failures);
        return;
      }
      // Wrong: the one-line form goes back to the prompt; asked, ask again.
      if (password !== null) return;
    }
  },
};
