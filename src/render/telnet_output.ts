/**
 * The session output of telnet and nc: text lines, CRLF-terminated, through
 * a byte outbox; a secret is asked for with IAC WILL ECHO where the client
 * can hide it.
 *
 * @module
 */

import type { ChatEvent, ChatLine } from "../events.ts";
import { type ByteWriter, Outbox } from "../outbox.ts";
import type { FrameSink } from "../room.ts";
import { encodeLine, TEXT } from "../text.ts";
import type { OutputOptions, SessionOutput } from "./output.ts";
import { eventText, historyText, TELNET } from "./telnet.ts";
import type { Transport } from "./transport.ts";

/** Telnet's IAC WILL ECHO: the server echoes, so the client shows nothing. */
const WILL_ECHO = new Uint8Array([255, 251, 1]);
/** IAC WONT ECHO: the client shows what is typed again. */
const WONT_ECHO = new Uint8Array([255, 252, 1]);
/**
 * IAC WILL TIMING-MARK: what telnet waits for after ^C (IAC IP IAC DO
 * TIMING-MARK), throwing away what comes before it. BSD's telnetd answers
 * the same.
 */
const WILL_TIMING_MARK = new Uint8Array([255, 251, 6]);
/**
 * IAC DO BINARY: asks telnet to send its bytes as they are. Without it,
 * Debian's telnet takes a UTF-8 byte with the low seven bits of a control
 * key for that key: "я" (D1 8F) ends in ^O, "Ü" (C3 9C) in ^\, and "Н"
 * (D0 9D) in ^], which opens telnet's own prompt. Its lines then end with
 * a bare LF, which the reader takes as it takes nc's.
 */
const DO_BINARY = new Uint8Array([255, 253, 0]);
/** Telnet's DO, and the options a client's negotiation is answered for. */
const DO = 253;
const DONT = 254;
const TIMING_MARK = 6;
const ECHO = 1;

/** Text lines to a telnet or nc client. */
export class TelnetOutput implements SessionOutput {
  readonly #outbox: Outbox;
  readonly #telnetLike: () => boolean;
  readonly #echoAnswer: () => "do" | "dont" | null;
  /** The echo is off for the prompt being answered. */
  #hidden = false;
  /**
   * The client looked like telnet but did not answer IAC WILL ECHO: it is
   * a raw client that ends its lines with CRLF (`nc -C`, a script), told
   * from now on, as nc is, that what it types will show. Or it refused a
   * WILL ECHO (busybox's telnet, once a WONT ECHO has put it back in line
   * mode, refuses every WILL ECHO after), and is told the same.
   */
  #raw = false;
  /**
   * The DONT ECHO answers still to come to WONT ECHOs sent to a client that
   * had agreed to the WILL ECHO before: telnet acknowledges each, and a
   * DONT ECHO past them, while a password is asked for, refuses the prompt's
   * WILL ECHO.
   */
  #wontAcks = 0;
  /**
   * A secret was answered and the echo is still off: IAC WONT ECHO is owed
   * (see {@linkcode answered}); `#owedAck`: telnet will acknowledge it.
   */
  #echoOwed = false;
  #owedAck = false;
  /** The prompt being answered kept the echo off from the one before. */
  #carried = false;
  /**
   * The client has agreed (IAC DO ECHO) to a WILL ECHO: it is telnet. Its
   * latest answer is no guide after that: each WONT ECHO that restores the
   * echo is answered DONT ECHO.
   */
  #agreed = false;
  /** IAC DO BINARY has been sent: once, to a client known to be telnet. */
  #binaryAsked = false;

