/**
 * The connection to Redis (`npm:redis`, node-redis), as the store and the
 * cluster use it: commands as arrays of strings, Lua scripts by their SHA
 * (loaded again if Redis restarted and forgot them), and whether Redis can
 * be reached now. Commands fail at once while it cannot (no offline queue),
 * with a {@linkcode StoreUnavailable}: what could not reach the other
 * servers is said so, never queued silently.
 *
 * @module
 */

import { createClient, ErrorReply } from "redis";
import { StoreUnavailable } from "../store/store.ts";

/**
 * How long a command waits for Redis's answer, in ms: past it, Redis is
 * taken for stalled (a paused process, a network that drops packets
 * without closing the connection), as long as a server's heartbeat lasts.
 * Commands then fail at once, as while it cannot be reached, so that each
 * server keeps its own users chatting; the first answer that comes ends it.
 */
export const ANSWER_MS = 3000;

/** What Redis answers (RESP2): strings, numbers, arrays of them, or null. */
export type Reply = string | number | null | Reply[];

/** A Lua script, sent once and then called by its SHA. */
export class Script {
  #sha: string | null = null;
  constructor(readonly source: string) {}

  /** The SHA Redis knows it by, once loaded. */
  get sha(): string | null {
    return this.#sha;
  }

  set sha(sha: string | null) {
    this.#sha = sha;
  }
}

/** Options for {@linkcode RedisLink.connect}. */
export interface RedisLinkOptions {
  /**
   * Redis's password, when it is not in the URL (`--redis-password-file`);
   * it takes the place of one there. The URL's user name, if any, stays.
   * Default: the URL's, or none.
   */
  password?: string;
  /** Called when Redis can be reached again (`true`) or cannot (`false`). */
  onState?: (up: boolean) => void;
  /** Called with connection errors, for the log. */
  onError?: (error: Error) => void;
  /**
   * How long a command waits for Redis's answer, in ms. For tests only (a
   * server's `ServeOptions.clusterTimings`; no flag): those that wait for a
   * stall to be noticed, not for how long that takes. Default
   * {@linkcode ANSWER_MS}.
   */
  answerMs?: number;
}

type Client = ReturnType<typeof createClient>;

/** One connection to Redis for commands; more for subscribing. */
export class RedisLink {
  readonly url: string;
  readonly #client: Client;
  readonly #options: RedisLinkOptions;
  /** {@linkcode RedisLinkOptions.answerMs}. */
  readonly #answerMs: number;
  #up = false;
  /** Connected once: from now on, changes are told. */
  #started = false;
  #closed = false;
  /**
   * A command went unanswered for `#answerMs` ({@linkcode ANSWER_MS}):
   * Redis is taken for stalled.
   */
  #stalled = false;
  #probing = false;
  /** How many times Redis has been taken for out of reach. */
  #outages = 0;

  private constructor(url: string, client: Client, options: RedisLinkOptions) {
    this.url = url;
    this.#client = client;
    this.#options = options;
    this.#answerMs = options.answerMs ?? ANSWER_MS;
  }

