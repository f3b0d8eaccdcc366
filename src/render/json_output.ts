/**
 * The session output of a browser: one JSON object per WebSocket text frame,
 * each with an id that grows on the connection, so that a page that
 * reconnects can say the last one it saw and get exactly what followed.
 * Events carry their own ids (from the server's sequence, or in a cluster
 * from Redis, which orders every room's events); the frames between them
 * (answers, notices, prompts, history) take the last id sent (or the
 * server's latest event id, if larger) and a millionth more, so that they
 * sort where they came and never take a number an event will have. The
 * frames are documented in the README (The WebSocket protocol), their
 * details in docs/browser.md.
 *
 * @module
 */

import type { ChatEvent, ChatLine } from "../events.ts";
import type { FrameSink, Room } from "../room.ts";
import { JSON_FRAMES } from "./json.ts";
import type { SessionOutput } from "./output.ts";
import type { Transport } from "./transport.ts";
import { MAX_NAMES_LISTED } from "../commands/who.ts";

/**
 * A room's members as a frame carries them: the first
 * {@linkcode MAX_NAMES_LISTED} (those there longest), and `count`, how
 * many there are in all. A cluster's room can hold more people than one
 * frame should carry: past a MiB waiting, the page would be dropped.
 */
function listed(names: readonly string[]): {
  members: readonly string[];
  count: number;
} {
  return {
    members: names.length <= MAX_NAMES_LISTED
      ? names
      : names.slice(0, MAX_NAMES_LISTED),
    count: names.length,
  };
}

/** Where JSON frames go: the WebSocket connection, with their ids. */
export interface FrameWriter {
  /** Sends (or, while the page is away, keeps) a frame with id `id`. */
  send(frame: string, id: number): void;
  /** Resolves once what was sent is written, or after `ms`. */
  drained(ms: number): Promise<void>;
  /** Whether what was sent is written: see {@linkcode SessionOutput}. */
  readonly written: boolean;
  /** Drops what is queued and refuses more. */
  discard(): void;
}

/** The id of a frame a room rendered (`{"type":...,"id":N,...}`). */
function idOf(frame: string): number {
  const at = frame.indexOf('"id":');
  return at === -1 ? 0 : parseInt(frame.slice(at + 5), 10);
}

/** JSON frames to a browser. */
export class JsonOutput implements SessionOutput {
  readonly #writer: FrameWriter;
  readonly sink: FrameSink;
  readonly #latestId: () => number;
  /** The largest id sent on this connection. */
  #last = 0;

  /** `latestId`: the largest event id the server knows of. */
  constructor(writer: FrameWriter, latestId: () => number) {
    this.#writer = writer;
    this.#latestId = latestId;
    this.sink = {
      deliver: (frame) => this.#send(frame as string, idOf(frame as string)),
    };
  }

  get transport(): Transport {
    return JSON_FRAMES;
  }

  reply(lines: readonly string[]): void {
    this.#frame({ type: "reply", lines });
  }

  error(lines: readonly string[]): void {
    this.#frame({ type: "error", lines });
  }

  notice(line: string): void {
    this.#frame({ type: "notice", text: line });
  }

  event(event: ChatEvent): void {
    // As it is: the page tells its own private messages by their sender.
    // It was made just now, so its id is newer than every frame before it.
    this.#send(JSON.stringify(event), event.id);
  }

  history(events: readonly ChatLine[]): void {
    this.#frame({ type: "history", events });
  }

  prompt(text: string, secret: boolean): void {
    this.#frame({ type: "prompt", text, secret });
  }

  answered(): void {
    // The page clears its prompt when it sends the answer; but a line it
    // sent before the question reached it may have been taken for the
    // answer, and its password box must not stay open for a question no
    // longer asked (what is typed there next would be said to the room).
    this.#frame({ type: "answered" });
  }

  moved(room: Room | null, name: string | null): void {
    this.#frame({
      type: "room",
      you: name,
      room: room && {
        name: room.name,
        topic: room.topic,
        owner: room.owner,
        ...listed([...room.members].map((member) => member.name)),
      },
    });
  }

  members(room: Room, names: readonly string[]): void {
    this.#frame({ type: "members", room: room.name, ...listed(names) });
  }

  drained(ms: number): Promise<void> {
    return this.#writer.drained(ms);
  }

  get written(): boolean {
    return this.#writer.written;
  }

  discard(): void {
    this.#writer.discard();
  }

  #frame(fields: Record<string, unknown>): void {
    // A millionth more than the last id sent, or the server's last event if
    // that is larger (a new session starts after every id an earlier one
    // had): between it and the next event.
    const after = Math.max(this.#last, this.#latestId());
    const id = Math.round(after * 1e6 + 1) / 1e6;
    this.#send(JSON.stringify({ type: fields.type, id, ...fields }), id);
  }

  #send(frame: string, id: number): void {
    if (id > this.#last) this.#last = id;
    this.#writer.send(frame, id);
  }
}
