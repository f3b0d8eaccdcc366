/**
 * Event ids from blocks reserved in a backend: the block's end is committed
 * before any id of it is handed out, so ids only grow, also across a crash
 * or a restart (which skips what was left of the last block).
 *
 * @module
 */

import type { EventIds } from "../events.ts";

/**
 * Event ids are reserved this many at a time; the next block is asked for
 * when half of this one is used, so that it is there before it is needed.
 */
export const ID_BLOCK = 100_000;

/** Ids handed out after a failed reservation before it is asked again. */
const RETRY_IDS = 1000;

/**
 * Ids from blocks reserved in the database: the block's end is committed
 * before any id of it is handed out, so ids only grow, also across a crash.
 * The next block is asked for when half of this one is used.
 */
export class BlockIds implements EventIds {
  #last: number;
  #reserved: number;
  #asked = false;
  /** After a reservation failed, the id from which to ask again. */
  #retryAt = 0;
  readonly #reserve: (block: number) => void;

  constructor(
    first: number,
    reserved: number,
    reserve: (block: number) => void,
  ) {
    this.#last = first;
    this.#reserved = reserved;
    this.#reserve = reserve;
  }

  next(): number {
    const id = ++this.#last;
    if (
      !this.#asked && this.#reserved - id < ID_BLOCK / 2 && id >= this.#retryAt
    ) {
      this.#asked = true;
      this.#reserve(ID_BLOCK);
    }
    return id;
  }

  last(): number {
    return this.#last;
  }

  /**
   * The reservation asked for could not be committed (the disk is full,
   * say): it is asked for again RETRY_IDS ids on, not never (ids would then
   * run past the reserved end for good, and after a restart be handed out
   * again, to lines whose insert then fails on the ids kept before).
   */
  failed(): void {
    this.#asked = false;
    this.#retryAt = this.#last + RETRY_IDS;
  }

  /** A new block's end has been committed. */
  extend(reserved: number): void {
    this.#reserved = reserved;
    this.#asked = false;
    // A block used up before its successor came (50,000 ids within one
    // round trip to the worker): ask again at once.
    if (this.#reserved - this.#last < ID_BLOCK / 2) {
      this.#asked = true;
      this.#reserve(ID_BLOCK);
    }
  }
}
