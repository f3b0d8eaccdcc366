import { ChatError } from "../errors.ts";
import { foldName } from "../names.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `ignore [NAME]`: stop seeing someone's lines and private messages. */
export const ignore: Command = {
  name: "ignore",
  usage: "ignore [NAME]",
  summary: "stop seeing NAME's lines and private messages (alone: the list)",
  details: ["NAME is not told. It lasts until you or NAME log out."],
  loginRequired: true,
  run({ user, registry, session }, name) {
    if (name === "") {
      const names = user.ignored.filter((u) => registry.isOnline(u))
        .map((u) => u.name);
      session.reply(TEXT.ignoreList(names));
      return;
    }
    const target = registry.get(name);
    if (target === user) throw new ChatError(TEXT.ignoreSelf);
    if (!user.ignore(target)) {
      throw new ChatError(TEXT.alreadyIgnoring(target.name));
    }
    session.reply(TEXT.ignoring(target.name));
  },
};

/** `unignore NAME`: see someone's lines again. */
export const unignore: Command = {
  name: "unignore",
  usage: "unignore NAME",
  summary: "see NAME's lines and private messages again",
  loginRequired: true,
  needsArgs: true,
  run({ user, session }, name) {
    const key = foldName(name);
    const target = user.ignored.find((u) => u.key === key);
    if (!target) throw new ChatError(TEXT.notIgnoring(name));
    user.unignore(target);
    session.reply(TEXT.unignored(target.name));
  },
};
