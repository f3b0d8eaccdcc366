import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/**
 * The most rooms one `rooms` answer lists. Each line can carry a topic of
 * up to a line's length, and an answer past the output bound (a MiB) would
 * drop whoever asked as a slow reader before they read a byte: a thousand
 * rooms with long topics, which anyone with enough connections can open,
 * did that to every page (it asks at login). 200 such lines stay under the
 * soft bound.
 */
export const MAX_ROOMS_LISTED = 200;

/**
 * The lines of the rooms listed, in their order: all of them, or, when
 * there are more than {@linkcode MAX_ROOMS_LISTED}, the first (main) and
 * those with the most people, and a line saying how many are left out.
 */
function listed(rooms: { line: string; members: number }[]): string[] {
  if (rooms.length <= MAX_ROOMS_LISTED) return rooms.map((room) => room.line);
  const [first, ...rest] = rooms;
  const kept = new Set(
    [...rest].sort((a, b) => b.members - a.members)
      .slice(0, MAX_ROOMS_LISTED - 1),
  );
  return [
    first.line,
    ...rest.filter((room) => kept.has(room)).map((room) => room.line),
    TEXT.moreRooms(rooms.length - MAX_ROOMS_LISTED),
  ];
}

/** `rooms`: every room, its member count and topic. */
export const rooms: Command = {
  name: "rooms",
  usage: "rooms",
  summary: "list the rooms with their people and topics",
  details: [
    `At most ${MAX_ROOMS_LISTED}: main, then the rooms with the most people.`,
  ],
  loginRequired: true,
  async run({ registry, session, cluster, store }) {
    if (!cluster?.up) {
      const all = [...registry.rooms.values()].map((room) => ({
        line: TEXT.roomLine(room.name, room.members.size, room.topic),
        members: room.members.size,
      }));
      session.reply(TEXT.roomsHeader, ...listed(all));
      return;
    }
    // A cluster's rooms with members anywhere, main first, then the claimed
    // rooms nobody is in.
    const open = await cluster.rooms();
    const claimed = await store.claimedRooms();
    const all = open.sort((a, b) =>
      a.key === "main" ? -1 : b.key === "main" ? 1 : a.key < b.key ? -1 : 1
    ).map((room) => ({
      line: TEXT.roomLine(room.name, room.members, room.topic),
      members: room.members,
    }));
    if (!open.some((room) => room.key === "main")) {
      all.unshift({
        line: TEXT.roomLine(registry.main.name, 0, registry.main.topic),
        members: 0,
      });
    }
    // By key: a some() per claimed room was claimed rooms times open ones.
    const openKeys = new Set(open.map((room) => room.key));
    for (const room of claimed) {
      if (!openKeys.has(room.key)) {
        all.push({ line: TEXT.roomLine(room.name, 0, room.topic), members: 0 });
      }
    }
    session.reply(TEXT.roomsHeader, ...listed(all));
  },
};