  /**
   * Connects to Redis at `url` (`redis://host:port/db`); rejects if it
   * cannot at first (refused, a wrong password, no answer in `answerMs`,
   * {@linkcode ANSWER_MS}), so that a server started without its Redis
   * stops with the reason instead of waiting for it unseen. After that, it
   * reconnects by itself, every 250 ms to 1 s, and says so through
   * `onState`.
   */
  static async connect(
    url: string,
    options: RedisLinkOptions = {},
  ): Promise<RedisLink> {
    let started = false;
    const client = makeClient(url, options.password, () => started);
    const link = new RedisLink(url, client, options);
    client.on("error", (error: Error) => {
      link.#setUp(false);
      options.onError?.(error);
    });
    client.on("ready", () => {
      link.#stalled = false;
      link.#setUp(true);
    });
    client.on("end", () => link.#setUp(false));
    try {
      await within(client.connect(), link.#answerMs);
    } catch (error) {
      client.destroy();
      throw error;
    }
    started = true;
    link.#up = true;
    link.#started = true;
    return link;
  }

  /** Whether Redis can be reached now (and answers). */
  get up(): boolean {
    return this.#up;
  }

  /**
   * How many times, since it connected, Redis has been taken for out of
   * reach (gone, or stalled): a user of the link that looks only now and
   * then (a heartbeat) can tell that it was, though it answers again by
   * the time it looks.
   */
  get outages(): number {
    return this.#outages;
  }

  /**
   * While Redis is taken for stalled, asks whether it answers again (one
   * PING at a time): nothing else is sent meanwhile to find out.
   */
  probe(): void {
    if (!this.#stalled || this.#probing || !this.#client.isReady) return;
    this.#probing = true;
    this.call("PING").catch(() => {}).finally(() => this.#probing = false);
  }

  /**
   * Runs one command. Rejects at once with a {@linkcode StoreUnavailable}
   * while Redis cannot be reached.
   */
  async call(...args: (string | number)[]): Promise<Reply> {
    if (this.#stalled && args[0] !== "PING") {
      throw unavailable(new Error("Redis has stopped answering"));
    }
    try {
      return await this.#answer(
        this.#client.sendCommand(args.map(String)) as Promise<Reply>,
      );
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Runs commands in one MULTI/EXEC transaction; their replies. */
  async transaction(commands: (string | number)[][]): Promise<Reply[]> {
    if (this.#stalled) {
      throw unavailable(new Error("Redis has stopped answering"));
    }
    const multi = this.#client.multi();
    for (const command of commands) multi.addCommand(command.map(String));
    try {
      return await this.#answer(multi.exec() as unknown as Promise<Reply[]>);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /**
   * `reply`, or a rejection once it has waited `#answerMs`: Redis is then
   * taken for stalled until an answer comes (to this command or another).
   */
  #answer<T>(reply: Promise<T>): Promise<T> {
    const answered = () => {
      if (this.#stalled && this.#client.isReady) {
        this.#stalled = false;
        this.#setUp(true);
      }
    };
    reply.then(answered, answered);
    return within(reply, this.#answerMs).catch((error) => {
      if (error instanceof NoAnswer) {
        this.#stalled = true;
        this.#setUp(false);
      }
      throw error;
    });
  }

  /** Runs a Lua script with `keys` and `args`, loading it if need be. */
  async eval(
    script: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<Reply> {
    const call = (sha: string) =>
      this.call("EVALSHA", sha, keys.length, ...keys, ...args);
    if (script.sha !== null) {
      try {
        return await call(script.sha);
      } catch (error) {
        if (!String((error as Error).message).includes("NOSCRIPT")) throw error;
      }
    }
    script.sha = String(await this.call("SCRIPT", "LOAD", script.source));
    return await call(script.sha);
  }

  /**
   * A second connection, for SUBSCRIBE (a subscribed connection takes no
   * other commands). node-redis subscribes it again after a reconnect.
   */
  async subscriber(): Promise<Subscriber> {
    const client = this.#client.duplicate();
    client.on("error", (error: Error) => this.#options.onError?.(error));
    await client.connect();
    return new Subscriber(client, this.#answerMs);
  }

  /** Closes the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Stalled: a QUIT would only wait.
    if (this.#stalled) this.#client.destroy();
    else await closeClient(this.#client, this.#answerMs);
  }

  #setUp(up: boolean): void {
    if (this.#closed || !this.#started || up === this.#up) return;
    this.#up = up;
    if (!up) this.#outages++;
    this.#options.onState?.(up);
  }
}

/** A subscribed connection: channels and what arrives on them. */
export class Subscriber {
  readonly #client: Client;
  readonly #answerMs: number;

  /** `answerMs`: as its link's. */
  constructor(client: Client, answerMs: number) {
    this.#client = client;
    this.#answerMs = answerMs;
  }

  /**
   * Listens on `channel`; `listener` gets each message. Rejects with a
   * {@linkcode StoreUnavailable} while Redis cannot be reached.
   */
  async subscribe(
    channel: string,
    listener: (message: string) => void,
  ): Promise<void> {
    try {
      await within(
        this.#client.subscribe(channel, listener),
        this.#answerMs,
      );
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Stops listening on `channel`. */
  async unsubscribe(channel: string): Promise<void> {
    await this.#client.unsubscribe(channel);
  }

  /** Whether the connection is up and listening. */
  get up(): boolean {
    return this.#client.isReady;
  }

  /** Called when the connection is up again after a drop. */
  onReady(listener: () => void): void {
    this.#client.on("ready", listener);
  }

  /** Closes it; `now`: without a QUIT (Redis has stalled). */
  async close(now = false): Promise<void> {
    if (now) this.#client.destroy();
    else await closeClient(this.#client, this.#answerMs);
  }
}

/**
 * What a failed command means: Redis's own error reply (a bug: a script's
 * mistake, a wrong type) stays as it is, but for one it gives while it is
 * loading its data after a restart; anything else (offline, the socket
 * closed, a timeout) is Redis out of reach.
 */
function unavailable(error: unknown): unknown {
  if (
    error instanceof ErrorReply &&
    !/^(LOADING|BUSY|MASTERDOWN)\b/.test(error.message)
  ) {
    return error;
  }
  return new StoreUnavailable(
    `Redis cannot be reached: ${(error as Error)?.message ?? error}`,
    { cause: error },
  );
}

/**
 * Closes a client: politely (QUIT) if Redis answers now; while it cannot be
 * reached, or does not answer the QUIT in `answerMs` (it stalled), at
 * once, since a QUIT would wait for it to come back.
 */
async function closeClient(
  client: Client,
  answerMs: number,
): Promise<void> {
  if (!client.isReady) {
    client.destroy();
    return;
  }
  try {
    await within(client.quit(), answerMs);
  } catch {
    client.destroy();
  }
}

/** Redis did not answer in time. */
class NoAnswer extends Error {}

/** `work`, or a {@linkcode NoAnswer} once it has taken `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  work.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NoAnswer(`Redis did not answer in ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/**
 * A Redis URL for the log: its password (`redis://:secret@host`,
 * `redis://user:secret@host`) shown as `***`, since the log is no place for
 * it.
 */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = "***";
    return parsed.href;
  } catch {
    return url;
  }
}

/**
 * A client that reconnects by itself once `started` says it has been
 * connected; before that, the first failure is final (node-redis would
 * otherwise retry for good, and `connect()` never settle).
 */
function makeClient(
  url: string,
  password: string | undefined,
  started: () => boolean,
): Client {
  return createClient({
    ...credentials(url, password),
    RESP: 2,
    disableOfflineQueue: true,
    socket: {
      reconnectStrategy: (retries: number) =>
        started() ? Math.min(250 * (retries + 1), 1000) : false,
      connectTimeout: 2000,
    },
  });
}

/**
 * The URL and credentials for node-redis. A `password` given apart is
 * passed apart too, never written into the URL, which node-redis may show;
 * the URL's user name goes with it (node-redis takes the URL's user and
 * password together, and would send the user without the password).
 */
function credentials(
  url: string,
  password: string | undefined,
): { url: string; username?: string; password?: string } {
  if (password === undefined) return { url };
  const parsed = new URL(url);
  const username = decodeURIComponent(parsed.username);
  parsed.username = "";
  parsed.password = "";
  return username === ""
    ? { url: parsed.href, password }
    : { url: parsed.href, username, password };
}