  constructor(writer: ByteWriter, options: OutputOptions) {
    this.#outbox = new Outbox(writer, {
      maxBytes: options.maxBytes,
      softBytes: options.softBytes,
      softMs: options.softMs,
      clock: options.clock,
      onOverflow: options.onOverflow,
      onError: options.onError,
    });
    this.#telnetLike = options.telnetLike;
    this.#echoAnswer = options.echoAnswer;
  }

  get transport(): Transport {
    return TELNET;
  }

  get sink(): FrameSink {
    return this.#outbox;
  }

  reply(lines: readonly string[]): void {
    this.#restoreEcho();
    for (const line of lines) this.#outbox.deliver(encodeLine(line));
  }

  error(lines: readonly string[]): void {
    this.reply(lines);
  }

  notice(line: string): void {
    this.#restoreEcho();
    this.#outbox.deliver(encodeLine(line));
  }

  event(event: ChatEvent, outgoing: boolean): void {
    this.#restoreEcho();
    this.#outbox.deliver(encodeLine(eventText(event, outgoing)));
  }

  history(events: readonly ChatLine[]): void {
    this.#restoreEcho();
    for (const event of events) {
      this.#outbox.deliver(encodeLine(historyText(event)));
    }
  }

  /**
   * A secret is asked for with IAC WILL ECHO where the client looks like
   * telnet (then IAC WONT ECHO once it is in, and the command has no other
   * question for it); a client that does not is first told that what it
   * types will show.
   */
  prompt(text: string, secret: boolean, again = false): void {
    const hidden = secret && !this.#raw && this.#telnetLike();
    if (!hidden) this.#restoreEcho();
    this.#hidden = hidden;
    if (secret && !hidden && !again) this.notice(TEXT.secretWillShow);
    this.#outbox.deliver(encodeLine(text));
    this.#carried = hidden && this.#echoOwed;
    if (this.#carried) this.#echoOwed = false;
    else if (hidden) this.#outbox.deliver(WILL_ECHO);
  }

  /**
   * With `more`, the echo stays off until the next question or anything
   * else sent (a command whose question is followed by another either asks
   * it or answers with a line): the command's next secret (the password
   * again) is asked with no WONT ECHO and WILL ECHO between, which busybox's
   * telnet would take for leaving character mode for good.
   */
  answered(more = false): void {
    if (this.#hidden) {
      const accepted = this.#echoAnswer() === "do";
      if (accepted) this.#agreed = true;
      this.#echoOwed = true;
      this.#owedAck = accepted;
      if (!more) this.#restoreEcho();
    }
    this.#hidden = false;
  }

  /** Sends the IAC WONT ECHO owed since the last secret was answered. */
  #restoreEcho(): void {
    if (!this.#echoOwed) return;
    this.#echoOwed = false;
    this.#outbox.deliver(WONT_ECHO);
    if (this.#owedAck) this.#wontAcks++;
  }

  unanswered(): void {
    if (!this.#hidden || this.#agreed) return;
    if (this.#echoAnswer() === "do") {
      this.#agreed = true;
      return;
    }
    // No telnet client: what it types shows, and it gets no more telnet
    // bytes (not even the IAC WONT ECHO that would follow the answer).
    this.#hidden = false;
    this.#raw = true;
    this.notice(TEXT.secretShowsAfterAll);
  }

  /**
   * Only telnet negotiates: its first negotiation (the IAC DO ECHO that
   * answers a password prompt, or the IAC DO TIMING-MARK after ^C, or after
   * a UTF-8 byte it took for ^C) brings IAC DO BINARY, once, in time for a
   * password typed at that prompt. nc gets no telnet bytes, and nc -C none
   * but a prompt's and, after a line that is not UTF-8, IAC DO BINARY (see
   * `undecodable`). A timing mark is answered at once, every time.
   */
  negotiated(verb: number, option: number): void {
    if (verb === DO && option === TIMING_MARK) {
      this.#outbox.deliver(WILL_TIMING_MARK);
    } else if (
      verb === DO && option === ECHO && !this.#hidden && !this.#echoOwed
    ) {
      // Asked to echo, unprompted (Debian's telnet after `mode character`,
      // PuTTY as it connects): the server does not, and says so, or the
      // client waits for an echo that never comes and shows nothing typed.
      // A DO ECHO while a password is asked for answers the WILL ECHO.
      this.#outbox.deliver(WONT_ECHO);
    } else if (verb === DONT && option === ECHO) {
      if (this.#wontAcks > 0) this.#wontAcks--;
      else if (this.#hidden) this.#refused();
    }
    this.#askBinary();
  }

  /**
   * The client refused the prompt's WILL ECHO: it shows what is typed, and
   * is told so at once, before the password is typed.
   */
  #refused(): void {
    this.#hidden = false;
    this.#raw = true;
    // The echo was off from the question before: the client turns it on,
    // and is answered as the option's rules ask.
    if (this.#carried) this.#outbox.deliver(WONT_ECHO);
    this.notice(TEXT.secretShowsAfterAll);
  }

  /**
   * A line that is not UTF-8 from a client taken for telnet (CRLF), which
   * has not negotiated yet: it may be telnet mangling a letter. A raw
   * client (one that never agreed to hide a password) gets no telnet bytes.
   */
  undecodable(): void {
    if (this.#telnetLike() && !this.#raw) this.#askBinary();
  }

  /** Sends IAC DO BINARY, once. */
  #askBinary(): void {
    if (this.#binaryAsked) return;
    this.#binaryAsked = true;
    this.#outbox.deliver(DO_BINARY);
  }

  moved(): void {
    // Telnet users are told in words, by the commands that move them.
  }

  drained(ms: number): Promise<void> {
    return this.#outbox.drained(ms);
  }

  get written(): boolean {
    return this.#outbox.alive && this.#outbox.queuedBytes === 0;
  }

  discard(): void {
    this.#outbox.discard();
  }
}
