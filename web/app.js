// @ts-check
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The chat's browser client: plain JavaScript, no build step, no library.
 *
 * The page speaks the server's WebSocket protocol (README: The WebSocket
 * protocol; `src/render/json_output.ts`): it sends exactly what a telnet user
 * types, one command line per text frame, and gets one JSON object per frame.
 * Every frame but `hello`, `refused` and `gap` has an id from the server's
 * one event sequence, so the page keeps the largest id it saw: after a
 * dropped socket it comes back with `/ws?resume=TOKEN&last=ID` and gets what
 * it missed, once.
 *
 * Everything the server or another user says is inserted as text
 * (`textContent`, text nodes), never as HTML; links are made for http and
 * https only. The Content-Security-Policy allows no inline script or style:
 * all behaviour is here, all looks in style.css.
 *
 * @module
 */

// ---------------------------------------------------------------- constants

/** The first wait before reconnecting, in ms. */
const MIN_RETRY_MS = 1000;
/** The longest wait between reconnection attempts, in ms. */
const MAX_RETRY_MS = 30_000;
/** A socket that has not said hello by then is given up, in ms. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * Tries to take a lost session back while the server still holds it (see
 * onLines): 1 s, 2 s, 4 s ... 30 s apart, about two minutes in all.
 */
const MAX_TAKE_BACK_TRIES = 8;
/** Lines asked for at a time by "Load older messages" and after login. */
const PAGE_LINES = 50;
/** Lines kept for Up and Down in the message box. */
const MAX_INPUT_HISTORY = 100;
/** Entries kept per conversation; older ones are dropped from the page. */
const MAX_ENTRIES = 3000;
/** How many nick colours style.css defines (`.nick-c0` ...). */
const NICK_COLOURS = 16;
/** Where the notification preference is kept. */
const NOTIFY_KEY = "chat.notifications";
/** Where the tab keeps the name it last logged in under, for a reload. */
const NAME_KEY = "chat.name";
/** The key of the room conversation: the user is in one room at a time. */
const ROOM_KEY = "room";

/** The phone-sized layout: one column, side lists as drawers. */
const PHONE = matchMedia("(max-width: 640px)");

/**
 * The server's texts that the page reads (they are in `src/text.ts`): the
 * answers to the commands the page sends on its own, and a few that change
 * what the page does.
 */
const TEXTS = {
  welcome: /^Welcome to (.+)$/,
  helpHeader: "Commands (a leading / is optional):",
  helpHeaderChat: "Commands (in chat mode, start each with /):",
  helpFooter: 'Type "help COMMAND" for more about one command.',
  helpFooterChat: 'Type "/help COMMAND" for more about one command.',
  noSuchCommand: /^(No command called ".*"); type "help" for the list$/,
  roomsHeader: "Rooms:",
  roomLine: /^ {2}(\S+) \((\d+) (?:person|people)\)(?:: (.*))?$/,
  historyHeader:
    /^(?:The last|Earlier) \d+ lines? of ".*"(?: \(\d+ from people you ignore left out\))?:$/,
  historyMore: /^Older lines: history before \d+$/,
  historyEnd:
    /^(?:There are no older lines in ".*"|Nothing has been said in ".*" yet)$/,
  historyError: /^(?:Usage: history |At most \d+ lines at a time$)/,
  wrongPassword: "Wrong password",
  cancelled: "Cancelled.",
  chatMode: /^Chat mode: /,
  commandMode: /^Command mode: /,
  shuttingDown: "Server is shutting down.",
  banned: /^You are banned /,
  joinedRoom: /^You are now in room "/,
  nameTaken: /^The name ".*" is taken\.$/,
  offlineMessage: /^\[private, ([^\]]+)\] (\S+): (.*)$/,
  whois: /^(\S+) is in room "(.*)", connected /,
  isAway: /^(\S+) is away(?:: (.*))?$/,
  offlineKept:
    /^(\S+) is offline and will get your message at their next login$/,
  offlineRefused: /^(\S+) is offline and has .* waiting.*; yours was not kept$/,
  noSuchUser: /^No one called "(.*)" is online$/,
  clusterAway:
    /^The other servers cannot be reached right now: your message to (\S+) was not sent$/,
  notDelivered:
    /^(\S+)'s server is not answering: your message was not delivered$/,
  replyGone: /^(\S+), who wrote to you, has logged out$/,
  whoisOffline: /^(\S+) is a registered user, offline \(last logged in /,
  lineTooLong: /^Line too long \(max (\d+) bytes\)$/,
  awayNow: /^You are marked as away(?:: (.*))?$/,
  backNow: /^You are (?:no longer|not) marked as away$/,
  privateToSelf: "You cannot send a private message to yourself",
};

/**
 * A row of `help`'s table, lined up with spaces for a terminal
 * (`  say TEXT        say TEXT to everyone in the room`): indented, then its
 * two cells, at least two spaces apart. Only help's reply is read so: in
 * another, two spaces may be a user's (a topic, a reason).
 */
const TABLE_ROW = /^ {2}(\S(?:.*?\S)?) {2,}(\S.*)$/;

/**
 * The server's lines about the room the user is in or moves to (`src/text.ts`:
 * joinedRoom, alreadyInRoom, topicIs, noTopic, lookHeader, kickedYou, a room's
 * mutedYou and unmutedYou, claimedRoom, unclaimedRoom). They go to the room's
 * log whatever is shown: a page that goes back to its room after a lost
 * session, or a kick, is not news in a private conversation.
 */
const ROOM_LINES = [
  /^You are (?:now|already) in room "/,
  /^Topic of ".*": /,
  /^Room ".*" has no topic$/,
  /^The following are in this room:$/,
  /^You were kicked from "/,
  /^You are (?:no longer )?muted in "/,
  /^You now own "/,
  /^".*" has no owner any more$/,
];

/** The login form's first line while it has no socket. */
const NOT_CONNECTED = "Not connected to the server. Log in connects again.";

/** The line where what came while a conversation was not shown starts. */
const NEW_MESSAGES = "New messages";

/** http and https URLs in text (anything else is never a link). */
const URL_PATTERN = /https?:\/\/[^\s<>"'`]+/gi;

// ----------------------------------------------------------------- elements

/**
 * The element with id `id`.
 *
 * @param {string} id
 * @returns {any}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`No element with id "${id}"`);
  return element;
}

const ui = {
  app: byId("app"),
  brand: byId("brand"),
  status: byId("status"),
  navToggle: byId("nav-toggle"),
  navToggleLabel: byId("nav-toggle-label"),
  navBadge: byId("nav-badge"),
  announce: byId("announce"),
  notifyToggle: byId("notify-toggle"),
  notifyState: byId("notify-state"),
  logout: byId("logout"),
  banner: byId("banner"),
  bannerText: byId("banner-text"),
  bannerCountdown: byId("banner-countdown"),
  reconnectNow: byId("reconnect-now"),
  loginView: byId("login-view"),
  loginForm: byId("login-form"),
  loginWelcome: byId("login-welcome"),
  loginName: byId("login-name"),
  loginPasswordLabel: byId("login-password-label"),
  loginPassword: byId("login-password"),
  loginMessage: byId("login-message"),
  loginSubmit: byId("login-submit"),
  chatView: byId("chat-view"),
  sidebar: byId("sidebar"),
  roomList: byId("room-list"),
  roomsRefresh: byId("rooms-refresh"),
  joinForm: byId("join-form"),
  joinName: byId("join-name"),
  privateList: byId("private-list"),
  privateHint: byId("private-hint"),
  conversationTitle: byId("conversation-title"),
  conversationTopic: byId("conversation-topic"),
  membersToggle: byId("members-toggle"),
  memberCount: byId("member-count"),
  membersToggleLabel: byId("members-toggle-label"),
  scroller: byId("scroller"),
  jumpLatest: byId("jump-latest"),
  older: byId("older"),
  loadOlder: byId("load-older"),
  olderEnd: byId("older-end"),
  logs: byId("logs"),
  composer: byId("composer"),
  commandHint: byId("command-hint"),
  messageLabel: byId("message-label"),
  message: byId("message"),
  promptCancel: byId("prompt-cancel"),
  send: byId("send"),
  members: byId("members"),
  membersRoom: byId("members-room"),
  memberList: byId("member-list"),
  membersTitleText: byId("members-title-text"),
  person: byId("person"),
  personName: byId("person-name"),
  personStatus: byId("person-status"),
  personWhois: byId("person-whois"),
};

// -------------------------------------------------------------------- state

/**
 * A conversation the page shows: the room the user is in, or a private
 * conversation with one person.
 *
 * @typedef {object} Conversation
 * @property {string} key `room`, or `@` and the other person's folded name
 * @property {"room" | "private"} kind
 * @property {string} name the room's or the other person's name, as shown
 * @property {HTMLOListElement} list its entries, in id order
 * @property {Set<number>} seen the keys of the entries shown, so nothing
 *   shows twice (a line replayed on resume, or by history)
 * @property {number} unread chat lines that came while it was not shown
 * @property {boolean} mention one of them mentioned the user (or is private)
 * @property {number | null} firstUnread the key of the first of them
 * @property {HTMLElement | null} marker the "New messages" line, where the
 *   unread lines started when the conversation was last shown
 * @property {number} oldest the smallest id of a chat line shown
 * @property {boolean} complete the room's history has no older lines
 * @property {number | undefined} [quietTimer] while its log is aria-busy
 * @property {number | undefined} [quietSince] when its log was made aria-busy
 *   with history just added: the timer that ends that
 */

/**
 * A room as the `room` frame gives it.
 *
 * @typedef {object} RoomState
 * @property {string} name
 * @property {string | null} topic
 * @property {string | null} owner the owner's account key
 * @property {string[]} members at most the server's bound of them (500),
 *   those there longest, then those who came since
 * @property {number} count how many people are in the room
 */

/** The socket and what resuming needs. */
const conn = {
  /** @type {WebSocket | null} */
  socket: null,
  /**
   * A session logged out of while the socket was down: the server holds it
   * (and its name) for the resume time, so the next socket takes it back
   * only to log it out.
   *
   * @type {{ token: string, lastId: number } | null}
   */
  leftBehind: null,
  /** The socket is ending the session left behind: its frames are old. */
  endingLeftBehind: false,
  /** The socket said hello: lines may be sent. */
  ready: false,
  /** The token of the latest hello, to take the session back. */
  /** @type {string | null} */
  token: null,
  /** The largest frame id seen in this session. */
  lastId: 0,
  /** Added to every id to sort entries: moves if the ids start again. */
  base: 0,
  /** The largest sort key of any entry shown. */
  maxKey: 0,
  /** After a new session: the first id tells whether ids started again. */
  checkRestart: false,
  /** The last id of the session before, for that check. */
  previousLastId: 0,
  /** Reconnection attempts since the last hello. */
  attempt: 0,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  retryTimer: undefined,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  connectTimer: undefined,
  /** @type {ReturnType<typeof setInterval> | undefined} */
  countdown: undefined,
  /** When the next attempt is due (ms since the epoch; 0: none planned). */
  retryAt: 0,
  /** The last line the server said, to explain why it closed the socket. */
  lastLine: "",
  /** A login line to send as soon as a socket says hello. */
  /** @type {string | null} */
  pendingLogin: null,
  /** The token this socket was opened to resume with (null: none). */
  /** @type {string | null} */
  resuming: null,
  /**
   * A session the server did not give back: its token, last id and user,
   * kept while logging in again, in case the server still holds it.
   */
  /**
   * @type {{
   *   token: string, lastId: number, key: number, me: string, tries: number
   * } | null}
   */
  lost: null,
  /** The server still holds the lost session: the page tries to take it back. */
  takingBack: false,
  /** The page closes this socket itself, to try again. */
  retrying: false,
  /** Why the server refused this socket, if it did. */
  /** @type {string | null} */
  refused: null,
  /** Why the last attempt failed, for the banner ("" if nothing said). */
  why: "",
  /**
   * The server said it was shutting down before the socket closed: it is
   * restarting, and the session it held is gone with it.
   */
  restarting: false,
};

/** The chat session: who the user is, where, and what is on the way. */
const session = {
  /** "login": the login form; "chat": logged in (or logging in again). */
  phase: "login",
  /** The user's name once logged in (null while logging in again). */
  /** @type {string | null} */
  me: null,
  /** The name to log in (again) under. */
  loginName: "",
  /** The login form's password, until the server asks for it. */
  /** @type {string | null} */
  loginPassword: null,
  /** The password just typed was wrong (the question comes again). */
  wrongPassword: false,
  /**
   * A password was sent and its answer has not come: the server reads the
   * next line as the answer to its next question, if the password is wrong.
   */
  checking: false,
  /** Logging in again after the session was lost. */
  relogin: false,
  /** The room to go back to after logging in again. */
  /** @type {string | null} */
  rejoin: null,
  /** A room frame put aside while going back to the room (see onRoom). */
  /** @type {any} */
  parkedRoom: null,
  /** The user asked to log out: the socket's close is expected. */
  leaving: false,
  /** The session is in chat mode (`mode chat`): commands need a `/`. */
  chatMode: false,
  /** The user marked themselves away (the reason, "" if none), or null. */
  /** @type {string | null} */
  away: null,
  /** The question the server asked (a password), until it is answered. */
  /** @type {{ text: string, secret: boolean } | null} */
  prompt: null,
  /**
   * The question was cancelled while offline (a button that sends a line):
   * the blank line that cancels it goes first once the session is back.
   */
  cancelQuestion: false,
  /** Chat lines typed while away, sent once the session is back. */
  /** @type {string[]} */
  queue: [],
  /** `rooms` asked, oldest first: true where the page asked on its own. */
  /** @type {boolean[]} */
  roomsAsked: [],
  /** `history` asked, oldest first: true where the page asked on its own. */
  /** @type {boolean[]} */
  historyAsked: [],
  /** Whether the history answer being read was asked by the page. */
  /** @type {boolean | null} */
  historyAnswer: null,
  /**
   * The notices shown in the room's log since the last other frame: when a
   * room frame follows (a kick, a room ban), they say why the user moved,
   * and go with them into the new room's log.
   */
  /** @type {{ text: string, key: number }[]} */
  notices: [],
  /** The private conversation to show once the user's /msg comes back. */
  /** @type {string | null} */
  focusPrivate: null,
  /** The room the user is in. */
  /** @type {RoomState | null} */
  room: null,
  /** The rooms from the last `rooms` answer. */
  /** @type {{ name: string, count: number, topic: string | null }[]} */
  rooms: [],
  /** The server's name, from its welcome. */
  serverName: "Chat",
  /**
   * What the server last said of someone outside the room (by folded name),
   * for the private conversation's side panel: online in a room (whois),
   * away (a private message's answer), or offline.
   */
  /** @type {Map<string, Presence>} */
  presence: new Map(),
};

/**
 * What the server last said of where someone is: online in a room (whois),
 * away with a reason, or offline.
 *
 * @typedef {object} Presence
 * @property {"online" | "away" | "offline"} state
 * @property {string | null} room
 * @property {string | null} reason
 */

/** @type {Map<string, Conversation>} */
const conversations = new Map();
/** The key of the conversation shown. */
let currentKey = ROOM_KEY;
/**
 * Whether the log was at its end when it last scrolled (or was put there):
 * a log at its end that gets shorter is kept at its end.
 */
let pinnedToBottom = true;

/** Lines sent from the message box, for Up and Down. */
const inputHistory = {
  /** @type {string[]} */
  lines: [],
  /** Where Up and Down are (lines.length: the line being typed). */
  index: 0,
  /** The line being typed when Up was first pressed. */
  draft: "",
};

/**
 * The last few lines typed and sent, each with what went to the server and
 * the conversation it was typed in: one the server refuses (as too long; a
 * private message it could not deliver) comes back to the message box.
 *
 * @type {{ value: string, line: string, key: string, at: number }[]}
 */
const sentTyped = [];

/** Whether desktop notifications are on. */
let notifying = false;

/** The password label as the page has it (a question replaces it a while). */
const PASSWORD_LABEL = [...ui.loginPasswordLabel.childNodes];

// ---------------------------------------------------------------- utilities

/**
 * A name as the server compares it: NFKC, any letter case.
 *
 * @param {string} name
 * @returns {string}
 */
function fold(name) {
  return name.normalize("NFKC").toLowerCase();
}

/**
 * Whether two names are the same name to the server.
 *
 * @param {string | null | undefined} a
 * @param {string | null | undefined} b
 */
function sameName(a, b) {
  return a != null && b != null && fold(a) === fold(b);
}

/**
 * A stable colour for a name: FNV-1a over its folded form, one of the
 * classes style.css defines.
 *
 * @param {string} name
 * @returns {string}
 */
function nickClass(name) {
  let hash = 0x811c9dc5;
  for (const char of fold(name)) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193);
  }
  return `nick-c${(hash >>> 0) % NICK_COLOURS}`;
}

