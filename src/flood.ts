/**
 * Flood control: a token bucket that slows a sender instead of refusing it,
 * as ergo's "fakelag" does. A paste arrives whole and in order, only later.
 *
 * @module
 */

import type { Clock } from "./clock.ts";

/** Options for {@linkcode TokenBucket}. */
export interface TokenBucketOptions {
  /** Lines that may pass at once. */
  burst: number;
  /** Lines per second after the burst; must be above 0. */
  rate: number;
  clock: Clock;
}

/**
 * `burst` tokens, refilled at `rate` per second. Each line takes one; a line
 * that finds none waits until one is due. Waits are reserved in order, so
 * lines handled one after another come out evenly spaced.
 */
export class TokenBucket {
  readonly #burst: number;
  readonly #msPerToken: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    this.#burst = options.burst;
    this.#msPerToken = 1000 / options.rate;
    this.#clock = options.clock;
    this.#tokens = options.burst;
    this.#at = options.clock.now();
  }

  /** Takes a token; returns how many ms to wait before using it (0: now). */
  take(): number {
    const now = this.#clock.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (now - this.#at) / this.#msPerToken,
    );
    this.#at = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : -this.#tokens * this.#msPerToken;
  }
}
