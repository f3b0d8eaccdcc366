import assert from "node:assert/strict";
import {
  contains,
  formatBlock,
  parseBlock,
  subscriberBlock,
} from "../src/addresses.ts";
import { looksLikeDuration, parseDuration } from "../src/moderation.ts";
import { parseSanction } from "../src/commands/moderation.ts";

Deno.test("parseBlock() reads IPv4 and IPv6 addresses and CIDR blocks, and refuses the rest", () => {
  assert.equal(formatBlock(parseBlock("192.0.2.7")!), "192.0.2.7");
  assert.equal(formatBlock(parseBlock("10.1.2.3/8")!), "10.0.0.0/8");
  assert.equal(
    formatBlock(parseBlock("2001:0db8:0:0:0:0:0:1")!),
    "2001:db8::1",
  );
  assert.equal(
    formatBlock(parseBlock("2001:db8:abcd::/48")!),
    "2001:db8:abcd::/48",
  );
  assert.equal(formatBlock(parseBlock("::1")!), "::1");
  assert.equal(formatBlock(parseBlock("::ffff:192.0.2.7")!), "192.0.2.7");
  assert.equal(formatBlock(parseBlock("0.0.0.0/0")!), "0.0.0.0/0");
  // A mapped block is the IPv4 block it holds, as a mapped address is.
  assert.equal(
    formatBlock(parseBlock("::ffff:127.0.0.0/104")!),
    "127.0.0.0/8",
  );
  assert.equal(formatBlock(parseBlock("::ffff:0:0/96")!), "0.0.0.0/0");
  assert.equal(formatBlock(parseBlock("::ffff:192.0.2.7/128")!), "192.0.2.7");
  for (
    const bad of [
      "alice",
      "256.0.0.1",
      "1.2.3",
      "1.2.3.4/33",
      "2001:db8::1::2",
      "2001:db8::/129",
      "12345::",
      "1.2.3.4/8/8",
      "",
    ]
  ) {
    assert.equal(parseBlock(bad), null, bad);
  }
});

Deno.test("contains() matches an address in a block of its family, or an IPv6 block holding its mapped form", () => {
  const block = parseBlock("192.0.2.0/24")!;
  assert.ok(contains(block, parseBlock("192.0.2.255")!));
  assert.ok(!contains(block, parseBlock("192.0.3.1")!));
  assert.ok(contains(parseBlock("192.0.2.7")!, parseBlock("192.0.2.7")!));
  const v6 = parseBlock("2001:db8::/32")!;
  assert.ok(contains(v6, parseBlock("2001:db8:ffff::9")!));
  assert.ok(!contains(v6, parseBlock("2001:db9::1")!));
  assert.ok(!contains(v6, parseBlock("192.0.2.7")!));
  assert.ok(contains(parseBlock("::/0")!, parseBlock("192.0.2.7")!));
  assert.ok(contains(parseBlock("::/80")!, parseBlock("192.0.2.7")!));
  assert.ok(!contains(parseBlock("::/81")!, parseBlock("192.0.2.7")!));
  assert.ok(
    contains(parseBlock("::ffff:192.0.2.0/120")!, parseBlock("192.0.2.7")!),
  );
  assert.ok(contains(parseBlock("0.0.0.0/0")!, parseBlock("203.0.113.9")!));
  assert.ok(contains(block, parseBlock("::ffff:192.0.2.9")!), "a mapped IPv4");
});

Deno.test("subscriberBlock() is an IPv4 address itself, an IPv6 address's /64", () => {
  assert.equal(formatBlock(subscriberBlock("192.0.2.7")!), "192.0.2.7");
  assert.equal(formatBlock(subscriberBlock("::ffff:192.0.2.7")!), "192.0.2.7");
  const v6 = subscriberBlock("2001:db8:1:2:aaaa::1")!;
  assert.equal(formatBlock(v6), "2001:db8:1:2::/64");
  assert.ok(contains(v6, parseBlock("2001:db8:1:2:ffff::9")!));
  assert.ok(!contains(v6, parseBlock("2001:db8:1:3::1")!));
  assert.equal(subscriberBlock("not an address"), null);
});

Deno.test("parseDuration() reads 30m, 2h, 7d and refuses what is not a duration", () => {
  assert.equal(parseDuration("30m"), 30 * 60_000);
  assert.equal(parseDuration("2h"), 2 * 3_600_000);
  assert.equal(parseDuration("7D"), 7 * 86_400_000);
  assert.equal(parseDuration("45s"), 45_000);
  assert.equal(parseDuration("2w"), 14 * 86_400_000);
  assert.equal(parseDuration("1yr"), 365 * 86_400_000);
  assert.equal(parseDuration("1h30m"), 90 * 60_000);
  for (
    const bad of ["0m", "m", "5", "5y", "1.5h", "spam", "-3h", "1constructor"]
  ) {
    assert.equal(parseDuration(bad), null, bad);
  }
});

Deno.test("looksLikeDuration() catches every mistyped duration, not a reason's first word", () => {
  for (
    const typed of [
      "1e3m",
      "1E3",
      "0m",
      "99999999d",
      "+5m",
      "-5m",
      "1.5h",
      "1,5h",
      "1:30",
      "90",
      "1h30",
      "1h30mn",
      "5min.",
      "6mo",
      "2months",
      "500ms",
    ]
  ) {
    assert.equal(looksLikeDuration(typed), true, typed);
  }
  for (
    const word of ["3rd", "1st", "2nd", "4th", "2fa", "4chan", "10x", "24/7"]
  ) {
    assert.equal(looksLikeDuration(word), false, word);
  }
});

Deno.test("parseSanction() adds up durations in a row and leaves the rest for the reason", () => {
  const hour = 3_600_000;
  assert.deepEqual(parseSanction("bob 1h 30m spam"), {
    typed: "bob",
    ms: 1.5 * hour,
    reason: "spam",
  });
  assert.deepEqual(parseSanction("bob  1h30m"), {
    typed: "bob",
    ms: 1.5 * hour,
    reason: "no reason given",
  });
  assert.deepEqual(parseSanction("bob 3rd strike"), {
    typed: "bob",
    ms: null,
    reason: "3rd strike",
  });
  assert.deepEqual(parseSanction("bob"), {
    typed: "bob",
    ms: null,
    reason: "no reason given",
  });
  for (const bad of ["bob 1e3m", "bob 1h 1e3m x", "bob 200d 200d", "bob 0m"]) {
    assert.throws(() => parseSanction(bad), /as a duration/, bad);
  }
});