/**
 * An element with classes and, optionally, text (as text, never HTML).
 *
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {any}
 */
function h(tag, className, text) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

/**
 * A regular expression that finds `name` as a word in a line.
 *
 * @param {string} name
 * @returns {RegExp}
 */
function mentionPattern(name) {
  const escaped = name.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
  return new RegExp(
    `(?<![\\p{L}\\p{N}_.-])${escaped}(?![\\p{L}\\p{N}_-])`,
    "giu",
  );
}

/**
 * Whether `text` mentions the user: a link that has their name in it
 * (`https://example.com/ann`) does not, as it is not marked in it either.
 *
 * @param {string} text
 */
function mentionsMe(text) {
  return session.me !== null &&
    mentionPattern(session.me).test(text.replace(URL_PATTERN, " "));
}

/**
 * Appends `text` to `parent`, the user's name marked where it is mentioned.
 *
 * @param {Element} parent
 * @param {string} text
 * @param {boolean} highlight
 */
function appendMarked(parent, text, highlight) {
  if (!highlight || session.me === null || text === "") {
    parent.append(document.createTextNode(text));
    return;
  }
  let last = 0;
  for (const match of text.matchAll(mentionPattern(session.me))) {
    const at = match.index ?? 0;
    parent.append(document.createTextNode(text.slice(last, at)));
    parent.append(h("mark", "mention-mark", match[0]));
    last = at + match[0].length;
  }
  parent.append(document.createTextNode(text.slice(last)));
}

/**
 * A URL that may be a link: http or https only, as the browser parses it.
 *
 * @param {string} text
 * @returns {string | null}
 */
function safeHref(text) {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:"
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/**
 * A URL found in text, without the punctuation that ends a sentence after
 * it, or the closing bracket of a parenthesis it sits in.
 *
 * @param {string} url
 * @returns {string}
 */
function trimUrl(url) {
  let end = url.length;
  while (end > 0) {
    const char = url[end - 1];
    if (".,;:!?'\"".includes(char)) {
      end--;
      continue;
    }
    const open = char === ")" ? "(" : char === "]" ? "[" : null;
    if (open === null) break;
    const body = url.slice(0, end);
    if (body.split(open).length >= body.split(char).length) break;
    end--;
  }
  return url.slice(0, end);
}

/**
 * Appends a user's text to `parent`: http(s) links as links that open in a
 * new tab without telling it where they came from, the user's name marked
 * when `highlight`, everything else as plain text.
 *
 * @param {Element} parent
 * @param {string} text
 * @param {boolean} [highlight]
 */
function appendRich(parent, text, highlight = false) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const at = match.index ?? 0;
    const url = trimUrl(match[0]);
    const href = safeHref(url);
    if (href === null) continue;
    appendMarked(parent, text.slice(last, at), highlight);
    const link = h("a", "link", url);
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    parent.append(link);
    last = at + url.length;
  }
  appendMarked(parent, text.slice(last), highlight);
}

/**
 * A moment as the server writes it, in UTC (`2026-12-01 20:15 UTC`, with
 * seconds for the end of a ban or mute): src/text.ts, formatDate and
 * formatMoment.
 */
const UTC_MOMENT = /\b(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})(:\d{2})? UTC\b/g;

/**
 * A server's line, with its moments in UTC shown in the user's own time,
 * as every other time on the page is (the UTC as the server wrote it in
 * the title): a mute "until 21:00:00 UTC" read by someone in Berlin says
 * 22:00:00. Only for lines the server wrote, never for what users type.
 *
 * @param {HTMLElement} parent
 * @param {string} text
 */
function appendServerText(parent, text) {
  let last = 0;
  for (const match of text.matchAll(UTC_MOMENT)) {
    const at = match.index ?? 0;
    const date = new Date(`${match[1]}T${match[2]}${match[3] ?? ""}Z`);
    if (Number.isNaN(date.getTime())) continue;
    appendRich(parent, text.slice(last, at));
    parent.append(localMoment(date, match[3] !== undefined, match[0]));
    last = at + match[0].length;
  }
  appendRich(parent, text.slice(last));
}

/**
 * A `time` element for a moment in the user's own time, with its date (the
 * server's lines read "by root on DATE", "until DATE").
 *
 * @param {Date} date
 * @param {boolean} seconds
 * @param {string} utc the moment as the server wrote it, for the title
 * @returns {HTMLElement}
 */
function localMoment(date, seconds, utc) {
  const time = h(
    "time",
    "moment",
    date.toLocaleString([], {
      year: date.getFullYear() === new Date().getFullYear()
        ? undefined
        : "numeric",
      month: "short",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      second: seconds ? "2-digit" : undefined,
    }),
  );
  time.dateTime = date.toISOString();
  time.title = utc;
  return time;
}

/**
 * A `<time>` for an epoch time, hours and minutes shown, the date on hover.
 *
 * @param {number} at
 */
function timeElement(at) {
  const date = new Date(at);
  const time = h(
    "time",
    "time",
    date.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" }),
  );
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  return time;
}

/**
 * A page-made command as the session reads it: in chat mode, a command
 * needs its leading `/`.
 *
 * @param {string} line
 */
function command(line) {
  return session.chatMode ? `/${line}` : line;
}

// --------------------------------------------------------------- connection

/**
 * Opens the WebSocket: to take the session back (resume, with the token of
 * the latest hello and the largest id seen) when the user is logged in,
 * else a new one.
 */
function connect() {
  clearTimeout(conn.retryTimer);
  clearInterval(conn.countdown);
  conn.retryAt = 0;
  if (conn.socket !== null) return;
  const url = new URL("/ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  conn.resuming = null;
  if (session.me !== null && conn.token !== null) {
    conn.resuming = conn.token;
    url.searchParams.set("resume", conn.token);
    url.searchParams.set("last", String(conn.lastId));
  } else if (session.relogin && conn.lost !== null) {
    conn.resuming = conn.lost.token;
    url.searchParams.set("resume", conn.lost.token);
    url.searchParams.set("last", String(conn.lost.lastId));
  } else if (conn.leftBehind !== null) {
    url.searchParams.set("resume", conn.leftBehind.token);
    url.searchParams.set("last", String(conn.leftBehind.lastId));
  }
  const socket = new WebSocket(url);
  conn.socket = socket;
  conn.ready = false;
  setConnection("connecting");
  conn.connectTimer = setTimeout(() => {
    // A socket that hangs (a proxy that holds it, a dead network) is given
    // up, and another tried.
    if (conn.socket === socket && !conn.ready) socket.close();
  }, CONNECT_TIMEOUT_MS);
  socket.addEventListener("message", (event) => {
    if (conn.socket !== socket || typeof event.data !== "string") return;
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    onFrame(frame);
  });
  socket.addEventListener("close", (event) => {
    if (conn.socket !== socket) return;
    onClose(event);
  });
}

/**
 * Sends one line on the socket, if it is ready; false if not.
 *
 * @param {string} line
 * @returns {boolean}
 */
function sendNow(line) {
  if (!conn.ready || conn.socket === null) return false;
  conn.socket.send(line);
  return true;
}

/**
 * Sends a chat line (a message, a command typed by the user, one the page
 * makes), or keeps it to send once the session is back.
 *
 * @param {string} line
 */
function sendChat(line) {
  if (session.me !== null && session.prompt !== null) {
    // A question open (the current password) would take the line for its
    // answer: a room joined or the room list refreshed meanwhile was a
    // wrong password, and the box stayed a password field for a question
    // no longer asked. A blank line cancels it first, as Log out does;
    // offline, first of what is sent once the session is back.
    session.prompt = null;
    leavePrompt();
    if (!sendNow("")) session.cancelQuestion = true;
  }
  if (session.me !== null && sendNow(line)) return;
  session.queue.push(line);
  updateBanner();
}

/** Sends the lines typed while the session was away, in order. */
function flushQueue() {
  if (session.cancelQuestion && session.me !== null && conn.ready) {
    session.cancelQuestion = false;
    sendNow("");
  }
  while (session.queue.length > 0 && session.me !== null && conn.ready) {
    sendNow(/** @type {string} */ (session.queue.shift()));
  }
  // Sent: each comes back from the server in its place, as any line does.
  if (session.queue.length === 0) {
    for (const entry of pendingEntries.splice(0)) entry.remove();
  }
  updateBanner();
}

/**
 * The lines typed while the connection was down, shown at the end of the
 * conversation they were typed in, greyed and "not sent yet", as Slack
 * shows a message on its way: not only a count in the banner, gone from the
 * message box without a trace.
 *
 * @type {HTMLElement[]}
 */
const pendingEntries = [];

/**
 * A line typed while the connection is down, at the end of the log (with
 * no key: whatever comes meanwhile goes before it).
 *
 * @param {Conversation} conversation
 * @param {string} text
 */
function addPending(conversation, text) {
  const me = session.me ?? session.loginName;
  const item = h("li", "entry msg said self pending");
  item.dataset.from = me;
  item.append(h("span", "time"));
  const body = h("div", "body");
  body.append(h("span", `nick ${nickClass(me)}`, me));
  const line = h("span", "text");
  appendRich(line, text);
  body.append(line, h("span", "pending-note", " not sent yet"));
  item.append(body);
  conversation.list.append(item);
  pendingEntries.push(item);
  if (conversation.key === currentKey) scrollToBottom();
}

/**
 * The socket closed. A close the server meant (code 1000: a logout, a kick
 * from the server, too many wrong passwords; 1008: refused) ends the
 * session; anything else is a dropped connection, and the page comes back.
 *
 * @param {CloseEvent} event
 */
function onClose(event) {
  clearTimeout(conn.connectTimer);
  conn.socket = null;
  conn.ready = false;
  if (conn.endingLeftBehind) {
    // The session left behind is over: a socket of its own for the form.
    conn.endingLeftBehind = false;
    connect();
    return;
  }
  if (conn.retrying) {
    conn.retrying = false;
    scheduleReconnect();
    return;
  }
  const refused = conn.refused;
  conn.refused = null;
  if (
    refused !== null && session.phase === "chat" &&
    !TEXTS.banned.test(refused)
  ) {
    // Refused for a while (the server is full, too many connections from
    // here): the page tries again later, and says why.
    conn.why = refused;
    scheduleReconnect();
    return;
  }
  const meant = event.code === 1000 || event.code === 1008;
  if (session.leaving) {
    session.leaving = false;
    toLogin("You have logged out.", false);
    connect();
    return;
  }
  if (conn.lastLine === TEXTS.shuttingDown && session.phase === "chat") {
    conn.restarting = true;
  }
  if (meant && conn.lastLine !== TEXTS.shuttingDown) {
    conn.token = null;
    setConnection("offline");
    if (session.phase === "chat") {
      // A close that says why (a page that fell behind could be sent no
      // line) says it rather than a line from before.
      toLogin(
        event.reason || conn.lastLine || "The server ended the session.",
      );
      ui.loginWelcome.textContent = NOT_CONNECTED;
    } else {
      // The form's socket is closed (refused: the server is full, a ban;
      // too many wrong passwords; the form waited too long): why, as an
      // error, and that the form still works (Log in opens a new socket).
      // The question it asked went with it.
      session.prompt = null;
      session.checking = false;
      session.wrongPassword = false;
      ui.loginPasswordLabel.replaceChildren(...PASSWORD_LABEL);
      ui.loginWelcome.textContent = NOT_CONNECTED;
      if (conn.lastLine !== "") showLoginMessage(conn.lastLine, true);
    }
    return;
  }
  scheduleReconnect();
}

/**
 * Plans the next attempt: 1 s, then twice as long each time up to 30 s,
 * each wait moved by up to a quarter either way so that pages cut off
 * together do not all come back at the same moment.
 */
function scheduleReconnect() {
  const base = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** conn.attempt);
  const wait = Math.min(
    MAX_RETRY_MS,
    Math.max(MIN_RETRY_MS, base * (0.75 + Math.random() * 0.5)),
  );
  conn.attempt++;
  conn.retryAt = Date.now() + wait;
  clearTimeout(conn.retryTimer);
  conn.retryTimer = setTimeout(connect, wait);
  clearInterval(conn.countdown);
  conn.countdown = setInterval(updateBanner, 1000);
  setConnection("waiting");
}

/**
 * Shows how the connection is: the `data-connection` attribute (for the
 * style and tests), the status line, the banner.
 *
 * @param {"connecting" | "connected" | "waiting" | "offline"} state
 */
function setConnection(state) {
  document.body.dataset.connection = state;
  if (state === "connected") {
    if (session.me === null) setStatus("Connected");
    else {
      // On a phone the top bar has room for the name alone ("● ann", not
      // "● Connecte…"): the words before it are for a screen reader there.
      ui.status.replaceChildren(
        h("span", "status-lead", "Connected as "),
        document.createTextNode(session.me),
      );
      // Away stays until /back, and private messages to the user are
      // answered with it meanwhile: the top bar says so, as Slack does.
      if (session.away !== null) ui.status.append(" (away)");
    }
  } else if (state === "connecting") {
    setStatus("Connecting…");
  } else if (state === "waiting") {
    setStatus("Disconnected");
  } else {
    // The server ended the session (a kick, a login elsewhere): no longer
    // "Connected as" anyone, until the form is used again.
    setStatus("Not connected");
  }
  updateBanner();
}

/**
 * The status line in the top bar.
 *
 * @param {string} text
 */
function setStatus(text) {
  ui.status.textContent = text;
}

/**
 * The reconnecting banner: shown while a logged-in user's socket is away,
 * with the time to the next attempt and the lines waiting to be sent.
 */
function updateBanner() {
  const state = document.body.dataset.connection;
  const away = session.phase === "chat" &&
    (state === "waiting" || state === "connecting") && conn.attempt > 0;
  if (
    (!away || state !== "waiting") &&
    document.activeElement === ui.reconnectNow &&
    ui.reconnectNow.matches(":focus-visible") && session.phase === "chat"
  ) {
    // "Reconnect now" pressed from the keyboard goes as it is pressed: the
    // focus goes back to where one types, not to nowhere with the button.
    ui.message.focus();
  }
  ui.banner.hidden = !away;
  if (!away) return;
  // The banner is an alert, read out whenever its text changes: the
  // countdown, which changes every second, is beside it and not read out.
  let text = conn.takingBack
    ? "Connection lost. The server still holds your session: taking it back…"
    : conn.restarting
    ? "The server is restarting. Reconnecting…"
    : "Connection lost. Reconnecting…";
  if (conn.why !== "") text += ` The server said: ${conn.why}`;
  const waiting = session.queue.length;
  if (waiting > 0) {
    text += ` ${waiting} ${
      waiting === 1 ? "line" : "lines"
    } will be sent once back.`;
  }
  const seconds = Math.max(1, Math.ceil((conn.retryAt - Date.now()) / 1000));
  ui.bannerCountdown.textContent = state === "waiting" && conn.retryAt > 0
    ? ` Next try in ${seconds} s.`
    : "";
  if (ui.bannerText.textContent !== text) ui.bannerText.textContent = text;
  ui.reconnectNow.hidden = state !== "waiting";
}

// ------------------------------------------------------------------- frames

/** The frames that carry lines for this user: the last says why it ended. */
const LINE_FRAMES = ["reply", "error", "notice", "refused"];

