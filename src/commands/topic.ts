import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/** `topic [TEXT]`: show the room's topic, or set it. */
export const topic: Command = {
  name: "topic",
  usage: "topic [TEXT]",
  summary: "show this room's topic, or set it to TEXT",
  details: ["Everyone in the room sees a new topic; joining shows it."],
  loginRequired: true,
  run(ctx, text) {
    const { user, session, registry } = ctx;
    const room = user.room!;
    if (text === "") {
      session.reply(
        room.topic
          ? TEXT.topicIs(room.name, room.topic)
          : TEXT.noTopic(room.name),
      );
      return;
    }
    checkNotMuted(ctx, room);
    registry.setTopic(user, text);
  },
};
