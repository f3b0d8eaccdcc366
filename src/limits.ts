/**
 * Connection limits, checked before any session state exists: in all, per
 * address, and new connections per address over a sliding 10 seconds.
 *
 * @module
 */

import type { Clock, TimerId } from "./clock.ts";

/** Why a connection was refused. */
export type Refusal = "full" | "address" | "rate";

/** Options for {@linkcode ConnectionLimits}. */
export interface ConnectionLimitsOptions {
  /** Concurrent connections in all. */
  maxConns: number;
  /** Concurrent connections per address. */
  maxConnsPerIp: number;
  /** New connections per address per `windowMs` (`Infinity`: no limit). */
  maxNewConnsPerIp: number;
  /** Apply the per-address limits to loopback too. */
  limitLoopback: boolean;
  clock: Clock;
  /** The window of `maxNewConnsPerIp`, in ms. Default 10 seconds. */
  windowMs?: number;
}

/**
 * Counts connections. `admit` checks and counts in one synchronous step, so
 * two connections can never both take the last place.
 */
export class ConnectionLimits {
  readonly #options: Required<ConnectionLimitsOptions>;
  #total = 0;
  readonly #open = new Map<string, number>();
  /** New connections per address lately: `maxNewConnsPerIp` a window. */
  readonly #recent: RateWindow;