/**
 * What others do in the room, or write: it may come between the line that
 * ends a session and the close (a ban of an address disconnects everyone
 * on it, and the room hears each leave), so it does not wipe that line.
 */
const OTHERS_FRAMES = [
  "said",
  "emote",
  "entered",
  "left",
  "renamed",
  "topic",
  "kicked",
  "private",
  "members",
];

/**
 * One frame from the server.
 *
 * @param {any} frame
 */
function onFrame(frame) {
  if (conn.endingLeftBehind) return;
  if (typeof frame.id === "number") noteId(frame.id);
  if (
    !LINE_FRAMES.includes(frame.type) && !OTHERS_FRAMES.includes(frame.type) &&
    // A question ended by the session ending (a ban, a kick off the
    // server, a timeout, a shutdown) comes after the line that says why.
    frame.type !== "answered"
  ) {
    // Why the server closes a socket is the line it sent last, if any.
    conn.lastLine = "";
  }
  if (frame.type !== "history" && frame.type !== "reply") {
    // The "Older lines" reply follows its history frame at once, or never.
    session.historyAnswer = null;
  }
  if (frame.type !== "notice" && frame.type !== "room") session.notices = [];
  switch (frame.type) {
    case "hello":
      return onHello(frame);
    case "refused":
      conn.lastLine = String(frame.text);
      conn.refused = String(frame.text);
      if (session.phase === "login") showLoginMessage(conn.refused, true);
      return;
    case "gap":
      return onGap(frame);
    case "reply":
    case "error":
      return onLines(frame);
    case "notice":
      return onNotice(frame);
    case "prompt":
      return onPrompt(frame);
    case "answered":
      return onAnswered();
    case "room":
      return onRoom(frame);
    case "members":
      return onMembers(frame);
    case "history":
      return onHistory(frame);
    case "said":
    case "emote":
      return onChatLine(frame);
    case "entered":
    case "left":
    case "renamed":
    case "topic":
    case "kicked":
      return onRoomEvent(frame);
    case "private":
      return onPrivate(frame);
  }
}

/**
 * Keeps the largest id seen. After a new session, an id no larger than the
 * old session's last says the server's sequence started again (a restart
 * that kept nothing): entries from then on sort after all earlier ones, and
 * old ids mean nothing any more.
 *
 * @param {number} id
 */
function noteId(id) {
  if (conn.checkRestart) {
    conn.checkRestart = false;
    if (id <= conn.previousLastId) {
      conn.base = Math.ceil(conn.maxKey) + 1;
      for (const conversation of conversations.values()) {
        conversation.seen.clear();
        conversation.oldest = Infinity;
        conversation.complete = false;
      }
    }
  }
  if (id > conn.lastId) conn.lastId = id;
}

/**
 * `hello`: the socket is ready. A resumed session gets what it missed next;
 * a new one, where the user was logged in, means the session was lost: the
 * page says so and logs in again under the same name.
 *
 * @param {any} frame
 */
function onHello(frame) {
  clearTimeout(conn.connectTimer);
  conn.why = "";
  const resumedWith = conn.resuming;
  conn.resuming = null;
  conn.token = String(frame.token);
  conn.ready = true;
  conn.attempt = 0;
  conn.lastLine = "";
  const leftBehind = conn.leftBehind;
  conn.leftBehind = null;
  if (leftBehind !== null && frame.resumed === true) {
    // Taken back only to end it (a question it left open would take
    // "logout" for its answer: a blank line cancels it first; "/logout"
    // is a command in chat mode too, which the session may have been in).
    conn.endingLeftBehind = true;
    sendNow("");
    sendNow("/logout");
    return;
  }
  if (frame.resumed === true) {
    conn.restarting = false;
    const lost = conn.lost;
    if (session.me === null && lost !== null) {
      // The lost session, taken back after all: as if nothing happened.
      session.me = lost.me;
      conn.lastId = lost.lastId;
      session.relogin = false;
      session.rejoin = null;
      session.parkedRoom = null;
      conn.lost = null;
      conn.takingBack = false;
    }
    setConnection("connected");
    flushQueue();
    return;
  }
  const lastId = conn.lastId;
  conn.previousLastId = lastId;
  conn.checkRestart = lastId > 0;
  conn.lastId = 0;
  session.chatMode = false;
  // A new session asks nothing yet.
  session.cancelQuestion = false;
  session.away = null;
  session.roomsAsked = [];
  session.historyAsked = [];
  session.historyAnswer = null;
  if (session.phase === "chat") {
    if (session.me !== null && resumedWith !== null) {
      // Not given back: expired, or the server has not yet seen the old
      // socket go (then it still holds the name, and onLines tries again).
      conn.lost = {
        token: resumedWith,
        lastId,
        key: conn.base + lastId + 0.5,
        me: session.me,
        tries: 0,
      };
      if (session.room !== null && !sameName(session.room.name, "main")) {
        session.rejoin = session.room.name;
      }
    }
    session.me = null;
    session.relogin = true;
    session.prompt = null;
    leavePrompt();
    setConnection("connected");
    sendNow(`login ${session.loginName}`);
    return;
  }
  setConnection("connected");
  if (conn.pendingLogin !== null) {
    sendNow(conn.pendingLogin);
    conn.pendingLogin = null;
  }
}

/**
 * Logged in again after the session was lost: a mark where it was lost,
 * in every conversation (the room's lines said meanwhile come from its
 * history, and go below the mark).
 */
function markLost() {
  const lost = conn.lost;
  const restarted = conn.restarting;
  conn.lost = null;
  conn.takingBack = false;
  conn.restarting = false;
  if (lost === null) return;
  const text =
    (restarted
      ? "The server restarted: this is a new session. "
      : "Connection lost for too long: this is a new session. ") +
    "Room lines said meanwhile are filled in below from the room's " +
    "history; private messages sent meanwhile did not reach you.";
  for (const conversation of conversations.values()) {
    addMark(conversation, text, lost.key, "lost");
  }
}

/**
 * `gap`: more was missed than the server kept. The page marks the place
 * and fills the room in from its history.
 *
 * @param {any} frame
 */
function onGap(frame) {
  const key = conn.base + Number(frame.after) + 0.5;
  for (const conversation of conversations.values()) {
    addMark(
      conversation,
      "More was missed while disconnected than the server kept: room lines " +
        "are filled in from the room's history; private messages may be missing.",
      key,
      "lost",
    );
  }
  askHistory();
}

/**
 * `reply` and `error`: lines for this user. The answers to what the page
 * asked on its own (`rooms`, `history`) update the page without showing;
 * before login, lines go to the login form.
 *
 * @param {any} frame
 */
function onLines(frame) {
  /** @type {string[]} */
  const lines = Array.isArray(frame.lines) ? frame.lines.map(String) : [];
  const isError = frame.type === "error";
  const key = conn.base + frame.id;
  if (lines.length === 0) return;
  conn.lastLine = lines[lines.length - 1];
  const tooLong = isError ? lines[0].match(TEXTS.lineTooLong) : null;
  if (tooLong !== null) restoreTooLong(Number(tooLong[1]));
  if (isError && session.me !== null) restoreRefusedMsg(lines[0]);
  const welcome = lines[0].match(TEXTS.welcome);
  if (welcome !== null) {
    session.serverName = welcome[1];
    ui.brand.textContent = welcome[1];
    ui.loginWelcome.textContent = lines.join(" ");
    updateTitle();
    if (session.phase === "chat") return;
  }
  if (lines[0] === TEXTS.roomsHeader) {
    const asked = session.roomsAsked.shift() ?? false;
    setRooms(lines.slice(1));
    if (asked) return;
  }
  if (
    TEXTS.historyHeader.test(lines[0]) || TEXTS.historyEnd.test(lines[0])
  ) {
    const asked = session.historyAsked.shift() ?? false;
    if (TEXTS.historyEnd.test(lines[0])) {
      setHistoryComplete();
    } else {
      session.historyAnswer = asked;
    }
    ui.loadOlder.setAttribute("aria-disabled", "false");
    if (asked) return;
  } else if (TEXTS.historyMore.test(lines[0])) {
    const asked = session.historyAnswer;
    session.historyAnswer = null;
    if (asked === true) return;
  } else if (isError && TEXTS.historyError.test(lines[0])) {
    session.historyAsked.shift();
    ui.loadOlder.setAttribute("aria-disabled", "false");
  }
  if (TEXTS.chatMode.test(lines[0])) session.chatMode = true;
  if (TEXTS.commandMode.test(lines[0])) session.chatMode = false;
  const away = lines[0].match(TEXTS.awayNow);
  if (away !== null || TEXTS.backNow.test(lines[0])) {
    session.away = away === null ? null : away[1] ?? "";
    if (document.body.dataset.connection === "connected") {
      setConnection("connected");
    }
    renderMembers();
  }

  if (session.phase === "login") {
    onLoginLines(lines, isError);
    return;
  }
  if (isError && session.relogin) {
    const lost = conn.lost;
    if (
      lost !== null && TEXTS.nameTaken.test(lines[0]) &&
      lost.tries < MAX_TAKE_BACK_TRIES && !session.leaving
    ) {
      // The server gives a session back only once it has seen its old
      // socket close; until then it holds the name. The page tries to take
      // the session back, a while, rather than give up.
      conn.attempt = lost.tries++;
      conn.takingBack = true;
      conn.retrying = true;
      conn.socket?.close();
      return;
    }
    // Logging in again failed: the form asks.
    toLogin(lines.join(" "));
    return;
  }
  if (
    session.relogin && session.me === null && !session.leaving &&
    lines[0] === TEXTS.cancelled
  ) {
    // The password to log in again was cancelled: the server waits for a
    // login, and the page, logged in to nothing, kept what was typed as
    // "not sent yet" for ever. The form asks, on the same socket.
    toLogin(
      `Cancelled: you are logged out. To come back as "${session.loginName}", ` +
        "type its password, or choose another name to come in as a guest.",
      false,
    );
    ui.loginPassword.focus();
    return;
  }
  if (isError && session.parkedRoom !== null) {
    // Going back to the room failed: the user is where the server put them.
    const parked = session.parkedRoom;
    session.parkedRoom = null;
    session.rejoin = null;
    onRoom(parked);
  }
  notePresence(lines);
  /** @type {string[]} */
  const shown = [];
  /** @type {Set<string>} */
  const kept = new Set();
  for (const [index, line] of lines.entries()) {
    const offline = line.match(TEXTS.offlineMessage);
    if (offline !== null && session.me !== null) {
      // A private message kept while the user was offline: into its
      // conversation, dated as the server dated it (the lines of one frame
      // share its id: each gets a place of its own after it).
      addPrivateLine(offline[2], session.me, offline[3], {
        key: key + (index + 1) / 1000,
        date: offline[1],
      });
      kept.add(offline[2]);
    } else {
      shown.push(line);
    }
  }
  if (kept.size > 0) {
    shown.push(`(See the private conversations: ${[...kept].join(", ")}.)`);
  }
  // On the page a line without a leading / is said, as in chat mode: help
  // says so as it does in chat mode, or "Type help COMMAND" (and 'type
  // "help"', after a /help of no command) said it to the room.
  const noCommand = shown[0]?.match(TEXTS.noSuchCommand);
  if (noCommand) shown[0] = `${noCommand[1]}; type "/help" for the list`;
  if (shown[0] === TEXTS.helpHeader) {
    shown[0] = TEXTS.helpHeaderChat;
    const last = shown.length - 1;
    if (shown[last] === TEXTS.helpFooter) shown[last] = TEXTS.helpFooterChat;
  }
  if (shown.length > 0) {
    addSystem(systemTarget(shown), shown, key, isError ? "error" : "reply");
  }
}

/**
 * What a reply says of where someone is (whois, a private message's answer),
 * for the side panel of a private conversation with them.
 *
 * @param {string[]} lines
 */
function notePresence(lines) {
  let changed = false;
  for (const line of lines) {
    const whois = line.match(TEXTS.whois);
    const away = line.match(TEXTS.isAway);
    const kept = line.match(TEXTS.offlineKept);
    const refused = line.match(TEXTS.offlineRefused);
    const gone = line.match(TEXTS.replyGone);
    const account = line.match(TEXTS.whoisOffline);
    const offline = kept ?? refused ?? gone ?? account ??
      line.match(TEXTS.noSuchUser);
    if (whois !== null) {
      // whois's answer: where they are, then whether they are away.
      session.presence.set(fold(whois[1]), {
        state: "online",
        room: whois[2],
        reason: null,
      });
    } else if (away !== null) {
      const known = session.presence.get(fold(away[1]));
      session.presence.set(fold(away[1]), {
        state: "away",
        room: known?.state === "offline" ? null : known?.room ?? null,
        // "bob is away", with no reason given: away all the same.
        reason: away[2] ?? null,
      });
    } else if (offline !== null) {
      session.presence.set(fold(offline[1]), {
        state: "offline",
        room: null,
        reason: kept !== null
          ? "your messages wait for their next login"
          : refused !== null
          ? "too many messages wait for them; yours was not kept"
          : gone !== null
          ? "logged out; the name may be someone else's now"
          : account !== null
          ? "a registered user; a message waits for their next login"
          : null,
      });
    } else {
      continue;
    }
    changed = true;
  }
  if (changed && current().kind === "private") renderMembers();
}

/**
 * Someone came into the room or left it: where the server last said they
 * were is out of date; that they are away, not (until a whois says so).
 *
 * @param {string} name
 */
function movedPresence(name) {
  const known = session.presence.get(fold(name));
  if (known?.state === "away") known.room = null;
  else session.presence.delete(fold(name));
}

/**
 * Where the server's lines for this user go: the room's log for lines about
 * the room, else the conversation shown (the answer to what was typed there,
 * as Slack answers a command where it was typed).
 *
 * @param {string[]} lines
 * @returns {Conversation}
 */
function systemTarget(lines) {
  const shown = current();
  if (shown.kind === "room") return shown;
  if (!ROOM_LINES.some((pattern) => pattern.test(lines[0]))) return shown;
  return conversations.get(ROOM_KEY) ?? shown;
}

/**
 * Lines before login go to the login form: errors as errors, the rest as
 * what is happening.
 *
 * @param {string[]} lines
 * @param {boolean} isError
 */
function onLoginLines(lines, isError) {
  if (TEXTS.welcome.test(lines[0])) return;
  if (isError) {
    session.loginPassword = null;
    session.prompt = null;
    showLoginMessage(lines.join(" "), true);
    ui.loginName.focus();
    return;
  }
  if (lines[0] === TEXTS.wrongPassword) {
    session.wrongPassword = true;
    session.loginPassword = null;
    ui.loginPassword.value = "";
    showLoginMessage(lines.join(" "), true);
    ui.loginPassword.focus();
    return;
  }
  showLoginMessage(lines.join(" "), false);
}

/**
 * `notice`: a line from the server or a moderator (kicked, muted, shutting
 * down), shown where the user is looking, or in the room's log if it is
 * about the room.
 *
 * @param {any} frame
 */
function onNotice(frame) {
  const text = String(frame.text);
  conn.lastLine = text;
  if (session.phase === "login") {
    showLoginMessage(text, false);
    return;
  }
  const key = conn.base + frame.id;
  const conversation = systemTarget([text]);
  addSystem(conversation, [text], key, "notice");
  if (conversation.kind !== "room") return;
  session.notices.push({ text, key });
  // A kick or a mute in the room while a private conversation is shown:
  // the room's entry in the side list says there is something to read, and
  // a screen reader is told (the room's log, hidden, reads nothing out).
  // Not the room it lands in after a kick: that would be read instead.
  if (conversation !== current()) {
    noteUnread(conversation, false, key);
    if (!TEXTS.joinedRoom.test(text)) announce(text);
  }
}

/**
 * A question as the login form shows it: telnet's way out, a blank line, is
 * no way out of the form (an empty password field only asks again), so the
 * form leaves it out.
 *
 * @param {string} text
 */
function formPrompt(text) {
  return text.replace(/ \(a blank line cancels\):$/, ":");
}

