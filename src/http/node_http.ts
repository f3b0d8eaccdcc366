/**
 * The HTTP ports (`--http-port`, `--https-port`) on `node:http` over our
 * own `node:net` listener, not `Deno.serve`: Deno's server has no timeout
 * for a request's headers, no idle timeout and no hook at accept, so a client that connected and sent
 * nothing, or a header a minute, kept its connection for good, counted
 * nowhere. Here every TCP connection is seen from its first byte (and
 * counted by the server), its headers must be in within
 * {@linkcode HEADERS_TIMEOUT_MS}, an idle one is closed after
 * {@linkcode IDLE_TIMEOUT_MS}, and a request the parser refuses is answered
 * with the same headers as every other response.
 *
 * The handler still takes a web `Request` and gives a `Response`; this
 * module turns one into the other. A WebSocket upgrade is done over the
 * node socket (`Deno.upgradeWebSocket`'s `socket` option), which Deno 2.9
 * does only for plain TCP: over TLS, through a loopback pair.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { createHash } from "node:crypto";
import {
  type AddressInfo,
  connect,
  createServer as createNetServer,
  type Socket,
} from "node:net";
import type { Duplex } from "node:stream";
import { peerAddress } from "../connection.ts";
import { respond } from "./handler.ts";

/**
 * How long a connection has for a request's head, whole, in ms: from
 * accept, and from the end of the answer before on a kept-alive one.
 */
export const HEADERS_TIMEOUT_MS = 10_000;

/**
 * How long a connection may go with nothing read or written before it is
 * closed, in ms: one that does not read its answer, say. A WebSocket is no
 * longer timed by this: its pings are.
 */
export const IDLE_TIMEOUT_MS = 15_000;

/** How long an idle keep-alive connection waits for its next request, in ms. */
const KEEP_ALIVE_MS = 5_000;

/** The longest request head, in bytes: what nginx's default buffers take. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Requests one connection may have waiting for their answers to be written:
 * a browser sends one at a time; a client that pipelines thousands and
 * reads nothing would have the server hold every answer.
 */
const MAX_PIPELINED = 16;

/**
 * Bytes of answers one connection may have that the kernel has not taken:
 * past it, the client is not reading, and the connection is closed (as a
 * telnet reader's outbox's hard bound).
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

/** How long a refused connection has to read its answer, in ms. */
const CLOSE_MS = 1_000;

/** How often node looks for connections past their headers timeout, in ms. */
const CHECK_INTERVAL_MS = 1_000;

/** An upgrade request's socket, and what was read past its head. */
export interface UpgradeSocket {
  /** What Deno's WebSocket is to run over: plain TCP. */
  socket: Socket;
  head: Uint8Array;
  /**
   * The connection the request came on, as the caller handed it over: the
   * same socket, or, on the HTTPS port, the TLS socket `socket` is bridged
   * to.
   */
  connection: Socket;
}

/** The sockets of upgrade requests, for `Deno.upgradeWebSocket`. */
const upgrades = new WeakMap<Request, UpgradeSocket>();

/** Requests that came as ordinary requests (no `Connection: upgrade`). */
const plain = new WeakSet<Request>();

/** Whether `request` came to node:http as an ordinary request. */
export function plainRequest(request: Request): boolean {
  return plain.has(request);
}

/**
 * The socket an upgrade request came on, or null when it came as an
 * ordinary request (no `Connection: upgrade`).
 */
export function upgradeSocket(request: Request): UpgradeSocket | null {
  return upgrades.get(request) ?? null;
}

/** Answers the handler gave that this module must not write: done already. */
const written = new WeakSet<Response>();

/** RFC 6455's GUID, for Sec-WebSocket-Accept. */
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One unmasked server frame (RFC 6455 5.2): FIN, `opcode`, `payload`. */
function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const length = payload.byteLength;
  const head = length < 126
    ? [0x80 | opcode, length]
    : [0x80 | opcode, 126, length >> 8, length & 0xff];
  const frame = new Uint8Array(head.length + length);
  frame.set(head);
  frame.set(payload, head.length);
  return frame;
}

