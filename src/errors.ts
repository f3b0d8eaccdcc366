/**
 * A mistake by the user, not a bug: its message goes to the sender only and
 * the session goes on. Any other error thrown while handling a line is a bug:
 * it is logged with its stack and the user sees one generic line.
 */
export class ChatError extends Error {
  /** The lines the sender sees, in order. */
  readonly lines: readonly string[];

  constructor(...lines: string[]) {
    super(lines.join("\n"));
    this.name = "ChatError";
    this.lines = lines;
  }
}
