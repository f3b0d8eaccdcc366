/**
 * A browser's connection: a WebSocket from `Deno.upgradeWebSocket`. Each text
 * frame the page sends is one command line, as a telnet user types it; each
 * frame it gets is one JSON object (`src/render/json_output.ts`).
 *
 * A page that loses its socket (a train into a tunnel, a laptop lid) can come
 * back: for `--resume-seconds` the session stays, its user online, and what
 * is sent meanwhile is kept. A new socket that brings the session's token
 * and the last id it saw (`/ws?resume=TOKEN&last=ID`) takes the session over
 * and gets every frame after that id, so nothing is missed and nothing comes
 * twice; where more was missed than was kept, a `gap` frame says so first.
 *
 * What a page has still to be sent is bounded like a telnet reader's outbox
 * (`src/outbox.ts`): the socket's `bufferedAmount` (what Deno has not yet
 * written to the kernel) against the hard bound at each send, and the soft
 * bound for as long as it stays over. Deno reads every frame a page sent in
 * one go, so without a limit a paste of 500 frames would be handled, and
 * answered, in one turn of the event loop, before the socket could write any
 * of it; a telnet socket brings at most 64 KiB a read. The frames are handed
 * to the session loop at the same pace: 64 KiB a turn.
 *
 * @module
 */

import type { Clock, TimerId } from "./clock.ts";
import type { Connection, Lines } from "./connection.ts";
import type { LineReaderOptions } from "./line_reader.ts";
import { ExcessFlood, type LineEvent, LineTooLong } from "./line_stream.ts";
import type { DisconnectReason } from "./metrics.ts";
import { type FrameWriter, JsonOutput } from "./render/json_output.ts";
import type { OutputOptions, SessionOutput } from "./render/output.ts";
import { TEXT } from "./text.ts";

/** Bytes of sent frames kept to replay to a page that comes back. */
const REPLAY_BYTES = 64 * 1024;

/** How often `drained` looks at what the socket still has to send, in ms. */
const DRAIN_POLL_MS = 20;

/**
 * About how many bytes of frames one page has handled in one turn of the
 * event loop; the next frame waits for the next turn. A telnet read brings
 * at most as much (`src/line_reader.ts`).
 */
const TURN_BYTES = 64 * 1024;

/**
 * A frame over this many times `--max-line-bytes` is no typed line: the
 * socket is closed at once (1009), not answered. Deno has already read it
 * whole by then (its WebSocket takes messages of up to 64 MiB, with no
 * option to lower that: see docs/operations.md).
 */
const CLOSE_FACTOR = 4;

/**
 * The most bytes of frames that may wait for the session loop, flood
 * control or not. A telnet socket that is not read stops being read (the
 * kernel's buffers hold the rest); Deno reads a WebSocket whatever happens,
 * so without this a page could queue frames without end while its session
 * waits (for a hash, a delay), with flood control off.
 */
const MAX_WAITING_BYTES = 1024 * 1024;

/** What a waiting line counts for, against the bounds above: about its bytes. */
function queuedSize(entry: LineEvent | Refused): number {
  return typeof entry === "string" ? entry.length + 1 : 1;
}

/**
 * The UTF-8 length of `text`, without encoding it (what Deno writes: a lone
 * surrogate becomes U+FFFD, 3 bytes).
 */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) {
      bytes += 1;
    } else if (
      code >= 0xd800 && code <= 0xdbff && i + 1 < text.length &&
      (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      bytes += 2; // a pair: two units, four bytes
      i++;
    } else {
      bytes += 2;
    }
  }
  return bytes;
}

/**
 * The last frame measured, and its length: a room sends one string to every
 * member, so it is measured once, not once per member.
 */
let lastFrame = "";
let lastFrameBytes = 0;

function frameBytes(frame: string): number {
  if (frame !== lastFrame) {
    lastFrame = frame;
    lastFrameBytes = utf8Length(frame);
  }
  return lastFrameBytes;
}

