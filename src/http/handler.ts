/**
 * The HTTP side of the server (`node_http.ts`): the browser client's files,
 * `/ws` for its WebSocket, and what monitoring asks for: `/metrics`,
 * `/livez`, `/readyz`. Chat itself happens in sessions; this only routes.
 *
 * @module
 */

import { type Block, contains, formatBlock, parseBlock } from "../addresses.ts";
import type { RequestInfo } from "./node_http.ts";
import { createHash } from "node:crypto";

/**
 * Headers every response carries. Besides nosniff, no referrer and a policy
 * that lets nothing load or frame it: the page keeps a browsing context
 * group of its own (no other site's window that opened it, or that it
 * opened, can reach it through `window.opener`), and no other site may load
 * any answer (`/metrics`, the page's files) as an image or script into its
 * own process, where a side channel could read it. The page loads only its
 * own files, and a WebSocket is no such load, so neither stops it (nor an
 * `--allowed-origin` page, which serves its own files).
 */
const COMMON_HEADERS: Readonly<Record<string, string>> = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

/**
 * The page's policy: its own script, style and images, a WebSocket back to
 * where it came from, and nothing inline or framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Readonly<Record<string, string>> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  json: "application/json",
  ico: "image/x-icon",
  webmanifest: "application/manifest+json",
};

/** A file of the page, read once at start. */
interface StaticFile {
  readonly body: Uint8Array;
  readonly type: string;
  /** The body gzipped, for a text file it makes smaller; else null. */
  readonly gzipped: Uint8Array | null;
  /** A strong validator: the body's hash. */
  readonly etag: string;
  /** The gzipped copy's own (each encoding has its own strong tag). */
  readonly gzipEtag: string;
}

/**
 * `file` for the page's folder: gzipped once here (Deno.serve compressed
 * each answer; node:http does not, and app.js is 118 KB as it is), and
 * tagged, so that a reload of an unchanged file is a 304.
 */
function staticFile(
  body: Uint8Array,
  type: string,
  gzipSync: (body: Uint8Array, options: { level: number }) => Uint8Array,
): StaticFile {
  const text = type.startsWith("text/") || type.includes("json") ||
    type.includes("svg");
  const packed = text ? new Uint8Array(gzipSync(body, { level: 9 })) : null;
  const gzipped = packed !== null && packed.byteLength < body.byteLength
    ? packed
    : null;
  const hash = createHash("sha256").update(body).digest("base64url");
  const tag = hash.slice(0, 27);
  return { body, type, gzipped, etag: `"${tag}"`, gzipEtag: `"${tag}-gz"` };
}

/** Whether a request's Accept-Encoding takes gzip (and not at q=0). */
function takesGzip(request: Request): boolean {
  const accepted = request.headers.get("accept-encoding") ?? "";
  // Each coding's weight; gzip's own, if it is named, over the `*`'s.
  const weights = new Map<string, number>();
  for (const part of accepted.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((param) => param.trim()).find((param) =>
      param.startsWith("q=")
    );
    weights.set(coding.trim(), q === undefined ? 1 : Number(q.slice(2)));
  }
  const q = weights.get("gzip") ?? weights.get("*") ?? 0;
  return q > 0;
}

/**
 * Reads the page's files (`web/`, beside `src/`) into memory: a handful of
 * small files, served as they are, with no build step.
 */
