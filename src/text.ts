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
  morePeople: (count: number) =>
    `and ${count} more ${count === 1 ? "person" : "people"}`,
  /** seed: an unknown command word, as typed. */
  unknownCommand: (word: string) => `Unknown command: ${word}`,

  lineTooLong: (maxBytes: number) => `Line too long (max ${maxBytes} bytes)`,
  /** A WebSocket frame with a line break inside: one command line a frame. */
  oneLinePerFrame:
    "Not run: a frame is one command line, and this one has a line break in it",
  excessFlood: "Excess flood",
  /**
   * Flood control has begun to slow a sender: said once, as the first line
   * waits, so that a paste answered slowly is not taken for a silent server.
   */
  floodSlowed: (burst: number, rate: number) =>
    `Slow down: lines past ${burst} at once are handled ${rate} a second, in order`,
  /** A page's close reason (at most 123 bytes) when it fell too far behind. */
  slowReader:
    "The server ended the session: this page fell too far behind in reading",
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
  secretWillShow:
    "Your client shows what you type: the password will be visible as you type it. A blank line cancels.",
  secretShowsAfterAll:
    "Your client did not agree to hide what you type: the password will be visible as you type it. A blank line cancels.",
  passwordFor: (name: string) => `Password for ${name} (a blank line cancels):`,
  choosePassword: (min: number) =>
    `Choose a password (at least ${min} characters; a blank line cancels):`,
  confirmPassword: "Type the same password again:",
  currentPassword: "Your current password (a blank line cancels):",
  newPassword: (min: number) =>
    `Your new password (at least ${min} characters):`,
  unregisterPassword: (name: string) =>
    `To delete the account "${name}", type its password (a blank line cancels):`,
  cancelled: "Cancelled.",
  wrongPassword: "Wrong password",
  tooManyWrongPasswords: "Too many wrong passwords; disconnecting.",
  loginDelay: (seconds: number, failures: number) =>
    `${failures} failed ${
      failures === 1 ? "login" : "logins"
    } lately: checking in ${seconds} s`,
  hashQueued: (ahead: number) =>
    `Checking the password: ${ahead} ${
      ahead === 1 ? "check is" : "checks are"
    } ahead of yours`,
  passwordTooShort: (min: number) =>
    `A password needs at least ${min} characters`,
  passwordIsName: "A password must not be your name",
  passwordsDiffer: "The two passwords differ; nothing was changed",
  registered: (name: string) =>
    `Registered "${name}": from now on, logging in as ${name} asks for this password.`,
  registeredAfterAll: (name: string) =>
    `Your registration of "${name}" went through after all: from now on, logging in as ${name} asks for this password.`,
  tooManyNewRooms: (max: number) =>
    `Too many new rooms made from your address (at most ${max} an hour); join one that exists, or try again later`,
  tooManyRegistrations: (max: number) =>
    `Too many accounts registered from your address (at most ${max} an hour); try again later`,
  alreadyRegistered: (name: string) =>
    `You are already registered as "${name}"`,
  notRegistered: 'You are a guest: "register" makes your name an account',
  nameRegistered: (name: string) => `The name "${name}" is registered already`,
  registeredToOther: "it is registered to someone else",
  looksLikeAccount: (name: string) =>
    `it looks like "${name}", a registered name`,
  accountGone: (name: string) => `The account "${name}" no longer exists`,
  accountLost: (name: string) =>
    `Redis, where the cluster keeps its accounts, came back without them: your account "${name}" is gone, and you are a guest; "register" makes it again`,
  accountName: (name: string) =>
    `You are logged in to the account "${name}": only the letter case of your name can change`,
  loggedIn: (name: string) => `You are logged in as ${name}.`,
  failedSince: (count: number, addresses: readonly string[]) =>
    `${count} failed login ${
      count === 1 ? "attempt" : "attempts"
    } since your last login, from ${addresses.join(", ")}.`,
  passwordChanged: "Your password is changed.",
  passwordChangedAfterAll:
    "Your new password went through after all: from now on, logging in asks for it, not the old one.",
  unregistered: (name: string) =>
    `The account "${name}" is deleted; you stay online as a guest.`,
  offlineKept: (name: string) =>
    `${name} is offline and will get your message at their next login`,
  offlineFull: (name: string, max: number) =>
    `${name} is offline and has ${max} messages waiting; yours was not kept`,
  offlineYoursFull: (name: string, max: number) =>
    `${name} is offline and has ${max} of your messages waiting, the most one sender may leave; yours was not kept`,
  offlineHeader: (count: number) =>
    `While you were away, ${count} private ${
      count === 1 ? "message" : "messages"
    } came for you:`,
  offlineMessage: (date: string, from: string, text: string) =>
    `[private, ${date}] ${from}: ${text}`,
  alreadyLoggedIn: (name: string) => `You are already logged in as "${name}"`,
  /** To a session whose account has just logged in again elsewhere. */
  replaced: (address: string) =>
    `You have logged in again from ${address}: this connection is closed.`,
  usage: (usage: string) => `Usage: ${usage}`,
  helpHeader: "Commands (a leading / is optional):",
  /** In chat mode a line without a leading / is said: it is not optional. */
  helpHeaderChat: "Commands (in chat mode, start each with /):",
  helpLine: (usage: string, summary: string, width: number) =>
    `  ${usage.padEnd(width)}  ${summary}`,
  /**
   * `login` with two words, the first no account's name: a two-word name,
   * or `login NAME PASSWORD` for an account that does not exist (a typo,
   * or one never registered). The rest is not shown: it may be a password.
   */
  oneWord: (first: string) =>
    `a name is one word, and no account is called "${first}" to log in to with a password (log in with the name alone; "register" then makes it an account)`,
  looksLikeOnline: (name: string) => `it looks like "${name}", who is online`,
  looksLikeRoom: (name: string) => `it looks like the room "${name}"`,
  /**
   * Why a name with bytes that are not UTF-8 is refused: a terminal set to
   * Latin-1, or telnet that dropped a byte of a letter (the session asks it
   * for its bytes as they are, so typing it again works).
   */
  notUtf8:
    "some of its bytes are not UTF-8; type it again (if it comes out so again, set your terminal to UTF-8)",
  badName: (kind: string, name: string, why: string) =>
    `Cannot use the ${kind} "${name}": ${why}`,

  noSuchUser: (name: string) => `No one called "${name}" is online`,
  sameName: (name: string) => `You are already called "${name}"`,
  renamed: (old: string, name: string) => `${old} is now known as ${name}.`,

  alreadyInRoom: (room: string) => `You are already in room "${room}"`,
  joinedRoom: (room: string) => `You are now in room "${room}".`,
  roomsHeader: "Rooms:",
  moreRooms: (count: number) =>
    `and ${count} more ${count === 1 ? "room" : "rooms"}, with fewer people`,
  roomLine: (room: string, members: number, topic: string | null) =>
    `  ${room} (${members} ${members === 1 ? "person" : "people"})` +
    (topic ? `: ${topic}` : ""),
  topicIs: (room: string, topic: string) => `Topic of "${room}": ${topic}`,
  noTopic: (room: string) => `Room "${room}" has no topic`,
  topicSet: (name: string, topic: string) => `${name} set the topic: ${topic}`,
  topicCleared: (name: string) => `${name} cleared the topic`,
  /** A replayed line: marked so it cannot be taken for live chat. */
  history: (line: string) => `[history] ${line}`,
  historyHeader: (
    room: string,
    count: number,
    earlier: boolean,
    ignored = 0,
  ) =>
    `${earlier ? "Earlier" : "The last"} ${count} ${
      count === 1 ? "line" : "lines"
    } of "${room}"${
      ignored === 0 ? "" : ` (${ignored} from people you ignore left out)`
    }:`,
  historyMore: (id: number) => `Older lines: history before ${id}`,
  noHistory: (room: string) => `Nothing has been said in "${room}" yet`,
  noOlderHistory: (room: string) => `There are no older lines in "${room}"`,
  historyTooMany: (max: number) => `At most ${max} lines at a time`,

  emote: (name: string, action: string) => `* ${name} ${action}`,
  privateFrom: (from: string, text: string) => `[private] ${from}: ${text}`,
  privateTo: (to: string, text: string) => `[private to ${to}] ${text}`,
  privateToSelf: "You cannot send a private message to yourself",
  noReplyTarget: "Nobody has sent you a private message yet",
  /**
   * `reply` to a session that has ended: whoever has the name now (the same
   * person back, or someone else) is not the one who wrote.
   */
  replyGone: (name: string) => `${name}, who wrote to you, has logged out`,
  /** An away message; "" is away with no reason given. */
  isAway: (name: string, reason: string) =>
    reason === "" ? `${name} is away` : `${name} is away: ${reason}`,

  whois: (name: string, room: string, connected: string, idle: string) =>
    `${name} is in room "${room}", connected ${connected}, idle ${idle}`,
  whoisRegistered: (name: string) => `${name} is a registered user`,
  whoisOffline: (name: string, lastLogin: string) =>
    `${name} is a registered user, offline (last logged in ${lastLogin})`,
  whoisLeaveMessage: (name: string) =>
    `msg ${name} TEXT waits for their next login`,
  awayNow: (reason: string) =>
    reason === ""
      ? "You are marked as away"
      : `You are marked as away: ${reason}`,
  backNow: "You are no longer marked as away",
  notAway: "You are not marked as away",

  ignoring: (name: string) => `You are ignoring ${name}`,
  ignoreSelf: "You cannot ignore yourself",
  alreadyIgnoring: (name: string) => `You are already ignoring ${name}`,
  unignored: (name: string) => `You are no longer ignoring ${name}`,
  notIgnoring: (name: string) => `You are not ignoring anyone called "${name}"`,
  ignoreList: (names: string[]) =>
    names.length > 0
      ? `You are ignoring: ${names.join(", ")}`
      : "You are not ignoring anyone",

  accountsAway: (name: string) =>
    `"${name}" is a registered name, and the accounts cannot be reached right now: try again in a moment`,
  clusterAway: (name: string) =>
    `The other servers cannot be reached right now: your message to ${name} was not sent`,
  notHereClusterAway: (name: string) =>
    `The other servers cannot be reached right now: no one called "${name}" is on this server`,
  notHeard:
    "The other servers cannot be reached right now: only the people on this server saw that",
  notDelivered: (name: string) =>
    `${name}'s server is not answering: your message was not delivered`,
  kickNotDelivered: (name: string) =>
    `${name}'s server is not answering: they were not kicked`,
  storeAway:
    "The cluster's store cannot be reached right now; try again in a moment",
  storeFailed:
    "The server's database cannot be written right now, so that was not done; try again later",
  nameYielded: (old: string, name: string) =>
    `While the servers could not reach each other, someone who logged in earlier took the name "${old}": you are ${name} for now; pick another with "nick"`,
  lookalikeYielded: (kept: string, old: string, name: string) =>
    `While the servers could not reach each other, someone who logged in earlier took the name "${kept}", which looks like "${old}": you are ${name} for now; pick another with "nick"`,
  registeredYielded: (old: string, name: string) =>
    `While the servers could not reach each other, the name "${old}" was registered: you are ${name} for now; pick another with "nick"`,
  lookalikeRegisteredYielded: (account: string, old: string, name: string) =>
    `While the servers could not reach each other, the name "${account}" was registered, which looks like "${old}": you are ${name} for now; pick another with "nick"`,
  kicked: (name: string, by: string, reason: string) =>
    `${name} was kicked by ${by}: ${reason}`,
  kickedYou: (room: string, by: string, reason: string) =>
    `You were kicked from "${room}" by ${by}: ${reason}`,
  kickedOut: (name: string, room: string) => `Kicked ${name} from "${room}"`,
  kickedOff: (name: string) => `Kicked ${name} off the server`,
  kickedFromServer: (by: string, reason: string) =>
    `You were kicked from the server by ${by}: ${reason}`,
  /**
   * A ban or mute by address that would hold a server operator (or, for a
   * room operator, the room's owner): refused, as it is by name.
   */
  sanctionMatchesShielded: (action: string, name: string, operator: boolean) =>
    `That ${action} would match ${name}, ${
      operator ? "a server operator" : "the owner of this room"
    }`,
  cannotUnregisterSanctioned:
    "You cannot unregister while your account is banned or muted",
  badDuration: (typed: string) =>
    `Cannot read "${typed}" as a duration: write whole numbers with s, m, h, d, w or y (30m, 2h, 1h30m or 1h 30m, 7d), at most 366d; leave it out for good`,
  /** The end of a ban or mute, as its sentences say it. */
  until: (date: string | null) =>
    date === null ? "permanently" : `until ${date}`,
  /** Where a ban or mute holds: the server, or a room. */
  scope: (room: string | null) => room === null ? "this server" : `"${room}"`,
  /** Where an unban or unmute looked: the server, a room, or both. */
  scopes: (rooms: (string | null)[]): string =>
    rooms.map((room) => TEXT.scope(room)).join(" or "),
  bannedYou: (scope: string, until: string, reason: string) =>
    `You are banned from ${scope} ${until}: ${reason}`,
  mutedYou: (room: string | null, until: string, reason: string) =>
    `You are muted${room === null ? "" : ` in "${room}"`} ${until}: ${reason}`,
  unmutedYou: (room: string | null) =>
    `You are no longer muted${room === null ? "" : ` in "${room}"`}`,
  needsOperator: (command: string) =>
    `Only a server operator can use "${command}"`,
  needsRoomOwner: (command: string) =>
    `Only the owner of this room (or a server operator) can use "${command}"`,
  needsRoomModerator: (command: string) =>
    `Only the owner of this room, its room operators and server operators can use "${command}"`,
  needsRegistered: (command: string) =>
    `Only a registered user can use "${command}"; see "register"`,
  cannotTargetSelf: (action: string) => `You cannot ${action} yourself`,
  cannotTargetOperator: (action: string) =>
    `You cannot ${action} a server operator`,
  cannotTargetOwner: (action: string) =>
    `You cannot ${action} the owner of this room`,
  /**
   * A ban or mute by address that would hold the moderator too: which
   * address, since a guest's (a name) is theirs only by address.
   */
  sanctionMatchesYou: (action: string, label: string, address: string) =>
    `That ${action} of ${label} would match you: you are connected from ${address}`,
  noSuchTarget: (target: string) =>
    `No one called "${target}" is online or registered, and it is not an address or a CIDR block`,
  notInRoom: (name: string, room: string) => `${name} is not in "${room}"`,
  bannedThem: (label: string, scope: string, until: string, reason: string) =>
    `Banned ${label} from ${scope} ${until}: ${reason}`,
  unbannedThem: (label: string, scope: string) =>
    `Unbanned ${label} from ${scope}`,
  notBanned: (label: string, scope: string) =>
    `${label} is not banned from ${scope}`,
  mutedThem: (label: string, scope: string, until: string, reason: string) =>
    `Muted ${label} on ${scope} ${until}: ${reason}`,
  unmutedThem: (label: string, scope: string) => `Unmuted ${label} on ${scope}`,
  notMuted: (label: string, scope: string) =>
    `${label} is not muted on ${scope}`,
  bansHeader: "Bans:",
  banLine: (
    label: string,
    scope: string,
    by: string,
    at: string,
    until: string,
    reason: string,
  ) => `  ${label} from ${scope}, by ${by} on ${at}, ${until}: ${reason}`,
  noBans: "No bans",
  moreBans: (count: number) =>
    `and ${count} more ${count === 1 ? "ban" : "bans"}`,
  mutesHeader: "Mutes:",
  muteLine: (
    label: string,
    scope: string,
    by: string,
    at: string,
    until: string,
    reason: string,
  ) => `  ${label} on ${scope}, by ${by} on ${at}, ${until}: ${reason}`,
  noMutes: "No mutes",
  moreMutes: (count: number) =>
    `and ${count} more ${count === 1 ? "mute" : "mutes"}`,
  modlogHeader: "Moderation log, oldest first:",
  /** A target or scope of "" is left out (a claim's target is its room). */
  modlogLine: (
    at: string,
    actor: string,
    action: string,
    target: string,
    scope: string,
    until: string | null,
    reason: string,
  ) =>
    `  ${at} ${actor} ${action}` + (target === "" ? "" : ` ${target}`) +
    (scope === "" ? "" : ` on ${scope}`) +
    (until === null ? "" : ` ${until}`) + (reason === "" ? "" : `: ${reason}`),
  noModlog: "The moderation log is empty",
  lockdownIs: (on: boolean) =>
    on
      ? "Lockdown is on: only registered users may log in"
      : "Lockdown is off: guests may log in",
  lockdownGuest:
    "The server is in lockdown: only registered users may log in right now",
  notAnAccount: (name: string) => `"${name}" is not a registered name`,
  nowOperator: (name: string) => `${name} is now a server operator`,
  noLongerOperator: (name: string) => `${name} is no longer a server operator`,
  alreadyOperator: (name: string) => `${name} is a server operator already`,
  notOperator: (name: string) => `${name} is not a server operator`,
  youAreOperator: "You are now a server operator",
  youAreNoLongerOperator: "You are no longer a server operator",
  whoisOperator: (name: string) => `${name} is a server operator`,
  claimedRoom: (room: string) =>
    `You now own "${room}": it stays, with its topic, even when empty`,
  claimMovedOut: (room: string) =>
    `You are no longer in "${room}": it was not claimed`,
  claimKept: (room: string) =>
    `You are no longer in "${room}", and the server's database cannot be written right now: the claim holds; "unclaim" it there later if you do not want it`,
  roomOwned: (room: string, owner: string) =>
    `"${room}" is owned by ${owner} already`,
  mainIsOperators: '"main" belongs to the server operators',
  tooManySanctions: (kind: "ban" | "mute", room: string, max: number) =>
    `"${room}" has ${max} ${kind}s in force already, the most a room may; ` +
    `un${kind} one first`,
  tooManyClaims: (max: number) =>
    `You own ${max} rooms already, the most one account may; unclaim one first`,
  serverClaimsFull: (max: number) =>
    `This server has ${max} claimed rooms, the most it keeps; ask a server operator`,
  unclaimedRoom: (room: string) => `"${room}" has no owner any more`,
  notClaimed: (room: string) => `"${room}" has no owner`,
  nowRoomOperator: (name: string, room: string) =>
    `${name} is now a room operator of "${room}"`,
  noLongerRoomOperator: (name: string, room: string) =>
    `${name} is no longer a room operator of "${room}"`,
  alreadyRoomOperator: (name: string, room: string) =>
    `${name} is a room operator of "${room}" already`,
  notRoomOperator: (name: string, room: string) =>
    `${name} is not a room operator of "${room}"`,
  motdHeader: "Message of the day:",
  noMotd: "There is no message of the day",

  chatMode: "Chat mode: a line is said; commands need a leading /",
  commandMode: 'Command mode: lines are commands; use "say TEXT" to talk',

  helpFooter: 'Type "help COMMAND" for more about one command.',
  helpFooterChat: 'Type "/help COMMAND" for more about one command.',
  noSuchCommand: (word: string) =>
    `No command called "${word}"; type "help" for the list`,
} as const;