/** Options for {@linkcode WebSocketConnection}. */
export interface WebSocketConnectionOptions {
  /**
   * The largest event id the server knows of: frames that are not events
   * are numbered just after it.
   */
  latestId(): number;
  clock: Clock;
  /** How long a session waits for its page to come back, in ms (0: not). */
  resumeMs: number;
  /** Whether the session is worth keeping when the socket drops. */
  resumable(): boolean;
  /**
   * A new token was given out (null: none any more), which the server finds
   * the connection by.
   */
  onToken(token: string | null, connection: WebSocketConnection): void;
}

/** A frame sent, kept for a page that comes back. */
interface Sent {
  readonly id: number;
  readonly frame: string;
  readonly bytes: number;
}

/** A new random token: 128 bits, URL-safe. */
function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

/** A browser's connection, which may outlive one socket. */
export class WebSocketConnection implements Connection, FrameWriter {
  /** The page's address: a resume from elsewhere moves it. */
  remoteAddr: Deno.NetAddr;
  /**
   * Why the connection ended, when it knows better than the session (a
   * frame far over the cap); null otherwise.
   */
  endReason: DisconnectReason | null = null;
  readonly #options: WebSocketConnectionOptions;
  #socket: WebSocket | null = null;
  #token: string | null = null;
  #lines: FrameLines | null = null;
  #output: OutputOptions | null = null;
  #json: JsonOutput | null = null;
  /** Frames sent (or kept while detached), oldest first. */
  #sent: Sent[] = [];
  #sentBytes = 0;
  /** The newest id that fell out of `#sent`: a page older than it missed some. */
  #forgotten = 0;
  /** Bytes kept while no socket is open. */
  #waiting = 0;
  /** The last id sent on the socket before this one (0: none). */
  #sentBefore = 0;
  #resumeTimer: TimerId | null = null;
  #softTimer: TimerId | null = null;
  #dead = false;
  /** The socket this connection closed last, until it is seen closed. */
  #closing: WebSocket | null = null;

  constructor(
    socket: WebSocket,
    remoteAddr: Deno.NetAddr,
    options: WebSocketConnectionOptions,
  ) {
    this.remoteAddr = remoteAddr;
    this.#options = options;
    this.#attach(socket);
  }

  /** The token a page brings to take this session over. */
  get token(): string | null {
    return this.#token;
  }

  /**
   * The socket this connection closed that is still open: Deno's `close()`
   * only queues a close frame, which waits behind what the kernel could not
   * send, so a page that reads nothing (a slow reader dropped, a ping flood
   * read by nobody) keeps its TCP connection for as long as it likes. Null
   * once it is closed, or when there was none.
   */
  get lingering(): WebSocket | null {
    const socket = this.#closing;
    return socket !== null && socket.readyState !== WebSocket.CLOSED
      ? socket
      : null;
  }

  /** Whether no socket is attached (the page is away). */
  get detached(): boolean {
    return this.#socket === null;
  }

