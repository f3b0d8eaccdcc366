/**
 * Watching for the process running out of file descriptors, so that it
 * does not stop a port for good.
 *
 * Deno 2.9's `node:net` server stops accepting once an accept fails for
 * want of a descriptor (EMFILE), with no `error` event and no log line, and
 * does not start again once descriptors are free: only closing the
 * listening socket and listening again brings the port back. Nothing tells
 * the program that an accept failed, and /proc/self/fd needs --allow-all,
 * so the server tries to open /dev/null instead, after each accepted
 * connection and once a second: if even that fails with EMFILE, the next
 * accept will too, and the ports are listened to anew once it succeeds.
 *
 * @module
 */

import type { Server } from "node:net";
import type { Clock } from "./clock.ts";

/** How often the server checks for free descriptors, in ms. */
export const DESCRIPTOR_CHECK_MS = 1000;

/** At most one "out of file descriptors" line this often, in ms. */
export const DESCRIPTOR_LOG_MS = 60_000;

/**
 * Whether {@linkcode outOfDescriptors} may open /dev/null: false under a
 * narrowed `--allow-read` (asking would prompt on a terminal, at the first
 * connection).
 */
export function canCheckDescriptors(): boolean {
  return Deno.permissions.querySync({ name: "read", path: "/dev/null" })
    .state === "granted";
}

/**
 * Whether the process (EMFILE) or the system (ENFILE) has no file
 * descriptor left: opens /dev/null and closes it. False where that fails for
 * another reason (no /dev/null): nothing is known then.
 */
export function outOfDescriptors(): boolean {
  try {
    Deno.openSync("/dev/null").close();
    return false;
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    return /\(os error 2[34]\)/.test(message);
  }
}

/** Options for {@linkcode DescriptorWatch}. */
export interface DescriptorWatchOptions {
  clock: Clock;
  /**
   * Called when the ports are taken as stopped (descriptors ran out, also
   * again while they were being listened to anew): every port is to listen
   * anew once one is free.
   */
  onStopped?(): void;
  /**
   * Called when descriptors ran out, at most once per
   * {@linkcode DESCRIPTOR_LOG_MS} and once for each time they do (a time
   * that began too soon after the last line is said once that long has
   * passed, if it lasts): `times` is how often they ran out since the last
   * call (1 at first).
   */
  onExhausted(times: number): void;
  /**
   * Called when one is free again after they ran out: listens anew, and
   * resolves to whether every port does (if not, the next check calls it
   * again). `reported`: whether this time was told by `onExhausted`.
   */
  onFreed(reported: boolean): Promise<boolean>;
}

/** From one check to the next: out of descriptors, or not. */
export class DescriptorWatch {
  readonly #options: DescriptorWatchOptions;
  #exhausted = false;
  /**
   * Whether the last line said was `onExhausted`'s, with no time free
   * since (then `onFreed` says "free again").
   */
  #reported = false;
  #busy = false;
  /** Out of them again while the ports were listened to anew. */
  #outWhileBusy = false;
  #lastReport = -Infinity;
  #unreported = 0;

  constructor(options: DescriptorWatchOptions) {
    this.#options = options;
  }

  /** Whether the ports are taken as stopped, waiting for a descriptor. */
  get exhausted(): boolean {
    return this.#exhausted;
  }

  /** Takes one check into account: `out`, whether none was free. */
  async update(out: boolean): Promise<void> {
    if (this.#busy) {
      // A port listening anew already may have run out and stopped again:
      // taken into account once the others are done.
      if (out) this.#outWhileBusy = true;
      return;
    }
    if (out) {
      this.#stopped();
      return;
    }
    if (!this.#exhausted) return;
    this.#busy = true;
    this.#outWhileBusy = false;
    let listening = false;
    try {
      listening = await this.#options.onFreed(this.#reported);
    } finally {
      this.#busy = false;
    }
    if (this.#outWhileBusy) {
      this.#exhausted = false;
      // If "free again" was said, that is no longer so.
      if (listening) this.#reported = false;
      this.#stopped();
    } else if (listening) {
      this.#exhausted = false;
      // Said "free again" (if the last line said was "out of"): a later
      // time out of them is said anew, once the minute allows.
      this.#reported = false;
    }
  }

  /** Out of descriptors: the ports stop, and it is said (throttled). */
  #stopped(): void {
    // Every time: a port that listened anew while another could not has
    // stopped again, and is to listen anew too.
    this.#options.onStopped?.();
    if (!this.#exhausted) {
      this.#exhausted = true;
      this.#unreported++;
    }
    if (this.#reported) return;
    const now = this.#options.clock.now();
    if (now - this.#lastReport < DESCRIPTOR_LOG_MS) return;
    this.#reported = true;
    this.#lastReport = now;
    const times = this.#unreported;
    this.#unreported = 0;
    this.#options.onExhausted(times);
  }
}

/** A listening port, as it is listened to anew. */
export interface ListeningPort {
  server: Server;
  host: string;
  port: number;
  /** Whether its last listening anew failed (and was logged). */
  failed?: boolean;
}

/**
 * Closes a port's listening socket and listens on its host and port again
 * (the connections it accepted stay open): null, or why it could not. Its
 * own `error` handlers (which log a failed accept) do not hear a failed
 * listen: the caller says it once.
 */
export function relisten(
  { server, host, port }: ListeningPort,
): Promise<unknown> {
  // As added (a once handler stays once).
  const handlers = server.rawListeners("error") as ((error: Error) => void)[];
  server.removeAllListeners("error");
  let listening: () => void = () => {};
  return new Promise<unknown>((resolve) => {
    listening = () => resolve(null);
    server.close();
    server.once("error", (error) => resolve(error));
    server.listen({ host, port }, listening);
  }).finally(() => {
    // A failed listen leaves its callback behind: one a second, else.
    server.off("listening", listening);
    server.removeAllListeners("error");
    for (const handler of handlers) server.on("error", handler);
  });
}
