/**
 * Every line a user can see, in one place, and the functions that make user
 * text safe to show to others.
 *
 * The texts marked "seed" are the compatibility promise: someone following the
 * asyncore tutorial with telnet gets exactly these answers.
 *
 * @module
 */

/** The texts users see. Functions take values already sanitised. */
export const TEXT = {
  /** seed: sent on connect. */
  welcome: (server: string) => `Welcome to ${server}`,
  /** seed: any command but login and logout before logging in. */
  pleaseLogIn: ["Please log in", 'Use "login"'],
  /** seed: `login` without a name. */
  enterName: "Please enter a name",
  /** seed: the name is held by someone online. */
  nameTaken: (name: string) => [
    `The name "${name}" is taken.`,
    "Please try again.",
  ],
  /** seed: to the room a user enters (not to the user). */
  entered: (name: string) => `${name} has entered the room.`,
  /** seed: to the room a user leaves. */
  left: (name: string) => `${name} has left the room.`,
  /** seed: a line said in a room, to everyone there. */
  said: (name: string, message: string) => `${name}: ${message}`,
  /** seed: the heading of `look`. */
  lookHeader: "The following are in this room:",
  /** seed: the heading of `who`. */
  whoHeader: "The following are logged in:",
  /** seed: an unknown command word, as typed. */
  unknownCommand: (word: string) => `Unknown command: ${word}`,

  lineTooLong: (maxBytes: number) => `Line too long (max ${maxBytes} bytes)`,
  excessFlood: "Excess flood",
  tooManyLinesBeforeLogin: (max: number) =>
    `Too many lines without logging in (max ${max}).`,
  loginTimedOut: "Login timed out.",
  idleTimedOut: (seconds: number) =>
    `Idle for more than ${seconds} seconds; disconnecting.`,
  serverFull: "Server is full",
  tooManyConnections: "Too many connections from your address",
  tooManyNewConnections:
    "Too many new connections from your address; try again in a few seconds",
  httpRequest: "This is a chat server: connect with telnet, not a web browser.",
  shuttingDown: "Server is shutting down.",
  internalError: "Sorry, something went wrong; please try again.",
  alreadyLoggedIn: (name: string) => `You are already logged in as "${name}"`,
  usage: (usage: string) => `Usage: ${usage}`,
  helpHeader: "Commands (a leading / is optional):",
  helpLine: (usage: string, summary: string) =>
    `  ${usage.padEnd(12)} ${summary}`,
  badName: (name: string, why: string) =>
    `Cannot use the name "${name}": ${why}`,
} as const;

const ENCODER = new TextEncoder();

/**
 * Encodes one line for the wire, CRLF included. Broadcasts call this once and
 * hand the same bytes to every recipient.
 */
export function encodeLine(line: string): Uint8Array {
  return ENCODER.encode(line + "\r\n");
}

// C0 but tab, DEL, C1, and the bidirectional embeddings, overrides and isolates.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Removes what would let one user act on another's terminal: C0 controls
 * (ESC, BEL, BS ...), DEL, C1 controls and the bidirectional controls. A tab
 * becomes a space. Applied to every line a client sends, so nothing stored or
 * relayed can carry them.
 */
export function sanitize(text: string): string {
  return text.replace(UNSAFE, "").replaceAll("\t", " ");
}
