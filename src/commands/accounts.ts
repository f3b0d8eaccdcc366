/**
 * Accounts: `register`, `password`, `unregister`, and what `login` needs to
 * log in to one. A registered name asks for its password at login and is
 * reserved while its owner is away.
 *
 * @module
 */

import { ChatError } from "../errors.ts";
import type { PrivateEvent } from "../events.ts";
import { log } from "../log.ts";
import { foldName, skeleton } from "../names.ts";
import { MIN_PASSWORD_CHARS, type TurnOptions } from "../passwords.ts";
import type { User } from "../room.ts";
import {
  type Account,
  type LoginFailures,
  StoreUnavailable,
} from "../store/store.ts";
import { formatDate, TEXT } from "../text.ts";
import { roomShown, sanctionText } from "./moderation.ts";
import {
  type Command,
  type Context,
  takePlace,
  type UserContext,
} from "./command.ts";

/** Wrong passwords one connection may type before it is closed. */
export const MAX_PASSWORD_TRIES = 3;

/** The longest wait before a password is checked, after failures, in ms. */
export const MAX_FAILURE_DELAY_MS = 60_000;

/**
 * How long an address's failed logins are remembered after its last one:
 * the per-address delay starts again from nothing after this.
 */
export const ADDRESS_FAILURE_MS = 15 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The wait before checking a password after `failures` failed tries:
 * nothing at first, then 1 s, 2 s, 4 s ... up to a minute.
 */
export function failureDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(MAX_FAILURE_DELAY_MS, 1000 * 2 ** Math.min(failures - 1, 16));
}

/**
 * How a session's hash waits its turn: told how many are ahead, and out of
 * the line if the session ends.
 */
function queued({ session }: Context): TurnOptions {
  return {
    onQueued: (ahead) => session.reply(TEXT.hashQueued(ahead)),
    signal: session.signal,
    asker: session.address,
  };
}

/**
 * Checks a password typed for `account`: first waits as long as the
 * account's and the address's recent failures say (the account's tries
 * still under way here counting as failures to come), then hashes. The login timeout
 * waits meanwhile. A wrong one is counted (in the store, so across
 * reconnects and restarts). Returns the failures there were before this try
 * (for the report after a login), or null when the password is wrong or the
 * session ended while waiting.
 */
export async function checkPassword(
  ctx: Context,
  account: Account,
  password: string,
): Promise<LoginFailures | null> {
  const { session, hasher } = ctx;
  // Per account only: tries at once from one address are a reconnect storm
  // behind one NAT as often as an attack, and the address's failures in
  // the store slow it once they fail.
  const tries = hasher.tries.begin([account.key]);
  try {
    return await session.hold(tryPassword(ctx, account, password, tries));
  } catch (error) {
    if (!session.active) return null;
    throw error;
  } finally {
    tries.end();
  }
}

async function tryPassword(
  ctx: Context,
  account: Account,
  password: string,
  tries: { before: number[] },
): Promise<LoginFailures | null> {
  const { store, session, clock, hasher } = ctx;
  const since = clock.date() - ADDRESS_FAILURE_MS;
  const failures = await store.loginFailures(
    account.key,
    session.address,
    since,
  );
  const count = Math.max(
    failures.account + tries.before[0],
    failures.address,
  );
  const delay = failureDelay(count);
  if (delay > 0) {
    session.reply(TEXT.loginDelay(delay / 1000, count));
    if (!await session.wait(delay)) return null;
  }
  // Checked against the password as it is now, not as it was when the prompt
  // opened: one changed (or an account deleted) while this try waited at the
  // prompt or for its delay must not let the old password in.
  let current = await store.accountFor(account.key, "");
  // A password is what lies between the first and the last character that
  // is not a space, as "login NAME PASSWORD" reads it on one line, in NFC
  // (passwordForm()). A hash made before those rules is tried with what was
  // typed: trimmed but not normalized, then as it came at a prompt.
  const hashed = passwordForm(password);
  let matched: string | null = null;
  while (matched === null) {
    if (current === null) throw new ChatError(TEXT.accountGone(account.name));
    const checked: Account = current;
    for (const form of new Set([hashed, password.trim(), password])) {
      if (await hasher.verify(form, checked.hash, queued(ctx))) {
        matched = form;
        break;
      }
    }
    if (matched === null) break;
    // A hash takes seconds in a queue: a password changed (or an account
    // deleted, or made again) meanwhile must not let the old one in. It is
    // checked against the hash as it is now, as if the change came first.
    current = await store.accountFor(account.key, "");
    if (current?.hash !== checked.hash) matched = null;
  }
  if (matched !== null && current !== null) {
    // A hash made with weaker parameters than today's, or of a form before
    // today's rules, is made again now, while the password is at hand, so
    // that it is not kept any longer (and the next login costs one hash).
    if (hasher.needsRehash(current.hash) || matched !== hashed) {
      const rehashed = await hasher.hash(hashed, queued(ctx));
      // Unless the password changed meanwhile (this try may have waited a
      // minute): the old one must not come back.
      const now = await store.accountFor(account.key, "");
      if (now?.hash === current.hash) {
        await store.setPassword(account.key, rehashed);
      }
    }
    // Read again: tries that failed while this one waited are reported too
    // (the login about to be recorded clears them).
    return await store.loginFailures(account.key, session.address, since);
  }
  await store.addLoginFailure(account.key, session.address, {
    at: clock.date(),
    since: clock.date() - ADDRESS_FAILURE_MS,
  });
  session.wrongPasswords++;
  // One line per wrong password, for the operator's log watcher (fail2ban
  // and the like): the account and the peer, never what was typed.
  log("accounts").info(
    "Wrong password for {account} from {remote} (try {tries} on this connection)",
    {
      account: account.name,
      remote: session.remote,
      tries: session.wrongPasswords,
    },
  );
  session.reply(TEXT.wrongPassword);
  if (session.wrongPasswords >= MAX_PASSWORD_TRIES) {
    session.reply(TEXT.tooManyWrongPasswords);
    session.end("wrong_passwords");
  }
  return null;
}

