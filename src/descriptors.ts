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
   * Called when descriptors ran out, at most once per
   * {@linkcode DESCRIPTOR_LOG_MS}: `times` is how often they did since the
   * last call (1 at first).
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
  #reported = false;
  #busy = false;
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
    if (this.#busy) return;
    if (out) {
      if (this.#exhausted) return;
      this.#exhausted = true;
      this.#unreported++;
      const now = this.#options.clock.now();
      this.#reported = now - this.#lastReport >= DESCRIPTOR_LOG_MS;
      if (this.#reported) {
        this.#lastReport = now;
        const times = this.#unreported;
        this.#unreported = 0;
        this.#options.onExhausted(times);
      }
      return;
    }
    if (!this.#exhausted) return;
    this.#busy = true;
    try {
      if (await this.#options.onFreed(this.#reported)) {
        this.#exhausted = false;
      }
    } finally {
      this.#busy = false;
    }
  }
}