/**
 * `prompt`: the server asks a question (a password); the next line sent
 * answers it, and an empty line cancels. Before login the form's password
 * field answers (at once, if the user filled it in); after, the message box
 * turns into a password field.
 *
 * @param {any} frame
 */
function onPrompt(frame) {
  const text = String(frame.text);
  const secret = frame.secret === true;
  session.prompt = { text, secret };
  session.checking = false;
  if (session.phase === "login") {
    const asked = formPrompt(text);
    ui.loginPasswordLabel.textContent = asked;
    const password = session.loginPassword;
    session.loginPassword = null;
    if (password !== null && password !== "") {
      session.prompt = null;
      session.checking = sendNow(password);
      showLoginMessage("Checking the password…", false);
    } else {
      // A name asked for with no password: say why the form asks (someone
      // used to any name going may not know that this one is taken, for
      // good, by an account), and the way out.
      const wrong = session.wrongPassword;
      showLoginMessage(
        wrong
          ? `${TEXTS.wrongPassword}. ${asked}`
          : `"${session.loginName}" is a registered name: type its ` +
            "password, or choose another name to come in as a guest.",
        wrong,
      );
      ui.loginPassword.focus();
    }
    session.wrongPassword = false;
    return;
  }
  if (session.leaving && session.relogin) {
    // Log out was pressed while logging in again: the blank line sent with
    // it cancels this question, and "/logout" follows.
    session.prompt = null;
    return;
  }
  // Logging in again to an account: the mark says why the password is
  // asked (the session was lost), not only once it is given, and the
  // status "Connected", as nobody, has its reason above the question.
  if (session.relogin && session.me === null) markLost();
  addSystem(current(), [text], conn.base + frame.id, "prompt");
  enterPrompt(secret);
}

/**
 * `answered`: the server's question is over (answered, cancelled, or the
 * command gave up). The page has closed it already when it sent the answer;
 * but a line it sent before the question came (one of its own, or one
 * queued while offline) was taken for the answer, and the box, left a
 * password field, would send the next thing typed there as a line.
 */
function onAnswered() {
  if (session.phase === "login" || session.prompt === null) return;
  session.prompt = null;
  leavePrompt();
}

/**
 * `room`: the user is now in a room (login, join, a kick back to main).
 * A new room starts a new log; the same room (after logging in again)
 * keeps it. After a lost session the page goes back to the room the user
 * was in, keeping its log meanwhile.
 *
 * @param {any} frame
 */
function onRoom(frame) {
  // Logged in again after Log out was pressed: "/logout" is on its way
  // (see the Log out button), and the close that follows goes to the form.
  if (session.leaving && session.relogin) return;
  const firstLogin = session.phase === "login";
  const relogin = session.relogin;
  session.me = String(frame.you);
  session.relogin = false;
  /** @type {RoomState | null} */
  const room = frame.room;
  if (firstLogin) enterChat();
  if (relogin) markLost();
  if (relogin) {
    if (session.rejoin !== null && !sameName(session.rejoin, room?.name)) {
      // Back in main after logging in again: put that aside and go back.
      session.parkedRoom = frame;
      sendNow(command(`join ${session.rejoin}`));
      session.rejoin = null;
      flushQueue();
      askHistory();
      askRooms();
      setConnection("connected");
      return;
    }
    flushQueue();
    askHistory();
  }
  session.rejoin = null;
  session.parkedRoom = null;
  if (room === null) {
    session.room = null;
    renderRoom();
    return;
  }
  const conversation = roomConversation(room.name);
  const moved = !sameName(conversation.name, room.name);
  const notices = session.notices;
  session.notices = [];
  if (moved) {
    resetConversation(conversation);
    // Why the user was moved ("You were kicked from ..."), if they were.
    for (const notice of notices) {
      addSystem(conversation, [notice.text], notice.key, "notice");
    }
  }
  conversation.name = room.name;
  session.room = {
    name: room.name,
    topic: room.topic ?? null,
    owner: room.owner ?? null,
    members: [...room.members],
    count: headCount(room),
  };
  // A password typed in the form that no question took: the name is no
  // account (a typo of one, say), and the user is in as a guest.
  const unused = firstLogin && session.loginPassword !== null;
  session.loginPassword = null;
  setConnection("connected");
  renderRoom();
  if (moved || firstLogin) showConversation(ROOM_KEY);
  if (unused) {
    addSystem(
      conversation,
      [
        `There is no account "${session.me}": you are in as a guest, and ` +
        "the password was not used. Log out to try another name, or type " +
        "/register to keep this one.",
      ],
      conn.base + frame.id,
      "notice",
    );
  }
  if (firstLogin) {
    flushQueue();
    askHistory();
  }
  if (moved || firstLogin || relogin) askRooms();
}

/**
 * `history`: chat lines from the room's history, oldest first; each goes
 * where its id puts it, once.
 *
 * @param {any} frame
 */
function onHistory(frame) {
  const conversation = conversations.get(ROOM_KEY);
  if (conversation === undefined || !Array.isArray(frame.events)) return;
  quietHistory(conversation);
  for (const event of frame.events) {
    addChatLine(conversation, event, { history: true });
  }
}

/**
 * How long a log stays aria-busy after history went into it, unless a line
 * to be read out comes first. Chromium sends what changed to a screen reader
 * in batches, a few hundred milliseconds apart: busy set and cleared in one
 * task would be gone before the batch that has the history lines, and all
 * 50 would be read out as new.
 */
const HISTORY_QUIET_MS = 1000;

/**
 * The least time the busy mark stays after history came, news or not: a
 * screen reader is told of a log's changes in batches a few hundred ms
 * apart, and a mark cleared by the next line within one batch would let the
 * history be read out with it. News in that time is said through
 * {@linkcode announce} instead.
 */
const HISTORY_QUIET_LEAST_MS = 500;

/**
 * Marks a conversation's log aria-busy while history goes into it: the log
 * is a polite live region, and 50 old lines after login, or per "Load
 * older", are not news to be read out one by one. They stay in the log, to
 * be read when the user goes there. The busy mark goes with the next line
 * that is news ({@linkcode insertEntry}), or after `HISTORY_QUIET_MS`.
 *
 * @param {Conversation} conversation
 */
function quietHistory(conversation) {
  conversation.list.setAttribute("aria-busy", "true");
  conversation.quietSince = performance.now();
  clearTimeout(conversation.quietTimer);
  conversation.quietTimer = setTimeout(
    () => endQuiet(conversation),
    HISTORY_QUIET_MS,
  );
}

/**
 * The log is read out as it grows again.
 *
 * @param {Conversation} conversation
 */
function endQuiet(conversation) {
  clearTimeout(conversation.quietTimer);
  conversation.quietTimer = undefined;
  conversation.list.removeAttribute("aria-busy");
}

/**
 * `members`: the room's members on every server of a cluster (the `room`
 * frame before it listed this server's), for the room the user is in.
 *
 * @param {any} frame
 */
function onMembers(frame) {
  if (session.room === null || !sameName(session.room.name, frame.room)) return;
  session.room.members = [...frame.members];
  session.room.count = headCount(frame);
  renderMembers();
}

/**
 * How many people a `room` or `members` frame says are in the room: its
 * `count`, since `members` lists at most 500 of a big room (a server too
 * old to send it lists them all).
 *
 * @param {any} frame
 * @returns {number}
 */
function headCount(frame) {
  return typeof frame.count === "number"
    ? Math.max(frame.count, frame.members.length)
    : frame.members.length;
}

/**
 * `name` is no longer in `room`: out of its list, if listed (a big room's
 * list leaves some out), and one fewer in its count.
 *
 * @param {RoomState} room
 * @param {string} name
 */
function leave(room, name) {
  room.members = room.members.filter((member) => !sameName(member, name));
  room.count = Math.max(room.count - 1, room.members.length);
}

/**
 * `said` and `emote`: a line in the room.
 *
 * @param {any} event
 */
function onChatLine(event) {
  const conversation = conversations.get(ROOM_KEY);
  if (conversation === undefined) return;
  const mine = sameName(event.from, session.me);
  const mention = !mine && mentionsMe(String(event.text));
  if (!addChatLine(conversation, event, { history: false })) return;
  if (mine) return;
  noteUnread(conversation, mention, conn.base + Number(event.id));
  if (mention && conversation.key !== currentKey) {
    announce(`${event.from} mentioned you in #${conversation.name}`);
  }
  if (mention) {
    notify(
      conversation,
      `${event.from} in ${conversation.name}`,
      String(event.text),
    );
  }
}

/**
 * The room's other events: someone came, left, took a new name, set the
 * topic, was kicked. The member list and topic follow them.
 *
 * @param {any} event
 */
function onRoomEvent(event) {
  const conversation = conversations.get(ROOM_KEY);
  const room = session.room;
  if (conversation === undefined || room === null) return;
  if (!sameName(event.room, room.name)) return;
  if (conversation.seen.has(conn.base + event.id)) return;
  let text;
  switch (event.type) {
    case "entered":
      text = `${event.name} has entered the room.`;
      movedPresence(String(event.name));
      if (!room.members.some((name) => sameName(name, event.name))) {
        room.members.push(String(event.name));
        room.count++;
      }
      break;
    case "left":
      text = `${event.name} has left the room.`;
      movedPresence(String(event.name));
      leave(room, String(event.name));
      break;
    case "renamed":
      text = `${event.from} is now known as ${event.name}.`;
      room.members = room.members.map((name) =>
        sameName(name, event.from) ? String(event.name) : name
      );
      if (sameName(event.from, session.me)) {
        session.me = String(event.name);
        // A session lost after this logs in again under the new name (a
        // guest's; an account's name changes only in letter case), and the
        // form offers it after a logout.
        rememberName(session.me);
        setConnection("connected");
      }
      renamePrivate(String(event.from), String(event.name));
      {
        // The conversation with them says why its name changed (or why
        // another name's lines are in it, after a merge).
        const peer = privateConversation(String(event.name), false);
        if (peer !== null) addEvent(peer, event, text);
      }
      if (sameName(event.name, session.me)) {
        // The user's own new name, in every private conversation too (as
        // IRC clients show it in each window): a /nick typed in one has its
        // answer there, and each says under which name the user goes on.
        for (const other of conversations.values()) {
          if (other.kind === "private") addEvent(other, event, text);
        }
      }
      break;
    case "topic":
      // "" is a cleared topic.
      text = event.text === ""
        ? `${event.from} cleared the topic`
        : `${event.from} set the topic: ${event.text}`;
      room.topic = event.text === "" ? null : String(event.text);
      break;
    case "kicked":
      text = `${event.name} was kicked by ${event.by}: ${event.reason}`;
      leave(room, String(event.name));
      break;
    default:
      return;
  }
  addEvent(conversation, event, text);
  renderRoom();
}

/**
 * `private`: a private message, to the user or from them (the server sends
 * the sender their own, which the page tells by its sender).
 *
 * @param {any} event
 */
function onPrivate(event) {
  if (session.me === null) return;
  const outgoing = sameName(event.from, session.me);
  const peer = outgoing ? String(event.to) : String(event.from);
  // Delivered (or kept for an account offline, which has its copy too): no
  // refusal is to come for it.
  if (outgoing) takeSentMsg(peer);
  const conversation = addPrivateLine(
    String(event.from),
    String(event.to),
    String(event.text),
    { key: conn.base + event.id, at: Number(event.at) },
  );
  if (conversation === null) return;
  if (outgoing) {
    if (session.focusPrivate !== null && sameName(session.focusPrivate, peer)) {
      session.focusPrivate = null;
      showConversation(conversation.key);
    }
    return;
  }
  noteUnread(conversation, true, conn.base + event.id);
  if (conversation.key !== currentKey) {
    announce(`Private message from ${event.from}`);
  }
  notify(conversation, `${event.from} (private)`, String(event.text));
}

/**
 * Says something to a screen reader, politely: what came in a conversation
 * not shown (a private message, a mention), which only the shown one's log
 * reads out. A badge that changes says nothing to one who cannot see it.
 *
 * @param {string} text
 */
function announce(text) {
  // The same words again (a second message from bob) must be read again:
  // a live region reads a change.
  ui.announce.textContent = ui.announce.textContent === text
    ? `${text}\u00a0`
    : text;
}

// ------------------------------------------------------------ conversations

/**
 * The conversation shown.
 *
 * @returns {Conversation}
 */
function current() {
  return conversations.get(currentKey) ?? roomConversation("");
}

/**
 * Makes a conversation, with its own log element (only the one shown is
 * visible, and read out as it grows).
 *
 * @param {string} key
 * @param {"room" | "private"} kind
 * @param {string} name
 * @returns {Conversation}
 */
function makeConversation(key, kind, name) {
  const list = h("ol", "log");
  list.setAttribute("role", "log");
  list.setAttribute("aria-live", "polite");
  list.setAttribute("aria-relevant", "additions");
  list.dataset.conversation = key;
  list.hidden = true;
  ui.logs.append(list);
  /** @type {Conversation} */
  const conversation = {
    key,
    kind,
    name,
    list,
    seen: new Set(),
    unread: 0,
    mention: false,
    firstUnread: null,
    marker: null,
    oldest: Infinity,
    complete: false,
  };
  conversations.set(key, conversation);
  return conversation;
}

/**
 * The room conversation (made on first use).
 *
 * @param {string} name
 * @returns {Conversation}
 */
function roomConversation(name) {
  return conversations.get(ROOM_KEY) ??
    makeConversation(ROOM_KEY, "room", name);
}

/**
 * The private conversation with `name` (made when `create`).
 *
 * @param {string} name
 * @param {boolean} create
 * @returns {Conversation | null}
 */
function privateConversation(name, create) {
  const key = `@${fold(name)}`;
  const found = conversations.get(key);
  if (found !== undefined) return found;
  if (!create) return null;
  const conversation = makeConversation(key, "private", name);
  renderPrivates();
  return conversation;
}

/**
 * Empties a conversation's log: the user moved to another room.
 *
 * @param {Conversation} conversation
 */
function resetConversation(conversation) {
  conversation.list.replaceChildren();
  conversation.seen.clear();
  conversation.unread = 0;
  conversation.mention = false;
  conversation.firstUnread = null;
  conversation.marker = null;
  conversation.oldest = Infinity;
  conversation.complete = false;
}

/**
 * A private conversation follows its peer's new name, when the page sees it.
 *
 * @param {string} from
 * @param {string} to
 */
function renamePrivate(from, to) {
  const conversation = privateConversation(from, false);
  if (conversation === null) return;
  const key = `@${fold(to)}`;
  const taken = conversations.get(key);
  if (taken !== undefined && taken !== conversation) {
    mergePrivate(conversation, taken);
    return;
  }
  conversations.delete(conversation.key);
  if (currentKey === conversation.key) currentKey = key;
  conversation.key = key;
  conversation.name = to;
  conversation.list.dataset.conversation = key;
  conversations.set(key, conversation);
  renderPrivates();
  renderHeader();
}

/**
 * Someone took a name the page has a conversation with already (its
 * earlier owner logged out): a conversation goes with a name, as a message
 * from either box goes to whoever has the name now, so their lines join the
 * one of the new name, each in its place, and theirs is gone. Left apart,
 * the old name's box would send to nobody, or to a stranger who takes it.
 *
 * @param {Conversation} from
 * @param {Conversation} into
 */
function mergePrivate(from, into) {
  for (const entry of [...from.list.children]) {
    const key = Number(/** @type {HTMLElement} */ (entry).dataset.key);
    if (Number.isNaN(key) || into.seen.has(key)) continue;
    insertEntry(into, /** @type {HTMLElement} */ (entry), key);
  }
  if (from.unread > 0) {
    into.firstUnread = into.unread === 0 || into.firstUnread === null
      ? from.firstUnread
      : Math.min(into.firstUnread, from.firstUnread ?? Infinity);
    into.unread += from.unread;
    into.mention ||= from.mention;
  }
  from.list.remove();
  conversations.delete(from.key);
  if (currentKey === from.key) showConversation(into.key);
  else renderPrivates();
  renderHeader();
  updateTitle();
}

/**
 * Shows a conversation: its log, its title and topic, and clears its
 * unread count.
 *
 * @param {string} key
 */
