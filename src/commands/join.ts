import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { sanctionText, subjectOf } from "./moderation.ts";

/** `join ROOM`: move to a room, made on first join. */
export const join: Command = {
  name: "join",
  usage: "join ROOM",
  summary: "move to ROOM (made if new); shows its topic and recent lines",
  details: [
    "Room names follow the name rules. An empty room goes away, except main.",
    "The last lines said in the room are replayed, marked [history].",
  ],
  loginRequired: true,
  needsArgs: true,
  async run({ user, registry, store, config, session, moderation }, typed) {
    const { name, key } = registry.roomName(typed);
    const ban = moderation.find("ban", key, subjectOf(user));
    if (ban !== null && !moderation.isOperator(user.account)) {
      throw new ChatError(
        sanctionText(ban, registry.rooms.get(key)?.name ?? name),
      );
    }
    // A room nobody is in comes back as the store kept it: its name, topic
    // and last lines. One that is open already is current in memory.
    const state = registry.rooms.has(key)
      ? undefined
      : (await store.room(key, config.historyLines)) ?? undefined;
    const room = registry.join(user, state?.name ?? name, state);
    session.reply(TEXT.joinedRoom(room.name));
    if (room.topic) session.reply(TEXT.topicIs(room.name, room.topic));
    session.showHistory(
      room.history().filter((event) => !user.ignoresName(foldName(event.from))),
    );
  },
};
