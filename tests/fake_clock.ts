import type { Clock, TimerId } from "../src/clock.ts";

const START = 1_000_000;
const START_DATE = Date.UTC(2026, 0, 1);

/**
 * A clock that moves only when a test says so. Timers fire in time order
 * during {@linkcode FakeClock.advance}.
 */
export class FakeClock implements Clock {
  #now = START;
  #dateStep = 0;
  #nextId = 1;
  readonly #timers = new Map<number, { at: number; fn: () => void }>();
  #waiters: { count: number; resolve: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  /**
   * The epoch time: 2026-01-01T00:00:00Z when made, then moving with now()
   * (and by each {@linkcode FakeClock.stepDate}).
   */
  date(): number {
    return START_DATE + this.#now - START + this.#dateStep;
  }

  /**
   * Steps the wall clock (date()) by `ms`, back when negative, as NTP
   * correcting the system clock does; now() and the timers do not move.
   */
  stepDate(ms: number): void {
    this.#dateStep += ms;
  }

  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    this.#waiters = this.#waiters.filter((waiter) => {
      if (this.#timers.size < waiter.count) return true;
      waiter.resolve();
      return false;
    });
    return id;
  }

  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.#timers.size;
  }

  /**
   * Resolves once `count` timers are waiting: the server has reached the
   * point where it waits on this clock (flood control holding a line, say).
   */
  untilPending(count = 1): Promise<void> {
    if (this.#timers.size >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  /** Moves time forward by `ms`, firing every timer that comes due. */
  advance(ms: number): void {
    const end = this.#now + ms;
    while (true) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) {
          next = entry;
        }
      }
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].at);
      next[1].fn();
    }
    this.#now = end;
  }
}