  constructor(options: ConnectionLimitsOptions) {
    this.#options = { windowMs: 10_000, ...options };
    this.#recent = new RateWindow({
      max: options.maxNewConnsPerIp,
      windowMs: this.#options.windowMs,
      clock: options.clock,
    });
  }

  /** Open connections in all. */
  get total(): number {
    return this.#total;
  }

  /**
   * Counts a new connection from `hostname`, or says why it is refused (and
   * counts nothing).
   */
  admit(hostname: string): Refusal | null {
    const o = this.#options;
    if (this.#total >= o.maxConns) return "full";
    const limited = o.limitLoopback || !isLoopback(hostname);
    const key = addressKey(hostname);
    if (limited) {
      if ((this.#open.get(key) ?? 0) >= o.maxConnsPerIp) return "address";
      const rated = o.maxNewConnsPerIp !== Infinity;
      if (rated && !this.#recent.take(key)) return "rate";
    }
    this.#total++;
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    return null;
  }

  /** Forgets a connection `admit` counted. */
  release(hostname: string): void {
    const key = addressKey(hostname);
    const open = (this.#open.get(key) ?? 0) - 1;
    if (open > 0) this.#open.set(key, open);
    else this.#open.delete(key);
    this.#total--;
  }
}

/**
 * At most `max` takes per key over a sliding window: for what an address
 * may do only so often (connect, register accounts). Keys whose takes have all
 * aged out are dropped as others come, so the map holds only recent ones.
 */
export class RateWindow {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #clock: Clock;
  /** Take times per key, oldest first, at most `max`. */
  readonly #times = new Map<string, number[]>();
  #swept: number;

  constructor(options: { max: number; windowMs: number; clock: Clock }) {
    this.#max = options.max;
    this.#windowMs = options.windowMs;
    this.#clock = options.clock;
    this.#swept = options.clock.now();
  }

  /** Takes one for `key` and returns true, or returns false (took none). */
  take(key: string): boolean {
    const now = this.#clock.now();
    if (now - this.#swept >= this.#windowMs) {
      this.#swept = now;
      for (const [other, times] of this.#times) {
        if (times[times.length - 1] <= now - this.#windowMs) {
          this.#times.delete(other);
        }
      }
    }
    const times = this.#times.get(key) ?? [];
    while (times.length > 0 && times[0] <= now - this.#windowMs) times.shift();
    if (times.length >= this.#max) return false;
    times.push(now);
    this.#times.set(key, times);
    return true;
  }

  /** Gives back the last take for `key` (what it was for did not happen). */
  giveBack(key: string): void {
    const times = this.#times.get(key);
    times?.pop();
    if (times?.length === 0) this.#times.delete(key);
  }

  /** Keys with takes in the window (for tests: old ones are dropped). */
  get size(): number {
    return this.#times.size;
  }
}

/**
 * Which of many like log lines to write: the first per key per window, and
 * with it how many were left out since the one before. A storm of refused
 * connections from one address is then a line every few seconds, not a
 * line per connection (thousands a second; the metrics count each one).
 * What was left out in a window is told by itself (`onQuiet`) when no line
 * came in the next window to tell it, and at {@linkcode LogThrottle.close}:
 * the last count of a storm that stopped is not lost.
 */
export class LogThrottle {
  readonly #windowMs: number;
  readonly #clock: Clock;
  readonly #onQuiet: (key: string, skipped: number) => void;
  readonly #last = new Map<
    string,
    { at: number; skipped: number; timer: TimerId | null }
  >();
  #swept: number;

  /**
   * `onQuiet(key, skipped)` is called with the count of lines left out for
   * `key` in a window when the next window passed with no line to tell it
   * (so a steady storm is still one line a window). Default: nothing.
   */
  constructor(options: {
    windowMs: number;
    clock: Clock;
    onQuiet?: (key: string, skipped: number) => void;
  }) {
    this.#windowMs = options.windowMs;
    this.#clock = options.clock;
    this.#onQuiet = options.onQuiet ?? (() => {});
    this.#swept = options.clock.now();
  }

  /**
   * Null if this line is left out; else the number of lines for `key` left
   * out since the last one written (0 at first).
   */
  admit(key: string): number | null {
    const now = this.#clock.now();
    if (now - this.#swept >= this.#windowMs) {
      this.#swept = now;
      for (const [other, last] of this.#last) {
        if (last.timer === null && last.at <= now - 2 * this.#windowMs) {
          this.#last.delete(other);
        }
      }
    }
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#windowMs) {
      last.skipped++;
      // Told with the next line written, if one comes in the next window.
      last.timer ??= this.#clock.setTimeout(
        () => this.#quiet(key),
        last.at + 2 * this.#windowMs - now,
      );
      return null;
    }
    if (last !== undefined && last.timer !== null) {
      this.#clock.clearTimeout(last.timer);
    }
    this.#last.set(key, { at: now, skipped: 0, timer: null });
    return last?.skipped ?? 0;
  }

  /** Tells every count not told yet, and stops the timers. */
  close(): void {
    for (const [key, last] of this.#last) {
      if (last.timer !== null) this.#clock.clearTimeout(last.timer);
      last.timer = null;
      if (last.skipped > 0) this.#onQuiet(key, last.skipped);
      last.skipped = 0;
    }
  }

  /** Keys remembered (for tests: old ones are dropped). */
  get size(): number {
    return this.#last.size;
  }

  /** A window with lines left out, and the next, passed with no line. */
  #quiet(key: string): void {
    const last = this.#last.get(key);
    if (last === undefined) return;
    last.timer = null;
    const skipped = last.skipped;
    last.skipped = 0;
    if (skipped > 0) this.#onQuiet(key, skipped);
  }
}

/** Whether `hostname` is a loopback address (127/8, ::1, or mapped). */
export function isLoopback(hostname: string): boolean {
  const ip = unmapped(hostname);
  return ip.startsWith("127.") ||
    expandIpv6(ip)?.join(":") === "0:0:0:0:0:0:0:1";
}

/**
 * The key an address is limited by: an IPv4 address itself (IPv4-mapped
 * IPv6 included), and an IPv6 address's /64, which one subscriber holds.
 */
export function addressKey(hostname: string): string {
  const ip = unmapped(hostname);
  const groups = expandIpv6(ip);
  return groups ? `${groups.slice(0, 4).join(":")}::/64` : ip;
}

function unmapped(hostname: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return match ? match[1] : hostname;
}

/** The eight groups of an IPv6 address, without leading zeros; null if not IPv6. */
function expandIpv6(ip: string): string[] | null {
  if (!ip.includes(":")) return null;
  const [head, tail] = ip.toLowerCase().split("%")[0].split("::");
  const left = head ? head.split(":") : [];
  const right = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array(Math.max(0, zeros)).fill("0"), ...right];
  return groups.map((group) => group.replace(/^0+(?=.)/, ""));
}
