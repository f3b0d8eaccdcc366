/**
 * How a session speaks to its client: the transport's way of rendering what
 * the session has to say, in front of the transport's outbox. The session
 * says what happened (an answer, an event, a question); only the output
 * knows that telnet shows `alice: hi` and asks for a password with IAC WILL
 * ECHO, and that a browser gets JSON.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { ChatEvent, ChatLine } from "../events.ts";
import type { FrameSink, Room } from "../room.ts";
import type { Transport } from "./transport.ts";

/** What a connection needs to make its session's output. */
export interface OutputOptions {
  /** The most bytes that may wait for a slow reader. */
  maxBytes: number;
  /** Output may stay above this for `softMs` at most. */
  softBytes: number;
  softMs: number;
  clock: Clock;
  /** The reader is too slow: a bound was passed. */
  onOverflow(bound: "hard" | "soft"): void;
  /** A write failed: the peer is gone. */
  onError(error: unknown): void;
  /**
   * Whether the client looks like telnet (it can hide what is typed):
   * asked at each secret prompt, since it is learnt from what it sends.
   */
  telnetLike(): boolean;
  /** The client's answer to IAC WILL ECHO, if it has sent one. */
  echoAnswer(): "do" | "dont" | null;
}

/**
 * How long a client that looks like telnet has to agree (IAC DO ECHO) to
 * the server's IAC WILL ECHO before it is told its password will show.
 * Telnet answers at once, a round trip later; a person types a password in
 * more than this.
 */
export const ECHO_ANSWER_MS = 2000;

/** A session's output, for one transport. */
export interface SessionOutput {
  /** How the transport renders a room's events. */
  readonly transport: Transport;
  /** Where a room's frames go (the outbox). */
  readonly sink: FrameSink;
  /** A command's answer, for this client alone. */
  reply(lines: readonly string[]): void;
  /** What the user got wrong (a `ChatError`), for this client alone. */
  error(lines: readonly string[]): void;
  /** A line from the server or a moderator, for this client alone. */
  notice(line: string): void;
  /** An event for this client alone; `outgoing`: the user sent it. */
  event(event: ChatEvent, outgoing: boolean): void;
  /** Chat lines from a room's history, oldest first. */
  history(events: readonly ChatLine[]): void;
  /**
   * Asks for one line; a secret is hidden as it is typed where it can be,
   * and where it cannot the user is told first, unless told already
   * (`again`: a further question of the same command).
   */
  prompt(text: string, secret: boolean, again?: boolean): void;
  /**
   * The answer to the last prompt has come; `more`: another secret question
   * of the same command follows (see `AskOptions.more`).
   */
  answered(more?: boolean): void;
  /**
   * A secret prompt has waited {@linkcode ECHO_ANSWER_MS} with no answer
   * line: a client that has not agreed to hide what is typed by now will
   * not (it was not telnet after all), and is told its password will show.
   */
  unanswered?(): void;
  /**
   * The client sent a telnet negotiation (`verb`: 251 WILL to 254 DONT), as
   * it is read: it is telnet, and it may wait for an answer (after ^C, its
   * IAC DO TIMING-MARK).
   */
  negotiated?(verb: number, option: number): void;
  /**
   * A line had bytes that are not UTF-8: a client taken for telnet may have
   * taken a byte of a letter for a control key (`Å`, C3 85, ends in ^E,
   * which Debian's telnet drops), and is asked to send its bytes as they
   * are, so that the line typed again arrives whole.
   */
  undecodable?(): void;
  /** The user is now in `room` (or, with null, logged out). */
  moved(room: Room | null, name: string | null): void;
  /**
   * The members of the user's room on every server of a cluster, where the
   * client lists them (the page): `moved` knew only this server's. Absent
   * where the client lists none (telnet, whose users ask with `look`).
   */
  members?(room: Room, names: readonly string[]): void;
  /** Resolves once everything queued is written, or after `ms`. */
  drained(ms: number): Promise<void>;
  /**
   * Whether everything queued so far is written (the kernel has it) and
   * the output still takes more: false while some waits for a slow reader,
   * once a write failed or a bound was passed, and for a page while its
   * socket is away (what it is sent is kept for its return, not written).
   */
  readonly written: boolean;
  /** Drops what is queued and refuses more. */
  discard(): void;
}
