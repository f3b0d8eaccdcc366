/**
 * One connection, from welcome to goodbye.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type Clock, sleep, type TimerId } from "./clock.ts";
import type {
  AskOptions,
  Command,
  Context,
  InputMode,
  LimitRefusal,
  SessionControl,
} from "./commands/command.ts";
import { dispatch } from "./commands/mod.ts";
import type { Config } from "./config.ts";
import type { Connection, Lines } from "./connection.ts";
import { ChatError } from "./errors.ts";
import { TokenBucket } from "./flood.ts";
import { TlsOnPlainPort } from "./line_reader.ts";
import {
  ExcessFlood,
  Interrupt,
  type LineEvent,
  LineTooLong,
} from "./line_stream.ts";
import { addressKey, type RateWindow } from "./limits.ts";
import type { DisconnectReason, RemovalReason } from "./metrics.ts";
import type { Cluster } from "./cluster/cluster.ts";
import type { Moderation } from "./moderation.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { ChatEvent, ChatLine } from "./events.ts";
import type { Registry } from "./registry.ts";
import type { Store } from "./store/store.ts";
import { ECHO_ANSWER_MS, type SessionOutput } from "./render/output.ts";
import type { Transport } from "./render/transport.ts";
import type { FrameSink, Recipient, Room, User } from "./room.ts";
import { sanitize, TEXT } from "./text.ts";

/** What the decoder puts where bytes are not UTF-8. */
const REPLACEMENT = "\uFFFD";

/** The width of the terminal telnet and nc usually run in. */
const TERMINAL_COLUMNS = 80;

/** How long a closing session may take to flush its output, in ms. */
const FLUSH_MS = 2000;

/** A first line that is an HTTP request: a browser, or a scanner. */
const HTTP_REQUEST = /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH) /;

/** How a client came: the plain port, the TLS port, or a WebSocket. */
export type SessionKind = "telnet" | "tls" | "websocket";

/**
 * What every session of a server shares: made once by the server, so that a
 * session holds one reference, not a copy of each (an idle connection is
 * mostly its session).
 */
export interface ServerContext {
  /** Called once when a session has ended, its connection closed. */
  ended(session: Session, reason: DisconnectReason): void;
  /** Counts a line received, by kind (the command's name, `blank` ...). */
  counted(kind: string): void;
  /** Logs a per-address limit's refusal of a session's request. */
  limited?(
    refusal: LimitRefusal,
    from: { remote: string; address: string; name: string },
  ): void;
  readonly registry: Registry;
  readonly store: Store;
  readonly config: Config;
  readonly commands: ReadonlyMap<string, Command>;
  readonly log: Logger;
  readonly clock: Clock;
  /** The message of the day, sanitised lines. */
  readonly motd: readonly string[];
  readonly hasher: PasswordHasher;
  readonly moderation: Moderation;
  /** Accounts registered lately, by address; null: no limit. */
  readonly registrations?: RateWindow | null;
  /** Rooms made lately, by address; null: no limit. */
  readonly newRooms?: RateWindow | null;
  /** The cluster this server is part of, or null. */
  readonly cluster: Cluster | null;
}

/** How long a sender's lines wait for flood control before they are told. */
const SLOWED_TOLD_MS = 1000;

/**
 * A connection's life: welcome, then one loop that awaits each line in turn
 * (flood control slows it here) and dispatches it, then cleanup in
 * `finally`, whatever ended the loop: logout, a dropped connection, a slow
 * reader, a flood, a timeout or shutdown.
 */
export class Session implements SessionControl, Context, Recipient {
  /** The user, once logged in. */
  user: User | null = null;
  /** How lines are read: the seed's way unless the user asks for chat. */
  mode: InputMode = "command";
  /** Part of {@linkcode SessionControl}. */
  wrongPasswords = 0;
  /** The peer's address, for logs. */
  readonly remote: string;
  readonly #conn: Connection;
  readonly #output: SessionOutput;
  readonly #server: ServerContext;
  /** How the client came: the plain port, TLS, or a browser's WebSocket. */
  readonly kind: SessionKind;
  /** Why the session ends, once something has said so. */
  #reason: DisconnectReason = "closed";
  /** The error the reader failed with, once it has been handled. */
  #readError: unknown = undefined;
  /**
   * Aborts a flood-control wait once the session is stopping; made on the
   * first wait, since most sessions never wait.
   */
  #abort: AbortController | null = null;
  /** Waits of the server's making (see hold()) under way. */
  #held = 0;
  #stopping = false;
  #closed = false;
  #linesBeforeLogin = 0;
  /** The user has spoken: Nagle's algorithm is off for this connection. */
  #spoken = false;
  /** The login timeout before login, the idle timeout after. */
  #timer: TimerId | null = null;
  /** The connection's lines, once the session runs. */
  #lines: Lines | null = null;
  /** Flood control, when it is on. */
  #bucket: TokenBucket | null = null;
  /**
   * How long the lines have waited since one last passed without waiting:
   * past SLOWED_TOLD_MS, the user has been told.
   */
  #slowedMs = 0;

