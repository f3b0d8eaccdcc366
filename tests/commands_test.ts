import assert from "node:assert/strict";
import type { Context, SessionControl } from "../src/commands/command.ts";
import { COMMANDS, dispatch, splitCommand } from "../src/commands/mod.ts";
import { DEFAULTS } from "../src/config.ts";
import { ChatError } from "../src/errors.ts";
import { Registry } from "../src/registry.ts";
import type { User } from "../src/room.ts";

/** A session without a socket: what it is sent is kept as text. */
class FakeSession implements SessionControl {
  user: User | null = null;
  received: string[] = [];
  ended = false;
  readonly recipient = {
    deliver: (bytes: Uint8Array) => {
      this.received.push(
        ...new TextDecoder().decode(bytes).split("\r\n").slice(0, -1),
      );
    },
  };
  reply(...lines: string[]): void {
    this.received.push(...lines);
  }
  end(): void {
    this.ended = true;
  }
}

function setup(): { registry: Registry; ctx: (s: FakeSession) => Context } {
  const registry = new Registry();
  return {
    registry,
    ctx: (session) => ({
      session,
      registry,
      config: DEFAULTS,
      commands: COMMANDS,
    }),
  };
}

/** Dispatches and returns the sender's replies, ChatErrors included. */
function run(ctx: Context, line: string): string[] {
  const session = ctx.session as FakeSession;
  session.received = [];
  try {
    dispatch(ctx, line);
  } catch (error) {
    if (!(error instanceof ChatError)) throw error;
    session.received.push(...error.lines);
  }
  return session.received;
}

Deno.test("splitCommand() splits at the first whitespace and trims", () => {
  assert.deepEqual(splitCommand("  say   hello  world "), [
    "say",
    "hello  world",
  ]);
  assert.deepEqual(splitCommand("look"), ["look", ""]);
  assert.deepEqual(splitCommand("say\thi"), ["say", "hi"]);
  assert.deepEqual(splitCommand("   "), ["", ""]);
});

Deno.test("dispatch() asks a guest to log in for anything but login and logout", () => {
  const { ctx } = setup();
  const guest = ctx(new FakeSession());
  for (const line of ["say hi", "look", "who", "help", "dance", "/WHO"]) {
    assert.deepEqual(run(guest, line), ["Please log in", 'Use "login"'], line);
  }
  assert.deepEqual(run(guest, "   "), []);
  run(guest, "LOGOUT");
  assert.ok((guest.session as FakeSession).ended);
});

Deno.test("dispatch() finds commands through a Map, not object keys", () => {
  const { ctx } = setup();
  const session = new FakeSession();
  const c = ctx(session);
  run(c, "login alice");
  for (
    const word of ["constructor", "__proto__", "toString", "hasOwnProperty"]
  ) {
    assert.deepEqual(run(c, word), [`Unknown command: ${word}`]);
  }
});

Deno.test("dispatch() logs in, says, looks, and tells others", () => {
  const { ctx, registry } = setup();
  const a = new FakeSession();
  const b = new FakeSession();
  run(ctx(a), "login alice");
  run(ctx(b), "/Login bob");
  assert.deepEqual(a.received, ["bob has entered the room."]);
  a.received = [];
  assert.deepEqual(run(ctx(b), "SAY hi"), ["bob: hi"]);
  assert.deepEqual(a.received, ["bob: hi"]);
  assert.deepEqual(run(ctx(a), "look"), [
    "The following are in this room:",
    "alice",
    "bob",
  ]);
  assert.equal(registry.users.size, 2);
});

Deno.test("dispatch() refuses a name taken in another letter case", () => {
  const { ctx } = setup();
  run(ctx(new FakeSession()), "login Alice");
  assert.deepEqual(run(ctx(new FakeSession()), "login aLICE"), [
    'The name "aLICE" is taken.',
    "Please try again.",
  ]);
});

Deno.test("Registry.logout() frees the name and tells the room, once", () => {
  const { ctx, registry } = setup();
  const a = new FakeSession();
  const b = new FakeSession();
  run(ctx(a), "login alice");
  run(ctx(b), "login bob");
  a.received = [];
  registry.logout(b.user!);
  registry.logout(b.user!);
  assert.deepEqual(a.received, ["bob has left the room."]);
  assert.equal(registry.find("BOB"), undefined);
});
