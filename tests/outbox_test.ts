import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { Outbox } from "../src/outbox.ts";
import { encodeLine, LineArena } from "../src/text.ts";
import { FakeClock } from "./fake_clock.ts";

/** A writer whose writes finish only when the test says so. */
class ManualWriter {
  writes: string[] = [];
  #pending: (() => void)[] = [];
  #fail: Error | null = null;
  /** Bytes each write accepts at most (a short write). */
  limit = Infinity;

  write(bytes: Uint8Array): Promise<number> {
    const count = Math.min(bytes.length, this.limit);
    this.writes.push(new TextDecoder().decode(bytes.subarray(0, count)));
    if (this.#fail) return Promise.reject(this.#fail);
    return new Promise((resolve) => this.#pending.push(() => resolve(count)));
  }

  get inFlight(): number {
    return this.#pending.length;
  }

  /** Completes the oldest write. */
  finish(): void {
    this.#pending.shift()?.();
  }

  failNext(error: Error): void {
    this.#fail = error;
  }
}

/**
 * After the outbox's flush: it is scheduled with setImmediate when bytes are
 * queued, and immediates run in the order they were set. (A setTimeout of 0
 * usually came after it too, but not always on a loaded machine.)
 */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

Deno.test("Outbox joins what is queued in one turn into one write", async () => {
  const writer = new ManualWriter();
  const outbox = new Outbox(writer);
  outbox.deliver(encodeLine("a"));
  outbox.deliver(encodeLine("b"));
  outbox.deliver(encodeLine("c"));
  assert.equal(writer.writes.length, 0, "nothing is written synchronously");
  await nextTurn();
  assert.deepEqual(writer.writes, ["a\r\nb\r\nc\r\n"]);
});

Deno.test("Outbox keeps one write in flight and joins what waits", async () => {
  const writer = new ManualWriter();
  const outbox = new Outbox(writer);
  outbox.deliver(encodeLine("1"));
  await nextTurn();
  outbox.deliver(encodeLine("2"));
  await nextTurn();
  outbox.deliver(encodeLine("3"));
  await nextTurn();
  assert.equal(writer.inFlight, 1);
  assert.equal(outbox.queuedBytes, 9);
  writer.finish();
  await nextTurn();
  assert.deepEqual(writer.writes, ["1\r\n", "2\r\n3\r\n"]);
  writer.finish();
  await outbox.drained(1000);
  assert.equal(outbox.queuedBytes, 0);
});

Deno.test("Outbox finishes a short write before the next", async () => {
  const writer = new ManualWriter();
  writer.limit = 2;
  const outbox = new Outbox(writer);
  outbox.deliver(encodeLine("abc"));
  for (let i = 0; i < 3; i++) {
    await nextTurn();
    writer.finish();
  }
  await outbox.drained(1000);
  assert.deepEqual(writer.writes, ["ab", "c\r", "\n"]);
});

Deno.test("Outbox drops a reader that lets too much wait", async () => {
  const writer = new ManualWriter();
  let overflows = 0;
  const outbox = new Outbox(writer, {
    maxBytes: 10,
    onOverflow: () => overflows++,
  });
  outbox.deliver(encodeLine("1234")); // 6 bytes, in flight
  await nextTurn();
  outbox.deliver(encodeLine("56")); // 10 bytes: at the bound, still fine
  assert.equal(overflows, 0);
  outbox.deliver(encodeLine("7")); // 13 bytes: over
  assert.equal(overflows, 1);
  assert.equal(outbox.alive, false);
  assert.equal(outbox.queuedBytes, 0);
  outbox.deliver(encodeLine("8"));
  assert.equal(overflows, 1, "reported once");
});

Deno.test("Outbox reports a failed write once and refuses more", async () => {
  const writer = new ManualWriter();
  writer.failNext(new Deno.errors.BrokenPipe("gone"));
  const errors: unknown[] = [];
  const outbox = new Outbox(writer, { onError: (e) => errors.push(e) });
  outbox.deliver(encodeLine("x"));
  await outbox.drained(1000);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof Deno.errors.BrokenPipe);
  assert.equal(outbox.alive, false);
});

Deno.test("Outbox.drained() gives up after its timeout", async () => {
  const writer = new ManualWriter();
  const outbox = new Outbox(writer);
  outbox.deliver(encodeLine("never finishes"));
  await outbox.drained(10);
  assert.equal(writer.inFlight, 1);
  assert.equal(outbox.queuedBytes, 16);
});

/** An outbox with a 10-byte soft bound and 10 s of grace, on a fake clock. */
function softBounded() {
  const clock = new FakeClock();
  const writer = new ManualWriter();
  const bounds: string[] = [];
  const outbox = new Outbox(writer, {
    softBytes: 10,
    softMs: 10_000,
    clock,
    onOverflow: (bound) => bounds.push(bound),
  });
  return { clock, writer, bounds, outbox };
}

Deno.test("Outbox drops a reader that stays over the soft bound too long", async () => {
  const { clock, bounds, outbox } = softBounded();
  outbox.deliver(encodeLine("0123456789")); // 12 bytes: over the soft bound
  await nextTurn();
  clock.advance(9_999);
  assert.equal(outbox.alive, true, "within the grace period");
  clock.advance(1);
  assert.deepEqual(bounds, ["soft"]);
  assert.equal(outbox.alive, false);
});

Deno.test("Outbox forgives a reader that catches up within the grace period", async () => {
  const { clock, writer, bounds, outbox } = softBounded();
  outbox.deliver(encodeLine("0123456789"));
  await nextTurn();
  clock.advance(5_000);
  writer.finish();
  await outbox.drained(1000);
  clock.advance(60_000);
  assert.deepEqual(bounds, []);
  assert.equal(outbox.alive, true);
});

Deno.test("Outbox writes adjacent arena lines as one view, without a copy", async () => {
  const written: Uint8Array[] = [];
  const outbox = new Outbox({
    write: (bytes) => {
      written.push(bytes);
      return Promise.resolve(bytes.length);
    },
  });
  const arena = new LineArena();
  const lines = ["one", "two", "three"].map((line) => arena.encode(line));
  for (const line of lines) outbox.deliver(line);
  await outbox.drained(1000);
  assert.equal(written.length, 1);
  assert.equal(written[0].buffer, lines[0].buffer, "a view of the arena");
  assert.equal(new TextDecoder().decode(written[0]), "one\r\ntwo\r\nthree\r\n");
});

Deno.test("Outbox joins small chunks but sends a large one as it is", async () => {
  const written: string[] = [];
  const outbox = new Outbox({
    write: (bytes) => {
      written.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.length);
    },
  });
  outbox.deliver(encodeLine("a"));
  outbox.deliver(new TextEncoder().encode("b\r\n"));
  outbox.deliver(new TextEncoder().encode("x".repeat(5000)));
  await outbox.drained(1000);
  assert.deepEqual(written, ["a\r\nb\r\n", "x".repeat(5000)]);
});

