/**
 * Password hashes: scrypt from `node:crypto`, which runs on Deno's worker
 * threads, never on the event loop. At most a few hashes run at once (two by
 * default): each takes about 32 MiB and a fifth of a second of a core, so a
 * reconnect storm of hundreds of accounts waits its turn while chat goes on.
 *
 * A hash is kept as `$scrypt$ln=15,r=8,p=1$SALT$HASH` (base64), its
 * parameters beside it, so that they can be raised later: a login with a
 * hash made under weaker ones is rehashed.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt's cost parameters. */
export interface ScryptParams {
  /** log2 of N, the CPU and memory cost. */
  readonly ln: number;
  /** The block size. */
  readonly r: number;
  /** Parallelism. */
  readonly p: number;
}

/** What new hashes are made with: N = 2^15, r = 8, p = 1. */
export const SCRYPT_PARAMS: ScryptParams = { ln: 15, r: 8, p: 1 };

/** The fewest characters a password may have. */
export const MIN_PASSWORD_CHARS = 8;

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const ENCODED =
  /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+=*)\$([A-Za-z0-9+/]+=*)$/;

/** Options for {@linkcode PasswordHasher}. */
export interface PasswordHasherOptions {
  /** Hashes that may run at once. Default 2. */
  concurrency?: number;
  /** The parameters of new hashes. Default {@linkcode SCRYPT_PARAMS}. */
  params?: ScryptParams;
}

/** Makes and checks password hashes, a few at a time. */
export class PasswordHasher {
  readonly #concurrency: number;
  readonly #params: ScryptParams;
  #running = 0;
  /**
   * Those waiting for a turn, by who asked (an address): each in the order
   * they came, and the askers in turn, one hash each, so that one address's
   * many logins cannot keep everyone else's waiting behind them all.
   */
  readonly #queues = new Map<string, (() => void)[]>();
  /** The askers with someone waiting, whose turn is next first. */
  readonly #askers: string[] = [];
  #waiting = 0;
  /** The login tries under way, for the delay after failed ones. */
  readonly tries: LoginTries = new LoginTries();

  constructor(options: PasswordHasherOptions = {}) {
    this.#concurrency = options.concurrency ?? 2;
    this.#params = options.params ?? SCRYPT_PARAMS;
  }

  /** Hashes waiting for a turn now. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Hashes running now. */
  get running(): number {
    return this.#running;
  }

