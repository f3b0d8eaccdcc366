/**
 * What a command is, and the small context it runs in. Commands never see a
 * socket: they talk to the registry, rooms and users, and reply through the
 * session.
 *
 * @module
 */

import { isLoopback, type RateWindow } from "../limits.ts";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { ChatEvent, ChatLine } from "../events.ts";
import type { Cluster, Presence } from "../cluster/cluster.ts";
import { ChatError } from "../errors.ts";
import type { DisconnectReason } from "../metrics.ts";
import type { Moderation, Role } from "../moderation.ts";
import type { PasswordHasher } from "../passwords.ts";
import type { Registry } from "../registry.ts";
import type { Store } from "../store/store.ts";
import type { Recipient, Room, User } from "../room.ts";
import { TEXT } from "../text.ts";

/**
 * How a session reads lines: `command` (the seed's way, the default: every
 * line is a command) or `chat` (a line is said; commands need a `/`).
 */
export type InputMode = "command" | "chat";

/** How {@linkcode SessionControl.ask} asks. */
export interface AskOptions {
  /** A password: hidden as it is typed where the client can hide it. */
  readonly secret?: boolean;
  /**
   * A further question of the same command (the password again, after a
   * wrong one, or the current one): a client that shows what it types has
   * been told so already, and is not told again.
   */
  readonly again?: boolean;
  /**
   * Another secret question of this command follows this one's answer (the
   * password again, the new one after the current one): telnet's echo stays
   * off until it is asked (busybox's telnet leaves character mode for good
   * when it is turned on). Without it the echo comes back at the answer.
   */
  readonly more?: boolean;
}

/**
 * A per-address limit that refused what a session asked for, for the log:
 * `--max-registrations-per-ip`, `--max-new-rooms-per-ip`.
 */
export type LimitRefusal = "too_many_registrations" | "too_many_new_rooms";

/** The part of a session a command may touch. */
export interface SessionControl {
  /** The user, once logged in. */
  user: User | null;
  /** How lines are read. */
  mode: InputMode;
  /** Where this session's lines go. */
  readonly recipient: Recipient;
  /** Sends lines to this session only. */
  reply(...lines: string[]): void;
  /** Shows this session an event (its own private message, say). */
  show(event: ChatEvent): void;
  /** Shows chat lines from a room's history, oldest first, marked as such. */
  showHistory(events: readonly ChatLine[]): void;
  /** Ends the session once the current line is handled (default: logout). */
  end(reason?: DisconnectReason): void;
  /**
   * The peer's address as limits and failed logins count it: an IPv4
   * address, or an IPv6 address's /64.
   */
  readonly address: string;
  /** The peer as the log names it: `IP:PORT`. */
  readonly remote: string;
  /** False once the session is ending: a command that waited should stop. */
  readonly active: boolean;
  /** Wrong passwords typed on this connection. */
  wrongPasswords: number;
  /**
   * Waits `ms` on the server's clock; false if the session ended meanwhile
   * (then the command should stop).
   */
  wait(ms: number): Promise<boolean>;
  /**
   * Resolves once what was sent to this session so far is written to its
   * connection, or after `timeoutMs`: true only if all of it was written
   * by then; false while some still waits (a slow reader), once the
   * connection failed, and for a page whose socket is away. Written is
   * not read: the kernel has the bytes, and a peer lost after that (or one
   * that closed only its side, which may still read) is not seen.
   * Default: the 2 s a closing session gets to flush.
   */
  flushed(timeoutMs?: number): Promise<boolean>;
  /** Aborted when the session ends: what it waits for can be called off. */
  readonly signal: AbortSignal;
  /**
   * Runs `work`, a wait of the server's making (a delay after failed
   * logins, a turn for a hash), without the login timeout running out
   * meanwhile.
   */
  hold<T>(work: Promise<T>): Promise<T>;
  /**
   * Asks the user for one line: resolves to it, or to null when they answer
   * with a blank line (to cancel) or leave. A `secret` (a password) is not
   * shown as it is typed where the client can hide it, and the user is told
   * beforehand where it cannot (not `again`: a further question of the same
   * command, once they have been told).
   */
  ask(prompt: string, options?: AskOptions): Promise<string | null>;
  /**
   * The user said something to others (say, me, msg, reply): they are in a
   * conversation, and what is said to them should reach them at once.
   */
  spoke(): void;
  /**
   * The width, in characters, that a table or long explanation is wrapped
   * to: a terminal's (telnet, TLS), or none for a page, which lays its
   * lines out itself. Default: none.
   */
  readonly columns?: number;
  /** Whether the client lists its room's members (the page does). */
  readonly listsMembers?: boolean;
  /**
   * Shows a client that lists its room's members those on every server of
   * a cluster, if its user is still in `room`.
   */
  showMembers?(user: User, room: Room, names: readonly string[]): void;
}

/** What every command gets. */
export interface Context {
  readonly session: SessionControl;
  /** The session's user, once logged in (the same as `session.user`). */
  readonly user: User | null;
  readonly registry: Registry;
  /** What outlives the process: accounts, history, topics. */
  readonly store: Store;
  readonly config: Config;
  /** The command table, for help. */
  readonly commands: ReadonlyMap<string, Command>;
  /** The server's clock, for durations. */
  readonly clock: Clock;
  /** The message of the day, sanitised; empty when there is none. */
  readonly motd: readonly string[];
  /** Password hashes, a few at a time. */
  readonly hasher: PasswordHasher;
  /** Operators, bans, mutes, lockdown. */
  readonly moderation: Moderation;
  /**
   * Accounts registered lately, by address (`--max-registrations-per-ip`);
   * none: no limit.
   */
  readonly registrations?: RateWindow | null;
  /**
   * Rooms made lately, by address (`--max-new-rooms-per-ip`); none: no
   * limit.
   */
  readonly newRooms?: RateWindow | null;
  /** The cluster this server is part of (`--redis`), or none. */
  readonly cluster?: Cluster | null;
  /** Counts a line received, by kind (the command's name ...), for /metrics. */
  counted?(kind: string): void;
  /**
   * Tells the server a per-address limit refused this session's request,
   * for its log (throttled per address there, as refused connections are).
   */
  limited?(refusal: LimitRefusal): void;
}