/** A writer that takes bytes at once (a socket with room), `limit` at most. */
class ImmediateWriter {
  writes: string[] = [];
  limit = Infinity;
  /** Set: the next write throws (a socket that went away under it). */
  throwNext: Error | null = null;

  write(bytes: Uint8Array): number {
    if (this.throwNext) throw this.throwNext;
    const count = Math.min(bytes.length, this.limit);
    this.writes.push(new TextDecoder().decode(bytes.subarray(0, count)));
    return count;
  }
}

Deno.test("Outbox takes a write that finishes at once, short ones included", async () => {
  const writer = new ImmediateWriter();
  writer.limit = 4;
  const outbox = new Outbox(writer);
  outbox.deliver(encodeLine("hello"));
  await nextTurn();
  assert.deepEqual(writer.writes, ["hell", "o\r\n"]);
  assert.equal(outbox.queuedBytes, 0);
  await outbox.drained(1000);
  outbox.deliver(encodeLine("again"));
  await nextTurn();
  assert.deepEqual(writer.writes.slice(2), ["agai", "n\r\n"]);
});

Deno.test("Outbox works through a long backlog of immediate writes without recursing", async () => {
  const writer = new ImmediateWriter();
  writer.limit = 1;
  const outbox = new Outbox(writer, { maxBytes: 1 << 20 });
  // Separate chunks (not one arena run, so they queue and are joined), each
  // byte taken by a write of its own: 300,000 writes in one flush.
  const encoder = new TextEncoder();
  for (let i = 0; i < 100_000; i++) outbox.deliver(encoder.encode("x\r\n"));
  await nextTurn();
  assert.equal(writer.writes.length, 300_000);
  assert.equal(writer.writes.join(""), "x\r\n".repeat(100_000));
  assert.equal(outbox.queuedBytes, 0);
});

Deno.test("Outbox reports a writer that throws as a failed write", async () => {
  const writer = new ImmediateWriter();
  const errors: unknown[] = [];
  const outbox = new Outbox(writer, { onError: (error) => errors.push(error) });
  writer.throwNext = new Error("gone");
  outbox.deliver(encodeLine("lost"));
  await nextTurn();
  assert.equal(errors.length, 1);
  assert.equal(outbox.alive, false);
});