  constructor(conn: Connection, server: ServerContext, kind: SessionKind) {
    this.#conn = conn;
    this.#server = server;
    this.kind = kind;
    this.remote = formatAddr(conn.remoteAddr);
    const { config } = server;
    this.#output = conn.output({
      maxBytes: config.maxQueueBytes,
      softBytes: config.softQueueBytes,
      softMs: config.softQueueSeconds * 1000,
      clock: server.clock,
      telnetLike: () => this.#lines?.telnetLike ?? false,
      echoAnswer: () => this.#lines?.echoAnswer ?? null,
      onOverflow: (bound) => {
        server.log.warn("Dropped slow reader {remote} ({name}): {limit}", {
          ...this.#about(),
          limit: bound === "hard"
            ? `over ${config.maxQueueBytes} bytes queued`
            : `over ${config.softQueueBytes} bytes queued for ${config.softQueueSeconds} s`,
        });
        this.#because("slow_reader");
        // No line can reach it past what it has not read: a page is told
        // in the close frame, which it is sent after that.
        this.close(1008, TEXT.slowReader);
      },
      onError: () => this.close(),
    });
  }

  // The context commands run in is the session itself: the server's shared
  // parts, and this session.

  /** Part of {@linkcode Context}: this session. */
  get session(): this {
    return this;
  }
  /** Part of {@linkcode Context}. */
  get registry(): Registry {
    return this.#server.registry;
  }
  /** Part of {@linkcode Context}. */
  get store(): Store {
    return this.#server.store;
  }
  /** Part of {@linkcode Context}. */
  get config(): Config {
    return this.#server.config;
  }
  /** Part of {@linkcode Context}. */
  get commands(): ReadonlyMap<string, Command> {
    return this.#server.commands;
  }
  /** Part of {@linkcode Context}. */
  get clock(): Clock {
    return this.#server.clock;
  }
  /** Part of {@linkcode Context}. */
  get motd(): readonly string[] {
    return this.#server.motd;
  }
  /** Part of {@linkcode Context}: counts a line by kind, for /metrics. */
  counted(kind: string): void {
    this.#server.counted(kind);
  }
  /** Part of {@linkcode Context}: a per-address limit refused a request. */
  limited(refusal: LimitRefusal): void {
    this.#server.limited?.(refusal, {
      ...this.#about(),
      address: this.address,
    });
  }
  /** Part of {@linkcode Context}. */
  get hasher(): PasswordHasher {
    return this.#server.hasher;
  }
  /** Part of {@linkcode Context}. */
  get moderation(): Moderation {
    return this.#server.moderation;
  }
  /** Part of {@linkcode Context}. */
  get registrations(): RateWindow | null {
    return this.#server.registrations ?? null;
  }
  /** Part of {@linkcode Context}. */
  get newRooms(): RateWindow | null {
    return this.#server.newRooms ?? null;
  }
  /** Part of {@linkcode Context}. */
  get cluster(): Cluster | null {
    return this.#server.cluster;
  }

  /** Part of {@linkcode SessionControl}. */
  get address(): string {
    return addressKey(this.hostname);
  }

  /** Part of {@linkcode SessionControl}. */
  get active(): boolean {
    return !this.#stopping;
  }

  /** Part of {@linkcode SessionControl}. */
  get signal(): AbortSignal {
    if (this.#stopping) return AbortSignal.abort();
    this.#abort ??= new AbortController();
    return this.#abort.signal;
  }

  /** Part of {@linkcode SessionControl}. */
  hold<T>(work: Promise<T>): Promise<T> {
    this.#held++;
    return work.finally(() => this.#held--);
  }

  /** Part of {@linkcode SessionControl}. */
  wait(ms: number): Promise<boolean> {
    if (this.#stopping) return Promise.resolve(false);
    this.#abort ??= new AbortController();
    return sleep(this.clock, ms, this.#abort.signal).then(
      () => !this.#stopping,
      () => false,
    );
  }

  /**
   * Part of {@linkcode SessionControl}. Whether the session is stopping
   * says nothing of it: one told to stop (kicked, a shutdown) still writes
   * what it was sent, and one that is not may still have it queued when
   * the wait gives up. The output knows; a failed write has discarded it.
   */
  async flushed(timeoutMs = FLUSH_MS): Promise<boolean> {
    await this.#output.drained(timeoutMs);
    return this.#output.written;
  }

  /** The peer's IP address, as connection limits count it. */
  get hostname(): string {
    return this.#conn.remoteAddr.hostname;
  }

  /** Where this session's events go: the session itself. */
  get recipient(): Recipient {
    return this;
  }

  /** Part of {@linkcode Recipient}: how the connection renders events. */
  get transport(): Transport {
    return this.#output.transport;
  }

  /** Part of {@linkcode Recipient}: a room's frames go to the outbox. */
  get sink(): FrameSink {
    return this.#output.sink;
  }

  /** Part of {@linkcode Recipient}: a line for this session alone. */
  notice(line: string): void {
    this.#output.notice(line);
  }

  /** Part of {@linkcode Recipient}: the user is now in `room`. */
  moved(room: Room | null, name: string): void {
    this.#output.moved(room, name);
  }

  /**
   * Part of {@linkcode SessionControl}: lines fit in a terminal of 80
   * columns, as telnet's usually is (the last column left free: some
   * terminals put a line that fills it on two); a page wraps its own.
   */
  get columns(): number | undefined {
    return this.kind === "websocket" ? undefined : TERMINAL_COLUMNS - 1;
  }

  /** Part of {@linkcode SessionControl}: whether the client lists members. */
  get listsMembers(): boolean {
    return this.#output.members !== undefined;
  }

  /** Part of {@linkcode SessionControl}: a room's members on every server. */
  showMembers(user: User, room: Room, names: readonly string[]): void {
    if (user.room === room) this.#output.members?.(room, names);
  }

  /** Part of {@linkcode Recipient}: says `line` and ends the session. */
  disconnect(line: string, reason: RemovalReason): void {
    this.#because(reason);
    this.#stop(line);
  }

  /** Part of {@linkcode Recipient}: an event for this session alone. */
  show(event: ChatEvent): void {
    const outgoing = event.type === "private" && event.from === this.user?.name;
    this.#output.event(event, outgoing);
  }

  /** Shows chat lines from a room's history, marked as such. */
  showHistory(events: readonly ChatLine[]): void {
    this.#output.history(events);
  }

  /** Sends lines to this session only. */
  reply(...lines: string[]): void {
    this.#output.reply(lines);
  }

  /** Ends the session once the current line is handled. */
  end(reason: DisconnectReason = "logout"): void {
    this.#because(reason);
    this.#stop();
  }

  /**
   * The user spoke to others: from now on, lines to them leave at once
   * (TCP_NODELAY). Someone in a conversation has a TCP stack that delays its
   * ACKs, hoping to send them with the next line typed (Linux's ping-pong
   * mode, up to 40 ms; Windows, 200 ms), and with Nagle's algorithm on, every
   * line sent to them meanwhile waits for that ACK. Those who only read keep
   * Nagle's algorithm: their ACKs come as they read, and for one who reads
   * slowly it joins lines into fewer packets. In the steady-rate benchmark,
   * the one timed client that also sent had a fifth to a third of the slowest
   * 1% of all samples before this.
   */
  spoke(): void {
    if (this.#spoken) return;
    this.#spoken = true;
    this.#conn.setNoDelay(true);
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    const config = this.config;
    this.#server.log.info("Connected {remote} ({transport})", {
      remote: this.remote,
      transport: this.kind,
    });
    this.reply(TEXT.welcome(config.name));
    if (config.loginTimeout > 0) this.#armLoginTimeout();
    const flood = config.floodRate > 0;
    this.#bucket = flood
      ? new TokenBucket({
        burst: config.floodBurst,
        rate: config.floodRate,
        clock: this.clock,
      })
      : null;
    const lines = this.#lines = this.#conn.lines({
      maxLineBytes: config.maxLineBytes,
      maxSubnegotiationBytes: config.maxSubnegotiationBytes,
      // Flood control lets lines wait; the reader must see a flood coming.
      maxQueuedLines: flood ? config.floodMaxWaiting : undefined,
      refuseTls: this.kind === "telnet",
      // A flood is found while the loop may be waiting for a token.
      onError: (error) => this.#readFailed(error),
      // Answered as it is read, not in the line queue: telnet shows nothing
      // after ^C until then, however many lines wait for flood control.
      onNegotiation: (verb, option) => this.#output.negotiated?.(verb, option),
    });
    try {
      for await (const event of lines) {
        if (this.#stopping) break;
        const throttled = this.#throttle();
        if (throttled !== undefined) await throttled;
        const handling = this.#handle(event);
        if (handling !== undefined) await handling;
        if (this.#stopping) break;
      }
    } catch (error) {
      this.#readFailed(error);
    } finally {
      if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
      await this.#ownLinesBack();
      if (this.user) this.registry.logout(this.user);
      // In a cluster: once the connection is closed, the name is free on
      // every server.
      const settled = this.#server.cluster?.settled();
      if (settled) await atMost(this.clock, settled, FLUSH_MS);
      await this.#output.drained(FLUSH_MS);
      this.close();
      this.#server.log.info("Disconnected {remote} ({name}): {reason}", {
        ...this.#about(),
        reason: this.#reason,
      });
      this.#server.ended(this, this.#reason);
    }
  }

  /**
   * Starts a graceful end: the user is told the server is shutting down.
   * Resolves once that (and whatever was queued before it) is written, or
   * after `timeoutMs`.
   */
  shutdown(timeoutMs: number): Promise<void> {
    this.#because("shutdown");
    // Not #stop(): the server closes every session at once when all are
    // flushed, so nobody is told of the others' departures after this line.
    if (!this.#stopping) this.reply(TEXT.shuttingDown);
    this.#stopping = true;
    this.#abort?.abort();
    return this.#output.drained(timeoutMs);
  }

  /**
   * Closes the connection now, dropping unsent output; the loop then ends.
   * `code`, `reason`: a page's close frame (see {@linkcode Connection.close}).
   */
  close(code?: number, reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopping = true;
    this.#abort?.abort();
    this.#output.discard();
    this.#conn.close(code, reason);
  }

  /**
   * In a cluster, a session the user ended with `logout` first waits, up
   * to `FLUSH_MS`, for the user's own room lines to come back from Redis:
   * on one server "say hi" then "logout" shows "NAME: hi" before the
   * connection closes, and so it does here. Nothing waits when none is on
   * its way, nor for a connection that is gone.
   */
  async #ownLinesBack(): Promise<void> {
    const cluster = this.#server.cluster;
    if (
      cluster === null || this.user === null || this.#closed ||
      this.#reason !== "logout"
    ) {
      return;
    }
    await atMost(this.clock, cluster.sent(this.user), FLUSH_MS);
  }

  /** Records why the session ends; the first reason given wins. */
  #because(reason: DisconnectReason): void {
    if (!this.#stopping && this.#reason === "closed") this.#reason = reason;
  }

  /**
   * Ends the session: sends `farewell`, its last line (if any), and stops
   * handling lines; the loop's `finally` then logs the user out, flushes the
   * output and closes the connection, in that order, so that a client that
   * sees its connection close knows its name is free. The first call wins.
   * (Why it ends is `#reason`, given to `#because`.)
   */
  #stop(farewell?: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (farewell) this.reply(farewell);
    this.#abort?.abort();
    // The loop may be waiting for input that never comes: ending the lines
    // ends it.
    if (this.#lines !== null) this.#lines.end();
    else this.#output.drained(FLUSH_MS).then(() => this.close());
  }

  #readFailed(error: unknown): void {
    // The reader reports an error as it finds it (onError) and the loop
    // then throws the same one: handle, and log, it once.
    if (error === this.#readError) return;
    this.#readError = error;
    if (error instanceof ExcessFlood) {
      this.#server.log.warn(
        "Excess flood from {remote} ({name})",
        this.#about(),
      );
      this.#because("flood");
      this.#stop(TEXT.excessFlood);
    } else if (error instanceof TlsOnPlainPort) {
      this.#server.log.info("TLS handshake on the plain port from {remote}", {
        remote: this.remote,
      });
      this.#because("tls_on_plain_port");
      this.close();
    } else if (
      !this.#stopping && !isDisconnect(error) &&
      !(error instanceof DOMException && error.name === "AbortError")
    ) {
      this.#server.log.error("Reading from {remote} failed: {error}", {
        remote: this.remote,
        error,
      });
    }
  }

  /** Flood control: waits until the next line may be handled. */
  #throttle(): Promise<void> | undefined {
    const wait = this.#bucket?.take() ?? 0;
    if (wait <= 0) {
      this.#slowedMs = 0;
      return;
    }
    const before = this.#slowedMs;
    this.#slowedMs += wait;
    if (before <= SLOWED_TOLD_MS && this.#slowedMs > SLOWED_TOLD_MS) {
      // Told once, as the lines' answers start to come later than a person
      // would take for a slow server: they know why. A line or two past the
      // burst, half a second each, is not worth a line of its own.
      this.notice(
        TEXT.floodSlowed(this.config.floodBurst, this.config.floodRate),
      );
    }
    this.#abort ??= new AbortController();
    return sleep(this.clock, wait, this.#abort.signal);
  }

  /**
   * Part of {@linkcode SessionControl}: asks the user for one line and
   * resolves to it, or to null when they answer with a blank line (to
   * cancel), or the session ends first. The output asks: a `secret` is
   * hidden as it is typed where the client can hide it.
   */
  async ask(
    prompt: string,
    options: AskOptions = {},
  ): Promise<string | null> {
    const lines = this.#lines;
    if (lines === null || this.#stopping) return null;
    this.#output.prompt(prompt, options.secret === true, options.again);
    // Answered with a line, not cancelled: a further question may follow.
    let answeredLine = false;
    // A client taken for telnet (CRLF) that never agrees to hide the
    // password is told, before it types, that it will show.
    const probe = options.secret === true && this.#output.unanswered
      ? this.clock.setTimeout(
        () => this.#output.unanswered!(),
        ECHO_ANSWER_MS,
      )
      : null;
    try {
      while (true) {
        const next = await lines.next();
        if (next.done || this.#stopping) return null;
        await this.#throttle();
        if (this.#stopping) return null;
        const event = next.value;
        // ^C in telnet: its terminal has thrown away what was typed.
        if (event instanceof Interrupt) return null;
        if (this.user === null && !this.#countLineBeforeLogin()) return null;
        // Counted as the loop counts a line (chat_lines_received_total),
        // by what it is and never by what it says: it may be a password.
        if (event instanceof LineTooLong) {
          this.#server.counted("too_long");
          this.#output.error([TEXT.lineTooLong(event.maxBytes)]);
          return null;
        }
        const line = sanitize(event);
        if (line.trim() === "") {
          this.#server.counted("blank");
          return null;
        }
        this.#server.counted("answer");
        if (this.user !== null) this.#active(this.user);
        answeredLine = true;
        return line;
      }
    } finally {
      if (probe !== null) this.clock.clearTimeout(probe);
      this.#output.answered(answeredLine && options.more === true);
    }
  }

  /**
   * Counts a line sent before login; false (and the session ends) once there
   * are too many.
   */
  #countLineBeforeLogin(): boolean {
    const max = this.config.maxLinesBeforeLogin;
    if (++this.#linesBeforeLogin <= max) return true;
    this.#because("too_many_lines");
    this.#stop(TEXT.tooManyLinesBeforeLogin(max));
    return false;
  }

  /**
   * Handles one line; a promise when its command must wait for something
   * (the store, a password hash, the user's answer to a question).
   */
  #handle(event: LineEvent): Promise<void> | undefined {
    // ^C with no question waiting: nothing to do (the IAC DO TIMING-MARK
    // after it is answered as it is read).
    if (event instanceof Interrupt) return;
    if (this.user === null) {
      if (!this.#countLineBeforeLogin()) return;
      if (
        this.#linesBeforeLogin === 1 && typeof event === "string" &&
        HTTP_REQUEST.test(event)
      ) {
        this.#server.log.info("HTTP request from {remote}", {
          remote: this.remote,
        });
        this.#because("http_on_chat_port");
        this.#stop(TEXT.httpRequest);
        return;
      }
    }
    if (event instanceof LineTooLong) {
      this.#server.counted("too_long");
      this.#output.error([TEXT.lineTooLong(event.maxBytes)]);
      return;
    }
    const line = sanitize(event);
    if (line.includes(REPLACEMENT)) this.#output.undecodable?.();
    if (this.user !== null && line.trim() !== "") this.#active(this.user);
    const wasGuest = this.user === null;
    let handling;
    try {
      handling = dispatch(this, line);
    } catch (error) {
      this.#failed(error);
    }
    if (handling === undefined) {
      this.#handled(wasGuest);
      return;
    }
    return handling.then(
      () => this.#handled(wasGuest),
      (error) => {
        this.#failed(error);
        this.#handled(wasGuest);
      },
    );
  }

  /**
   * A line's command is done, whether it worked or failed: one that logged
   * a guest in (`wasGuest`) swaps the login timeout for the idle one.
   */
  #handled(wasGuest: boolean): void {
    if (wasGuest && this.user !== null) this.#loggedIn();
  }

  /**
   * The user sent a line that was not blank (a command, or an answer to a
   * question): not idle, here and, in a cluster, to whois on other servers.
   */
  #active(user: User): void {
    user.lastActive = this.clock.now();
    this.#server.cluster?.active(user);
  }

  /**
   * A command failed: a {@linkcode ChatError} is the user's mistake, and its
   * lines go back to them; anything else is a bug, logged with its stack,
   * and the user sees one generic line.
   */
  #failed(error: unknown): void {
    if (error instanceof ChatError) {
      this.#output.error(error.lines);
      return;
    }
    // What a command waited for was called off because the session ended.
    if (
      this.#stopping && error instanceof Error && error.name === "AbortError"
    ) {
      return;
    }
    this.#server.log.error("Handling a line from {remote} failed: {error}", {
      remote: this.remote,
      error,
    });
    this.reply(TEXT.internalError);
  }

  /**
   * The login timeout. While the server holds the login up (a delay after
   * failed tries, a turn for the hash), it starts again: a user who waits
   * for the server is not idle, and the owner of an account that others
   * are guessing at must still get their password checked.
   */
  #armLoginTimeout(): void {
    this.#timer = this.clock.setTimeout(() => {
      if (this.#held > 0) return this.#armLoginTimeout();
      this.#server.log.info("Login timeout for {remote}", {
        remote: this.remote,
      });
      this.#because("login_timeout");
      this.#stop(TEXT.loginTimedOut);
    }, this.config.loginTimeout * 1000);
  }

  #loggedIn(): void {
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.config.idleTimeout > 0) this.#checkIdle();
  }

  /** Arms the idle timer for when the user would have been idle too long. */
  #checkIdle(): void {
    if (this.user === null) return;
    const limit = this.config.idleTimeout * 1000;
    const idle = this.clock.now() - this.user.lastActive;
    if (idle >= limit) {
      this.#server.log.info(
        "Idle timeout for {remote} ({name})",
        this.#about(),
      );
      this.#because("idle_timeout");
      this.#stop(TEXT.idleTimedOut(this.config.idleTimeout));
      return;
    }
    this.#timer = this.clock.setTimeout(() => this.#checkIdle(), limit - idle);
  }

  #about(): { remote: string; name: string } {
    return { remote: this.remote, name: this.user?.name ?? "not logged in" };
  }
}

/**
 * Waits for `work`, or for `ms` on `clock` if that comes first. The timer
 * is cleared as soon as either is done: a session that ends leaves none
 * running after it.
 */
async function atMost(
  clock: Clock,
  work: Promise<unknown>,
  ms: number,
): Promise<void> {
  const timeout = new AbortController();
  try {
    await Promise.race([
      work,
      sleep(clock, ms, timeout.signal).catch(() => {}),
    ]);
  } finally {
    timeout.abort();
  }
}

/**
 * The codes of the errors that only mean the peer went away, as `node:net`
 * (the plain and TLS ports) reports them: a Node-style `code` on a plain
 * Error, not one of `Deno.errors` (see {@linkcode isDisconnect}).
 */
const NODE_DISCONNECTS = new Set([
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTCONN",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** Errors that only mean the peer went away, or we closed the connection. */
export function isDisconnect(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && NODE_DISCONNECTS.has(code)) return true;
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatAddr(addr: Deno.Addr): string {
  if (addr.transport !== "tcp" && addr.transport !== "udp") {
    return addr.transport;
  }
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
