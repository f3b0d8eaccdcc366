import assert from "node:assert/strict";
import { encodeLine, LineArena, sanitize } from "../src/text.ts";

Deno.test("sanitize() removes C0, DEL, C1 and bidirectional controls", () => {
  const controls = [
    ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))
      .filter((c) => c !== "\t"),
    "\x7f",
    ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)),
    ..."\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
  ];
  for (const control of controls) {
    // Backspace, DEL, ^U and ^W edit the line instead (below).
    const expected = "\b\x7f\x15\x17".includes(control) ? "b" : "ab";
    assert.equal(
      sanitize(`a${control}b`),
      expected,
      `U+${control.codePointAt(0)}`,
    );
  }
});

Deno.test("sanitize() applies a typist's Backspace, ^U and ^W, a whole character at a time", () => {
  assert.equal(sanitize("say helo\x7flo"), "say hello");
  assert.equal(sanitize("say helo\blo"), "say hello");
  assert.equal(sanitize("say h\u00e9\x7fe"), "say he");
  assert.equal(sanitize("say \u{1f600}\x7fok"), "say ok", "not half a pair");
  assert.equal(sanitize("\x7f\x7fsay x"), "say x", "nothing to erase");
  assert.equal(sanitize("say abcd\x15say x"), "say x");
  assert.equal(sanitize("say one two  \x17three"), "say one three");
  assert.equal(sanitize("say \x1b\x7fok\x1b[D"), "say ok[D");
});

Deno.test("sanitize() keeps text, turns a tab into a space", () => {
  assert.equal(sanitize("héllo 😀 мир\tok"), "héllo 😀 мир ok");
  assert.equal(sanitize("\x1b[2J\x1b]0;title\x07x"), "[2J]0;titlex");
});

Deno.test("encodeLine() ends a line with CRLF, in UTF-8", () => {
  assert.deepEqual(encodeLine("é"), new Uint8Array([0xc3, 0xa9, 13, 10]));
});

Deno.test("LineArena encodes lines side by side, ASCII or not", () => {
  const arena = new LineArena(64);
  const a = arena.encode("hi");
  const b = arena.encode("héllo 😀");
  assert.deepEqual(new TextDecoder().decode(a), "hi\r\n");
  assert.deepEqual(new TextDecoder().decode(b), "héllo 😀\r\n");
  assert.equal(a.buffer, b.buffer);
  assert.equal(a.byteOffset + a.length, b.byteOffset, "adjacent");
});

Deno.test("LineArena starts a new buffer when full, and never rewrites bytes", () => {
  const arena = new LineArena(16);
  const first = arena.encode("abc");
  const lines = Array.from({ length: 20 }, (_, i) => arena.encode(`l${i}`));
  assert.equal(new TextDecoder().decode(first), "abc\r\n");
  lines.forEach((line, i) =>
    assert.equal(new TextDecoder().decode(line), `l${i}\r\n`)
  );
  const big = arena.encode("x".repeat(100));
  assert.equal(
    big.length,
    102,
    "a line bigger than the arena gets its own buffer",
  );
});
