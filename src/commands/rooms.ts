import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `rooms`: every room, its member count and topic. */
export const rooms: Command = {
  name: "rooms",
  usage: "rooms",
  summary: "list the rooms with their people and topics",
  loginRequired: true,
  async run({ registry, session, cluster, store }) {
    if (!cluster?.up) {
      session.reply(
        TEXT.roomsHeader,
        ...[...registry.rooms.values()].map((room) =>
          TEXT.roomLine(room.name, room.members.size, room.topic)
        ),
      );
      return;
    }
    // A cluster's rooms with members anywhere, main first, then the claimed
    // rooms nobody is in.
    const open = await cluster.rooms();
    const claimed = await store.claimedRooms();
    const lines = open.sort((a, b) =>
      a.key === "main" ? -1 : b.key === "main" ? 1 : a.key < b.key ? -1 : 1
    ).map((room) => TEXT.roomLine(room.name, room.members, room.topic));
    if (!open.some((room) => room.key === "main")) {
      lines.unshift(TEXT.roomLine(registry.main.name, 0, registry.main.topic));
    }
    for (const room of claimed) {
      if (!open.some((other) => other.key === room.key)) {
        lines.push(TEXT.roomLine(room.name, 0, room.topic));
      }
    }
    session.reply(TEXT.roomsHeader, ...lines);
  },
};
