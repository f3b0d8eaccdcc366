import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `rooms`: every room, its member count and topic. */
export const rooms: Command = {
  name: "rooms",
  usage: "rooms",
  summary: "list the rooms with their people and topics",
  loginRequired: true,
  run({ registry, session }) {
    session.reply(
      TEXT.roomsHeader,
      ...[...registry.rooms.values()].map((room) =>
        TEXT.roomLine(room.name, room.members.size, room.topic)
      ),
    );
  },
};
