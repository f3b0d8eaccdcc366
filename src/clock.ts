/**
 * Time, injected: every time-based rule (flood control, timeouts, the slow
 * reader's grace period, connection rates) reads the clock it is given, so
 * tests can move time instead of waiting for it.
 *
 * @module
 */

/** A timer a {@linkcode Clock} started. */
export type TimerId = number | ReturnType<typeof setTimeout>;

/** The time source and timers the server uses. */
export interface Clock {
  /** Milliseconds since some fixed point: for durations and timers. */
  now(): number;
  /**
   * Milliseconds since the Unix epoch: for what is kept or shown as a date
   * (an event's time, when a ban ends). Moves with `now()`.
   */
  date(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; unknown or fired timers are ignored. */
  clearTimeout(id: TimerId): void;
}

/** The real clock. */
export const SYSTEM_CLOCK: Clock = {
  now: () => performance.now(),
  date: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as number),
};

/**
 * Resolves after `ms` on `clock`, or rejects with the signal's reason once
 * `signal` aborts.
 */
export function sleep(
  clock: Clock,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clock.clearTimeout(id);
      reject(signal!.reason);
    };
    const id = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