/**
 * What a user sees after logging in to their account: the failed tries
 * since their last login, and the private messages that waited for them.
 */
export async function welcome(
  ctx: Context,
  user: User,
  account: Account,
  failures: LoginFailures,
): Promise<void> {
  const { session, store, clock, config } = ctx;
  // The user is logged in by now: a store that cannot record it (its disk
  // is full, say) leaves the failures counted and the messages waiting for
  // the next login, but takes nothing of this one's welcome.
  await store.recordLogin(account.key, clock.date(), {
    address: user.hostname,
  }).catch(unlessAway);
  session.reply(TEXT.loggedIn(user.name));
  if (failures.account > 0) {
    session.reply(TEXT.failedSince(failures.account, failures.addresses));
  }
  // Read, shown, and only then let go of: a connection (or server) lost
  // before they are written leaves them waiting for the next login.
  const messages = await store.waitingMessages(
    account.key,
    clock.date() - config.offlineDays * DAY_MS,
  ).catch((error) => {
    unlessAway(error);
    return [];
  });
  if (messages.length > 0) {
    session.reply(
      TEXT.offlineHeader(messages.length),
      ...messages.map(({ event: m }) =>
        TEXT.offlineMessage(formatDate(m.at), m.from, m.text)
      ),
    );
    // "reply" answers the last of them, as it would have live.
    const last = messages.at(-1)!.event;
    user.lastPrivateFrom = { user: null, name: last.from, at: last.at };
    // Let go of once written, within the 2 s a closing session gets to
    // flush; past it they are kept, and the next login shows them again.
    // The wait holds up the user's next line, so it is short: at most
    // `--offline-max` messages, which the kernel usually takes at once (in
    // 2 s a reader at 30 KB/s takes 50 of a KiB). One slower than that is
    // shown them twice rather than not at all.
    if (await session.flushed()) {
      await store.ackMessages(account.key, messages).catch(unlessAway);
    }
  }
}

/** Rethrows `error` unless the store is away or failing (its disk). */
function unlessAway(error: unknown): void {
  if (!(error instanceof StoreUnavailable)) throw error;
}

/**
 * Keeps a private message for an account whose owner is offline (at most
 * `--offline-max` wait, `--offline-per-sender` of them from one sender, each
 * for `--offline-days`) and shows the sender it was; a
 * {@linkcode ChatError} when their box, or the sender's share of it, is full.
 */