function showConversation(key) {
  const conversation = conversations.get(key);
  if (conversation === undefined) return;
  currentKey = key;
  for (const other of conversations.values()) {
    other.list.hidden = other !== conversation;
  }
  const marker = placeUnreadMarker(conversation);
  conversation.unread = 0;
  conversation.mention = false;
  conversation.firstUnread = null;
  renderHeader();
  renderRooms();
  renderPrivates();
  renderMembers();
  updateTitle();
  leavePromptIfStale();
  scrollToBottom();
  // More came than the log shows at once: the first of them is in view.
  if (
    marker !== null &&
    marker.getBoundingClientRect().top <
      ui.scroller.getBoundingClientRect().top
  ) {
    ui.scroller.scrollTop += marker.getBoundingClientRect().top -
      ui.scroller.getBoundingClientRect().top - 8;
    pinnedToBottom = isAtBottom();
    ui.jumpLatest.hidden = pinnedToBottom;
  }
  closeDrawers();
}

/**
 * A "New messages" line before the first line that came while the
 * conversation was not shown (or the tab was in the background), as Slack
 * and The Lounge draw it; it stays there until the conversation is shown
 * again. None if nothing new came. Returns the line, or null.
 *
 * @param {Conversation} conversation
 * @returns {HTMLElement | null}
 */
function placeUnreadMarker(conversation) {
  conversation.marker?.remove();
  conversation.marker = null;
  if (conversation.unread === 0 || conversation.firstUnread === null) {
    return null;
  }
  const first = conversation.list.querySelector(
    `:scope > [data-key="${conversation.firstUnread}"]`,
  );
  if (first === null) return null;
  const marker = h("li", "entry unread-marker");
  marker.setAttribute("role", "separator");
  marker.append(h("span", "unread-marker-text", NEW_MESSAGES));
  conversation.list.insertBefore(marker, first);
  conversation.marker = marker;
  return marker;
}

/**
 * Counts a chat line in a conversation the user is not looking at (or in
 * any while the tab is in the background, for the title).
 *
 * @param {Conversation} conversation
 * @param {boolean} mention
 * @param {number} key the line's key, for the "New messages" line
 */
function noteUnread(conversation, mention, key) {
  if (conversation.key === currentKey && !document.hidden) return;
  if (conversation.unread === 0) conversation.firstUnread = key;
  conversation.unread++;
  conversation.mention ||= mention;
  if (conversation.kind === "room") renderRooms();
  else renderPrivates();
  updateTitle();
}

/**
 * The tab's title: the server's name, after the number of unread lines.
 * And the phone layout's ☰ button: the lines unread in the conversations
 * not shown (red if one mentions the user or is private), as Slack's and
 * The Lounge's phone layouts mark theirs, since its side list, where each
 * conversation has its count, is folded away.
 */
function updateTitle() {
  let unread = 0;
  let elsewhere = 0;
  let mention = false;
  for (const conversation of conversations.values()) {
    unread += conversation.unread;
    if (conversation.key === currentKey) continue;
    elsewhere += conversation.unread;
    mention ||= conversation.unread > 0 && conversation.mention;
  }
  document.title = unread > 0
    ? `(${unread}) ${session.serverName}`
    : session.serverName;
  ui.navBadge.hidden = elsewhere === 0;
  ui.navBadge.textContent = elsewhere === 0 ? "" : String(elsewhere);
  ui.navBadge.classList.toggle("mention", mention);
  ui.navToggleLabel.textContent = "Rooms and conversations" +
    (elsewhere === 0
      ? ""
      : ` (${elsewhere} unread${mention ? ", mentioning you" : ""})`);
}

/**
 * A private line into the conversation with the other person: a live one
 * (`at`) or one kept while the user was offline (`date`, as the server
 * wrote it). Returns the conversation, or null if the line was shown
 * already.
 *
 * @param {string} from
 * @param {string} to
 * @param {string} text
 * @param {{ key: number, at?: number, date?: string }} options
 * @returns {Conversation | null}
 */
function addPrivateLine(from, to, text, options) {
  const outgoing = sameName(from, session.me);
  const peer = outgoing ? to : from;
  const conversation = /** @type {Conversation} */ (privateConversation(
    peer,
    true,
  ));
  if (conversation.seen.has(options.key)) return null;
  const item = h("li", "entry msg private");
  if (outgoing) item.classList.add("self");
  item.dataset.from = from;
  // A line kept while the user was offline has the server's date, in UTC:
  // shown in the user's own time, and headed by its day, as any other.
  const kept = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC$/.exec(
    options.date ?? "",
  );
  const at = options.at ??
    (kept === null ? NaN : Date.parse(`${kept[1]}T${kept[2]}Z`));
  if (!Number.isNaN(at)) item.append(timeElement(at));
  else item.append(h("span", "time", options.date ?? ""));
  const body = h("div", "body");
  body.append(h("span", `nick ${nickClass(from)}`, from));
  const line = h("span", "text");
  appendRich(line, text);
  body.append(line);
  item.append(body);
  insertEntry(conversation, item, options.key);
  if (options.date !== undefined) {
    noteUnread(conversation, true, options.key);
    renderPrivates();
  }
  return conversation;
}

/**
 * A chat line (`said`, `emote`) into a conversation, once, in id order.
 * Returns whether it was new.
 *
 * @param {Conversation} conversation
 * @param {any} event
 * @param {{ history: boolean }} options
 * @returns {boolean}
 */
function addChatLine(conversation, event, options) {
  const key = conn.base + Number(event.id);
  if (conversation.seen.has(key)) return false;
  const from = String(event.from);
  const text = String(event.text);
  const mine = sameName(from, session.me);
  const item = h(
    "li",
    `entry msg ${event.type === "emote" ? "emote" : "said"}`,
  );
  if (mine) item.classList.add("self");
  if (!mine && mentionsMe(text)) item.classList.add("mention");
  if (options.history) item.classList.add("history");
  item.dataset.from = from;
  item.dataset.id = String(event.id);
  item.append(timeElement(Number(event.at)));
  const body = h("div", "body");
  if (event.type === "emote") {
    const who = h("span", "who", "* ");
    who.append(h("span", `nick ${nickClass(from)}`, from));
    body.append(who, document.createTextNode(" "));
  } else {
    body.append(h("span", `nick ${nickClass(from)}`, from));
  }
  const line = h("span", "text");
  appendRich(line, text, !mine);
  body.append(line);
  item.append(body);
  insertEntry(conversation, item, key);
  if (conversation.kind === "room") {
    conversation.oldest = Math.min(conversation.oldest, Number(event.id));
  }
  return true;
}

/**
 * A room event (entered, left ...) as a quiet line.
 *
 * @param {Conversation} conversation
 * @param {any} event
 * @param {string} text
 */
function addEvent(conversation, event, text) {
  const item = h("li", `entry event event-${event.type}`);
  item.dataset.name = String(event.name ?? "");
  item.append(timeElement(Number(event.at)));
  const body = h("div", "body");
  appendRich(body, text);
  item.append(body);
  insertEntry(conversation, item, conn.base + Number(event.id));
}

/**
 * Lines from the server for this user: a reply, an error, a notice, a
 * question.
 *
 * @param {Conversation} conversation
 * @param {string[]} lines
 * @param {number} key
 * @param {"reply" | "error" | "notice" | "prompt"} kind
 */
function addSystem(conversation, lines, key, kind) {
  if (conversation.seen.has(key)) return;
  const item = h("li", `entry system ${kind}`);
  item.append(timeElement(Date.now()));
  const body = h("div", "body");
  const table = lines[0] === TEXTS.helpHeader ||
    lines[0] === TEXTS.helpHeaderChat;
  for (const line of lines) {
    const pair = table ? line.match(TABLE_ROW) : null;
    if (pair !== null) {
      // A row of a table the server lined up with spaces for a fixed-width
      // terminal (help): two cells, which style.css lines up as columns.
      body.classList.add("table");
      const row = h("div", "line pair");
      row.append(h("span", "term", pair[1]));
      const description = h("span", "description");
      appendServerText(description, pair[2]);
      row.append(description);
      body.append(row);
      continue;
    }
    const row = h("div", "line");
    appendServerText(row, line);
    body.append(row);
  }
  item.append(body);
  insertEntry(conversation, item, key);
}

/**
 * A line the page itself says, at the end of the conversation shown: the
 * answer to a button, as a command's comes where it was typed. The top bar's
 * status, where these were, is cut to "Notificati…" on a phone, and it said
 * so instead of whom one is connected as.
 *
 * @param {string} text
 */
function sayLocally(text) {
  addSystem(current(), [text], conn.maxKey + 1e-7, "error");
}

/**
 * A mark the page itself puts in a log: where the session was lost, or
 * more was missed than the server kept.
 *
 * @param {Conversation} conversation
 * @param {string} text
 * @param {number} key
 * @param {string} kind
 */
function addMark(conversation, text, key, kind) {
  const item = h("li", `entry mark ${kind}`);
  item.append(h("span", "mark-text", text));
  insertEntry(conversation, item, key);
}

/**
 * The local day of an entry, from its time (null: it has none, as a mark).
 *
 * @param {Element} entry
 * @returns {string | null}
 */
function dayOf(entry) {
  const time = entry.querySelector(":scope > time");
  return time === null ? null : new Date(time.dateTime).toDateString();
}

/**
 * Heads an entry with its day (`Today`, `Yesterday`, `Tuesday, December 1`)
 * where the day changes from the entry before, or where the log starts with
 * an earlier day than today: a room's history may go back weeks, and its
 * times alone would read as today's.
 *
 * @param {HTMLElement} entry
 */
function markDay(entry) {
  const day = dayOf(entry);
  if (day === null) return;
  let previous = entry.previousElementSibling;
  while (previous !== null && dayOf(previous) === null) {
    previous = previous.previousElementSibling;
  }
  const today = new Date();
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  const changed = previous === null
    ? day !== today.toDateString()
    : dayOf(previous) !== day;
  entry.classList.toggle("new-day", changed);
  if (!changed) {
    delete entry.dataset.day;
    return;
  }
  const date = new Date(day);
  entry.dataset.day = day === today.toDateString()
    ? "Today"
    : day === yesterday.toDateString()
    ? "Yesterday"
    : date.toLocaleDateString([], {
      weekday: "long",
      month: "long",
      day: "numeric",
      year: date.getFullYear() === today.getFullYear() ? undefined : "numeric",
    });
}

/**
 * Puts an entry where its key (its id, in the server's one sequence) puts
 * it: at the end for what is live, further up for history. The view stays
 * at the bottom if it was there, and on the same lines if not.
 *
 * @param {Conversation} conversation
 * @param {HTMLElement} item
 * @param {number} key
 */
function insertEntry(conversation, item, key) {
  const list = conversation.list;
  // A line that is news is read out, even just after history came: by the
  // log, or while the busy mark must stay (HISTORY_QUIET_LEAST_MS), what
  // someone said through the announcer, if the conversation is the one
  // shown (others say theirs through their badges and announcements
  // already). The server's own lines then ("You are now in room", someone
  // coming in) are not, lest one take the place of what was just said
  // there (why one was kicked).
  if (!item.classList.contains("history") && list.hasAttribute("aria-busy")) {
    if (
      performance.now() - (conversation.quietSince ?? 0) >=
        HISTORY_QUIET_LEAST_MS
    ) {
      endQuiet(conversation);
    } else if (
      conversation.key === currentKey && item.classList.contains("msg")
    ) {
      const text = item.querySelector(".text")?.textContent ?? "";
      announce(`${item.dataset.from}: ${text}`);
    }
  }
  const shown = conversation.key === currentKey;
  const atBottom = shown && isAtBottom();
  const heightBefore = ui.scroller.scrollHeight;
  item.dataset.key = String(key);
  conversation.seen.add(key);
  conn.maxKey = Math.max(conn.maxKey, key);
  /** @type {Element | null} */
  let before = null;
  for (
    let node = list.lastElementChild;
    node !== null;
    node = node.previousElementSibling
  ) {
    if (Number(/** @type {HTMLElement} */ (node).dataset.key) <= key) break;
    before = node;
  }
  list.insertBefore(item, before);
  // A line at the end while the user reads further up: the bar says so.
  if (shown && !atBottom && before === null) ui.jumpLatest.hidden = false;
  markDay(item);
  let next = item.nextElementSibling;
  while (next !== null && dayOf(next) === null) next = next.nextElementSibling;
  if (next !== null) markDay(/** @type {HTMLElement} */ (next));
  if (list.childElementCount > MAX_ENTRIES) {
    // The oldest go; "Load older messages" can bring them back.
    while (list.childElementCount > MAX_ENTRIES) {
      const first = /** @type {HTMLElement} */ (list.firstElementChild);
      conversation.seen.delete(Number(first.dataset.key));
      first.remove();
    }
    // The log starts later now: with its day, if that is not today.
    const top = list.firstElementChild;
    if (top !== null) markDay(/** @type {HTMLElement} */ (top));
    const oldest = /** @type {HTMLElement | null} */ (
      list.querySelector(".msg[data-id]")
    );
    conversation.oldest = oldest === null
      ? Infinity
      : Number(oldest.dataset.id);
    conversation.complete = false;
  }
  condenseAround(item);
  if (list.firstElementChild !== null) {
    condenseAround(/** @type {HTMLElement} */ (list.firstElementChild));
  }
  if (!shown) return;
  if (atBottom) scrollToBottom();
  else if (before !== null) {
    ui.scroller.scrollTop += ui.scroller.scrollHeight - heightBefore;
  }
}

/**
 * Whether an entry is a join or a leave line, which condense.
 *
 * @param {Element | null} node
 * @returns {boolean}
 */
function isJoinLeave(node) {
  return node !== null &&
    (node.classList.contains("event-entered") ||
      node.classList.contains("event-left"));
}

/**
 * Condenses the run of join and leave lines around `item` (one day's, with
 * nothing else between them) into one line, as The Lounge does: "alice, bob
 * and 198 others joined, carol left", a button that shows them all. A room
 * that 200 people come into is one line, not 200; the summary is the line a
 * screen reader reads. Runs that `item` split or joined are made again,
 * their summaries kept (and whether each was open).
 *
 * @param {HTMLElement} item
 */
function condenseAround(item) {
  const inStretch = (/** @type {Element | null} */ node) =>
    node !== null &&
    (isJoinLeave(node) || node.classList.contains("condensed"));
  /** @type {Element} */
  let first = item;
  while (inStretch(first.previousElementSibling)) {
    first = /** @type {Element} */ (first.previousElementSibling);
  }
  /** @type {HTMLElement[]} */
  const summaries = [];
  /** @type {HTMLElement[][]} */
  const runs = [];
  /** @type {HTMLElement[]} */
  let run = [];
  /** @type {Element | null} */
  let node = first;
  for (
    ;
    node !== null && (node === item || inStretch(node));
    node = node.nextElementSibling
  ) {
    const entry = /** @type {HTMLElement} */ (node);
    if (entry.classList.contains("condensed")) {
      summaries.push(entry);
      continue;
    }
    const joins = isJoinLeave(entry) &&
      (run.length === 0 || dayOf(entry) === dayOf(run[0]));
    if (!joins && run.length > 0) {
      runs.push(run);
      run = [];
    }
    if (isJoinLeave(entry)) run.push(entry);
  }
  if (run.length > 0) runs.push(run);
  for (const lines of runs) {
    if (lines.length < 2) {
      lines[0].hidden = false;
      lines[0].classList.remove("condensed-line");
      markDay(lines[0]);
      continue;
    }
    const summary = summaries.shift() ?? makeSummary();
    fillSummary(summary, lines);
    if (lines[0].previousElementSibling !== summary) {
      lines[0].before(summary);
    }
    const open = summary.dataset.open === "true";
    for (const line of lines) {
      if (line.hidden === open) line.hidden = !open;
      line.classList.add("condensed-line");
    }
    markDay(summary);
    markDay(lines[0]);
  }
  for (const summary of summaries) summary.remove();
}

/**
 * A summary line for a run of joins and leaves; its button opens and closes
 * the run.
 *
 * @returns {HTMLElement}
 */