export async function loadWeb(root: URL): Promise<Map<string, StaticFile>> {
  // Here, not at the top: only a server that serves HTTP loads zlib.
  const { gzipSync } = await import("node:zlib");
  const files = new Map<string, StaticFile>();
  try {
    for await (const entry of Deno.readDir(root)) {
      if (!entry.isFile) continue;
      const extension = entry.name.split(".").pop() ?? "";
      const type = TYPES[extension];
      if (type === undefined) continue;
      files.set(
        `/${entry.name}`,
        staticFile(
          await Deno.readFile(new URL(entry.name, root)),
          type,
          gzipSync,
        ),
      );
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const index = files.get("/index.html");
  if (index) files.set("/", index);
  return files;
}

/** What the handler needs from the chat server. */
export interface HandlerParts {
  /** The page's files, by path. */
  files: ReadonlyMap<string, StaticFile>;
  /** Upgrades `/ws` for a client at `remote` (its real address). */
  upgrade(request: Request, remote: Deno.NetAddr): Response;
  /** `/metrics`. */
  metrics(): string;
  /** `/readyz`: every listener up and the store open, and not stopping. */
  ready(): boolean;
  /** Addresses whose X-Forwarded-For is believed (reverse proxies). */
  trustedProxies: readonly Block[];
  /**
   * The Strict-Transport-Security max-age for answers over TLS, in seconds
   * (`--hsts-seconds`); 0 sends none. Default 0.
   */
  hstsSeconds?: number;
}

/**
 * One X-Forwarded-For entry as an address: `203.0.113.5`, `2001:db8::1`,
 * and with a port, `203.0.113.5:4711` or `[2001:db8::1]:80`; null for
 * anything else (`unknown`, an obfuscated name, a block).
 */
function forwardedAddress(hop: string): Block | null {
  const text = hop.trim();
  const host = text.match(/^\[([^\]]+)\](?::\d{1,5})?$/)?.[1] ??
    text.match(/^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/)?.[1] ?? text;
  if (host.includes("/")) return null;
  return parseBlock(host);
}

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy,
 * the nearest address in X-Forwarded-For that is not one, or, when every
 * one is a trusted proxy, the leftmost (as nginx's `real_ip_recursive`
 * does). Read from the right, an entry that is no address (`unknown`) ends
 * the reading: what is left of it was written by someone no trusted proxy
 * vouches for, and the last trusted hop is taken.
 */
export function clientAddress(
  request: Request,
  peer: Deno.NetAddr,
  trusted: readonly Block[],
): Deno.NetAddr {
  const isTrusted = (block: Block) =>
    trusted.some((proxy) => contains(proxy, block));
  const own = parseBlock(peer.hostname);
  if (trusted.length === 0 || own === null || !isTrusted(own)) return peer;
  const forwarded = request.headers.get("x-forwarded-for");
  if (forwarded === null) return peer;
  let client = own;
  for (const entry of forwarded.split(",").reverse()) {
    const hop = forwardedAddress(entry);
    if (hop === null) break;
    client = hop;
    if (!isTrusted(hop)) break;
  }
  if (client === own) return peer;
  return { ...peer, hostname: formatBlock(client), port: 0 };
}

/**
 * A response with the headers every response carries (nosniff, no
 * referrer, and a policy that lets nothing load or frame it), then
 * `headers`: the page's files bring their own policy.
 */
export function respond(
  status: number,
  body: BodyInit | null,
  headers: Record<string, string> = {},
): Response {
  return new Response(body, {
    status,
    headers: { ...COMMON_HEADERS, ...headers },
  });
}

/**
 * A Host header as RFC 3986 writes a host (a name, or an IPv6 literal in
 * brackets) and port, or empty. Deno's `request.url` is the scheme, the
 * Host and the request's target, joined as they came: a Host with a `/`,
 * `\`, `?` or `#` in it would move where the path starts (GET /livez with
 * `Host: x\metrics?` is /metrics to `new URL()`), past a proxy in front
 * that keeps /metrics to itself; nginx passes such a Host on.
 */
const HOST =
  /^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=%]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]*)?)?$/;

/**
 * The path of a request's URL as the client sent it, without its query:
 * not resolved as `new URL()` resolves it (`/x/..\metrics` is /metrics
 * there, a path under /x to nginx), so that the server answers for the
 * path a proxy in front saw and judged.
 */
