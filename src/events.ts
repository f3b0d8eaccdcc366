/**
 * What users do, as typed events: the core says what happened, and each
 * transport renders it (telnet as the seed's text lines; a browser as JSON).
 * Ignoring, history and replay work on these, never on rendered text.
 *
 * Every event has an id from one server-wide sequence that only grows, also
 * across restarts (the store hands out the ids). One sequence rather than one
 * per room, because a client that resumes after a dropped connection then
 * needs one number to say where it was, whatever rooms and private
 * conversations it follows.
 *
 * @module
 */

/** What every event has. */
interface EventBase {
  /** From the server-wide sequence: later events have larger ids. */
  readonly id: number;
  /** When it happened: milliseconds since the Unix epoch. */
  readonly at: number;
}

/** `say`: a line said in a room. */
export interface SaidEvent extends EventBase {
  readonly type: "said";
  /** The room's name as shown. */
  readonly room: string;
  /** The speaker's name as shown. */
  readonly from: string;
  readonly text: string;
}

/** `me`: an action in a room. */
export interface EmoteEvent extends EventBase {
  readonly type: "emote";
  readonly room: string;
  readonly from: string;
  readonly text: string;
}

/** Someone came into a room (its members are told, not the newcomer). */
export interface EnteredEvent extends EventBase {
  readonly type: "entered";
  readonly room: string;
  readonly name: string;
}

/** Someone left a room, or the chat. */
export interface LeftEvent extends EventBase {
  readonly type: "left";
  readonly room: string;
  readonly name: string;
}

/** Someone in the room took a new name. */
export interface RenamedEvent extends EventBase {
  readonly type: "renamed";
  readonly room: string;
  /** The old name. */
  readonly from: string;
  /** The new name. */
  readonly name: string;
}

/** A room's topic was set, or (`text` "") cleared. */
export interface TopicEvent extends EventBase {
  readonly type: "topic";
  readonly room: string;
  readonly from: string;
  /** The new topic; "" when it was cleared. */
  readonly text: string;
}

/** Someone was kicked out of a room by a moderator. */
export interface KickedEvent extends EventBase {
  readonly type: "kicked";
  readonly room: string;
  /** Who was kicked. */
  readonly name: string;
  /** Who kicked them. */
  readonly by: string;
  readonly reason: string;
}

/** A private message; its sender and its recipient both see it. */
export interface PrivateEvent extends EventBase {
  readonly type: "private";
  readonly from: string;
  readonly to: string;
  readonly text: string;
}

/** What a room's members see. */
export type RoomEvent =
  | SaidEvent
  | EmoteEvent
  | EnteredEvent
  | LeftEvent
  | RenamedEvent
  | TopicEvent
  | KickedEvent;

/** A chat line: what a room keeps in its history and replays. */
export type ChatLine = SaidEvent | EmoteEvent;

/** Every event. */
export type ChatEvent = RoomEvent | PrivateEvent;

/** Whether a room event is a chat line, kept in the room's history. */
export function isChatLine(event: ChatEvent): event is ChatLine {
  return event.type === "said" || event.type === "emote";
}

/**
 * Where event ids come from. `next()` is synchronous: an event is made, given
 * its id and broadcast in one step.
 */
export interface EventIds {
  /** The next id: larger than every id handed out before, restarts included. */
  next(): number;
  /**
   * The last id handed out (after a restart: where the sequence goes on
   * from), so that what is numbered between events sorts after it.
   */
  last(): number;
}

/** Ids counted in memory, from 1: for a server that keeps nothing. */
export class MemoryIds implements EventIds {
  #last: number;

  /** `last`: the last id already used. Default 0. */
  constructor(last = 0) {
    this.#last = last;
  }

  next(): number {
    return ++this.#last;
  }

  last(): number {
    return this.#last;
  }
}
