/**
 * What a cluster's parts say to each other: what Redis holds of each user
 * online (`Presence`), what a server tells every other (`Announcement`) or
 * the one holding a user (`Control`), and what the cluster asks of the
 * server it is part of (`ClusterHost`). Types only: `cluster.ts` does the
 * work, and exports these again for those who import it.
 *
 * @module
 */

import type { Registry } from "../registry.ts";
import type { User } from "../room.ts";
import type { Sanction } from "../store/store.ts";

/** What Redis knows of a user online. */
export interface Presence {
  readonly name: string;
  readonly key: string;
  readonly skeleton: string;
  /** The server holding them. */
  readonly node: string;
  /** When they logged in (epoch ms). */
  readonly since: number;
  /**
   * Their session, as `Cluster`'s `#session` writes it (not yet known while
   * the name is claimed, before the user exists).
   */
  readonly login?: string;
  /** When they last sent a line (epoch ms), to within 15 s. */
  readonly active: number;
  readonly account: string | null;
  /** Their room's key and name, or "". */
  readonly room: string;
  readonly roomName: string;
  /** The away message ("" when away with no reason), or null when here. */
  readonly away: string | null;
  /** The address they are connected from (a guest is banned by it). */
  readonly address: string;
}

/**
 * What Redis answered a name asked for (a login, a rename): taken here or
 * elsewhere, like a name online, or Redis could not be asked.
 */
export type ClaimResult = "ok" | "taken" | "offline" | { lookalike: string };

/**
 * What happens on every server after a moderator acted on one (`from`: the
 * server it came from, which has done it already).
 */
export type Announcement =
  /**
   * Bans, mutes, operators or the lockdown changed: reload them, and act on
   * the users a new sanction matches, or tell those a lifted one held.
   * `notice`: a line for the user with that key, wherever they are, once
   * their server has reloaded (told before, they could be refused what they
   * were just told they may do).
   */
  | {
    kind: "moderation";
    sanction?: Sanction;
    lifted?: Sanction;
    /**
     * The sanction's (or the lifted one's) room as its moderator's server
     * writes it ("Den"): a server with nobody in it knows only its key.
     */
    roomName?: string;
    /**
     * The sanction's room's owner (an account key), as its moderator's
     * server knows it: the owner is exempt from their room's sanctions, and
     * a server with nobody in the room does not know them.
     */
    roomOwner?: string | null;
    notice?: { key: string; text: string };
    from?: string;
  }
  /** A claimed room's owner or room operators changed: reload them. */
  | {
    kind: "rooms";
    notice?: { key: string; text: string };
    from?: string;
  }
  /**
   * An account was registered or deleted. `registered`: the key of one just
   * registered, which a server whose `--op` names it makes an operator (the
   * server it was registered on may not have been given that `--op`).
   */
  | { kind: "accounts"; registered?: string; from?: string };

/** A request from one server to the one holding a user. */
export type Control =
  | {
    kind: "kick";
    key: string;
    /**
     * Their name and session as the kicker found them: one who has left
     * since (perhaps with someone else under the name now) is not kicked,
     * and the kicker is told nobody by the name is online.
     */
    name?: string;
    login?: string;
    by: string;
    reason: string;
    /**
     * The room the kicker saw them in (its key and name): they are kicked
     * only if they are still there (from main, a server operator's kick,
     * off the server), and the kicker (`from`) is told if not.
     */
    room: string;
    roomName: string;
    from: { node: string; key: string };
    /**
     * The kicker is not in that room (a server operator's kick from
     * elsewhere), so sees no line of it there: they are told once done.
     */
    tell?: boolean;
  }
  | { kind: "notice"; key: string; text: string }
  /**
   * The user's account has logged in on another server, with its password:
   * this session ends, and the name is freed for the new one. `reclaimed`:
   * from RECLAIM, the later login taking the name back after Redis was
   * away; the other servers took this session for gone already (it was
   * reaped, or Redis forgot it) and see the later one in its place, so it
   * is seen leaving on its own server only.
   */
  | { kind: "replace"; key: string; address: string; reclaimed?: boolean };

/** What the cluster asks of the server it is part of. */
export interface ClusterHost {
  readonly registry: Registry;
  /** An announcement from a server (this one included). */
  announced(announcement: Announcement): void;
  /** A request for one of this server's users. */
  control(control: Control): void;
  /**
   * A name this server's user holds (or, `lookalike`, one that looks like
   * it) was kept, while Redis was away, by a user elsewhere who logged in
   * first, or (`account`) a guest's name, or one like it, was registered
   * elsewhere meanwhile: rename ours and tell them.
   */
  yieldName(
    user: User,
    why?: { lookalike?: string; account?: string },
  ): void;
  /**
   * A guest's `register` that Redis did not answer ran after all (the
   * account holds the hash they sent): they are told, and the servers hear
   * of the account, as after a `register` answered at once.
   */
  registeredAfterAll(user: User): Promise<void>;
  /**
   * `user`'s account is no longer in Redis (it came back without its
   * data): they are a guest now, and are told.
   */
  accountLost(user: User, account: string): void;
  /**
   * A `password` change Redis did not answer ran after all (the account
   * holds the hash sent): its owner is told.
   */
  passwordChangedAfterAll(user: User): void;
  /** The sender of a line Redis did not take is told. */
  notHeard(user: User): void;
  /**
   * This server has taken its places again after it was cut off: what
   * moderators did meanwhile (announced without it) is read again.
   */
  retaken(): Promise<void>;
}
