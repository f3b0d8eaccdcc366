/**
 * The cluster's presence updates (a login's room, a move, `away`, a
 * release), sent to Redis in batches: the ones that wait while a batch is
 * on its way go together in the next, all sent at once on the one
 * connection (so Redis runs them in order) rather than one round trip
 * each: a thousand logins are a few batches, not a thousand round trips in
 * a row. While Redis is away they are dropped, and the server takes its
 * users' names and places again once it is back (`Cluster`'s retake).
 *
 * @module
 */

/** Options for {@linkcode PresenceBatches}. */
export interface PresenceBatchesOptions {
  /** Whether Redis can be reached now: a batch is dropped while it cannot. */
  up(): boolean;
  /**
   * Updates were dropped (`failure` null: Redis was away), or one of a
   * batch failed: what Redis holds of this server is to be taken again.
   */
  lost(failure: PromiseRejectedResult | null): void;
}

/** Presence updates, in order, a batch at a time. */
export class PresenceBatches {
  readonly #options: PresenceBatchesOptions;
  /** Updates not yet sent, in order. */
  #pending: (() => Promise<unknown>)[] = [];
  /**
   * Settles once the batch being gathered in `#pending` is done (null: none
   * is waiting); `#batch`, once the one on its way is.
   */
  #next: PromiseWithResolvers<void> | null = null;
  #batch: Promise<void> = Promise.resolve();
  /**
   * The run sending batch after batch (`#drain`): settles once no update
   * is left to send (resolved: none is running).
   */
  #queue: Promise<void> = Promise.resolve();
  #sending = false;

  constructor(options: PresenceBatchesOptions) {
    this.#options = options;
  }

  /**
   * Sends an update after those asked for before: at once if no batch is
   * on its way (its call made before this returns), else in the next.
   */
  add(work: () => Promise<unknown>): void {
    this.#pending.push(work);
    this.#next ??= Promise.withResolvers();
    if (this.#sending) return;
    this.#sending = true;
    this.#queue = this.#drain();
  }

  /**
   * Resolves once the updates asked for so far are in Redis (not those
   * asked for after, which a busy server would never stop adding).
   */
  caughtUp(): Promise<void> {
    return this.#next?.promise ?? this.#batch;
  }

  /** Resolves once no update is left to send. */
  settled(): Promise<void> {
    return this.#queue;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      const done = this.#next!;
      this.#pending = [];
      this.#next = null;
      this.#batch = done.promise;
      if (!this.#options.up()) {
        this.#options.lost(null);
        done.resolve();
        continue;
      }
      const results = await Promise.allSettled(batch.map((work) => work()));
      done.resolve();
      const failed = results.find((result) => result.status === "rejected");
      if (failed !== undefined) {
        this.#options.lost(failed as PromiseRejectedResult);
      }
    }
    this.#sending = false;
  }
}
