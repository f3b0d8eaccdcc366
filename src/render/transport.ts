/**
 * What a transport is to the chat: a way to render events for the members who
 * use it. A room renders each event once per transport among its members,
 * not once per member: the fan-out is the hot path.
 *
 * @module
 */

import type { RoomEvent } from "../events.ts";
import type { LineArena } from "../text.ts";

/**
 * An event rendered for one transport, ready for any of its recipients: the
 * encoded lines for telnet, a JSON text for a browser.
 */
export type Frame = Uint8Array | string;

/** One way of showing events to people. */
export interface Transport {
  /**
   * What the transport is called. Nothing reads it today: logs and metrics
   * go by the session's kind (`telnet`, `tls`, `websocket`).
   */
  readonly name: string;
  /**
   * Renders a room event for every member on this transport. `arena` is the
   * room's own, so that a room's consecutive lines stay adjacent in memory.
   */
  renderRoom(event: RoomEvent, arena: LineArena): Frame;
}