function makeSummary() {
  const summary = h("li", "entry event condensed");
  summary.dataset.open = "false";
  const body = h("div", "body");
  const button = h("button", "condensed-toggle");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.append(h("span", "condensed-text"));
  button.addEventListener("click", () => {
    const open = summary.dataset.open !== "true";
    summary.dataset.open = String(open);
    button.setAttribute("aria-expanded", String(open));
    const next = summary.nextElementSibling;
    if (next !== null) condenseAround(/** @type {HTMLElement} */ (next));
  });
  body.append(button);
  summary.append(h("time", "time"), body);
  return summary;
}

/**
 * A summary's time (its run's first), key (just before its run's first)
 * and text.
 *
 * @param {HTMLElement} summary
 * @param {HTMLElement[]} lines
 */
function fillSummary(summary, lines) {
  const time = /** @type {HTMLTimeElement | null} */ (
    lines[0].querySelector(":scope > time")
  );
  const shown = /** @type {HTMLTimeElement} */ (summary.querySelector("time"));
  if (time !== null && shown.dateTime !== time.dateTime) {
    shown.replaceWith(time.cloneNode(true));
  }
  summary.dataset.key = String(Number(lines[0].dataset.key) - 1e-6);
  /** @type {(kind: string) => string[]} */
  const names = (kind) => [
    ...new Set(
      lines.filter((line) => line.classList.contains(kind)).map((line) =>
        line.dataset.name ?? ""
      ),
    ),
  ];
  const joined = names("event-entered");
  const left = names("event-left");
  const parts = [];
  if (joined.length > 0) parts.push(`${nameList(joined)} joined`);
  if (left.length > 0) parts.push(`${nameList(left)} left`);
  const text = parts.join(", ");
  const label = /** @type {HTMLElement} */ (
    summary.querySelector(".condensed-text")
  );
  if (label.textContent !== text) label.textContent = text;
}

/**
 * Names as a summary says them: "alice", "alice and bob", "alice, bob and
 * carol", "alice, bob and 198 others".
 *
 * @param {string[]} names
 * @returns {string}
 */
function nameList(names) {
  if (names.length === 1) return names[0];
  if (names.length <= 3) {
    return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  }
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}

/** Whether the log is scrolled to (nearly) its end. */
function isAtBottom() {
  const scroller = ui.scroller;
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <
    40;
}

/** Scrolls the log to its end. */
function scrollToBottom() {
  ui.scroller.scrollTop = ui.scroller.scrollHeight;
  pinnedToBottom = true;
  ui.jumpLatest.hidden = true;
}

// A log that gets shorter (the reconnecting banner above it, a phone's
// keyboard) stays at its end if it was there, as new lines keep it.
ui.scroller.addEventListener("scroll", () => {
  pinnedToBottom = isAtBottom();
  if (pinnedToBottom) ui.jumpLatest.hidden = true;
}, { passive: true });
ui.jumpLatest.addEventListener("click", () => {
  scrollToBottom();
  ui.message.focus();
});
new ResizeObserver(() => {
  if (pinnedToBottom) scrollToBottom();
}).observe(ui.scroller);

// ------------------------------------------------------------------ history

/** Asks for the room's last lines (after login, after a lost session). */
function askHistory() {
  // Lines shown already are not shown twice: each has its id.
  session.historyAsked.push(true);
  sendChat(command(`history ${PAGE_LINES}`));
}

/** "Load older messages": the lines before the oldest shown. */
function loadOlder() {
  const conversation = conversations.get(ROOM_KEY);
  if (conversation === undefined || conversation.complete) return;
  // Busy until the answer, but not disabled: a disabled button drops the
  // focus, and a keyboard user pressing it again found it gone.
  if (ui.loadOlder.getAttribute("aria-disabled") === "true") return;
  ui.loadOlder.setAttribute("aria-disabled", "true");
  session.historyAsked.push(true);
  sendChat(
    command(
      conversation.oldest === Infinity
        ? `history ${PAGE_LINES}`
        : `history before ${conversation.oldest} ${PAGE_LINES}`,
    ),
  );
}

/** The room's history has no older lines: the button says so. */
function setHistoryComplete() {
  const conversation = conversations.get(ROOM_KEY);
  if (conversation !== undefined) conversation.complete = true;
  renderOlder();
}

/** "Load older messages" for a room whose history may go further back. */
function renderOlder() {
  const conversation = current();
  const room = conversation.kind === "room";
  if (
    document.activeElement === ui.loadOlder && (!room || conversation.complete)
  ) {
    // The button goes (the start is reached): the focus stays in the log,
    // where "This is the start of ..." now is, not lost with it.
    ui.scroller.focus({ preventScroll: true });
  }
  ui.older.hidden = !room;
  ui.loadOlder.hidden = !room || conversation.complete;
  ui.olderEnd.hidden = !room || !conversation.complete;
  ui.olderEnd.textContent = `This is the start of ${conversation.name}.`;
}

/** Asks for the list of rooms, answered without showing. */
function askRooms() {
  session.roomsAsked.push(true);
  sendChat(command("rooms"));
}

// --------------------------------------------------------------- side lists

/**
 * The rooms from a `rooms` answer (`  main (3 people): topic`).
 *
 * @param {string[]} lines
 */
function setRooms(lines) {
  session.rooms = [];
  for (const line of lines) {
    const match = line.match(TEXTS.roomLine);
    if (match === null) continue;
    session.rooms.push({
      name: match[1],
      count: Number(match[2]),
      topic: match[3] ?? null,
    });
  }
  renderRooms();
}

/**
 * Replaces a list's items; the button that had the focus gives it to its
 * new self (the same `data-*` and class), so that keyboard users are not
 * thrown out of the list when it changes under them.
 *
 * @param {HTMLElement} list
 * @param {HTMLElement[]} items
 */
function replaceKeepingFocus(list, items) {
  const focused = document.activeElement;
  let match = null;
  if (focused instanceof HTMLElement && list.contains(focused)) {
    match = (/** @type {HTMLElement} */ element) =>
      element.className.split(" ")[0] === focused.className.split(" ")[0] &&
      JSON.stringify(element.dataset) === JSON.stringify(focused.dataset);
  }
  list.replaceChildren(...items);
  if (match === null) return;
  for (const element of list.querySelectorAll("button")) {
    if (match(/** @type {HTMLElement} */ (element))) {
      /** @type {HTMLElement} */ (element).focus();
      return;
    }
  }
}

/** Every part of the page that shows the room. */
function renderRoom() {
  renderRooms();
  renderHeader();
  renderMembers();
}

/**
 * The room list: the rooms the server listed, the current one marked, with
 * its unread count when a private conversation is shown.
 */
function renderRooms() {
  const room = session.room;
  const rooms = session.rooms.map((entry) => ({ ...entry }));
  if (room !== null) {
    const mine = rooms.find((entry) => sameName(entry.name, room.name));
    if (mine === undefined) {
      rooms.unshift({
        name: room.name,
        count: room.count,
        topic: room.topic,
      });
    } else {
      mine.count = room.count;
      mine.topic = room.topic;
    }
  }
  const conversation = conversations.get(ROOM_KEY);
  const items = rooms.map((entry) => {
    const isCurrent = room !== null && sameName(entry.name, room.name);
    const button = h("button", "entry-button");
    button.type = "button";
    button.dataset.room = entry.name;
    button.title = entry.topic ?? "";
    button.append(
      h("span", "entry-sigil", "#"),
      h("span", "entry-name", entry.name),
    );
    button.append(
      h(
        "span",
        "entry-count",
        String(entry.count),
      ),
    );
    const count = button.lastElementChild;
    count.title = `${entry.count} ${entry.count === 1 ? "person" : "people"}`;
    // Read out as what it is: a bare "main 3" is no head count to a screen
    // reader, and is heard as 3 unread, which a badge beside it says.
    count.setAttribute("aria-hidden", "true");
    button.append(h("span", "visually-hidden", ` (${count.title})`));
    if (isCurrent) {
      // The room you are in: marked as the one shown only while it is (a
      // private conversation may be); else as where you are.
      if (currentKey === ROOM_KEY) {
        button.classList.add("current");
        button.setAttribute("aria-current", "page");
      } else {
        button.classList.add("here");
      }
      if (conversation !== undefined) addBadge(button, conversation);
    }
    button.addEventListener("click", (/** @type {MouseEvent} */ event) => {
      if (isCurrent) {
        showConversation(ROOM_KEY);
        focusAfterChoosing(event);
      } else joinRoom(entry.name);
    });
    const item = h("li", "entry-item");
    item.append(button);
    return item;
  });
  replaceKeepingFocus(ui.roomList, items);
}

/**
 * After a conversation is chosen in the side list, the focus goes where one
 * goes next: the message box, as in Slack and The Lounge. On a phone the
 * list was a drawer that has just closed, its button with it: a tap puts
 * the focus on the log (a keyboard that pops up over what one came to read
 * is in the way), a key (a click with no `detail`) on the message box.
 *
 * @param {MouseEvent} event
 */
function focusAfterChoosing(event) {
  if (PHONE.matches && event.detail !== 0) {
    ui.scroller.focus({ preventScroll: true });
  } else {
    ui.message.focus();
  }
}

/** The private conversations, each with its unread count and a close. */
function renderPrivates() {
  const items = [];
  for (const conversation of conversations.values()) {
    if (conversation.kind !== "private") continue;
    const button = h("button", "entry-button");
    button.type = "button";
    button.dataset.private = conversation.name;
    button.append(
      h("span", "entry-sigil", "@"),
      h(
        "span",
        `entry-name ${nickClass(conversation.name)}`,
        conversation.name,
      ),
    );
    if (conversation.key === currentKey) {
      button.classList.add("current");
      button.setAttribute("aria-current", "page");
    }
    addBadge(button, conversation);
    button.addEventListener("click", (/** @type {MouseEvent} */ event) => {
      showConversation(conversation.key);
      focusAfterChoosing(event);
    });
    const close = h("button", "entry-close");
    close.type = "button";
    close.dataset.close = conversation.name;
    close.title = `Close the conversation with ${conversation.name}`;
    close.append(
      h("span", "", "×"),
      h("span", "visually-hidden", close.title),
    );
    close.firstElementChild.setAttribute("aria-hidden", "true");
    close.addEventListener("click", (/** @type {MouseEvent} */ event) => {
      closePrivate(conversation.key);
      // The button went with its entry: the focus goes on, not to the top.
      if (!ui.app.contains(document.activeElement)) focusAfterChoosing(event);
    });
    const item = h("li", "entry-item");
    item.append(button, close);
    items.push(item);
  }
  replaceKeepingFocus(ui.privateList, items);
  ui.privateHint.hidden = items.length > 0;
}

/**
 * The unread count of a conversation, on its entry; marked when it holds a
 * mention or a private message.
 *
 * @param {HTMLElement} button
 * @param {Conversation} conversation
 */
function addBadge(button, conversation) {
  if (conversation.unread === 0) return;
  const badge = h(
    "span",
    conversation.mention ? "badge mention" : "badge",
    String(conversation.unread),
  );
  badge.setAttribute("aria-hidden", "true");
  button.append(
    badge,
    h(
      "span",
      "visually-hidden",
      ` (${conversation.unread} unread${
        conversation.mention ? ", mentioning you" : ""
      })`,
    ),
  );
}

/**
 * Closes a private conversation (it comes back with the next message).
 *
 * @param {string} key
 */
function closePrivate(key) {
  const conversation = conversations.get(key);
  if (conversation === undefined || conversation.kind !== "private") return;
  conversation.list.remove();
  conversations.delete(key);
  if (currentKey === key) showConversation(ROOM_KEY);
  else renderPrivates();
  updateTitle();
}

/** The conversation's title and topic above the log. */
function renderHeader() {
  const conversation = current();
  const room = session.room;
  ui.conversationTopic.replaceChildren();
  if (conversation.kind === "room") {
    ui.conversationTitle.textContent = `#${room?.name ?? conversation.name}`;
    if (room?.topic) {
      appendRich(ui.conversationTopic, room.topic);
      ui.conversationTopic.classList.remove("empty");
    } else {
      ui.conversationTopic.textContent = "No topic. /topic TEXT sets one.";
      ui.conversationTopic.classList.add("empty");
    }
    ui.message.placeholder = `Message #${room?.name ?? ""}`;
  } else {
    ui.conversationTitle.textContent = `@${conversation.name}`;
    ui.conversationTopic.textContent =
      `Private conversation with ${conversation.name}`;
    ui.conversationTopic.classList.add("empty");
    ui.message.placeholder = `Message ${conversation.name}`;
  }
  if (session.prompt !== null) ui.message.placeholder = session.prompt.text;
  ui.messageLabel.textContent = session.prompt?.text ?? ui.message.placeholder;
  renderOlder();
}

/**
 * The room's members, as the room frame and the events since say: each a
 * button that opens a private conversation.
 */
function renderMembers() {
  const room = session.room;
  const conversation = current();
  const isPrivate = conversation.kind === "private";
  ui.memberList.hidden = isPrivate;
  ui.person.hidden = !isPrivate;
  ui.membersTitleText.textContent = isPrivate ? "Talking with" : "Members";
  ui.membersToggleLabel.textContent = isPrivate ? "Details" : "Members";
  if (isPrivate) renderPerson(conversation.name);
  const members = [...(room?.members ?? [])].sort((a, b) =>
    fold(a).localeCompare(fold(b))
  );
  ui.membersRoom.textContent = room === null || isPrivate
    ? ""
    : `of #${room.name}`;
  ui.memberCount.textContent = isPrivate ? "" : String(room?.count ?? 0);
  const items = members.map((name) => {
    const item = h("li", "member-item");
    const isMe = sameName(name, session.me);
    const owner = room?.owner != null && fold(name) === room.owner;
    if (isMe) {
      const self = h(
        "span",
        session.away === null ? "member self" : "member self away",
      );
      self.append(h("span", `nick ${nickClass(name)}`, name));
      self.append(
        h(
          "span",
          "member-note",
          session.away === null ? " (you)" : " (you, away)",
        ),
      );
      item.append(self);
    } else {
      const button = h("button", "member");
      button.type = "button";
      button.dataset.member = name;
      button.title = `Talk privately with ${name}`;
      button.append(h("span", `nick ${nickClass(name)}`, name));
      button.addEventListener("click", () => openPrivate(name));
      item.append(button);
    }
    if (owner) {
      const mark = h("span", "member-note owner", " owner");
      item.firstElementChild?.append(mark);
    }
    return item;
  });
  // A big room's frames list 500 of its people.
  const more = (room?.count ?? 0) - members.length;
  if (more > 0) {
    items.push(
      h("li", "member-item member-more", `and ${more} more`),
    );
  }
  replaceKeepingFocus(ui.memberList, items);
}

/**
 * The side panel of a private conversation: the person, and what the page
 * knows of where they are (in the room with the user, or what the server
 * last said of them); "Who is NAME?" asks the server.
 *
 * @param {string} name
 */
function renderPerson(name) {
  const room = session.room;
  ui.personName.textContent = name;
  ui.personName.className = `nick ${nickClass(name)}`;
  const here = room !== null &&
    room.members.some((member) => sameName(member, name));
  const known = session.presence.get(fold(name));
  const where = here ? room.name : known?.room ?? null;
  const state = here && known?.state !== "away"
    ? "online"
    : known?.state ?? "unknown";
  const text = state === "away"
    ? (known?.reason ? `Away: ${known.reason}` : "Away") +
      (where !== null
        ? `, in #${where}`
        : room !== null
        ? `; not in #${room.name}`
        : "")
    : state === "online" && where !== null
    ? `Online, in #${where}`
    : state === "offline"
    ? `Offline${known?.reason ? `: ${known.reason}` : ""}`
    : room === null
    ? "Not in your room"
    : `Not in #${room.name}`;
  ui.personStatus.dataset.state = state;
  ui.personStatus.textContent = text;
  ui.personWhois.textContent = `Who is ${name}?`;
  ui.personWhois.dataset.name = name;
}

/**
 * Opens (or makes) the private conversation with `name` and shows it.
 *
 * @param {string} name
 */