/**
 * Refuses an upgrade request of the plain port on its own socket: the 101,
 * one text frame (`text`, at most 64 KiB), a close frame (1008), and the
 * socket closed, by us, at most {@linkcode CLOSE_MS} later whether or not
 * the client answers. Deno's WebSocket could not do that: its `close()`
 * only queues a close frame, and it owns the socket after the upgrade (a
 * node socket destroyed under it stays open), so a client that answered
 * nothing kept a refused socket open for good (measured open after 150 s).
 * The page sees what it saw before: the frame, then a close with 1008.
 * Returns the answer for the handler to give, or null when `request` did
 * not come through this module (the caller uses Deno's WebSocket).
 */
export function refuseUpgrade(request: Request, text: string): Response | null {
  const upgrade = upgrades.get(request);
  if (upgrade === undefined) return null;
  const { socket } = upgrade;
  const key = request.headers.get("sec-websocket-key") ?? "";
  const accept = createHash("sha1").update(key + WEBSOCKET_GUID)
    .digest("base64");
  const encoder = new TextEncoder();
  const head = encoder.encode(
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
      `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  const message = encoder.encode(JSON.stringify({ type: "refused", text }));
  const close = new Uint8Array([0x03, 0xf0, ...encoder.encode("refused")]);
  socket.write(concat(
    concat(head, serverFrame(0x1, message.subarray(0, 0xffff))),
    serverFrame(0x8, close),
  ));
  // The client's answer (its close frame) ends it; else the timer does.
  // (Ended at once, Deno's own client takes the 101 for a broken one.)
  socket.on("data", () => socket.end());
  socket.resume();
  setTimeout(() => socket.destroy(), CLOSE_MS);
  const answer = new Response(null, { status: 204 });
  written.add(answer);
  return answer;
}

/** The loopback listener of `loopbackPair`, once made. */
let pairs: Promise<number> | null = null;

/** The port of `loopbackPair`'s listener, once made (for tests). */
export function bridgePort(): Promise<number> | null {
  return pairs;
}
/** Each end of a pair under way that came first, by the client end's port. */
const innerEnds = new Map<number, Socket>();
const outerEnds = new Map<number, (inner: Socket) => void>();

/**
 * Two connected plain TCP sockets on 127.0.0.1 (`[inner, outer]`): the
 * server end, accepted on a listener of our own, and the client end. A
 * connection to that listener that is not one of ours is closed.
 */
function loopbackPair(): Promise<[Socket, Socket]> {
  pairs ??= new Promise<number>((resolve, reject) => {
    const listener = createNetServer((inner) => {
      // Anyone on the machine may connect here: such a connection's reset
      // must not be an uncaught error, nor its port left to pair with.
      inner.on("error", () => inner.destroy());
      const port = inner.remotePort ?? -1;
      inner.once("close", () => {
        if (innerEnds.get(port) === inner) innerEnds.delete(port);
      });
      if (inner.remoteAddress !== "127.0.0.1") return inner.destroy();
      const outer = outerEnds.get(port);
      if (outer !== undefined) {
        outerEnds.delete(port);
        return outer(inner);
      }
      innerEnds.set(port, inner);
      setTimeout(() => {
        if (innerEnds.get(port) !== inner) return;
        innerEnds.delete(port);
        inner.destroy();
      }, CLOSE_MS);
    });
    listener.once("error", reject);
    listener.listen({ host: "127.0.0.1", port: 0 }, () => {
      listener.off("error", reject);
      // An accept that fails later (out of descriptors) is that
      // connection's loss only.
      listener.on("error", () => {});
      listener.unref();
      resolve((listener.address() as AddressInfo).port);
    });
  }).catch((error) => {
    pairs = null; // The next upgrade tries again.
    throw error;
  });
  return pairs.then((port) =>
    new Promise((resolve, reject) => {
      const outer = connect({ host: "127.0.0.1", port });
      outer.once("error", reject);
      outer.once("connect", () => {
        outer.off("error", reject);
        // Until it is paired and the caller's handlers are on.
        outer.on("error", () => outer.destroy());
        const local = outer.localPort ?? -1;
        const take = (inner: Socket) => {
          clearTimeout(timer);
          resolve([inner, outer]);
        };
        // Not paired in time (its accept failed), or closed first: the
        // upgrade fails rather than hold its connection for good.
        const fail = () => {
          clearTimeout(timer);
          if (outerEnds.get(local) === take) outerEnds.delete(local);
          outer.destroy();
          reject(new Error("the loopback pair did not come"));
        };
        const timer = setTimeout(fail, CLOSE_MS);
        outer.once("close", () => {
          if (outerEnds.get(local) === take) fail();
        });
        const inner = innerEnds.get(local);
        if (inner !== undefined) {
          innerEnds.delete(local);
          take(inner);
        } else outerEnds.set(local, take);
      });
    })
  );
}

/**
 * The client's own socket of an upgrade bridged to Deno's WebSocket (the
 * HTTPS port's), which the server can close whatever the WebSocket does;
 * null for one Deno's WebSocket owns (the plain port's).
 */
export function bridgedConnection(request: Request): Socket | null {
  const upgrade = upgrades.get(request);
  return upgrade === undefined || upgrade.connection === upgrade.socket
    ? null
    : upgrade.connection;
}

/** What the handler is given with a request. */
export interface RequestInfo {
  /** The peer's address. */
  remoteAddr: Deno.NetAddr;
  /**
   * The request's URL as sent, not resolved: the scheme, the Host and the
   * target as they came (or the target, in absolute form), as `Deno.serve`
   * made `request.url`. A `Request`'s own URL is resolved.
   */
  url: string;
  /** Whether the request came over TLS (the HTTPS port). */
  secure: boolean;
}

/** The handler this module serves. */
export type Handler = (request: Request, info: RequestInfo) => Response;

/** How long an HTTP connection may take, in ms. */
export interface HttpTimeouts {
  /** For its request's headers. Default {@linkcode HEADERS_TIMEOUT_MS}. */
  headersMs?: number;
  /** With nothing read or written. Default {@linkcode IDLE_TIMEOUT_MS}. */
  idleMs?: number;
}

/** Options for {@linkcode createHttpServer}. */
export interface HttpServerOptions extends HttpTimeouts {
  /** Whether the connections come over TLS (the URL's scheme). */
  secure: boolean;
  /** A handler that threw: logged by the caller. */
  onError(error: unknown): void;
}

/**
 * An HTTP server with no listener of its own: the caller accepts, counts
 * and hands each connection over with `server.emit("connection", socket)`.
 */
export function createHttpServer(
  handler: Handler,
  options: HttpServerOptions,
): Server {
  const headersMs = options.headersMs ?? HEADERS_TIMEOUT_MS;
  const server = createServer({
    connectionsCheckingInterval: Math.min(CHECK_INTERVAL_MS, headersMs / 4),
    headersTimeout: headersMs,
    requestTimeout: headersMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    maxHeaderSize: MAX_HEADER_BYTES,
    // The handler judges the Host (and a missing one) itself, as it did
    // behind Deno.serve; node's own 400 would lack our headers.
    requireHostHeader: false,
  });
  server.timeout = options.idleMs ?? IDLE_TIMEOUT_MS;
  // node's headersTimeout, as Deno has it, starts again at each chunk: a
  // head sent a byte at a time never ends it. This one is for the whole
  // head: from accept, and from the end of each answer on a kept-alive
  // connection, to the request.
  const deadlines = new WeakMap<Socket, ReturnType<typeof setTimeout>>();
  const arm = (socket: Socket) => {
    clearTimeout(deadlines.get(socket));
    deadlines.set(
      socket,
      setTimeout(() => {
        if (!socket.writable) return socket.destroy();
        writeRaw(socket, respond(408, "Request timeout\n"))
          .catch(() => socket.destroy());
      }, headersMs),
    );
  };
  const disarm = (socket: Socket) => clearTimeout(deadlines.get(socket));
  // Each connection's peer, as it was when it came: a socket that closes
  // has no remoteAddress any more, and a request read from it before the
  // close is seen must still be judged (limits, bans) by its address.
  const peers = new WeakMap<Socket, Deno.NetAddr>();
  server.on("connection", (socket: Socket) => {
    peers.set(socket, peerAddress(socket));
    arm(socket);
    socket.once("close", () => disarm(socket));
  });
  const answer = (
    req: IncomingMessage,
    request: Request | Response,
    socket: Socket,
  ): Response => {
    if (request instanceof Response) return request;
    try {
      return handler(request, {
        remoteAddr: peers.get(socket) ?? peerAddress(socket),
        url: rawUrl(req, options.secure),
        secure: options.secure,
      });
    } catch (error) {
      options.onError(error);
      return respond(500, "Internal server error\n");
    }
  };
  // Deno's node:http does not stop reading a connection whose answers
  // back up, as node's does (Deno.serve did too): measured, one connection
  // that pipelined GET /metrics and read nothing took 1.1 GB in 4 s.
  const waiting = new WeakMap<Socket, number>();
  // What is to happen once a connection's answers are all written: one
  // whose upgrade came pipelined behind requests is closed then.
  const afterAnswers = new WeakMap<Socket, () => void>();
  // `answered`: the answer already decided, without the handler.
  const serve = (
    req: IncomingMessage,
    res: ServerResponse,
    answered?: Response,
  ) => {
    const socket = req.socket;
    disarm(socket);
    const count = (waiting.get(socket) ?? 0) + 1;
    waiting.set(socket, count);
    if (count > MAX_PIPELINED) {
      socket.destroy();
      return;
    }
    res.once("finish", () => {
      const left = (waiting.get(socket) ?? 1) - 1;
      waiting.set(socket, left);
      if (socket.writableLength > MAX_UNSENT_BYTES) return socket.destroy();
      // The next request's head is timed once no answer is being written:
      // a 408 must not land in the middle of a pipelined request's answer.
      if (left > 0) return;
      const then = afterAnswers.get(socket);
      afterAnswers.delete(socket);
      if (then !== undefined) then();
      else arm(socket);
    });
    const request = answered ?? toRequest(req, options.secure);
    if (request instanceof Request) plain.add(request);
    const response = answer(req, request, req.socket);
    sendResponse(res, response).catch((error) => {
      options.onError(error);
      res.destroy();
    });
  };
  server.on("request", serve);
  // An Expect other than 100-continue: node answers 417 itself unless
  // someone listens, with none of the headers every answer carries (no
  // nosniff, no policy), and without the request counted or its
  // connection's next head timed.
  server.on(
    "checkExpectation",
    (req: IncomingMessage, res: ServerResponse) =>
      serve(req, res, respond(417, "Expectation failed\n")),
  );
  server.on("upgrade", (req: IncomingMessage, duplex: Duplex, head) => {
    const connection = duplex as Socket;
    disarm(connection);
    // Gone already (reset as it sent its request): no session for it.
    if (connection.destroyed) return;
    if ((waiting.get(connection) ?? 0) > 0) {
      // Pipelined behind a request still being answered (no browser does
      // that): Deno's 101 and that answer went out in either order, and
      // node:http closed the socket under Deno's WebSocket, whose session
      // never saw it go and held its address's place until the login
      // timeout. Not made: the connection closes once the answers before
      // it are written (node:http has given the socket up by then, so no
      // answer to the upgrade itself can follow).
      afterAnswers.set(connection, () => connection.destroy());
      return;
    }
    const request = toRequest(req, options.secure);
    const finish = (socket: Socket) => {
      if (request instanceof Request) {
        upgrades.set(request, {
          socket,
          head: new Uint8Array(head),
          connection,
        });
      }
      const response = answer(req, request, connection);
      if (response.status === 101 || written.has(response)) return;
      writeRaw(connection, response).catch(() => connection.destroy());
    };
    if (!(request instanceof Request)) return finish(connection);
    // The WebSocket's pings time it from here (and close it); an idle
    // timer left on the node socket would destroy it under them.
    connection.setTimeout(0);
    if (!options.secure) return finish(connection);
    // Deno upgrades only a plain TCP socket, not a TLSSocket: the
    // WebSocket runs over one end of a loopback pair, whose other end is
    // piped to and from the TLS socket.
    connection.pause();
    loopbackPair().then(([inner, outer]) => {
      if (connection.destroyed) {
        inner.destroy();
        outer.destroy();
        return;
      }
      const end = () => {
        inner.destroy();
        outer.destroy();
        connection.destroy();
      };
      for (const socket of [inner, outer, connection]) {
        socket.on("error", end);
        socket.once("close", end);
      }
      outer.pipe(connection);
      connection.pipe(outer);
      finish(inner);
    }, () => connection.destroy());
  });
  // CONNECT (which node hands over on its own, and else drops unanswered).
  server.on("connect", (_req: IncomingMessage, duplex: Duplex) => {
    const socket = duplex as Socket;
    disarm(socket);
    writeRaw(
      socket,
      respond(405, "Method not allowed\n", { Allow: "GET, HEAD" }),
    ).catch(() => socket.destroy());
  });
  server.on("clientError", (error: Error & { code?: string }, duplex) => {
    // A request the parser refuses (a head over MAX_HEADER_BYTES, bytes
    // that are no HTTP, a timeout): answered with our headers, then closed.
    const socket = duplex as Socket;
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const status = error.code === "HPE_HEADER_OVERFLOW"
      ? 431
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? 408
      : 400;
    const text = status === 431
      ? "Request header fields too large\n"
      : status === 408
      ? "Request timeout\n"
      : "Bad request\n";
    writeRaw(socket, respond(status, text)).catch(() => socket.destroy());
  });
  return server;
}

/**
 * A node request as a web `Request`, its URL made as `Deno.serve` made it
 * (the scheme, the Host and the target as sent, or the target when it is
 * in absolute form); or the answer at once, when there can be no `Request`:
 * 400 for a URL that does not parse, 405 for a method `Request` refuses
 * (CONNECT, TRACE, TRACK).
 */
function toRequest(
  req: IncomingMessage,
  secure: boolean,
): Request | Response {
  const url = rawUrl(req, secure);
  if (!URL.canParse(url)) return respond(400, "Bad request\n");
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      return respond(400, "Bad request\n");
    }
  }
  try {
    // No body: the handler serves GET and HEAD only.
    return new Request(url, { method: req.method, headers });
  } catch {
    return respond(405, "Method not allowed\n", { Allow: "GET, HEAD" });
  }
}

/** A request's URL as `Deno.serve` made it: see {@linkcode RequestInfo}. */
function rawUrl(req: IncomingMessage, secure: boolean): string {
  const target = req.url ?? "/";
  if (!target.startsWith("/")) return target;
  // No Host (HTTP/1.0: a load balancer's health check, say): the address
  // the request came to, as Deno.serve took it.
  const local = req.socket.localAddress ?? "";
  const host = req.headers.host ??
    `${local.includes(":") ? `[${local}]` : local}:${req.socket.localPort}`;
  return `${secure ? "https" : "http"}://${host}${target}`;
}

/** Writes `response` as the answer to a node request. */
async function sendResponse(
  res: ServerResponse,
  response: Response,
): Promise<void> {
  const body = response.body === null
    ? null
    : new Uint8Array(await response.arrayBuffer());
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (body !== null && !response.headers.has("content-length")) {
    res.setHeader("Content-Length", body.byteLength);
  }
  res.end(body ?? undefined);
}

/**
 * Writes `response` on a socket no `ServerResponse` owns (an upgrade
 * refused, a request the parser refused), and closes it.
 */
async function writeRaw(socket: Socket, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  const lines = [
    `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? ""}`,
  ];
  response.headers.forEach((value, name) => lines.push(`${name}: ${value}`));
  if (!response.headers.has("content-length")) {
    lines.push(`content-length: ${body.byteLength}`);
  }
  lines.push("connection: close", "", "");
  socket.end(concat(new TextEncoder().encode(lines.join("\r\n")), body));
  // A client that does not read its answer does not keep the socket.
  socket.setTimeout(CLOSE_MS, () => socket.destroy());
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.byteLength + b.byteLength);
  all.set(a);
  all.set(b, a.byteLength);
  return all;
}

