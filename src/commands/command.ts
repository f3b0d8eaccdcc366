/**
 * What a command is, and the small context it runs in. Commands never see a
 * socket: they talk to the registry, rooms and users, and reply through the
 * session.
 *
 * @module
 */

import type { Config } from "../config.ts";
import type { Registry } from "../registry.ts";
import type { Recipient, User } from "../room.ts";

/** The part of a session a command may touch. */
export interface SessionControl {
  /** The user, once logged in. */
  user: User | null;
  /** Where this session's lines go. */
  readonly recipient: Recipient;
  /** Sends lines to this session only. */
  reply(...lines: string[]): void;
  /** Ends the session once the current line is handled. */
  end(): void;
}

/** What every command gets. */
export interface Context {
  readonly session: SessionControl;
  readonly registry: Registry;
  readonly config: Config;
  /** The command table, for help. */
  readonly commands: ReadonlyMap<string, Command>;
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
  /**
   * The command needs text after its word; without it the sender gets the
   * usage and `run` is not called.
   */
  readonly needsArgs?: boolean;
}

/** A command usable before login (and after). */
export interface AnyStateCommand extends CommandInfo {
  readonly loginRequired: false;
  /** Handles one line; throws a ChatError for the user's mistakes. */
  run(ctx: Context, args: string): void;
}

/** A command usable only once logged in. */
export interface UserCommand extends CommandInfo {
  readonly loginRequired: true;
  /** Handles one line; throws a ChatError for the user's mistakes. */
  run(ctx: UserContext, args: string): void;
}

/** One entry of the command table. */
export type Command = AnyStateCommand | UserCommand;