export async function leaveMessage(
  ctx: UserContext,
  account: Account,
  text: string,
): Promise<void> {
  const { registry, store, session, clock, config, user } = ctx;
  const event: PrivateEvent = registry.offlineMessage(user, account.name, text);
  const result = config.offlineMax > 0
    ? await store.leaveMessage(account.key, event, {
      max: config.offlineMax,
      perSender: config.offlinePerSender,
      since: clock.date() - config.offlineDays * DAY_MS,
    })
    : "full";
  if (result === "full") {
    throw new ChatError(TEXT.offlineFull(account.name, config.offlineMax));
  }
  if (result === "sender") {
    throw new ChatError(
      TEXT.offlineYoursFull(account.name, config.offlinePerSender),
    );
  }
  // The sender's copy is made now, not before the write: a frame sent to
  // them meanwhile has a later id, and a page resuming after it must not
  // miss this one.
  session.show(registry.offlineMessage(user, account.name, text));
  session.reply(TEXT.offlineKept(account.name));
  session.spoke();
}

/**
 * The form of a password that is hashed: without the spaces at its ends,
 * and in Unicode's NFC, so that "é" typed as one character or as "e" and a
 * combining accent (as keyboards, input methods and systems differ) is the
 * same password, as PRECIS (RFC 8265) has it.
 */
export function passwordForm(password: string): string {
  return password.trim().normalize("NFC");
}

/** A new password is long enough and is not the name. */
function checkNew(user: User, password: string): void {
  // Counted as it is kept (passwordForm()): "e" and a combining accent are
  // one character, as "é" typed as one is.
  if ([...passwordForm(password)].length < MIN_PASSWORD_CHARS) {
    throw new ChatError(TEXT.passwordTooShort(MIN_PASSWORD_CHARS));
  }
  if (foldName(password.trim()) === user.key) {
    throw new ChatError(TEXT.passwordIsName);
  }
}

/**
 * Asks for a new password twice (or takes `typed`, given on the command
 * line); null if the user cancelled.
 */
async function askNew(
  ctx: UserContext,
  prompt: string,
  typed: string,
  options: { again?: boolean } = {},
): Promise<string | null> {
  const { session, user } = ctx;
  if (typed !== "") {
    checkNew(user, typed);
    return passwordForm(typed);
  }
  // Trimmed as the one-line forms are, so that a password chosen here also
  // works in "login NAME PASSWORD".
  const first = (await session.ask(prompt, {
    secret: true,
    again: options.again,
    more: true,
  }))?.trim();
  if (first === undefined) return cancelled(ctx);
  checkNew(user, first);
  const again = (await session.ask(TEXT.confirmPassword, {
    secret: true,
    again: true,
  }))?.trim();
  if (again === undefined) return cancelled(ctx);
  if (passwordForm(again) !== passwordForm(first)) {
    throw new ChatError(TEXT.passwordsDiffer);
  }
  return passwordForm(first);
}

function cancelled({ session }: Context): null {
  // A question the session's end cut short (a timeout, a shutdown): its
  // farewell stays the last line.
  if (session.active) session.reply(TEXT.cancelled);
  return null;
}

/**
 * Whether the session is still logged in to `account` after an await: one
 * taken over (its owner logged in again), kicked or ended meanwhile is not.
 */
function stillOwns(ctx: UserContext, account: Account): boolean {
  const { session, registry, user } = ctx;
  return session.active && registry.isOnline(user) &&
    user.account === account.key;
}

/** The user's own account, or the line saying they are a guest. */
async function ownAccount(ctx: UserContext): Promise<Account> {
  const { user, store } = ctx;
  const account = user.account === null
    ? null
    : await store.accountFor(user.account, "");
  if (account === null) throw new ChatError(TEXT.notRegistered);
  return account;
}

