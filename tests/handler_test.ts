import assert from "node:assert/strict";
import { parseBlock } from "../src/addresses.ts";
import { clientAddress, requestPath } from "../src/http/handler.ts";

const PROXY: Deno.NetAddr = {
  transport: "tcp",
  hostname: "10.0.0.2",
  port: 5555,
};
const TRUSTED = [parseBlock("10.0.0.0/8")!, parseBlock("2001:db8:f::/48")!];

function client(forwarded: string | null, peer = PROXY): string {
  const headers: Record<string, string> = forwarded === null
    ? {}
    : { "x-forwarded-for": forwarded };
  const request = new Request("http://chat.example/ws", { headers });
  return clientAddress(request, peer, TRUSTED).hostname;
}

Deno.test("clientAddress() takes the nearest address a trusted proxy did not add", () => {
  assert.equal(client("203.0.113.5"), "203.0.113.5");
  assert.equal(client("198.51.100.1, 203.0.113.5"), "203.0.113.5");
  assert.equal(client("203.0.113.5, 10.0.0.7"), "203.0.113.5");
  assert.equal(client("2001:db8::1, 10.0.0.9"), "2001:db8::1");
});

Deno.test("clientAddress() reads addresses with a port, IPv4 and bracketed IPv6", () => {
  assert.equal(client("203.0.113.5:4711"), "203.0.113.5");
  assert.equal(client("[2001:db8::1]:80"), "2001:db8::1");
  assert.equal(client("[2001:db8::1]"), "2001:db8::1");
  assert.equal(client("203.0.113.5:4711, [2001:db8:f::3]:443"), "203.0.113.5");
});

Deno.test("clientAddress() stops at an entry that is no address, and goes by the last trusted hop", () => {
  // The trusted proxy wrote "unknown": what is left of it nobody vouches for.
  assert.equal(client("203.0.113.5, unknown"), PROXY.hostname);
  assert.equal(client("203.0.113.5, unknown, 10.0.0.7"), "10.0.0.7");
  assert.equal(client("evil, 203.0.113.5"), "203.0.113.5");
  assert.equal(
    client("203.0.113.0/24"),
    PROXY.hostname,
    "a block is no client",
  );
  assert.equal(client("unknown"), PROXY.hostname, "nothing to go by");
  assert.equal(client(""), PROXY.hostname);
});

Deno.test("clientAddress() takes the leftmost when every hop is a trusted proxy", () => {
  assert.equal(client("10.1.1.1"), "10.1.1.1");
  assert.equal(client("10.1.1.1, 10.2.2.2"), "10.1.1.1");
});

Deno.test("clientAddress() believes X-Forwarded-For only from a trusted proxy", () => {
  const stranger = { ...PROXY, hostname: "192.0.2.1" };
  assert.equal(client("203.0.113.5", stranger), "192.0.2.1");
  assert.equal(client(null), PROXY.hostname);
});

Deno.test("requestPath() is the path as sent, without its query, not resolved", () => {
  assert.equal(requestPath("http://chat.example/ws?resume=a/b"), "/ws");
  assert.equal(
    requestPath("http://chat.example/x/..\\metrics"),
    "/x/..\\metrics",
  );
  assert.equal(requestPath("http://chat.example/a/./b/../c"), "/a/./b/../c");
  assert.equal(requestPath("https://[::1]:8443/app.js#top"), "/app.js");
  // A target in absolute form: what follows "?" or "#" in it is no path.
  assert.equal(requestPath("http://x?/metrics"), "/");
  assert.equal(requestPath("http://x#/metrics"), "/");
  assert.equal(requestPath("http://chat.example"), "/");
  assert.equal(requestPath("http://chat.example//index.html"), "//index.html");
});