export function requestPath(url: string): string {
  // The authority ends at the first "/", "?" or "#" (a target in absolute
  // form, `GET http://x?/metrics`, has its own); only a "/" starts a path.
  const authority = url.indexOf("://") + 3;
  const after = url.slice(authority).search(/[/?#]/);
  if (after === -1 || url[authority + after] !== "/") return "/";
  const path = url.slice(authority + after);
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

/**
 * The handler of the HTTP ports (`src/http/node_http.ts`): every answer over
 * TLS says Strict-Transport-Security when `hstsSeconds` asks for it (never
 * over plain HTTP, where RFC 6797 has browsers ignore it).
 */
export function createHandler(
  parts: HandlerParts,
): (request: Request, info: RequestInfo) => Response {
  const route = createRouter(parts);
  const seconds = parts.hstsSeconds ?? 0;
  if (seconds <= 0) return route;
  const hsts = `max-age=${seconds}`;
  return (request, info) => {
    const response = route(request, info);
    // Not a 101 (Deno's own, and read by no browser for it).
    if (info.secure && response.status !== 101) {
      response.headers.set("Strict-Transport-Security", hsts);
    }
    return response;
  };
}

/** Routes a request: see {@linkcode createHandler}. */
function createRouter(
  parts: HandlerParts,
): (request: Request, info: RequestInfo) => Response {
  return (request, info) => {
    const host = request.headers.get("host");
    // The URL as sent: `request.url` is resolved (`/x/..\metrics` is
    // /metrics there).
    const url = info.url;
    if ((host !== null && !HOST.test(host)) || !URL.canParse(url)) {
      // A Host that is no host (`a b`, `x\metrics?`), or makes no URL
      // (`x:99999`): the client's mistake, not a bug to log with its stack.
      return respond(400, "Bad request\n");
    }
    const path = requestPath(url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return respond(405, "Method not allowed\n", { Allow: "GET, HEAD" });
    }
    switch (path) {
      case "/ws":
        return parts.upgrade(
          request,
          clientAddress(request, info.remoteAddr, parts.trustedProxies),
        );
      case "/metrics":
        return respond(200, parts.metrics(), {
          "Content-Type": "text/plain; version=0.0.4; charset=utf-8",
          "Cache-Control": "no-store",
        });
      case "/livez":
        return respond(200, "ok\n", { "Cache-Control": "no-store" });
      case "/readyz":
        return parts.ready()
          ? respond(200, "ready\n", { "Cache-Control": "no-store" })
          : respond(503, "not ready\n", { "Cache-Control": "no-store" });
    }
    const file = parts.files.get(path);
    if (file === undefined) return respond(404, "Not found\n");
    const gzip = file.gzipped !== null && takesGzip(request);
    const body = gzip ? file.gzipped! : file.body;
    const etag = gzip ? file.gzipEtag : file.etag;
    const headers: Record<string, string> = {
      "Content-Type": file.type,
      "Content-Security-Policy": CONTENT_SECURITY_POLICY,
      "Cache-Control": "no-cache",
      "ETag": etag,
    };
    if (file.gzipped !== null) headers["Vary"] = "Accept-Encoding";
    const tags = request.headers.get("if-none-match");
    if (
      tags !== null &&
      tags.split(",").some((tag) => {
        const bare = tag.trim().replace(/^W\//, "");
        return bare === etag || bare === "*";
      })
    ) {
      return respond(304, null, headers);
    }
    if (gzip) headers["Content-Encoding"] = "gzip";
    if (request.method === "HEAD") {
      // No body, but the length a GET would have (else it would say 0).
      headers["Content-Length"] = String(body.byteLength);
      return respond(200, null, headers);
    }
    return respond(200, body.slice(), headers);
  };
}

/**
 * Whether a WebSocket's Origin may connect: the page's own origin (the
 * Origin's host is the Host the request came to) or one of `allowed`. A
 * request with no Origin is not from a browser (browsers always send it),
 * so cross-site request forgery does not apply, and it is let through.
 */
export function originAllowed(
  request: Request,
  allowed: readonly string[],
): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  try {
    return new URL(origin).host === request.headers.get("host");
  } catch {
    return false;
  }
}