/** A date for people, in UTC: `2026-12-01 20:15 UTC`. */
export function formatDate(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 16).replace("T", " ") +
    " UTC";
}

/**
 * A moment for people, to the second, in UTC: `2026-12-01 20:15:07 UTC`.
 * The end of a ban or mute, which a user may be watching for.
 */
export function formatMoment(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace("T", " ") +
    " UTC";
}

/** A duration for people: `45s`, `3m 12s`, `2h 5m`, `3d 4h`. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const [d, h, m, s] = [
    Math.floor(seconds / 86400),
    Math.floor(seconds / 3600) % 24,
    Math.floor(seconds / 60) % 60,
    seconds % 60,
  ];
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

const ENCODER = new TextEncoder();

/**
 * Encodes lines for the wire, CRLF included, into large shared buffers
 * instead of one allocation per line. A buffer is only ever appended to, so
 * the views handed out stay valid; a full buffer is left to the views still
 * using it, and a new one started. Lines encoded one after another are
 * adjacent in memory, so an outbox that queues them can write them as one
 * view without copying (see `Outbox`): a room encodes its broadcasts in an
 * arena of its own so that its lines reach each member that way.
 */
export class LineArena {
  readonly #size: number;
  #buffer: Uint8Array;
  #used = 0;

  /** `size`: bytes per buffer. Default 16 KiB. */
  constructor(size = 16 * 1024) {
    this.#size = size;
    this.#buffer = new Uint8Array(0);
  }