/** `register [PASSWORD]`: the name you are using becomes your account. */
export const register: Command = {
  name: "register",
  usage: "register [PASSWORD]",
  summary: "make your name an account, kept with a password",
  details: [
    "The password is asked for twice, and not shown where telnet can hide it.",
    `At least ${MIN_PASSWORD_CHARS} characters. "register PASSWORD" is for scripts.`,
    "Nobody else can then use the name, or one that looks like it.",
    "A private message sent while you are offline waits for your next login.",
  ],
  loginRequired: true,
  async run(ctx, typed) {
    const { user, store, hasher, session, clock, registry, config } = ctx;
    if (user.account !== null) {
      throw new ChatError(TEXT.alreadyRegistered(user.name));
    }
    // Taken before the password is asked for (and given back unless the
    // account is made): one address cannot take every name, nor keep the
    // hasher busy for the logins of everyone else.
    const limited = takePlace(
      ctx,
      ctx.registrations,
      "too_many_registrations",
      TEXT.tooManyRegistrations(config.maxRegistrationsPerIp),
    );
    let created = false;
    try {
      const password = await askNew(
        ctx,
        TEXT.choosePassword(MIN_PASSWORD_CHARS),
        typed,
      );
      if (password === null) return;
      const hash = await hasher.hash(password, queued(ctx));
      if (!session.active || !registry.isOnline(user)) return;
      try {
        created = await store.createAccount({
          key: user.key,
          name: user.name,
          skeleton: skeleton(user.name),
          hash,
          created: clock.date(),
          lastLogin: clock.date(),
          lastAddress: user.hostname,
        });
      } catch (error) {
        // A cluster's Redis that stopped answering may still run it: once
        // it is back, the account is this user's if it holds this hash.
        if (error instanceof StoreUnavailable) {
          ctx.cluster?.registrationUnanswered(user, hash);
        }
        throw error;
      }
    } finally {
      if (!created) limited?.giveBack(session.address);
    }
    if (!created) throw new ChatError(TEXT.nameRegistered(user.name));
    user.account = user.key;
    ctx.cluster?.updated(user);
    const madeOperator = await ctx.moderation.registered(user.key);
    // With its key: a server whose --op names it, when this one's does not,
    // makes it an operator.
    await ctx.cluster?.accountsChanged(user.key);
    // An --op account is an operator on every server of a cluster, not only
    // on the one it was registered on.
    if (madeOperator) await ctx.cluster?.announce({ kind: "moderation" });
    session.reply(TEXT.registered(user.name));
  },
};

/** `password`: a new password, after the current one. */
export const password: Command = {
  name: "password",
  usage: "password",
  summary: "change your account's password",
  details: ["Asks for the current password first, then the new one twice."],
  loginRequired: true,
  async run(ctx) {
    const { session, store, hasher } = ctx;
    const account = await ownAccount(ctx);
    const current = await session.ask(TEXT.currentPassword, {
      secret: true,
      more: true,
    });
    if (current === null) return void cancelled(ctx);
    if (await checkPassword(ctx, account, current) === null) return;
    const next = await askNew(
      ctx,
      TEXT.newPassword(MIN_PASSWORD_CHARS),
      "",
      { again: true },
    );
    if (next === null) return;
    const hash = await hasher.hash(next, queued(ctx));
    // Taken over while it was hashed (the owner logged in again, and may
    // have changed it there since): the change is the new session's to make.
    if (!stillOwns(ctx, account)) return;
    try {
      await store.setPassword(account.key, hash);
    } catch (error) {
      // As for `register`: Redis may still take it.
      if (error instanceof StoreUnavailable) {
        ctx.cluster?.passwordUnanswered(ctx.user, hash);
      }
      throw error;
    }
    session.reply(TEXT.passwordChanged);
  },
};

/**
 * `unregister [PASSWORD]`: the account is deleted; its name is free again.
 * The password on the line is taken as `login NAME PASSWORD` takes it: a
 * wrong one is refused without asking again.
 */
export const unregister: Command = {
  name: "unregister",
  usage: "unregister [PASSWORD]",
  summary: "delete your account (asks for its password)",
  details: [
    "You stay online as a guest; the messages waiting go too.",
    '"unregister PASSWORD" is for scripts.',
  ],
  loginRequired: true,
  async run(ctx, given) {
    const { session, store, user, moderation, registry } = ctx;
    const account = await ownAccount(ctx);
    const refuseIfHeld = () => {
      const held = moderation.onAccount(account.key);
      if (held !== null) {
        throw new ChatError(
          TEXT.cannotUnregisterSanctioned,
          sanctionText(held, roomShown(registry, held.room) ?? ""),
        );
      }
    };
    refuseIfHeld();
    const typed = given !== ""
      ? given
      : await session.ask(TEXT.unregisterPassword(account.name), {
        secret: true,
      });
    if (typed === null) return void cancelled(ctx);
    if (await checkPassword(ctx, account, typed) === null) return;
    // Taken over while it was checked: the account is the new session's.
    if (!stillOwns(ctx, account)) return;
    // Again: a ban or mute set while the password was asked for holds too.
    refuseIfHeld();
    await store.deleteAccount(account.key);
    user.account = null;
    ctx.cluster?.updated(user);
    // Its roles go with it, here and (announced) on every server of a
    // cluster: whoever registers the name next starts with none.
    moderation.accountDeleted(account.key);
    registry.accountDeleted(account.key);
    await ctx.cluster?.accountsChanged();
    await ctx.cluster?.announce({ kind: "moderation" });
    await ctx.cluster?.announce({ kind: "rooms" });
    session.reply(TEXT.unregistered(account.name));
  },
};