  /**
   * A new hash of `password`, with a fresh salt. If it must wait for a turn,
   * `onQueued` is told how many checks are ahead of it (running or waiting),
   * and `signal` (the session ending) takes it out of the line.
   */
  async hash(password: string, options: TurnOptions = {}): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const params = this.#params;
    const hash = await this.#turn(
      () => derive(password, salt, params),
      options,
    );
    return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${
      salt.toString("base64")
    }$${hash.toString("base64")}`;
  }

  /**
   * Whether `password` is the one `encoded` was made from (waiting for a
   * turn as {@linkcode PasswordHasher.hash} does).
   */
  async verify(
    password: string,
    encoded: string,
    options: TurnOptions = {},
  ): Promise<boolean> {
    const parsed = parse(encoded);
    if (parsed === null) return false;
    const hash = await this.#turn(
      () => derive(password, parsed.salt, parsed.params, parsed.hash.length),
      options,
    );
    return timingSafeEqual(hash, parsed.hash);
  }

  /** Whether `encoded` was made with weaker parameters than new hashes. */
  needsRehash(encoded: string): boolean {
    const parsed = parse(encoded);
    if (parsed === null) return true;
    const { ln, r, p } = parsed.params;
    const want = this.#params;
    return ln < want.ln || r < want.r || p < want.p;
  }

  async #turn<T>(work: () => Promise<T>, options: TurnOptions): Promise<T> {
    const { onQueued, signal, asker = "" } = options;
    signal?.throwIfAborted();
    if (this.#running >= this.#concurrency) {
      onQueued?.(this.#running + this.#waiting);
      // A session that ends while it waits leaves the line: a storm of
      // logins that gave up must not keep the live ones waiting.
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener("abort", leave);
          resolve();
        };
        const leave = () => {
          const queue = this.#queues.get(asker)!;
          queue.splice(queue.indexOf(go), 1);
          this.#waiting--;
          if (queue.length === 0) {
            this.#queues.delete(asker);
            this.#askers.splice(this.#askers.indexOf(asker), 1);
          }
          reject(signal!.reason);
        };
        const queue = this.#queues.get(asker);
        if (queue) queue.push(go);
        else {
          this.#queues.set(asker, [go]);
          this.#askers.push(asker);
        }
        this.#waiting++;
        signal?.addEventListener("abort", leave, { once: true });
      });
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      // The turn passes straight to the next asker's first in line, or is
      // given back.
      const next = this.#next();
      if (next) next();
      else this.#running--;
    }
  }

  /** Takes the next waiter: the first of the asker whose turn it is. */
  #next(): (() => void) | undefined {
    const asker = this.#askers.shift();
    if (asker === undefined) return undefined;
    const queue = this.#queues.get(asker)!;
    const go = queue.shift()!;
    this.#waiting--;
    if (queue.length > 0) this.#askers.push(asker);
    else this.#queues.delete(asker);
    return go;
  }
}

/**
 * Password checks under way on this server, per account: a try counts the
 * ones begun before it as failures to come, so that tries
 * sent all at once wait longer each (1 s, 2 s, 4 s ...) instead of all
 * reading the same count from the store and waiting the same short time.
 */
export class LoginTries {
  readonly #counts = new Map<string, number>();

  /**
   * Begins a try on `keys` (account keys): how many tries on each were
   * under way before it, and a function that ends it.
   */
  begin(keys: readonly string[]): { before: number[]; end: () => void } {
    const before = keys.map((key) => {
      const count = this.#counts.get(key) ?? 0;
      this.#counts.set(key, count + 1);
      return count;
    });
    let ended = false;
    return {
      before,
      end: () => {
        if (ended) return;
        ended = true;
        for (const key of keys) {
          const count = this.#counts.get(key)! - 1;
          if (count === 0) this.#counts.delete(key);
          else this.#counts.set(key, count);
        }
      },
    };
  }

  /** Keys with tries under way (for tests: nothing is left behind). */
  get size(): number {
    return this.#counts.size;
  }
}

/** How a hash waits for its turn. */
export interface TurnOptions {
  /** Told how many checks are ahead (running or waiting), if it must wait. */
  readonly onQueued?: (ahead: number) => void;
  /** Aborted when nobody wants the answer any more: it leaves the line. */
  readonly signal?: AbortSignal;
  /**
   * Who asks (an address): askers take turns, one hash each. Default: one
   * asker for all.
   */
  readonly asker?: string;
}

/**
 * scrypt of `password`. The password's bytes are zeroed once the hash is
 * done: JavaScript's strings cannot be, so callers hold the string only for
 * as long as the hash takes.
 */
function derive(
  password: string,
  salt: Uint8Array,
  params: ScryptParams,
  length = HASH_BYTES,
): Promise<Buffer> {
  const bytes = Buffer.from(password, "utf8");
  const n = 2 ** params.ln;
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(bytes, salt, length, {
      N: n,
      r: params.r,
      p: params.p,
      // scrypt needs 128 * N * r bytes; node's default cap is 32 MiB.
      maxmem: 256 * n * params.r,
    }, (error, key) => {
      bytes.fill(0);
      if (error) reject(error);
      else resolve(key);
    });
  });
}

function parse(
  encoded: string,
): { params: ScryptParams; salt: Buffer; hash: Buffer } | null {
  const match = ENCODED.exec(encoded);
  if (match === null) return null;
  const [ln, r, p] = [match[1], match[2], match[3]].map(Number);
  if (ln < 1 || ln > 24 || r < 1 || r > 64 || p < 1 || p > 16) return null;
  return {
    params: { ln, r, p },
    salt: Buffer.from(match[4], "base64"),
    hash: Buffer.from(match[5], "base64"),
  };
}
