import { ChatError } from "../errors.ts";
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
    // A cluster keeps a topic where it publishes it: while Redis cannot be
    // reached, it would be seen on this server only, and then lost.
    if (ctx.cluster && !ctx.cluster.up) throw new ChatError(TEXT.storeAway);
    registry.setTopic(user, text);
  },
};
