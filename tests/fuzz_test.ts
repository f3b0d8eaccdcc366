import assert from "node:assert/strict";
import { dispatch } from "../src/commands/mod.ts";
import { ChatError } from "../src/errors.ts";
import { LineStream } from "../src/line_stream.ts";
import type { Registry } from "../src/registry.ts";
import { sanitize } from "../src/text.ts";
import { fakeServer, FakeSession } from "./fake_session.ts";

/** A small, seedable PRNG (mulberry32): the same seed, the same stream. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAX_LINE_BYTES = 64;
const encoder = new TextEncoder();
const bytes = (text: string) => [...encoder.encode(text)];

/** Pieces a hostile or broken client might send, in any order. */
const PIECES: ((next: () => number) => number[])[] = [
  () => bytes("say "),
  () => bytes("login "),
  () => bytes("/me "),
  () => bytes("look"),
  () => bytes("who"),
  () => bytes("help"),
  () => bytes("hello world "),
  () => [13],
  () => [10],
  () => [13, 10],
  () => [13, 0],
  () => [0],
  () => [255, 255], // IAC IAC
  (next) => [255, Math.floor(next() * 256)], // IAC and anything
  (next) => [255, 250, ...Array.from({ length: next() * 40 }, () => 65)],
  () => [255, 240], // IAC SE
  (next) => [128 + Math.floor(next() * 128)], // a stray high byte
  () => [0xc0, 0xaf], // an overlong "/"
  () => [0xed, 0xa0, 0x80], // a surrogate as UTF-8
  () => bytes("\x1b[2J\x1b]0;title\x07"),
  () => bytes("\u0085\u202e\u2066\u009b"),
  (next) =>
    bytes(
      String.fromCodePoint(Math.floor(next() * 0x110000) & 0x10ffff).replace(
        /[\ud800-\udfff]/,
        "?",
      ),
    ),
  (next) => Array.from({ length: next() * 100 }, () => 97),
];

// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

async function fuzzOne(
  seed: number,
  server: Awaited<ReturnType<typeof fakeServer>>,
  seen: string[],
) {
  const registry: Registry = server.registry;
  const next = random(seed);
  const stream = [...bytes("login fuzzer\r\n")];
  const pieces = Math.floor(next() * 60);
  for (let i = 0; i < pieces; i++) {
    stream.push(...PIECES[Math.floor(next() * PIECES.length)](next));
  }
  stream.push(13, 10);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length;) {
    const size = 1 + Math.floor(next() * 20);
    chunks.push(new Uint8Array(stream.slice(at, at + size)));
    at += size;
  }
  const session = new FakeSession();
  const ctx = server.context(session);
  const events = await Array.fromAsync(
    ReadableStream.from(chunks).pipeThrough(
      new LineStream({
        maxLineBytes: MAX_LINE_BYTES,
        maxSubnegotiationBytes: 32,
      }),
    ),
  );
  for (const event of events) {
    if (typeof event !== "string") continue;
    assert.ok(event.length <= MAX_LINE_BYTES, `a line of ${event.length}`);
    try {
      await dispatch(ctx, sanitize(event));
    } catch (error) {
      if (!(error instanceof ChatError)) throw error;
    }
  }
  if (session.user) registry.logout(session.user);
  for (const line of seen) {
    assert.ok(
      !UNSAFE.test(line),
      `a control character reached another user: ${JSON.stringify(line)}`,
    );
  }
  seen.length = 0;
}

Deno.test("fuzz: 10,000 random byte streams through the line stream and the dispatcher", async () => {
  const base = Number(Deno.env.get("FUZZ_SEED") ?? 20261127);
  await using server = await fakeServer();
  const { registry } = server;
  // Someone else in the room: everything the fuzzer's lines make the server
  // send to another user arrives here.
  const observer = new FakeSession();
  const seen = observer.received;
  await dispatch(server.context(observer), "login observer");
  for (let i = 0; i < 10_000; i++) {
    const seed = base + i;
    try {
      await fuzzOne(seed, server, seen);
    } catch (error) {
      throw new Error(
        `Fuzz failure with seed ${seed} (rerun: FUZZ_SEED=${seed}): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
  assert.deepEqual([...registry.users.keys()], ["observer"]);
});
