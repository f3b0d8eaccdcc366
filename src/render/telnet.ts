/**
 * Events as telnet users see them: exactly the seed's texts.
 *
 * @module
 */

import type { ChatEvent, ChatLine } from "../events.ts";
import { type LineArena, TEXT } from "../text.ts";
import type { Transport } from "./transport.ts";

/**
 * The text line of an event. `outgoing`: the viewer sent it (a private
 * message's sender sees `[private to NAME] TEXT`).
 */
export function eventText(event: ChatEvent, outgoing = false): string {
  switch (event.type) {
    case "said":
      return TEXT.said(event.from, event.text);
    case "emote":
      return TEXT.emote(event.from, event.text);
    case "entered":
      return TEXT.entered(event.name);
    case "left":
      return TEXT.left(event.name);
    case "renamed":
      return TEXT.renamed(event.from, event.name);
    case "topic":
      return event.text === ""
        ? TEXT.topicCleared(event.from)
        : TEXT.topicSet(event.from, event.text);
    case "kicked":
      return TEXT.kicked(event.name, event.by, event.reason);
    case "private":
      return outgoing
        ? TEXT.privateTo(event.to, event.text)
        : TEXT.privateFrom(event.from, event.text);
  }
}

/** A line from a room's history, marked so it cannot be taken for live chat. */
export function historyText(event: ChatLine): string {
  return TEXT.history(eventText(event));
}

/** Telnet and nc: an event is one line of text, CRLF-terminated. */
export const TELNET: Transport = {
  name: "telnet",
  renderRoom: (event, arena: LineArena) => arena.encode(eventText(event)),
};
