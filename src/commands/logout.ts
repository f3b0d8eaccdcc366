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
