import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/**
 * The most names one `who` or `look` answer lists (and one `room` or
 * `members` frame carries). A cluster holds as many users as its servers
 * admit, and an answer past the output bound (a MiB) would drop whoever
 * asked as a slow reader before they read a byte. A name is at most 24
 * characters, under a hundred bytes: 500 of them stay near 50 KiB, so even
 * a burst of asks (10 lines, the flood burst) stays under the bound.
 */
export const MAX_NAMES_LISTED = 500;

/**
 * `names` as an answer lists them: all, or the first
 * {@linkcode MAX_NAMES_LISTED} and a line saying how many more there are.
 */
export function namesListed(names: readonly string[]): string[] {
  if (names.length <= MAX_NAMES_LISTED) return [...names];
  return [
    ...names.slice(0, MAX_NAMES_LISTED),
    TEXT.morePeople(names.length - MAX_NAMES_LISTED),
  ];
}

/** `who`: everyone logged in (on every server of a cluster). */
export const who: Command = {
  name: "who",
  usage: "who",
  summary: "list everyone logged in",
  details: [
    `At most ${MAX_NAMES_LISTED}, those logged in longest, and how many more.`,
  ],
  loginRequired: true,
  run({ registry, session, cluster }) {
    if (cluster?.up) {
      return cluster.who().then((names) =>
        session.reply(TEXT.whoHeader, ...namesListed(names))
      );
    }
    const names = [...registry.online].map((user) => user.name);
    session.reply(TEXT.whoHeader, ...namesListed(names));
  },
};