  lines(options: LineReaderOptions): Lines {
    this.#lines = new FrameLines(options, {
      refused: (text) => this.#json?.error([text]),
      tooBig: () => this.#tooBig(),
    });
    return this.#lines;
  }

  output(options: OutputOptions): SessionOutput {
    this.#output = options;
    this.#json = new JsonOutput(this, this.#options.latestId);
    return this.#json;
  }

  setNoDelay(): void {
    // WebSocket frames leave at once.
  }

  /** Unused: frames go through `send`. */
  write(): number {
    return 0;
  }

  /**
   * A page came back with a new socket (from `remote`, which may be a new
   * address) and the last id it saw: it takes this session over and gets
   * what it missed. Returns the old socket when one was still attached: it
   * is shut, but, as with `lingering`, stays open for as long as its
   * client does not answer the close.
   */
  resume(
    socket: WebSocket,
    lastId: number,
    remote: Deno.NetAddr,
  ): WebSocket | null {
    if (this.#resumeTimer !== null) {
      this.#options.clock.clearTimeout(this.#resumeTimer);
      this.#resumeTimer = null;
    }
    this.remoteAddr = remote;
    return this.#attach(socket, lastId);
  }

  send(frame: string, id: number): void {
    if (this.#dead) return;
    const bytes = frameBytes(frame);
    this.#sent.push({ id, frame, bytes });
    this.#sentBytes += bytes;
    const socket = this.#socket;
    if (socket === null || socket.readyState !== WebSocket.OPEN) {
      // Kept until the socket opens or the page comes back, within the same
      // bound as a slow reader.
      this.#waiting += bytes;
      if (this.#waiting > (this.#output?.maxBytes ?? Infinity)) {
        this.#overflow("hard");
      }
      return;
    }
    this.#forget();
    socket.send(frame);
    this.#checkBuffered(socket);
  }

  drained(ms: number): Promise<void> {
    const deadline = this.#options.clock.now() + ms;
    return new Promise((resolve) => {
      const look = () => {
        const socket = this.#socket;
        if (
          this.#dead || socket === null || socket.bufferedAmount === 0 ||
          socket.readyState !== WebSocket.OPEN ||
          this.#options.clock.now() >= deadline
        ) {
          return resolve();
        }
        setTimeout(look, DRAIN_POLL_MS);
      };
      look();
    });
  }

  /**
   * Whether every frame sent is written: a socket attached and open, with
   * nothing Deno has still to send. A page that is away has none written,
   * only kept (and `drained` does not wait for it to come back: nor would
   * a shutdown).
   */
  get written(): boolean {
    const socket = this.#socket;
    return !this.#dead && socket !== null &&
      socket.readyState === WebSocket.OPEN && socket.bufferedAmount === 0;
  }

  discard(): void {
    this.#dead = true;
    this.#sent = [];
    this.#sentBytes = 0;
  }

  close(code = 1000, reason?: string): void {
    this.#dead = true;
    if (this.#resumeTimer !== null) {
      this.#options.clock.clearTimeout(this.#resumeTimer);
      this.#resumeTimer = null;
    }
    if (this.#softTimer !== null) {
      this.#options.clock.clearTimeout(this.#softTimer);
    }
    this.#setToken(null);
    const socket = this.#socket;
    this.#socket = null;
    if (socket !== null) this.#closing = socket;
    try {
      socket?.close(code, reason);
    } catch {
      // Closed already.
    }
    this.#lines?.finish();
  }

  /**
   * A frame far over the line cap: no typed line, so no answer; the socket
   * is closed with 1009 (message too big), for good, and whatever came
   * with it is not handled.
   */
  #tooBig(): void {
    if (this.#dead) return;
    this.endReason = "frame_too_big";
    this.#lines?.drop();
    this.close(1009, "message too big");
  }

  /** Takes `socket` on; returns the one it replaced, shut, if any. */
  #attach(socket: WebSocket, lastId?: number): WebSocket | null {
    const old = this.#socket;
    if (old !== null) {
      // The page came back before this socket was seen to go: it is shut.
      this.#socket = null;
      try {
        old.close(4000, "taken over by a new socket");
      } catch {
        // Closed already.
      }
    }
    this.#socket = socket;
    this.#sentBefore = this.#sent.at(-1)?.id ?? 0;
    this.#setToken(newToken());
    const onOpen = () => {
      if (this.#socket !== socket) return;
      socket.send(JSON.stringify({
        type: "hello",
        token: this.#token,
        resumed: lastId !== undefined,
      }));
      // What was said before the socket opened, or, for a page that came
      // back, everything after the last frame it saw.
      this.#waiting = 0;
      this.#replay(socket, lastId);
    };
    if (socket.readyState === WebSocket.OPEN) onOpen();
    else socket.addEventListener("open", onOpen, { once: true });
    socket.addEventListener("message", (event: MessageEvent) => {
      if (this.#socket !== socket) return;
      if (typeof event.data !== "string") {
        // One command line per text frame; anything else is not ours.
        socket.close(1003, "text frames only");
        return;
      }
      this.#lines?.push(event.data);
    });
    socket.addEventListener("close", () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#dropped();
    });
    socket.addEventListener("error", () => {
      // A close follows.
    });
    return old;
  }

  /**
   * Sends every frame kept after `lastId` (a page that came back), or every
   * frame not sent yet (a new socket: the ones made before it opened).
   * What is sent is at most the hard bound, so that a page is never dropped
   * for its replay: a page that missed more gets the newest frames that fit,
   * after a `gap` frame.
   */
  #replay(socket: WebSocket, lastId: number | undefined): void {
    const after = lastId ?? this.#sentBefore;
    let first = this.#sent.findIndex((sent) => sent.id > after);
    if (first === -1) first = this.#sent.length;
    let bytes = 0;
    for (let i = first; i < this.#sent.length; i++) {
      bytes += this.#sent[i].bytes;
    }
    const limit = this.#output?.maxBytes ?? Infinity;
    let gap = lastId !== undefined && lastId < this.#forgotten;
    while (bytes > limit && first < this.#sent.length - 1) {
      bytes -= this.#sent[first++].bytes;
      gap = lastId !== undefined;
    }
    if (gap) socket.send(JSON.stringify({ type: "gap", after: lastId }));
    for (let i = first; i < this.#sent.length; i++) {
      socket.send(this.#sent[i].frame);
    }
    this.#forget();
    this.#checkBuffered(socket);
  }

  /** The socket went away: wait for the page, or end the session. */
  #dropped(): void {
    if (this.#dead) return;
    const { resumeMs, resumable, clock } = this.#options;
    if (resumeMs <= 0 || !resumable()) {
      this.close();
      return;
    }
    this.#resumeTimer = clock.setTimeout(() => {
      this.#resumeTimer = null;
      this.close();
    }, resumeMs);
  }

  /** Keeps only the last REPLAY_BYTES of what was sent. */
  #forget(): void {
    while (this.#sentBytes > REPLAY_BYTES && this.#sent.length > 1) {
      const oldest = this.#sent.shift()!;
      this.#sentBytes -= oldest.bytes;
      this.#forgotten = oldest.id;
    }
  }

  /**
   * A page that does not read: what the socket has still to send is bounded
   * like a telnet reader's outbox, hard and soft. The soft bound's grace
   * ends whenever a send finds the socket back under it.
   */
  #checkBuffered(socket: WebSocket): void {
    const options = this.#output;
    if (options === null) return;
    const buffered = socket.bufferedAmount;
    if (buffered > options.maxBytes) return this.#overflow("hard");
    if (buffered <= options.softBytes) {
      if (this.#softTimer !== null) {
        options.clock.clearTimeout(this.#softTimer);
        this.#softTimer = null;
      }
      return;
    }
    if (this.#softTimer === null) {
      this.#softTimer = options.clock.setTimeout(() => {
        this.#softTimer = null;
        if (
          this.#socket !== null &&
          this.#socket.bufferedAmount > options.softBytes
        ) {
          this.#overflow("soft");
        }
      }, options.softMs);
    }
  }

  #overflow(bound: "hard" | "soft"): void {
    if (this.#dead) return;
    this.discard();
    this.#output?.onOverflow(bound);
  }

  #setToken(token: string | null): void {
    this.#token = token;
    this.#options.onToken(token, this);
  }
}

