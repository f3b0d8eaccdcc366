/**
 * WebSocket clients for tests: a page's socket (Deno's WebSocket, reading
 * JSON frames), and a raw one that shakes hands and then never reads (a
 * browser tab that stopped).
 *
 * @module
 */

import { type ByteConn, NodeConn, TIMEOUT_MS, withTimeout } from "./helpers.ts";

/** A JSON frame from the server. */
// deno-lint-ignore no-explicit-any
export type Frame = Record<string, any>;

/** A page's WebSocket: every frame it gets, parsed, in order. */
export class WsClient implements AsyncDisposable {
  readonly socket: WebSocket;
  readonly frames: Frame[] = [];
  #read = 0;
  #wake: (() => void) | null = null;
  #closed = false;
  /** The close code, once closed. */
  code: number | null = null;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      this.frames.push(JSON.parse(event.data));
      this.#wake?.();
    };
    socket.onclose = (event) => {
      this.#closed = true;
      this.code = event.code;
      this.#wake?.();
    };
  }

  /** Opens `/ws` (with `query`, say `?resume=...`) on `port`. */
  static async open(port: number, query = ""): Promise<WsClient> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`);
    const client = new WsClient(socket);
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.addEventListener("open", resolve, { once: true });
        socket.addEventListener("error", reject, { once: true });
      }),
      TIMEOUT_MS,
      "the WebSocket to open",
    );
    return client;
  }

  /** Sends one command line. */
  send(line: string): void {
    this.socket.send(line);
  }

  /** The next frame not read yet. */
  async next(ms = TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + ms;
    while (this.#read >= this.frames.length) {
      if (this.#closed) throw new Error("The WebSocket closed");
      await withTimeout(
        new Promise<void>((resolve) => this.#wake = resolve),
        Math.max(1, deadline - Date.now()),
        "waiting for a frame",
      );
    }
    return this.frames[this.#read++];
  }

  /** Skips frames until one matches; returns it. */
  async waitFor(match: (frame: Frame) => boolean): Promise<Frame> {
    while (true) {
      const frame = await this.next();
      if (match(frame)) return frame;
    }
  }

  /** Waits for a reply (or error) frame holding `line`. */
  waitForLine(line: string): Promise<Frame> {
    return this.waitFor((frame) =>
      (frame.type === "reply" || frame.type === "error" ||
        frame.type === "notice") &&
      (frame.text === line || frame.lines?.includes(line))
    );
  }

  /** Resolves once the server has closed the socket; its close code. */
  async closed(): Promise<number | null> {
    while (!this.#closed) {
      await withTimeout(
        new Promise<void>((resolve) => this.#wake = resolve),
        TIMEOUT_MS,
        "the WebSocket to close",
      );
    }
    return this.code;
  }

  /** The largest frame id seen so far. */
  get lastId(): number {
    return Math.max(0, ...this.frames.map((frame) => frame.id ?? 0));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) {
      this.socket.close();
      await this.closed().catch(() => {});
    }
  }
}

/** One masked client text frame (RFC 6455). */
function textFrame(text: string): Uint8Array {
  return clientFrame(0x81, new TextEncoder().encode(text));
}

/**
 * One client frame made by hand (RFC 6455 5.2), for frames no WebSocket
 * sends: `first` is the first byte (FIN, the reserved bits, the opcode:
 * 0x81 a whole text frame, 0x01 a text frame more follow, 0x80 the last
 * continuation, 0x89 a ping, 0x88 a close), then the length (at most 65,535 bytes)
 * and, unless `masked` is false, a random mask.
 */
export function clientFrame(
  first: number,
  payload: Uint8Array,
  masked = true,
): Uint8Array {
  if (payload.length > 0xffff) {
    throw new RangeError(`a payload of ${payload.length} bytes needs 64 bits`);
  }
  const maskBit = masked ? 0x80 : 0;
  const head = payload.length < 126
    ? [first, maskBit | payload.length]
    : [first, maskBit | 126, payload.length >> 8, payload.length & 0xff];
  const mask = masked
    ? crypto.getRandomValues(new Uint8Array(4))
    : new Uint8Array(0);
  const frame = new Uint8Array(head.length + mask.length + payload.length);
  frame.set(head);
  frame.set(mask, head.length);
  for (let i = 0; i < payload.length; i++) {
    frame[head.length + mask.length + i] = masked
      ? payload[i] ^ mask[i % 4]
      : payload[i];
  }
  return frame;
}

/**
 * A WebSocket over a bare TCP socket: it shakes hands (with `headers`, an
 * Origin say), may send lines, and never reads past the handshake, like a
 * tab the browser has frozen.
 */
export class RawWebSocket implements Disposable {
  readonly conn: ByteConn;
  /** The status line of the server's answer: `HTTP/1.1 101 ...`. */
  readonly status: string;
  /** The answer's headers, by lower-case name. */
  readonly headers: Map<string, string>;

  private constructor(conn: ByteConn, head: string) {
    this.conn = conn;
    const [status, ...fields] = head.split("\r\n");
    this.status = status;
    this.headers = new Map(
      fields.filter((field) => field.includes(":")).map((field) => {
        const colon = field.indexOf(":");
        return [
          field.slice(0, colon).trim().toLowerCase(),
          field.slice(colon + 1).trim(),
        ];
      }),
    );
  }

  /**
   * Opens `/ws` (with `query`, say `?resume=...`) on `port` with `headers`,
   * from the local address `from` (127.0.0.2, say) when given.
   */
  static async open(
    port: number,
    headers: Record<string, string> = {},
    from?: string,
    query = "",
  ): Promise<RawWebSocket> {
    const conn: ByteConn = from === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await NodeConn.connect("127.0.0.1", port, from);
    return await RawWebSocket.over(conn, port, headers, query);
  }

  /**
   * Opens `/ws` over a connection made elsewhere (TLS to a proxy, say), its
   * Host `127.0.0.1:port`.
   */
  static async over(
    conn: ByteConn,
    port: number,
    headers: Record<string, string> = {},
    query = "",
  ): Promise<RawWebSocket> {
    await conn.write(upgradeRequest(port, headers, query));
    return new RawWebSocket(conn, await readHead(conn));
  }

  /** Reads frames until one parses to a match; returns it. */
  async waitFor(match: (frame: Frame) => boolean): Promise<Frame> {
    while (true) {
      const frame = JSON.parse(await this.readText());
      if (match(frame)) return frame;
    }
  }

  /** Reads one (unmasked, short) text frame from the server. */
  async readText(): Promise<string> {
    return new TextDecoder().decode((await this.readFrame()).payload);
  }

  /**
   * Reads one unmasked frame from the server, whatever its kind: its
   * opcode (1 text, 8 close ...) and payload.
   */
  async readFrame(): Promise<{ opcode: number; payload: Uint8Array }> {
    const exactly = async (count: number) => {
      const bytes = new Uint8Array(count);
      let got = 0;
      while (got < count) {
        const n = await withTimeout(
          this.conn.read(bytes.subarray(got)),
          TIMEOUT_MS,
          "a frame",
        );
        if (n === null) throw new Error("The server closed the connection");
        got += n;
      }
      return bytes;
    };
    const [first, second] = await exactly(2);
    let length = second & 0x7f;
    if (length === 126) {
      const ext = await exactly(2);
      length = (ext[0] << 8) | ext[1];
    } else if (length === 127) {
      const ext = await exactly(8);
      length = Number(new DataView(ext.buffer).getBigUint64(0));
    }
    return { opcode: first & 0x0f, payload: await exactly(length) };
  }

  /** Sends one command line as a text frame. */
  send(line: string): Promise<void> {
    return this.write(textFrame(line));
  }

  /** Writes `bytes` as they are: frames made with {@linkcode clientFrame}. */
  async write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      written += await this.conn.write(bytes.subarray(written));
    }
  }

  /**
   * Reads frames until the server ends the connection: the code of its
   * close frame ("none" for one with no code), or "dropped" when the
   * connection closed with no close frame (RFC 6455 7.1.7 lets a server
   * that must fail a connection just close it).
   */
  async ending(): Promise<number | "none" | "dropped"> {
    while (true) {
      let frame;
      try {
        frame = await this.readFrame();
      } catch (error) {
        if (String(error).includes("closed the connection")) return "dropped";
        if (error instanceof Deno.errors.ConnectionReset) return "dropped";
        throw error;
      }
      if (frame.opcode !== 0x8) continue;
      const { payload } = frame;
      return payload.length < 2 ? "none" : (payload[0] << 8) | payload[1];
    }
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** A WebSocket upgrade request for `/ws` on `port`, with `headers`. */
export function upgradeRequest(
  port: number,
  headers: Record<string, string> = {},
  query = "",
): Uint8Array {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`)
    .join("");
  return new TextEncoder().encode(
    `GET /ws${query} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
}

/**
 * The head of the answer on `conn`, read a byte at a time, so that nothing
 * after it is taken from the socket.
 */
export async function readHead(
  conn: { read(buffer: Uint8Array): Promise<number | null> },
): Promise<string> {
  const byte = new Uint8Array(1);
  let head = "";
  while (!head.endsWith("\r\n\r\n")) {
    const n = await withTimeout(conn.read(byte), TIMEOUT_MS, "the handshake");
    if (n === null) break;
    head += String.fromCharCode(byte[0]);
  }
  return head;
}