  /** The line's bytes, CRLF included. */
  encode(line: string): Uint8Array {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = line.length * 3 + 2;
    if (most > this.#size) return ENCODER.encode(line + "\r\n");
    if (this.#used + most > this.#buffer.length) {
      this.#buffer = new Uint8Array(this.#size);
      this.#used = 0;
    }
    const buffer = this.#buffer;
    const start = this.#used;
    let end = start;
    // ASCII, the common case, is copied as it is: no allocation.
    for (let i = 0; i < line.length; i++) {
      const code = line.charCodeAt(i);
      if (code >= 0x80) {
        end = start + ENCODER.encodeInto(line, buffer.subarray(start)).written;
        break;
      }
      buffer[end++] = code;
    }
    buffer[end] = 13;
    buffer[end + 1] = 10;
    this.#used = end + 2;
    return buffer.subarray(start, this.#used);
  }
}

const DIRECT = new LineArena();

/** Encodes one line for the wire, CRLF included (for one recipient). */
export function encodeLine(line: string): Uint8Array {
  return DIRECT.encode(line);
}

// C0 but tab, DEL, C1, and the bidirectional embeddings, overrides and isolates.
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Removes what would let one user act on another's terminal: C0 controls
 * (ESC, BEL, BS ...), DEL, C1 controls and the bidirectional controls. A tab
 * becomes a space. Applied to every line a client sends, so nothing stored or
 * relayed can carry them. A line typed in character mode holds its typist's
 * corrections (Backspace, ^U, ^W): they are applied first, so that
 * `helo<BS>lo` is `hello`, not `helolo`.
 */
export function sanitize(text: string): string {
  const clean = text.replace(UNSAFE, "");
  // Only a line that had a control character is looked at again.
  if (clean.length !== text.length && EDITS.test(text)) {
    return sanitize(edited(text));
  }
  return clean.replaceAll("\t", " ");
}

/**
 * The keys that edit a line, as a client in character mode sends them inside
 * it (busybox's telnet, Debian's after `mode character`): Backspace (BS or
 * DEL, and telnet's IAC EC, which the reader turns into DEL), ^U and telnet's
 * IAC EL (turned into ^U), and ^W.
 */
// deno-lint-ignore no-control-regex
const EDITS = /[\b\x15\x17\x7f]/;

/**
 * `text` as its typist saw it: a BS or DEL erases the character before it (a
 * whole code point, so never half a surrogate pair), ^U everything before
 * it, ^W the word before it (and the spaces after that word).
 */
function edited(text: string): string {
  const kept: string[] = [];
  for (const char of text) {
    if (char === "\b" || char === "\x7f") {
      kept.pop();
    } else if (char === "\x15") {
      kept.length = 0;
    } else if (char === "\x17") {
      while (kept.length > 0 && /^\s$/.test(kept[kept.length - 1])) kept.pop();
      while (kept.length > 0 && !/^\s$/.test(kept[kept.length - 1])) kept.pop();
    } else {
      kept.push(char);
    }
  }
  return kept.join("");
}
