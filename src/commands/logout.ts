import type { Command } from "./command.ts";

/** `logout`: leave; the connection closes and the name is free again. */
export const logout: Command = {
  name: "logout",
  usage: "logout",
  summary: "leave the chat and close the connection",
  loginRequired: false,
  run({ session }) {
    session.end();
  },
};

/**
 * `quit`: what IRC users (and many telnet ones) type to leave; the seed
 * answered it `Unknown command: quit` and kept them there. Before login it
 * still gets the seed's `Please log in`, as anything but login and logout
 * does.
 */
export const quit: Command = {
  name: "quit",
  usage: "quit",
  summary: "the same as logout",
  loginRequired: true,
  run: logout.run,
};