/** What {@linkcode FrameLines} tells its connection. */
interface FrameHandlers {
  /** A frame was refused: the page is told why, in its turn. */
  refused(text: string): void;
  /** A frame far over the cap: the connection ends. */
  tooBig(): void;
}

/** A frame refused, in its place among the lines: told when its turn comes. */
class Refused {
  constructor(readonly text: string) {}
}

/**
 * The lines of a WebSocket: each text frame is one line (a line end at its
 * very end is dropped; one inside it refuses the frame), capped like a
 * telnet line. Lines wait for the session loop, at most about
 * {@linkcode TURN_BYTES} of them a turn; more than `maxQueuedLines` waiting
 * is a flood.
 */
class FrameLines implements Lines {
  readonly telnetLike = false;
  readonly echoAnswer = null;
  readonly #maxBytes: number;
  readonly #maxQueued: number | undefined;
  readonly #onError: (error: unknown) => void;
  readonly #handlers: FrameHandlers;
  readonly #tooLong: LineTooLong;
  #queue: (LineEvent | Refused)[] = [];
  /** About how many bytes of lines wait in the queue. */
  #queuedBytes = 0;
  #ended = false;
  #error: unknown = null;
  /** About how many bytes of lines were taken in this turn. */
  #turnBytes = 0;
  #waiter: {
    resolve(result: IteratorResult<LineEvent, undefined>): void;
    reject(error: unknown): void;
  } | null = null;

  constructor(options: LineReaderOptions, handlers: FrameHandlers) {
    this.#maxBytes = options.maxLineBytes ?? 1024;
    this.#maxQueued = options.maxQueuedLines;
    this.#onError = options.onError ?? (() => {});
    this.#handlers = handlers;
    this.#tooLong = new LineTooLong(this.#maxBytes);
  }

  /** A text frame from the page. */
  push(frame: string): void {
    if (this.#ended) return;
    const closeBytes = this.#maxBytes * CLOSE_FACTOR;
    // A UTF-16 unit is at least one byte: most frames need no counting.
    if (frame.length > closeBytes || utf8Length(frame) > closeBytes) {
      return this.#handlers.tooBig();
    }
    const line = frame.replace(/(?:\r\n|\n|\r)$/, "");
    const entry = /[\r\n]/.test(line)
      ? new Refused(TEXT.oneLinePerFrame)
      : utf8Length(line) > this.#maxBytes
      ? this.#tooLong
      : line;
    this.#queue.push(entry);
    this.#queuedBytes += queuedSize(entry);
    if (
      (this.#maxQueued !== undefined && this.#queue.length > this.#maxQueued) ||
      this.#queuedBytes > MAX_WAITING_BYTES
    ) {
      const error = new ExcessFlood(this.#maxQueued ?? this.#queue.length);
      this.#error = error;
      this.#ended = true;
      this.#onError(error);
    }
    this.#settle();
  }

  /** Stops reading: the session is ending. Part of `Lines`. */
  end(): void {
    this.finish();
  }

  /** The socket is gone for good. */
  finish(): void {
    this.#ended = true;
    this.#settle();
  }

  /** Ends at once: the lines waiting are not handled. */
  drop(): void {
    this.#queue = [];
    this.finish();
  }

  next(): Promise<IteratorResult<LineEvent, undefined>> {
    if (this.#error !== null) return Promise.reject(this.#error);
    const ready = this.#ready();
    if (ready !== null) return Promise.resolve(ready);
    return new Promise((resolve, reject) => this.#waiter = { resolve, reject });
  }

  return(): Promise<IteratorResult<LineEvent, undefined>> {
    this.#ended = true;
    this.#queue = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The next line if one may be taken now (refused frames before it are
   * told), the end if nothing more comes, or null: wait.
   */
  #ready(): IteratorResult<LineEvent, undefined> | null {
    while (this.#queue[0] instanceof Refused) {
      const refused = this.#queue.shift() as Refused;
      this.#queuedBytes -= queuedSize(refused);
      this.#handlers.refused(refused.text);
    }
    if (this.#queue.length === 0) {
      return this.#ended ? { value: undefined, done: true } : null;
    }
    if (this.#turnBytes >= TURN_BYTES) return null;
    const value = this.#queue.shift() as LineEvent;
    if (this.#turnBytes === 0) setTimeout(this.#newTurn, 0);
    const bytes = queuedSize(value);
    this.#turnBytes += bytes;
    this.#queuedBytes -= bytes;
    return { value, done: false };
  }

  /** A new turn of the event loop: the socket has had its turn to write. */
  readonly #newTurn = (): void => {
    this.#turnBytes = 0;
    this.#settle();
  };

  #settle(): void {
    const waiter = this.#waiter;
    if (waiter === null) return;
    if (this.#error !== null) {
      this.#waiter = null;
      waiter.reject(this.#error);
      return;
    }
    const ready = this.#ready();
    if (ready !== null) {
      this.#waiter = null;
      waiter.resolve(ready);
    }
  }
}