/** The context of a command that needs a login: the user is there. */
export interface UserContext extends Context {
  readonly user: User;
}

interface CommandInfo {
  /** The word that runs it, lower case. */
  readonly name: string;
  /** How to call it, for help and for "Usage:" replies: `say TEXT`. */
  readonly usage: string;
  /** One line for help. */
  readonly summary: string;
  /** More for `help COMMAND`, a line each. */
  readonly details?: readonly string[];
  /**
   * The command needs text after its word; without it the sender gets the
   * usage and `run` is not called.
   */
  readonly needsArgs?: boolean;
  /**
   * The role the user needs (moderation commands): checked by the
   * dispatcher, which answers one line saying which role it is; `help`
   * lists the command only to those who have it.
   */
  readonly role?: Role;
}

/** A command usable before login (and after). */
export interface AnyStateCommand extends CommandInfo {
  readonly loginRequired: false;
  /**
   * Handles one line; throws (or rejects with) a ChatError for the user's
   * mistakes. A command that must wait (for the store, a hash, an answer)
   * returns a promise, and the session reads no other line meanwhile.
   */
  run(ctx: Context, args: string): void | Promise<void>;
}

/** A command usable only once logged in. */
export interface UserCommand extends CommandInfo {
  readonly loginRequired: true;
  /** Handles one line; as {@linkcode AnyStateCommand.run}. */
  run(ctx: UserContext, args: string): void | Promise<void>;
}

/** One entry of the command table. */
export type Command = AnyStateCommand | UserCommand;

/**
 * A command whose first word is a user's name (or, for ban and mute, a
 * target): one leading `@`, as the page and chat apps write a name, is
 * dropped (a name cannot hold an `@`), as `join` drops IRC's `#`. Wrapped
 * here, in the command, so that the dispatcher (every line's way, `say`'s
 * included) does no more work.
 */
export function takesName(command: UserCommand): UserCommand {
  const { run } = command;
  return {
    ...command,
    run(ctx, args) {
      if (!args.startsWith("@")) return run(ctx, args);
      const name = args.slice(1);
      // "@" alone names nobody: not the list `ignore` shows with no name.
      if (name.trim() === "") {
        throw new ChatError(TEXT.usage(command.usage));
      }
      return run(ctx, name);
    },
  };
}

/**
 * A command that takes one name and nothing after it (`whois NAME`,
 * `ignore [NAME]`), as {@linkcode takesName}: more than one word gets the
 * usage. A name is one word, so "whois bob please" would otherwise be
 * answered that nobody called "bob please" is online while bob is.
 */
export function takesOneName(command: UserCommand): UserCommand {
  const named = takesName(command);
  return {
    ...named,
    run(ctx, args) {
      if (/\s/.test(args)) throw new ChatError(TEXT.usage(command.usage));
      return named.run(ctx, args);
    },
  };
}

/** Splits text into its first word and the rest, trimmed. */
export function splitWord(text: string): [word: string, rest: string] {
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  if (space === -1) return [trimmed, ""];
  return [trimmed.slice(0, space), trimmed.slice(space + 1).trim()];
}

/**
 * `name` on this server: the user, if they are in a room; null for one here
 * in no room (kicked off the server, their session not logged out yet),
 * who is nobody online, as {@linkcode findElsewhere} has it of another
 * server's, and is not to be looked for there; undefined if nobody here has
 * the name.
 */
export function findHere(
  registry: Registry,
  name: string,
): User | null | undefined {
  const found = registry.find(name);
  return found?.room === null ? null : found;
}

/**
 * Who has `name` on another server of the cluster, for a name nobody has
 * here: null without a cluster or when nobody there has it. While Redis
 * cannot be reached this server cannot tell, and says so (a ChatError)
 * rather than that nobody by the name is online.
 *
 * Null too for a name held in no room: taken for a login not done yet (or
 * a session on its way out), as on one server, where nobody is online
 * before they are in main. Shown, it was `in room ""`, and a kick sent
 * with it was answered `is not in ""`.
 */
export async function findElsewhere(
  ctx: Context,
  name: string,
): Promise<Presence | null> {
  const { cluster } = ctx;
  if (!cluster) return null;
  if (!cluster.up) throw new ChatError(TEXT.notHereClusterAway(name));
  const there = await cluster.find(name);
  return there === null || there.room === "" ? null : there;
}

/**
 * Takes a place in `window`, a per-address limit (`--max-...-per-ip`), for
 * the user's address, or throws `refusal` (and has the server log it as
 * `reason`). Null when no limit holds (none set, or loopback without
 * `--limit-loopback`), else the window, to give the place back to if what
 * it was taken for is not done.
 */
export function takePlace(
  ctx: UserContext,
  window: RateWindow | null | undefined,
  reason: LimitRefusal,
  refusal: string,
): RateWindow | null {
  if (!window) return null;
  if (!ctx.config.limitLoopback && isLoopback(ctx.user.hostname)) return null;
  if (!window.take(ctx.session.address)) {
    ctx.limited?.(reason);
    throw new ChatError(refusal);
  }
  return window;
}
