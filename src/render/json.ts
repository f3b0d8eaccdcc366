/**
 * Events as a browser gets them: JSON, one event per WebSocket text frame.
 * The event objects are the frames as they are (`{"type":"said","id":7,...}`),
 * so a room's event is stringified once for every browser in it.
 *
 * @module
 */

import type { Transport } from "./transport.ts";

/** WebSocket clients: an event is one JSON text frame. */
export const JSON_FRAMES: Transport = {
  name: "websocket",
  renderRoom: (event) => JSON.stringify(event),
};
