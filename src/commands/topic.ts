import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `topic [TEXT]`: show the room's topic, or set it. */
export const topic: Command = {
  name: "topic",
  usage: "topic [TEXT]",
  summary: "show this room's topic, or set it to TEXT",
  details: ["Everyone in the room sees a new topic; joining shows it."],
  loginRequired: true,
  run({ user, session, registry }, text) {
    const room = user.room!;
    if (text === "") {
      session.reply(
        room.topic
          ? TEXT.topicIs(room.name, room.topic)
          : TEXT.noTopic(room.name),
      );
      return;
    }
    registry.setTopic(user, text);
  },
};
