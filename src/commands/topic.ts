import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";
import { checkNotMuted } from "./moderation.ts";

/**
 * What `topic` takes for "clear it": a dash alone, as a form leaves a field
 * blank. (IRC's `/topic #chan :` is an empty trailing parameter; a line
 * here has none to give.)
 */
export const CLEAR_TOPIC = "-";

/** `topic [TEXT|-]`: show the room's topic, set it, or clear it. */
export const topic: Command = {
  name: "topic",
  usage: "topic [TEXT|-]",
  summary: "show this room's topic, set it to TEXT, or clear it with -",
  details: [
    "Everyone in the room sees a new topic, or that it was cleared; joining shows it.",
  ],
  loginRequired: true,
  run(ctx, text) {
    const { user, session, registry } = ctx;
    const room = user.room!;
    const clear = text === CLEAR_TOPIC;
    if (clear && room.topic === null) {
      throw new ChatError(TEXT.noTopic(room.name));
    }
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
    // Cleared is a topic of "": stored, published and kept as a topic is.
    registry.setTopic(user, clear ? "" : text);
  },
};
