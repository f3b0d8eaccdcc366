import assert from "node:assert/strict";
import {
  INTERRUPT,
  type LineEvent,
  LineParser,
  LineStream,
  LineTooLong,
} from "../src/line_stream.ts";

const IAC = 255;

/** Feeds `chunks` through a LineStream and collects what comes out. */
async function lines(
  chunks: (string | number[])[],
  options?: ConstructorParameters<typeof LineStream>[0],
): Promise<LineEvent[]> {
  const encoder = new TextEncoder();
  const source = ReadableStream.from(
    chunks.map((chunk) =>
      typeof chunk === "string" ? encoder.encode(chunk) : new Uint8Array(chunk)
    ),
  );
  return await Array.fromAsync(source.pipeThrough(new LineStream(options)));
}

Deno.test("LineStream ends lines at CRLF, LF, CR NUL and a lone CR", async () => {
  assert.deepEqual(await lines(["a\r\nb\nc\r\0d\re\r\n"]), [
    "a",
    "b",
    "c",
    "d",
    "e",
  ]);
});

Deno.test("LineStream keeps a CRLF split across chunks as one ending", async () => {
  assert.deepEqual(await lines(["one\r", "\ntwo\r", "\0three\r", "\n"]), [
    "one",
    "two",
    "three",
  ]);
});

Deno.test("LineStream reports empty lines between endings", async () => {
  assert.deepEqual(await lines(["\r\n\n\r\r\n"]), ["", "", "", ""]);
});

Deno.test("LineStream keeps a UTF-8 character split across chunks", async () => {
  const bytes = [...new TextEncoder().encode("héllo 😀\n")];
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(
      await lines([bytes.slice(0, cut), bytes.slice(cut)]),
      ["héllo 😀"],
      `cut at byte ${cut}`,
    );
  }
});

Deno.test("LineStream replaces invalid UTF-8 instead of passing it on", async () => {
  // A lone continuation byte, an overlong "/", a CESU-8 surrogate.
  const result = await lines([[0x80, 0x41, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 10]]);
  assert.equal(result.length, 1);
  const line = result[0] as string;
  assert.ok(line.includes("A"));
  assert.ok(!line.includes("/"), "an overlong encoding stays invalid");
  assert.ok(!/[\ud800-\udfff]/.test(line), "no lone surrogate comes out");
  assert.match(line, /^\ufffd+A\ufffd+$/);
});

Deno.test("LineStream strips telnet commands, even split across chunks", async () => {
  assert.deepEqual(
    await lines([
      [IAC, 253, 1], // IAC DO ECHO
      "ab",
      [IAC],
      [241], // IAC NOP, split
      "c",
      [IAC, 251],
      [3], // IAC WILL SGA, split before the option
      "d\r\n",
    ]),
    ["abcd"],
  );
});

Deno.test("LineStream keeps IAC EC and IAC EL as DEL and ^U, even split across chunks", async () => {
  assert.deepEqual(
    await lines(["ab", [IAC], [247], "c", [IAC, 248], "d\r\n"]),
    ["ab\x7fc\x15d"],
  );
});

Deno.test("LineStream turns IAC IAC into a literal 0xFF byte", async () => {
  // 0xFF alone is not UTF-8, so the line holds a replacement character.
  assert.deepEqual(await lines([[0x61, IAC], [IAC, 0x62, 10]]), ["a\ufffdb"]);
});

Deno.test("LineStream removes subnegotiations, IAC IAC and split IAC SE included", async () => {
  assert.deepEqual(
    await lines([
      "x",
      [IAC, 250, 24, 0, 0x78, IAC, IAC, 0x74, IAC],
      [240],
      "y\n",
    ]),
    ["xy"],
  );
});

Deno.test("LineStream gives up on an endless subnegotiation", async () => {
  const endless = new Array(10_000).fill(0x61);
  const result = await lines(
    [[IAC, 250, 24], endless, "\r\nsay hi\r\n"],
    { maxSubnegotiationBytes: 4096, maxLineBytes: 1024 },
  );
  // The 4 KiB after IAC SB are dropped; the rest is data again: an overlong
  // line, then the next line arrives intact.
  assert.deepEqual(result, [new LineTooLong(1024), "say hi"]);
});

