import assert from "node:assert/strict";
import { ChatError } from "../src/errors.ts";
import {
  foldName,
  isSingleScript,
  skeleton,
  validateName,
} from "../src/names.ts";

function refusal(name: string): string {
  try {
    validateName(name);
  } catch (error) {
    assert.ok(error instanceof ChatError);
    return error.message;
  }
  assert.fail(`"${name}" was accepted`);
}

Deno.test("validateName() accepts letters and digits of any one script", () => {
  for (
    const name of [
      "alice",
      "Bob_2.0-x",
      "Étienne",
      "Москва",
      "Ωμέγα",
      "पूजा",
      "محمد٣",
      "李小龍",
      "日本ひらがなカタカナ",
      "한국漢字",
      "x".repeat(24),
    ]
  ) {
    assert.equal(validateName(name), name);
  }
});

Deno.test("validateName() returns the NFKC form", () => {
  assert.equal(validateName("ﬁsh"), "fish");
  assert.equal(validateName("ＡＢＣ"), "ABC");
  assert.equal(validateName("e\u0301"), "\u00e9");
});

Deno.test("validateName() refuses mixed scripts, the look-alike trick", () => {
  assert.match(refusal("Pаypal"), /mixes letters from different scripts/);
  assert.match(refusal("Ωmega"), /different scripts/);
  assert.match(
    refusal("ひらがな한국"),
    /different scripts/,
    "kana with Hangul",
  );
});

Deno.test("validateName() refuses empty, long and punctuated names", () => {
  assert.equal(refusal(""), "Please enter a name");
  assert.match(refusal("x".repeat(25)), /longer than 24 characters/);
  assert.match(refusal("two words"), /letters, digits/);
  assert.match(refusal("semi;colon"), /letters, digits/);
  assert.match(refusal("\u0301a"), /starts with a combining mark/);
});

Deno.test("validateName() refuses a user name that reads as an IP address, which ban would take for one", () => {
  assert.equal(
    refusal("192.0.2.7"),
    'Cannot use the name "192.0.2.7": it reads as an IP address',
  );
  // Also once NFKC-normalised, and with the zeros an address may have.
  assert.match(refusal("１２７.０.０.１"), /reads as an IP address/);
  assert.match(refusal("10.0.0.010"), /reads as an IP address/);
  // Names with digits and dots that no address is are still names, and so
  // is a room called like one (a room is never the target of a ban).
  assert.equal(validateName("1.2.3"), "1.2.3");
  assert.equal(validateName("v1.2.3.4"), "v1.2.3.4");
  assert.equal(validateName("1.2.3.256"), "1.2.3.256");
  assert.equal(validateName("10.0.0.1", { kind: "room name" }), "10.0.0.1");
});

Deno.test("foldName() compares names case-insensitively, Unicode included", () => {
  assert.equal(foldName("ALICE"), foldName("alice"));
  assert.equal(foldName("STRASSE"), foldName("straße"));
  assert.equal(foldName("ΣΊΣΥΦΟΣ"), foldName("σίσυφος"));
  assert.equal(foldName("ＡＢＣ"), foldName("abc"));
  assert.notEqual(foldName("alice"), foldName("alicia"));
});

Deno.test("isSingleScript() lets Common characters go with any script", () => {
  assert.ok(isSingleScript("abc_123.-"));
  assert.ok(isSingleScript("123"));
  assert.ok(!isSingleScript("abcабв"));
});

Deno.test("validateName() refuses invisible characters", () => {
  for (
    const invisible of [
      "\u200b",
      "\u200c",
      "\u200d",
      "\u200e",
      "\u200f",
      "\u2060",
      "\ufeff",
    ]
  ) {
    assert.match(refusal(`al${invisible}ice`), /invisible characters/);
  }
});

Deno.test("validateName() refuses invisible letters and marks, which look like nothing", () => {
  for (
    const name of [
      "bob\u034f", // combining grapheme joiner
      "bob\ufe0f", // variation selector 16
      "bo\ufe00b", // variation selector 1
      "bob\u{e0100}", // variation selector 17
      "\u3164", // Hangul filler, a whole name of blank
      "\uffa0", // halfwidth Hangul filler
      "\u115f\u1160", // Hangul choseong and jungseong fillers
      "\u1780\u17b4", // Khmer inherent vowel
      "\u1820\u180b", // Mongolian free variation selector
    ]
  ) {
    assert.match(refusal(name), /invisible characters/, JSON.stringify(name));
  }
  // A visible combining mark is still a letter's accent.
  assert.equal(validateName("b\u20ddob"), "b\u20ddob");
});

Deno.test("validateName() refuses piles of combining marks", () => {
  assert.match(refusal("x\u0301\u0302\u0303"), /more than two combining marks/);
  assert.equal(validateName("x\u0301\u0302"), "x\u0301\u0302");
});

Deno.test("skeleton() matches look-alikes across scripts, not different names", () => {
  assert.equal(skeleton("раураl"), skeleton("paypal")); // Cyrillic р а у
  assert.equal(skeleton("ΑΒΕ"), skeleton("ABE")); // Greek capitals
  assert.equal(skeleton("b0b"), skeleton("bob"));
  assert.equal(skeleton("Alice"), skeleton("alice"));
  assert.equal(skeleton("РАУРАL"), skeleton("paypal")); // Cyrillic capitals
  assert.notEqual(skeleton("alice"), skeleton("alicia"));
  assert.notEqual(skeleton("bob"), skeleton("rob"));
});
