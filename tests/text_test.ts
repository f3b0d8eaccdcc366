import assert from "node:assert/strict";
import { encodeLine, sanitize } from "../src/text.ts";

Deno.test("sanitize() removes C0, DEL, C1 and bidirectional controls", () => {
  const controls = [
    ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i))
      .filter((c) => c !== "\t"),
    "\x7f",
    ...Array.from({ length: 32 }, (_, i) => String.fromCharCode(0x80 + i)),
    ..."\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
  ];
  for (const control of controls) {
    assert.equal(sanitize(`a${control}b`), "ab", `U+${control.codePointAt(0)}`);
  }
});

Deno.test("sanitize() keeps text, turns a tab into a space", () => {
  assert.equal(sanitize("héllo 😀 мир\tok"), "héllo 😀 мир ok");
  assert.equal(sanitize("\x1b[2J\x1b]0;title\x07x"), "[2J]0;titlex");
});

Deno.test("encodeLine() ends a line with CRLF, in UTF-8", () => {
  assert.deepEqual(encodeLine("é"), new Uint8Array([0xc3, 0xa9, 13, 10]));
});