/**
 * Refuses a well-formed upgrade on its own socket, which is closed within a
 * second (`refuseUpgrade`); null for a malformed one (answered 400 by the
 * caller).
 */
export function refuseWebSocket(
  request: Request,
  text: string,
): Response | null {
  if (!validKey(request) || plainRequest(request)) return null;
  return refuseUpgrade(request, text);
}

/** Whether the request's Sec-WebSocket-Key is one, and well-formed. */
function validKey(request: Request): boolean {
  const key = request.headers.get("sec-websocket-key") ?? "";
  return /^[A-Za-z0-9+/]{21}[AQgw]==$/.test(key);
}

/**
 * Upgrades a request to a WebSocket, or null when it is not a well-formed
 * upgrade (no Sec-WebSocket-Key, or one that is not 16 bytes in base64, or
 * two): a client's mistake, answered 400, not a bug.
 */
export function upgradeWebSocket(
  request: Request,
): { socket: WebSocket; response: Response } | null {
  if (!validKey(request)) return null;
  // A request that came without `Connection: upgrade` cannot be upgraded.
  if (plainRequest(request)) return null;
  const node = upgradeSocket(request);
  if (node === null) return null;
  // Deno's WebSocket reads the socket's descriptor itself: node must stop
  // reading it first, or a frame the client sends as soon as it has the 101
  // (before the server's hello) can be read by node, for nobody, and lost
  // (measured: about one such first line in two).
  node.socket.pause();
  // Taken before the upgrade, which leaves the socket without it.
  const handle = (node.socket as { _handle?: object | null })._handle ?? null;
  let upgraded;
  try {
    upgraded = Deno.upgradeWebSocket(request, {
      idleTimeout: 60,
      socket: node.socket,
      head: node.head,
    });
  } catch {
    node.socket.resume();
    return null;
  }
  if (handle !== null) {
    upgraded.socket.addEventListener("close", () => disown(handle), {
      once: true,
    });
  }
  return upgraded;
}

/**
 * Cuts an upgraded socket's TCP handle loose from the node socket it
 * belonged to. Deno (2.9.6) keeps the handle of a socket given to
 * `Deno.upgradeWebSocket` reachable for good, closed or not, and through it
 * (its owner, and its read callback) the node socket with everything that
 * hangs on it: each page that ever connected kept some kilobytes until a
 * restart. The handle itself still stays (a few hundred bytes, see the
 * report in docs/operations.md); the rest goes once the WebSocket closes.
 */
function disown(handle: object): void {
  const fields = handle as Record<string | symbol, unknown>;
  for (const key of Object.getOwnPropertySymbols(handle)) {
    if (key.description === "ownerSymbol") fields[key] = null;
  }
  if ("onread" in fields) fields.onread = null;
}