function openPrivate(name) {
  const conversation = privateConversation(name, true);
  if (conversation === null) return;
  showConversation(conversation.key);
  ui.message.focus();
}

/**
 * Joins a room (from the room list or the join form).
 *
 * @param {string} name
 */
function joinRoom(name) {
  const room = name.trim().replace(/^#/, "");
  if (room === "") return;
  if (session.room !== null && sameName(session.room.name, room)) {
    showConversation(ROOM_KEY);
    return;
  }
  sendChat(command(`join ${room}`));
  closeDrawers();
  ui.message.focus();
}

// ------------------------------------------------------------- message box

/**
 * The message box was submitted: the answer to a question, a command (a
 * line starting with `/`, sent as it is), or a line to the room
 * (`say TEXT`) or to the person of the private conversation shown
 * (`msg NAME TEXT`).
 */
function submitMessage() {
  const value = ui.message.value;
  if (session.prompt !== null) {
    answerPrompt(value);
    return;
  }
  if (value.trim() === "") return;
  remember(value);
  ui.message.value = "";
  renderHint();
  // What one sends, and the answer to it, come at the end: go there, as
  // after sending in any chat.
  scrollToBottom();
  const slashed = value.trimStart().startsWith("/");
  if (slashed && !value.trimStart().startsWith("//")) {
    keepSent(value, runCommand(value.trim()));
    return;
  }
  // "//" says a line that starts with "/" ("//shrug", a path), as in chat
  // mode and IRC clients: the hint already takes it for no command.
  const text = slashed ? value.trimStart().slice(1) : value;
  const conversation = current();
  const line = conversation.kind === "private"
    ? `${command("msg")} ${conversation.name} ${text}`
    : `${command("say")} ${text}`;
  keepSent(value, line);
  sendChat(line);
  if (session.queue.at(-1) === line) addPending(conversation, text);
}

/**
 * Keeps a line typed and sent for a while (not one with a password in it).
 *
 * @param {string} value
 * @param {string} line
 */
function keepSent(value, line) {
  if (CARRIES_PASSWORD.test(value.trim())) return;
  sentTyped.push({ value, line, key: currentKey, at: Date.now() });
  if (sentTyped.length > 5) sentTyped.shift();
}

/**
 * How long a line sent is taken to be waiting for its answer, in ms: one
 * answered by something the page does not recognise (a mute, a store
 * error) is not brought back by a later refusal meant for another line.
 */
const SENT_ANSWER_MS = 10_000;

/**
 * The server refused a line as longer than `max` bytes: the last one typed
 * that was comes back to the message box, if it is empty, to be cut short
 * (clearing it had lost what may have taken long to write).
 *
 * @param {number} max
 */
function restoreTooLong(max) {
  const encoder = new TextEncoder();
  for (let index = sentTyped.length - 1; index >= 0; index--) {
    const { value, line } = sentTyped[index];
    if (encoder.encode(line).length <= max) continue;
    sentTyped.splice(index, 1);
    if (ui.message.value === "" && session.prompt === null) {
      ui.message.value = value;
      renderHint();
    }
    return;
  }
}

/** A private message as the page sends it: `msg NAME TEXT`. */
const SENT_MSG = /^\/?msg\s+(\S+)\s/i;

/**
 * The server's refusals of a private message, each with the name it was to
 * (src/text.ts: noSuchUser, offlineFull and offlineYoursFull, clusterAway,
 * notDelivered).
 */
const MSG_REFUSED = [
  TEXTS.noSuchUser,
  TEXTS.offlineRefused,
  TEXTS.clusterAway,
  TEXTS.notDelivered,
];

/**
 * The oldest private message to `name` typed and not yet answered, taken
 * from those kept (the server answers lines in order), or null. One sent
 * more than {@link SENT_ANSWER_MS} ago is dropped instead: it was answered
 * by something the page did not take for a refusal.
 *
 * @param {string} name
 */
function takeSentMsg(name) {
  const now = Date.now();
  for (let index = 0; index < sentTyped.length; index++) {
    const sent = sentTyped[index];
    const to = sent.line.match(SENT_MSG);
    if (to === null || !sameName(to[1], name)) continue;
    sentTyped.splice(index, 1);
    if (now - sent.at <= SENT_ANSWER_MS) return sent;
    index--;
  }
  return null;
}

/**
 * An error that may refuse a private message (no one of that name online,
 * their offline messages full, their server away; one to oneself): what
 * was typed comes back to the message box, if it is empty and shows the
 * same conversation, rather than be lost with the box cleared on send. Up
 * brings it back too, as any line sent.
 *
 * @param {string} line the error's first line
 */
function restoreRefusedMsg(line) {
  let name = line === TEXTS.privateToSelf ? session.me : null;
  for (const pattern of MSG_REFUSED) {
    const match = line.match(pattern);
    if (match !== null) name = match[1];
  }
  if (name === null) return;
  const sent = takeSentMsg(name);
  if (
    sent !== null && ui.message.value === "" && session.prompt === null &&
    sent.key === currentKey
  ) {
    ui.message.value = sent.value;
    renderHint();
  }
}

/**
 * The commands whose first word is a user's name. The page writes names as
 * `@bob` (and rooms as `#den`), and the server's names have neither sign,
 * so `/msg @bob hi` means bob, and `/join #den` the room den.
 */
const NAME_FIRST = new Set([
  "msg",
  "whois",
  "ignore",
  "unignore",
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "roomop",
  "roomdeop",
  "op",
  "deop",
]);

/**
 * A command the user typed: sent as typed (but for the `@` or `#` the page
 * writes before a name or a room), after noting what the page must know
 * about it (a logout is not a dropped connection; answers to `rooms` and
 * `history` typed by the user are shown).
 *
 * @param {string} typed
 * @returns {string} the line sent
 */
function runCommand(typed) {
  const [word, ...rest] = typed.slice(1).split(/\s+/);
  const name = word.toLowerCase();
  const sign = name === "join" ? "#" : NAME_FIRST.has(name) ? "@" : null;
  let line = typed;
  if (sign !== null && rest.length > 0 && rest[0].startsWith(sign)) {
    rest[0] = rest[0].slice(1);
    line = typed.replace(/^(\/\S+\s+)[#@]/, "$1");
  }
  switch (name) {
    case "logout":
    case "quit":
      session.leaving = true;
      break;
    case "rooms":
      if (session.me !== null) session.roomsAsked.push(false);
      break;
    case "history":
      if (session.me !== null) session.historyAsked.push(false);
      break;
    case "msg":
      if (rest.length > 1) session.focusPrivate = rest[0];
      break;
  }
  sendChat(line);
  return line;
}

/**
 * Answers the server's question with the message box's value (an empty
 * line cancels). A secret is never kept in the input history.
 *
 * @param {string} value
 */
function answerPrompt(value) {
  if (!sendNow(value)) {
    setStatus("Not connected: the answer was not sent");
    return;
  }
  session.prompt = null;
  ui.message.value = "";
  leavePrompt();
}

/** The server's questions for a password being chosen (src/text.ts). */
const NEW_PASSWORD = /^(?:Choose a password |Type the same password again:)/;

/** What the message box held before a question took it over. */
let draftBeforePrompt = "";

/**
 * Turns the message box into the answer to the question pending: a
 * password field for a secret, with a Cancel button.
 *
 * @param {boolean} secret
 */
function enterPrompt(secret) {
  if (!ui.composer.classList.contains("prompting")) {
    draftBeforePrompt = ui.message.value;
  }
  ui.message.value = "";
  ui.message.type = secret ? "password" : "text";
  // A password being chosen is a new one to a password manager: it offers
  // to make and keep one, rather than fill in the one it has.
  ui.message.autocomplete = !secret
    ? "off"
    : NEW_PASSWORD.test(session.prompt?.text ?? "")
    ? "new-password"
    : "current-password";
  ui.composer.classList.add("prompting");
  ui.promptCancel.hidden = false;
  ui.send.textContent = "Answer";
  renderHeader();
  renderHint();
  ui.message.focus();
}

/** The message box is for messages again, with what it held before. */
function leavePrompt() {
  if (!ui.composer.classList.contains("prompting")) return;
  ui.composer.classList.remove("prompting");
  ui.message.type = "text";
  ui.message.autocomplete = "off";
  ui.message.value = draftBeforePrompt;
  draftBeforePrompt = "";
  ui.promptCancel.hidden = true;
  ui.send.textContent = "Send";
  renderHeader();
  renderHint();
}

/** A question that is no longer pending leaves the message box. */
function leavePromptIfStale() {
  if (session.prompt === null) leavePrompt();
}

/**
 * A line with a password in it (`register PASSWORD`, `login NAME PASSWORD`,
 * `password ...`, `unregister ...`): never kept for Up and Down, where
 * anyone at the keyboard could bring it back.
 */
const CARRIES_PASSWORD =
  /^\/?(?:(?:register|password|unregister)\s+\S|login\s+\S+\s+\S)/i;

/**
 * Keeps a line for Up and Down, unless it carries a password.
 *
 * @param {string} line
 */
function remember(line) {
  if (CARRIES_PASSWORD.test(line.trim())) return;
  const lines = inputHistory.lines;
  if (lines[lines.length - 1] !== line) lines.push(line);
  if (lines.length > MAX_INPUT_HISTORY) lines.shift();
  inputHistory.index = lines.length;
  inputHistory.draft = "";
}

/**
 * The commands, each with its usage and what it does, as `help` has them
 * (src/commands/; the moderation ones too, which `help` lists only to those
 * who may use them): Tab completes them after a `/`, and the line above the
 * message box explains the one being typed. tests/browser_test.ts checks
 * that this list is the server's.
 *
 * @type {[string, string][]}
 */
const COMMAND_HELP = [
  [
    "away [REASON]",
    "mark yourself away; whois and private messages show REASON",
  ],
  ["back", "no longer away"],
  [
    "ban TARGET [DURATION] [REASON]",
    "keep a name, address or CIDR block out (30m, 2h, 7d; none: for good)",
  ],
  ["bans", "list the bans: target, who set it, when, its end, the reason"],
  ["claim", "own this room: it stays, with its topic, even when empty"],
  ["deop NAME", "a server operator is one no more"],
  ["help [COMMAND]", "list the commands, or explain one"],
  ["history [before ID] [N]", "show this room's last N lines (default 20)"],
  [
    "ignore [NAME]",
    "stop seeing NAME's lines and private messages (alone: the list)",
  ],
  ["join ROOM", "move to ROOM (made if new); shows its topic and recent lines"],
  [
    "kick NAME [REASON]",
    "send NAME out of this room, to main (from main: off the server)",
  ],
  [
    "lockdown [on|off]",
    "while on, only registered users may log in (for a wave of bots)",
  ],
  ["logout", "leave the chat and close the connection"],
  ["look", "list the people in this room"],
  ["me ACTION", "show * NAME ACTION to the room"],
  [
    "mode [chat|command]",
    "chat: lines are said, commands need /; command: the default",
  ],
  ["modlog [N]", "the last N moderation actions (default 20)"],
  ["motd", "show the message of the day again"],
  ["msg NAME TEXT", "send TEXT to NAME only"],
  [
    "mute NAME [DURATION] [REASON]",
    "NAME still reads but cannot say, me, msg, reply, set a topic, nick or away",
  ],
  ["mutes", "list the mutes: target, who set it, when, its end, the reason"],
  ["nick NAME", "change your name to NAME"],
  ["op NAME", "make a registered user a server operator"],
  ["password", "change your account's password"],
  ["quit", "the same as logout"],
  ["register [PASSWORD]", "make your name an account, kept with a password"],
  ["reply TEXT", "send TEXT privately to the last person who messaged you"],
  ["roomdeop NAME", "a room operator of this room is one no more"],
  ["roomop NAME", "make a registered user a room operator of this room"],
  ["rooms", "list the rooms with their people and topics"],
  ["say TEXT", "say TEXT to everyone in the room"],
  [
    "topic [TEXT|-]",
    "show this room's topic, set it to TEXT, or clear it with -",
  ],
  ["unban TARGET", "lift a ban"],
  ["unclaim", "give this room up: it goes when empty, as other rooms do"],
  ["unignore NAME", "see NAME's lines and private messages again"],
  ["unmute NAME", "lift a mute"],
  ["unregister [PASSWORD]", "delete your account (asks for its password)"],
  ["who", "list everyone logged in"],
  ["whois NAME", "show NAME's room, time connected and idle, and away message"],
];

/** The commands' names, for Tab. */
const COMMANDS = COMMAND_HELP.map(([usage]) => usage.split(" ")[0]);

/**
 * The line above the message box while a command is typed, as The Lounge
 * and Slack help with theirs: the commands that start so (`/m`), or, once
 * the word is a command, its usage and what it does (`/msg NAME TEXT: send
 * TEXT to NAME only`). Hidden otherwise, and while a question is open.
 */
function renderHint() {
  const value = ui.message.value;
  const typed = /^\/(\S*)(\s?)/.exec(value);
  const hint = ui.commandHint;
  if (typed === null || session.prompt !== null || value.startsWith("//")) {
    // Emptied too: the box's description, which a screen reader reads
    // even when hidden.
    hint.hidden = true;
    hint.replaceChildren();
    return;
  }
  const word = typed[1].toLowerCase();
  const spaced = typed[2] !== "";
  const matches = COMMANDS.filter((name) => name.startsWith(word));
  const exact = COMMAND_HELP.find(([usage]) => usage.split(" ")[0] === word);
  if (word === "") {
    hint.replaceChildren(
      document.createTextNode("A command: Tab completes it; /help lists them"),
    );
  } else if (exact !== undefined && (spaced || matches.length === 1)) {
    hint.replaceChildren(
      h("span", "term", `/${exact[0]}`),
      document.createTextNode(`: ${exact[1]}`),
    );
  } else if (spaced || matches.length === 0) {
    hint.replaceChildren(
      document.createTextNode(`No command "/${typed[1]}": /help lists them`),
    );
  } else {
    hint.replaceChildren(
      h("span", "term", matches.map((name) => `/${name}`).join("  ")),
    );
  }
  hint.hidden = false;
}

/**
 * Tab completing the word before the cursor, as on IRC: what it started
 * from and the candidates it goes through, one more at each Tab. Any other
 * key ends it.
 *
 * @type {{ start: number, end: number, matches: string[], index: number,
 *   suffix: string } | null}
 */
let completion = null;

/**
 * The names Tab completes: the room's members, then the people of the
 * private conversations, each once, the user last.
 *
 * @returns {string[]}
 */
function completionNames() {
  /** @type {string[]} */
  const names = [];
  const add = (/** @type {string} */ name) => {
    if (!names.some((other) => sameName(other, name))) names.push(name);
  };
  const members = [...(session.room?.members ?? [])].sort((a, b) =>
    a.localeCompare(b)
  );
  for (const name of members) {
    if (!sameName(name, session.me)) add(name);
  }
  for (const conversation of conversations.values()) {
    if (conversation.kind === "private") add(conversation.name);
  }
  if (session.me !== null) add(session.me);
  return names;
}

/**
 * Tab: completes the word before the cursor, a name (`bo` to `bob: ` at
 * the start of the line, `bob ` further on, `@bo` to `@bob `) or, after a
 * `/` at the start, a command (`/wh` to `/whois `); each further Tab puts
 * the next candidate. With nothing to complete, Tab moves the focus on, as
 * everywhere else. Returns whether it completed.
 *
 * @returns {boolean}
 */
function completeWord() {
  const input = ui.message;
  if (completion !== null) {
    completion.index = (completion.index + 1) % completion.matches.length;
  } else {
    const caret = input.selectionStart ?? input.value.length;
    if (caret !== (input.selectionEnd ?? caret)) return false;
    const before = input.value.slice(0, caret);
    const start = before.search(/\S*$/);
    const word = before.slice(start);
    if (word === "") return false;
    const isCommand = start === 0 && word.startsWith("/") && word.length > 1;
    const sign = !isCommand && word.startsWith("@") ? "@" : "";
    const prefix = fold(word.slice(isCommand ? 1 : sign.length));
    if (prefix === "") return false;
    const candidates = isCommand ? COMMANDS : completionNames();
    const matches = candidates
      .filter((candidate) => fold(candidate).startsWith(prefix))
      .map((candidate) => (isCommand ? "/" : sign) + candidate);
    if (matches.length === 0) return false;
    const lineStart = start === 0 && !isCommand && sign === "";
    completion = {
      start,
      end: caret,
      matches,
      index: 0,
      suffix: lineStart ? ": " : " ",
    };
  }
  const { start, end, matches, index, suffix } = completion;
  const after = input.value.slice(end);
  const put = matches[index] + (after.startsWith(" ") ? "" : suffix);
  input.value = input.value.slice(0, start) + put + after;
  completion.end = start + put.length;
  input.setSelectionRange(completion.end, completion.end);
  return true;
}

/**
 * Up and Down walk the lines sent before; Down past the last gives back
 * the line being typed. Tab completes a name or a command. While a
 * question is open, Escape cancels it.
 *
 * @param {KeyboardEvent} event
 */
function onMessageKey(event) {
  if (event.key !== "Tab") completion = null;
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
  if (event.key === "Tab") {
    if (session.prompt === null && completeWord()) event.preventDefault();
    else completion = null;
    return;
  }
  if (session.prompt !== null) {
    // Escape cancels a question, as the Cancel button does.
    if (event.key === "Escape") {
      event.preventDefault();
      answerPrompt("");
    }
    return;
  }
  const lines = inputHistory.lines;
  if (event.key === "ArrowUp") {
    if (inputHistory.index === 0) return;
    if (inputHistory.index === lines.length) {
      inputHistory.draft = ui.message.value;
    }
    inputHistory.index--;
  } else if (event.key === "ArrowDown") {
    if (inputHistory.index >= lines.length) return;
    inputHistory.index++;
  } else {
    return;
  }
  event.preventDefault();
  ui.message.value = inputHistory.index === lines.length
    ? inputHistory.draft
    : lines[inputHistory.index];
  const end = ui.message.value.length;
  ui.message.setSelectionRange(end, end);
}

// -------------------------------------------------------------------- login

/**
 * The login form: `login NAME`; the password, if filled in, answers the
 * server's question when it asks (a registered name). With a question
 * pending, the form answers it.
 */
function submitLogin() {
  const name = ui.loginName.value.trim();
  const password = ui.loginPassword.value;
  if (name === "") {
    showLoginMessage("Please enter a name.", true);
    ui.loginName.focus();
    return;
  }
  if (/\s/.test(name)) {
    // "login Ann Smith" is the name Ann and the password Smith to the
    // server: a password typed in plain sight, tried against an account.
    showLoginMessage(
      `A name is one word, without spaces: ${
        name.split(/\s+/).join("_")
      }, say. The password has its own field.`,
      true,
    );
    ui.loginName.focus();
    return;
  }
  if (session.prompt !== null && sameName(name, session.loginName)) {
    if (password === "") {
      showLoginMessage(formPrompt(session.prompt.text), true);
      ui.loginPassword.focus();
      return;
    }
    if (sendNow(password)) {
      session.prompt = null;
      session.checking = true;
      ui.loginPassword.value = "";
      showLoginMessage("Checking the password…", false);
    }
    return;
  }
  if (session.prompt !== null || session.checking) {
    // A question for another name, or the one that comes again if the
    // password being checked is wrong (a lockout's wait can be long): cancel
    // it first, or the server takes "login NAME" for the password.
    sendNow("");
    session.prompt = null;
    session.checking = false;
  }
  rememberName(name);
  session.loginPassword = password === "" ? null : password;
  ui.loginPassword.value = "";
  showLoginMessage("Logging in…", false);
  const line = `login ${name}`;
  if (!sendNow(line)) {
    conn.pendingLogin = line;
    if (conn.socket === null) connect();
  }
}

/**
 * The name to log in (again) under, kept for the form after a reload too.
 *
 * @param {string} name
 */
function rememberName(name) {
  session.loginName = name;
  try {
    sessionStorage.setItem(NAME_KEY, name);
  } catch {
    // Storage is off.
  }
}

/**
 * A line under the login form.
 *
 * @param {string} text
 * @param {boolean} isError
 */
function showLoginMessage(text, isError) {
  ui.loginMessage.textContent = text;
  ui.loginMessage.classList.toggle("error", isError);
}

/** Logged in: the chat takes the page. */
function enterChat() {
  session.phase = "chat";
  session.checking = false;
  document.body.dataset.phase = "chat";
  ui.loginView.hidden = true;
  ui.chatView.hidden = false;
  showLoginMessage("", false);
  ui.loginPasswordLabel.replaceChildren(...PASSWORD_LABEL);
  ui.message.focus();
}

/**
 * Back to the login form, everything of the session forgotten: after a
 * logout, or when the server ended the session.
 *
 * @param {string} reason shown on the form
 * @param {boolean} [isError] whether it is shown as an error (default)
 */
function toLogin(reason, isError = true) {
  session.phase = "login";
  session.me = null;
  session.relogin = false;
  session.rejoin = null;
  session.parkedRoom = null;
  session.prompt = null;
  session.cancelQuestion = false;
  session.checking = false;
  session.queue = [];
  session.away = null;
  pendingEntries.splice(0);
  // What this user typed is not the next one's to be given back.
  sentTyped.length = 0;
  session.room = null;
  session.rooms = [];
  session.roomsAsked = [];
  session.historyAsked = [];
  // A socket still open (logging in again failed, or its password was
  // cancelled) keeps its hello's token: the form logs in on it, and that
  // session is the one to take back after a drop (without it, the page
  // could not resume, and logged in anew each time).
  if (!conn.ready) conn.token = null;
  conn.attempt = 0;
  conn.lost = null;
  conn.takingBack = false;
  conn.restarting = false;
  ui.announce.textContent = "";
  clearTimeout(conn.retryTimer);
  clearInterval(conn.countdown);
  for (const conversation of conversations.values()) {
    clearTimeout(conversation.quietTimer);
    conversation.list.remove();
  }
  conversations.clear();
  currentKey = ROOM_KEY;
  leavePrompt();
  document.body.dataset.phase = "login";
  ui.chatView.hidden = true;
  ui.loginView.hidden = false;
  ui.loginName.value = session.loginName;
  ui.loginPasswordLabel.replaceChildren(...PASSWORD_LABEL);
  showLoginMessage(reason, isError);
  updateBanner();
  updateTitle();
  ui.loginName.focus();
}

// ------------------------------------------------------------ notifications

/**
 * The notifications switch: asks the browser's permission the first time
 * it is turned on (never before), and remembers the choice.
 */
async function toggleNotifications() {
  if (notifying) {
    setNotifying(false);
    return;
  }
  if (!("Notification" in globalThis)) {
    sayLocally("This browser has no desktop notifications");
    return;
  }
  let permission = Notification.permission;
  if (permission === "default") {
    permission = await Notification.requestPermission();
  }
  if (permission !== "granted") {
    sayLocally("Notifications are blocked for this site in the browser");
    setNotifying(false);
    return;
  }
  setNotifying(true);
}

/**
 * @param {boolean} on
 */
function setNotifying(on) {
  notifying = on;
  ui.notifyToggle.setAttribute("aria-pressed", String(on));
  ui.notifyState.textContent = on ? "on" : "off";
  try {
    localStorage.setItem(NOTIFY_KEY, on ? "on" : "off");
  } catch {
    // Storage is off: the choice lasts as long as the page.
  }
}

/**
 * A desktop notification for a mention or a private message, while the
 * tab is in the background; clicking it shows the conversation.
 *
 * @param {Conversation} conversation
 * @param {string} title
 * @param {string} body
 */
function notify(conversation, title, body) {
  if (!notifying || !("Notification" in globalThis)) return;
  if (Notification.permission !== "granted") return;
  if (document.visibilityState === "visible" && document.hasFocus()) return;
  const notification = new Notification(title, {
    body,
    tag: conversation.key,
  });
  notification.addEventListener("click", () => {
    globalThis.focus();
    showConversation(conversation.key);
    notification.close();
  });
}

// ------------------------------------------------------------------- layout

/** Closes the phone layout's drawers. */
function closeDrawers() {
  ui.app.classList.remove("nav-open", "members-open");
  ui.navToggle.setAttribute("aria-expanded", "false");
  if (PHONE.matches) ui.membersToggle.setAttribute("aria-expanded", "false");
}

/** The side list: a drawer on a phone. */
function toggleNav() {
  const open = !ui.app.classList.contains("nav-open");
  ui.app.classList.remove("members-open");
  ui.app.classList.toggle("nav-open", open);
  ui.navToggle.setAttribute("aria-expanded", String(open));
  if (open) ui.sidebar.querySelector("button")?.focus();
}

/** The member list: a drawer on a phone, a column that folds away on a desk. */
function toggleMembers() {
  if (PHONE.matches) {
    const open = !ui.app.classList.contains("members-open");
    ui.app.classList.remove("nav-open");
    ui.app.classList.toggle("members-open", open);
    ui.membersToggle.setAttribute("aria-expanded", String(open));
    if (open) {
      // Alone in the room, no name is a button: the list itself, then, not
      // the toggle the drawer now covers.
      (ui.person.hidden
        ? ui.memberList.querySelector("button") ?? ui.members
        : ui.personWhois)
        .focus();
    }
  } else {
    const hidden = ui.app.classList.toggle("members-hidden");
    ui.membersToggle.setAttribute("aria-expanded", String(!hidden));
  }
}

/**
 * Alt+Up and Alt+Down move between conversations; Escape closes a drawer.
 *
 * @param {KeyboardEvent} event
 */
function onGlobalKey(event) {
  if (event.key === "Escape") {
    if (ui.app.classList.contains("nav-open")) {
      closeDrawers();
      ui.navToggle.focus();
    } else if (ui.app.classList.contains("members-open")) {
      closeDrawers();
      ui.membersToggle.focus();
    }
    return;
  }
  if (!event.altKey || session.phase !== "chat") return;
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  const keys = [...conversations.keys()];
  const at = keys.indexOf(currentKey);
  const next = keys[
    (at + (event.key === "ArrowUp" ? -1 : 1) + keys.length) % keys.length
  ];
  if (next !== undefined) {
    event.preventDefault();
    showConversation(next);
  }
}

// ------------------------------------------------------------------- wiring

ui.loginForm.addEventListener("submit", (/** @type {Event} */ event) => {
  event.preventDefault();
  submitLogin();
});
ui.composer.addEventListener("submit", (/** @type {Event} */ event) => {
  event.preventDefault();
  submitMessage();
  // Send pressed from the keyboard: the next line is typed at once, in the
  // message box, not on the button.
  if (document.activeElement === ui.send) ui.message.focus();
});
// Send clicked or tapped takes no focus: the message box keeps it, and a
// phone its keyboard, which closed after every line sent with the button.
ui.send.addEventListener("mousedown", (/** @type {MouseEvent} */ event) => {
  if (document.activeElement === ui.message) event.preventDefault();
});
ui.message.addEventListener("keydown", onMessageKey);
// Typing, and what keys put in the box (Tab, Up and Down), change the hint.
ui.message.addEventListener("input", () => {
  // The box changed without a key (a paste from the menu, a drop, a voice
  // or IME input): a completion's place in it is stale. Its own edits fire
  // no input event.
  completion = null;
  renderHint();
});
ui.message.addEventListener("keyup", renderHint);
ui.message.addEventListener("blur", () => {
  completion = null;
});
ui.promptCancel.addEventListener("click", () => {
  answerPrompt("");
  ui.message.focus();
});
ui.joinForm.addEventListener("submit", (/** @type {Event} */ event) => {
  event.preventDefault();
  joinRoom(ui.joinName.value);
  ui.joinName.value = "";
});
ui.roomsRefresh.addEventListener("click", askRooms);
ui.loadOlder.addEventListener("click", loadOlder);
ui.logout.addEventListener("click", () => {
  // Logging in again on an open socket (`login NAME` sent, its answer not
  // yet come, or the password asked): the server finishes that login, and
  // its answer (a guest's room frame) put the page back in the chat, still
  // logged in, had the page alone gone to the form. It logs out, below.
  // Logged in to nothing, or offline: the page alone goes to the form.
  const relogging = session.relogin && conn.ready;
  if (
    (session.me === null && session.prompt === null && !relogging) ||
    !conn.ready
  ) {
    // Offline: the server still holds the session, and its name, for the
    // resume time; the next socket ends it.
    const token = session.me !== null ? conn.token : null;
    const lastId = conn.lastId;
    toLogin("You have logged out.", false);
    if (token !== null) conn.leftBehind = { token, lastId };
    return;
  }
  session.leaving = true;
  // A question open (a password being chosen, the current one, the one to
  // log in again) would take "/logout" for its answer, and the page stayed
  // logged in: a blank line cancels it first, as on leaving the page. So
  // too while logging in again: the password may be asked (or asked again,
  // if wrong) with the question not here yet, and to a guest a blank line
  // is nothing.
  if (session.prompt !== null || relogging) {
    sendNow("");
    session.prompt = null;
  }
  sendNow(command("logout"));
});
ui.reconnectNow.addEventListener("click", connect);
ui.notifyToggle.addEventListener("click", toggleNotifications);
ui.navToggle.addEventListener("click", toggleNav);
ui.membersToggle.addEventListener("click", toggleMembers);
ui.personWhois.addEventListener("click", () => {
  const name = ui.personWhois.dataset.name;
  if (name) sendChat(command(`whois ${name}`));
});
document.addEventListener("keydown", onGlobalKey);
document.addEventListener("click", (event) => {
  // A tap beside an open drawer closes it, as on most phones' apps.
  if (
    !ui.app.classList.contains("nav-open") &&
    !ui.app.classList.contains("members-open")
  ) return;
  const target = /** @type {Node} */ (event.target);
  for (
    const inside of [ui.sidebar, ui.members, ui.navToggle, ui.membersToggle]
  ) {
    if (inside.contains(target)) return;
  }
  closeDrawers();
});
// The focus leaving an open drawer closes it too: Tab past its last button
// went on to the message box and the log under it, out of sight, with the
// drawer still over them.
document.addEventListener("focusin", (event) => {
  const open = ui.app.classList.contains("nav-open")
    ? [ui.sidebar, ui.navToggle]
    : ui.app.classList.contains("members-open")
    ? [ui.members, ui.membersToggle]
    : null;
  const target = /** @type {Node} */ (event.target);
  if (open === null || open.some((inside) => inside.contains(target))) return;
  closeDrawers();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    const conversation = conversations.get(currentKey);
    if (conversation !== undefined && conversation.unread > 0) {
      showConversation(currentKey);
    }
    // The other rooms' head counts are only as new as the last "rooms":
    // whoever comes back to the tab sees them as they are now.
    // Not while the server waits for an answer (a password): the next line
    // sent is that answer.
    if (
      session.phase === "chat" && conn.ready && session.prompt === null &&
      session.roomsAsked.length === 0
    ) {
      askRooms();
    }
  }
});
globalThis.addEventListener("online", () => {
  if (conn.socket === null && conn.retryAt > 0) connect();
});
PHONE.addEventListener("change", closeDrawers);

try {
  if (
    localStorage.getItem(NOTIFY_KEY) === "on" &&
    "Notification" in globalThis && Notification.permission === "granted"
  ) {
    setNotifying(true);
  }
} catch {
  // Storage is off.
}

// Leaving the page (a reload, the tab closed, another address) logs out, so
// that the name is free at once, for this tab's next login or for someone
// else, rather than held for the resume time as after a dropped connection.
globalThis.addEventListener("pagehide", (event) => {
  if (event.persisted || session.me === null) return;
  // A question open (the current password, say) would take "logout" for
  // its answer: a blank line cancels it first.
  if (session.prompt !== null) sendNow("");
  sendNow("/logout");
});

try {
  ui.loginName.value = sessionStorage.getItem(NAME_KEY) ?? "";
} catch {
  // Storage is off.
}

closeDrawers();
ui.loginName.focus();
connect();
