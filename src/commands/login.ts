import { ChatError } from "../errors.ts";
import { TEXT } from "../text.ts";
import type { Command } from "./command.ts";

/** `login NAME`: take a name and enter the main room. */
export const login: Command = {
  name: "login",
  usage: "login NAME",
  summary: "log in under NAME",
  loginRequired: false,
  run({ session, registry }, name) {
    if (session.user) {
      throw new ChatError(TEXT.alreadyLoggedIn(session.user.name));
    }
    if (name === "") throw new ChatError(TEXT.enterName);
    session.user = registry.login(name, session.recipient);
  },
};