Deno.test("LineStream caps lines and reports the overflow once, at once", async () => {
  const result = await lines(["12345", "678", "9\nok\n"], { maxLineBytes: 8 });
  assert.deepEqual(result, [new LineTooLong(8), "ok"]);
  assert.deepEqual(await lines(["12345678\n"], { maxLineBytes: 8 }), [
    "12345678",
  ]);
});

Deno.test("LineStream reports an endless line before it ends", async () => {
  const stream = new LineStream({ maxLineBytes: 16 });
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  writer.write(new Uint8Array(1000).fill(0x61));
  const first = await reader.read();
  assert.deepEqual(first.value, new LineTooLong(16));
  writer.write(new TextEncoder().encode("more\nnext\n"));
  assert.deepEqual((await reader.read()).value, "next");
});

Deno.test("LineStream drops an unterminated line at the end", async () => {
  assert.deepEqual(await lines(["done\npartial"]), ["done"]);
});

Deno.test("LineStream keeps open lines apart when streams interleave", async () => {
  const a = new LineStream();
  const b = new LineStream({ maxLineBytes: 4096 });
  const writeA = a.writable.getWriter();
  const writeB = b.writable.getWriter();
  const linesA = Array.fromAsync(a.readable);
  const linesB = Array.fromAsync(b.readable);
  const encode = (text: string) => new TextEncoder().encode(text);
  await writeA.write(encode("one\nhel"));
  await writeB.write(encode("two\nwor"));
  await writeA.write(encode("lo\n"));
  await writeB.write(encode("ld, and more\n"));
  await Promise.all([writeA.close(), writeB.close()]);
  assert.deepEqual(await linesA, ["one", "hello"]);
  assert.deepEqual(await linesB, ["two", "world, and more"]);
});

Deno.test("LineParser remembers the answer to IAC WILL ECHO, even split across chunks", () => {
  const parser = new LineParser();
  const seen: LineEvent[] = [];
  const sink = { enqueue: (event: LineEvent) => void seen.push(event) };
  assert.equal(parser.echoAnswer, null);
  parser.push(new Uint8Array([IAC, 253]), sink); // IAC DO ...
  assert.equal(parser.echoAnswer, null, "not before the option byte");
  parser.push(new Uint8Array([1, 104, 105, 13, 10]), sink); // ECHO, "hi"
  assert.equal(parser.echoAnswer, "do");
  parser.push(new Uint8Array([IAC, 253, 3]), sink); // DO SUPPRESS-GO-AHEAD
  assert.equal(parser.echoAnswer, "do", "another option does not count");
  parser.push(new Uint8Array([IAC, 254, 1]), sink); // DONT ECHO
  assert.equal(parser.echoAnswer, "dont");
  assert.equal(seen.length, 1, "the line between them came through");
});

Deno.test("LineParser tells of each negotiation as it reads it, even split across chunks", () => {
  const told: [number, number][] = [];
  const parser = new LineParser({
    onNegotiation: (verb, option) => void told.push([verb, option]),
  });
  const seen: LineEvent[] = [];
  const sink = { enqueue: (event: LineEvent) => void seen.push(event) };
  // What telnet sends for ^C: IAC IP IAC DO TIMING-MARK.
  parser.push(new Uint8Array([IAC, 244, IAC, 253]), sink);
  assert.deepEqual(told, [], "not before the option byte");
  parser.push(new Uint8Array([6, 104, 105, 13, 10]), sink); // TIMING-MARK, "hi"
  assert.deepEqual(told, [[253, 6]]);
  parser.push(new Uint8Array([IAC, 251, 0, IAC, 254, 1]), sink); // WILL, DONT
  parser.push(new Uint8Array([IAC, 250, 31, 0, 80, IAC, 240]), sink); // SB
  assert.deepEqual(
    told,
    [[253, 6], [251, 0], [254, 1]],
    "not a subnegotiation",
  );
  assert.deepEqual(seen, [INTERRUPT, "hi"], "^C, in its place");
});
