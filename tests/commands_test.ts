import assert from "node:assert/strict";
import type { Cluster } from "../src/cluster/cluster.ts";
import type { Context } from "../src/commands/command.ts";
import { dispatch, splitWord } from "../src/commands/mod.ts";
import { ChatError } from "../src/errors.ts";
import {
  type Account,
  type Sanction,
  type Store,
  StoreFailed,
  StoreUnavailable,
} from "../src/store/store.ts";
import { kickHere } from "../src/commands/moderation.ts";
import { skeleton } from "../src/names.ts";
import { fakeServer, FakeSession } from "./fake_session.ts";

async function setup() {
  const server = await fakeServer();
  return {
    registry: server.registry,
    ctx: server.context,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** Dispatches and returns the sender's replies, ChatErrors included. */
async function run(ctx: Context, line: string): Promise<string[]> {
  const session = ctx.session as unknown as FakeSession;
  session.received = [];
  try {
    await dispatch(ctx, line);
  } catch (error) {
    if (!(error instanceof ChatError)) throw error;
    session.received.push(...error.lines);
  }
  return session.received;
}

/**
 * A gate in a store read: `reached` resolves once the read has begun, and
 * the read goes on only after `open()`, so that what a test does between
 * comes while the command waits for the store.
 */
function storeGate(): {
  reached: Promise<void>;
  wait(): Promise<void>;
  open(): void;
} {
  const reached = Promise.withResolvers<void>();
  const opened = Promise.withResolvers<void>();
  return {
    reached: reached.promise,
    wait() {
      reached.resolve();
      return opened.promise;
    },
    open: () => opened.resolve(),
  };
}

/**
 * A server where alice owns den and roomie is its room operator, both in
 * den (and in the store, with `claimed`).
 */
async function denWithRoomOp(options: { claimed: boolean }) {
  const server = await fakeServer();
  const { store, registry } = server;
  const owner = new FakeSession();
  const roomie = new FakeSession();
  await run(server.context(owner), "login alice");
  await run(server.context(roomie), "login roomie");
  owner.user!.account = "alice";
  roomie.user!.account = "roomie";
  await run(server.context(owner), "join den");
  await run(server.context(roomie), "join den");
  if (options.claimed) {
    assert.ok(await store.claimRoom("den", "den", "alice"));
  }
  const den = registry.rooms.get("den")!;
  den.owner = "alice";
  den.operators.add("roomie");
  return {
    server,
    store,
    owner,
    roomie,
    den,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/**
 * Holds the first call of the store's `method` at a gate (later ones go
 * straight through): what a test does between `reached` and `open()` comes
 * while the command waits for that read.
 */
function holdFirst(
  store: Store,
  method: keyof Store,
): ReturnType<typeof storeGate> {
  const gate = storeGate();
  const methods = store as unknown as Record<
    string,
    (...args: unknown[]) => Promise<unknown>
  >;
  const original = methods[method].bind(store);
  let first = true;
  methods[method] = async (...args) => {
    if (first) {
      first = false;
      await gate.wait();
    }
    return original(...args);
  };
  return gate;
}

Deno.test("splitWord() splits at the first whitespace and trims", () => {
  assert.deepEqual(splitWord("  say   hello  world "), [
    "say",
    "hello  world",
  ]);
  assert.deepEqual(splitWord("look"), ["look", ""]);
  assert.deepEqual(splitWord("say\thi"), ["say", "hi"]);
  assert.deepEqual(splitWord("   "), ["", ""]);
});

Deno.test("dispatch() asks a guest to log in for anything but login and logout", async () => {
  await using server = await setup();
  const { ctx } = server;
  const guest = ctx(new FakeSession());
  for (const line of ["say hi", "look", "who", "help", "dance", "/WHO"]) {
    assert.deepEqual(
      await run(guest, line),
      ["Please log in", 'Use "login"'],
      line,
    );
  }
  assert.deepEqual(await run(guest, "   "), []);
  await run(guest, "LOGOUT");
  assert.ok((guest.session as unknown as FakeSession).ended);
});

Deno.test("dispatch() finds commands through a Map, not object keys", async () => {
  await using server = await setup();
  const { ctx } = server;
  const session = new FakeSession();
  const c = ctx(session);
  await run(c, "login alice");
  for (
    const word of ["constructor", "__proto__", "toString", "hasOwnProperty"]
  ) {
    assert.deepEqual(await run(c, word), [`Unknown command: ${word}`]);
  }
});

Deno.test("dispatch() logs in, says, looks, and tells others", async () => {
  await using server = await setup();
  const { ctx, registry } = server;
  const a = new FakeSession();
  const b = new FakeSession();
  await run(ctx(a), "login alice");
  await run(ctx(b), "/Login bob");
  assert.deepEqual(a.received, ["bob has entered the room."]);
  a.received = [];
  assert.deepEqual(await run(ctx(b), "SAY hi"), ["bob: hi"]);
  assert.deepEqual(a.received, ["bob: hi"]);
  assert.deepEqual(await run(ctx(a), "look"), [
    "The following are in this room:",
    "alice",
    "bob",
  ]);
  assert.equal(registry.users.size, 2);
});

Deno.test("saying, emoting and private messages mark the speaker; other commands do not", async () => {
  await using server = await setup();
  const { ctx } = server;
  const a = new FakeSession();
  const b = new FakeSession();
  await run(ctx(a), "login alice");
  await run(ctx(b), "login bob");
  for (const line of ["look", "who", "whois bob", "help", "rooms", "say"]) {
    await run(ctx(a), line);
  }
  assert.equal(a.spoken, 0, "only speaking counts, and a usage error is not");
  const spoken = async (line: string) => {
    const before = a.spoken;
    await run(ctx(a), line);
    return a.spoken - before;
  };
  assert.equal(await spoken("say hi"), 1);
  assert.equal(await spoken("me waves"), 1);
  assert.equal(await spoken("msg bob psst"), 1);
  await run(ctx(b), "msg alice hello");
  assert.equal(await spoken("reply hi back"), 1);
  assert.equal(
    await spoken("msg alice myself"),
    0,
    "refused: a message to oneself",
  );
  assert.equal(b.spoken, 1);
});

Deno.test("dispatch() refuses a name taken in another letter case", async () => {
  await using server = await setup();
  const { ctx } = server;
  await run(ctx(new FakeSession()), "login Alice");
  assert.deepEqual(await run(ctx(new FakeSession()), "login aLICE"), [
    'The name "aLICE" is taken.',
    "Please try again.",
  ]);
});

Deno.test("a command of one name given more words answers its usage, not that nobody by them is online", async () => {
  await using server = await fakeServer();
  const alice = new FakeSession();
  await run(server.context(alice), "login alice");
  await run(server.context(new FakeSession()), "login bob");
  alice.user!.account = "alice";
  await server.context(alice).moderation.setOperator("alice", true);
  await run(server.context(alice), "join den");
  await run(server.context(alice), "claim");
  for (
    const [line, usage] of [
      ["whois bob please", "whois NAME"],
      ["whois @bob please", "whois NAME"],
      ["ignore bob now", "ignore [NAME]"],
      ["unignore bob\tnow", "unignore NAME"],
      ["op bob now", "op NAME"],
      ["deop bob now", "deop NAME"],
      ["roomop bob now", "roomop NAME"],
      ["roomdeop bob now", "roomdeop NAME"],
    ]
  ) {
    assert.deepEqual(
      await run(server.context(alice), line),
      [`Usage: ${usage}`],
      line,
    );
  }
  // One word still names someone, with or without its "@".
  assert.match((await run(server.context(alice), "whois @bob"))[0], /^bob is/);
  assert.deepEqual(await run(server.context(alice), "ignore bob"), [
    "You are ignoring bob",
  ]);
});

Deno.test("unignore names one ignored on another server as they were last seen, not as typed", async () => {
  await using server = await setup();
  const { ctx } = server;
  const alice = new FakeSession();
  await run(ctx(alice), "login alice");
  // What ignore does for a user the cluster found on another server.
  alice.user!.ignoreElsewhere("node2:7", "bob", "Bob");
  assert.deepEqual(await run(ctx(alice), "unignore BOB"), [
    "You are no longer ignoring Bob",
  ]);
  assert.deepEqual(await run(ctx(alice), "unignore bob"), [
    'You are not ignoring anyone called "bob"',
  ]);
});

Deno.test("Registry.logout() frees the name and tells the room, once", async () => {
  await using server = await setup();
  const { ctx, registry } = server;
  const a = new FakeSession();
  const b = new FakeSession();
  await run(ctx(a), "login alice");
  await run(ctx(b), "login bob");
  a.received = [];
  registry.logout(b.user!);
  registry.logout(b.user!);
  assert.deepEqual(a.received, ["bob has left the room."]);
  assert.equal(registry.find("BOB"), undefined);
});

/**
 * A sanction for good, set by bob now, on the address a FakeSession
 * (eve, in these tests) is connected from.
 */
function onEve(
  server: { clock: { date(): number } },
  kind: "ban" | "mute",
  room: string,
  reason: string,
): Sanction {
  return {
    kind,
    room,
    target: "address:192.0.2.1",
    label: "eve (192.0.2.1)",
    by: "bob",
    at: server.clock.date(),
    until: null,
    reason,
  };
}

Deno.test("join: a room ban set while the room is read from the store keeps the user out", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const guest = new FakeSession();
  const ctx = server.context(guest);
  await run(ctx, "login eve");
  // The room's kept state is read; the ban comes meanwhile.
  const gate = storeGate();
  const room = store.room.bind(store);
  store.room = async (key, lines) => {
    await gate.wait();
    return room(key, lines);
  };
  const joining = run(ctx, "join den");
  await gate.reached;
  await ctx.moderation.add(onEve(server, "ban", "den", "spam"));
  gate.open();
  assert.deepEqual(await joining, [
    'You are banned from "den" permanently: spam',
  ]);
  assert.equal(guest.user?.room?.name, "main");
});

Deno.test("join: a room's owner read for a ban leaves out a store that is away, not a bug", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const guest = new FakeSession();
  const ctx = server.context(guest);
  await run(ctx, "login eve");
  guest.user!.account = "eve";
  await ctx.moderation.add(onEve(server, "ban", "den", "spam"));
  // Whether eve owns den is asked of the store, which cannot answer.
  store.room = () => Promise.reject(new StoreUnavailable("away"));
  assert.deepEqual(await run(ctx, "join den"), [
    'You are banned from "den" permanently: spam',
  ]);
  // A bug is one, logged as such, not taken for "no owner".
  store.room = () => Promise.reject(new TypeError("a bug"));
  await assert.rejects(run(ctx, "join den"), TypeError);
  assert.equal(guest.user?.room?.name, "main");
});

Deno.test("join: a room ban on an address keeps out all behind it but the room's owner", async () => {
  await using server = await fakeServer();
  const { registry } = server;
  const owner = new FakeSession();
  const other = new FakeSession();
  await run(server.context(owner), "login eve");
  await run(server.context(other), "login mal");
  owner.user!.account = "eve";
  other.user!.account = "mal";
  await run(server.context(owner), "join den");
  registry.rooms.get("den")!.owner = "eve";
  await run(server.context(owner), "join main");
  // Both are at 192.0.2.1, which den bans.
  await server.context(owner).moderation.add(onEve(server, "ban", "den", "x"));
  assert.deepEqual(await run(server.context(other), "join den"), [
    'You are banned from "den" permanently: x',
  ]);
  assert.deepEqual(await run(server.context(owner), "join den"), [
    'You are now in room "den".',
  ]);
});

Deno.test("nick: a mute set while the name is looked up in the store holds", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const guest = new FakeSession();
  const ctx = server.context(guest);
  await run(ctx, "login eve");
  // Whether the new name is an account is read; the mute comes meanwhile.
  const gate = storeGate();
  const accountFor = store.accountFor.bind(store);
  store.accountFor = async (key, skeleton) => {
    await gate.wait();
    return accountFor(key, skeleton);
  };
  const renaming = run(ctx, "nick shouter");
  await gate.reached;
  await ctx.moderation.add(onEve(server, "mute", "", "calm down"));
  gate.open();
  assert.deepEqual(await renaming, [
    "You are muted permanently: calm down",
  ]);
  assert.equal(guest.user?.name, "eve");
});

Deno.test("kick: the one kicked logging out while the kick is logged is no bug", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const op = new FakeSession();
  const bob = new FakeSession();
  const ctx = server.context(op);
  await run(ctx, "login root");
  await run(server.context(bob), "login bob");
  op.user!.account = "root";
  await ctx.moderation.setOperator("root", true);
  await run(ctx, "join den");
  await run(server.context(bob), "join den");
  // The moderation log is written; bob logs out meanwhile.
  const gate = storeGate();
  const addModlog = store.addModlog.bind(store);
  store.addModlog = async (entry) => {
    await gate.wait();
    return addModlog(entry);
  };
  const kicking = run(ctx, "kick bob go away");
  await gate.reached;
  registry.logout(bob.user!);
  gate.open();
  // Throws (a TypeError, a bug) if the kick came after the log.
  assert.deepEqual(await kicking, ["bob was kicked by root: go away"]);
  assert.equal(bob.user?.room, null);
});

Deno.test("kick and whois: one kicked off the server, whose session has not logged out yet, is nobody online", async () => {
  await using server = await fakeServer();
  const op = new FakeSession();
  const bob = new FakeSession();
  const ctx = server.context(op);
  await run(ctx, "login root");
  await run(server.context(bob), "login bob");
  op.user!.account = "root";
  await ctx.moderation.setOperator("root", true);
  // Kicked from main: off the server, in no room, until the session's
  // logout (a FakeSession's never comes).
  await run(ctx, "kick bob go away");
  assert.ok(bob.ended);
  assert.equal(bob.user?.room, null);
  // Was a TypeError (a bug), and whois said 'in room ""'.
  assert.deepEqual(await run(ctx, "kick bob again"), [
    'No one called "bob" is online',
  ]);
  assert.deepEqual(await run(ctx, "whois bob"), [
    'No one called "bob" is online',
  ]);
});

Deno.test("join: a kept room read that answers late does not undo what was said and set meanwhile", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const alice = new FakeSession();
  const eve = new FakeSession();
  const bob = new FakeSession();
  await run(server.context(alice), "login alice");
  await run(server.context(eve), "login eve");
  await run(server.context(bob), "login bob");
  // An empty room that stays (as a claimed one does), with a line kept.
  await run(server.context(alice), "join den");
  await run(server.context(alice), "say old line");
  registry.rooms.get("den")!.owner = "alice";
  await run(server.context(alice), "join main");
  // Eve's read of the room is done, but its answer comes late.
  const gate = storeGate();
  const room = store.room.bind(store);
  let first = true;
  store.room = async (key, lines) => {
    const kept = await room(key, lines);
    if (first) {
      first = false;
      await gate.wait();
    }
    return kept;
  };
  const joining = run(server.context(eve), "join den");
  await gate.reached;
  await run(server.context(bob), "join den");
  await run(server.context(bob), "topic fresh topic");
  await run(server.context(bob), "say fresh line");
  gate.open();
  const seen = await joining;
  const den = registry.rooms.get("den")!;
  assert.equal(den.topic, "fresh topic");
  assert.deepEqual(den.history().map((line) => line.text), [
    "old line",
    "fresh line",
  ]);
  assert.ok(seen.includes('Topic of "den": fresh topic'), String(seen));
});

Deno.test("whois: a name asked of the cluster, and logged in here meanwhile, is no bug", async () => {
  await using server = await fakeServer();
  const asker = new FakeSession();
  const gate = storeGate();
  // A cluster whose Redis knows nobody by the name, and answers late.
  const cluster = {
    up: true,
    async find() {
      await gate.wait();
      return null;
    },
  } as unknown as Cluster;
  await run(server.context(asker), "login alice");
  const ctx = Object.assign(server.context(asker), { cluster });
  const asking = run(ctx, "whois bob");
  await gate.reached;
  await run(server.context(new FakeSession()), "login bob");
  gate.open();
  // Threw a TypeError (a bug) when the name was taken here meanwhile.
  assert.deepEqual(await asking, [
    "bob has entered the room.",
    'No one called "bob" is online',
  ]);
});

Deno.test("unban: a ban this server has not heard of yet is left as it is, as the answer says", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const op = new FakeSession();
  const ctx = server.context(op);
  await run(ctx, "login root");
  op.user!.account = "root";
  await ctx.moderation.setOperator("root", true);
  // Set on another server of a cluster: in the store, not yet announced.
  const ban = {
    ...onEve(server, "ban", "", "spam"),
    target: "address:192.0.2.9",
  };
  await store.addSanction(ban);
  assert.deepEqual(await run(ctx, "unban 192.0.2.9"), [
    "192.0.2.9 is not banned from this server",
  ]);
  // Told it was not banned, so nothing was lifted.
  assert.deepEqual(await store.sanctions(server.clock.date()), [ban]);
});

/** An account in the store (its owner online or not), for a test to name. */
async function offlineAccount(
  store: { createAccount(account: Account): Promise<boolean> | boolean },
  name: string,
): Promise<void> {
  await store.createAccount({
    key: name,
    name,
    skeleton: skeleton(name),
    hash: "unused",
    created: 0,
    lastLogin: null,
  });
}

Deno.test("ban: a room operator kicked out while the target is looked up bans nobody, in main or elsewhere", async () => {
  await using setup = await denWithRoomOp({ claimed: false });
  const { server, store, owner, roomie } = setup;
  await offlineAccount(store, "carol");
  // Whether carol is an account is read; roomie is kicked to main meanwhile.
  const gate = storeGate();
  const accountFor = store.accountFor.bind(store);
  store.accountFor = async (key, skeleton) => {
    await gate.wait();
    return accountFor(key, skeleton);
  };
  const banning = run(server.context(roomie), "ban carol spam");
  await gate.reached;
  await run(server.context(owner), "kick roomie enough");
  gate.open();
  assert.equal(
    (await banning).at(-1),
    'Only the owner of this room, its room operators and server operators can use "ban"',
  );
  // Set in main, it would keep carol out of main, which only server
  // operators moderate.
  assert.deepEqual(server.context(owner).moderation.list("ban"), []);
  assert.deepEqual(await store.sanctions(server.clock.date()), []);
});

Deno.test("roomop: a room unclaimed while the name is looked up gets no room operator", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const owner = new FakeSession();
  const op = new FakeSession();
  await run(server.context(owner), "login alice");
  await run(server.context(op), "login root");
  owner.user!.account = "alice";
  op.user!.account = "root";
  await server.context(op).moderation.setOperator("root", true);
  await run(server.context(owner), "join den");
  await run(server.context(op), "join den");
  assert.ok(await store.claimRoom("den", "den", "alice"));
  const den = registry.rooms.get("den")!;
  den.owner = "alice";
  await offlineAccount(store, "bob");
  // Whether bob is an account is read; an operator unclaims den meanwhile.
  const gate = storeGate();
  const accountFor = store.accountFor.bind(store);
  store.accountFor = async (key, skeleton) => {
    await gate.wait();
    return accountFor(key, skeleton);
  };
  const naming = run(server.context(owner), "roomop bob");
  await gate.reached;
  store.accountFor = accountFor;
  await run(server.context(op), "unclaim");
  gate.open();
  assert.deepEqual(await naming, ['"den" has no owner']);
  assert.deepEqual([...den.operators], []);
  // Nor does whoever claims it next find bob there.
  assert.ok(await store.claimRoom("den", "den", "carol"));
  const claimed = (await store.claimedRooms()).find((r) => r.key === "den");
  assert.deepEqual(claimed?.ops, []);
});

Deno.test("claim: kicked out of the room while the claim waits for the store, one owns nothing", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const eve = new FakeSession();
  const op = new FakeSession();
  await run(server.context(eve), "login eve");
  await run(server.context(op), "login root");
  eve.user!.account = "eve";
  op.user!.account = "root";
  await server.context(op).moderation.setOperator("root", true);
  await run(server.context(op), "join den");
  await run(server.context(eve), "join den");
  // The rooms eve owns are counted; root kicks eve out meanwhile.
  const gate = storeGate();
  const claimedRooms = store.claimedRooms.bind(store);
  store.claimedRooms = async () => {
    await gate.wait();
    return claimedRooms();
  };
  const claiming = run(server.context(eve), "claim");
  await gate.reached;
  store.claimedRooms = claimedRooms;
  await run(server.context(op), "kick eve out");
  gate.open();
  assert.equal(
    (await claiming).at(-1),
    'You are no longer in "den": it was not claimed',
  );
  assert.equal(registry.rooms.get("den")?.owner, null);
  assert.deepEqual(await store.claimedRooms(), []);
});

Deno.test("claim: kicked out while the claim waits, and the store cannot undo it, one owns the room here too, as the store says", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const eve = new FakeSession();
  const op = new FakeSession();
  await run(server.context(eve), "login eve");
  await run(server.context(op), "login root");
  eve.user!.account = "eve";
  op.user!.account = "root";
  await server.context(op).moderation.setOperator("root", true);
  await run(server.context(op), "join den");
  await run(server.context(eve), "join den");
  const gate = holdFirst(store, "claimedRooms");
  // The disk is full by the time the claim is to be undone.
  store.unclaimRoom = () =>
    Promise.reject(new StoreFailed("database or disk is full"));
  const claiming = run(server.context(eve), "claim");
  await gate.reached;
  await run(server.context(op), "kick eve out");
  gate.open();
  assert.equal(
    (await claiming).at(-1),
    'You are no longer in "den", and the server\'s database cannot be written right now: the claim holds; "unclaim" it there later if you do not want it',
  );
  assert.deepEqual(
    (await store.claimedRooms()).map((room) => room.owner),
    ["eve"],
  );
  assert.equal(registry.rooms.get("den")?.owner, "eve");
});

Deno.test("op: an operator deop'd while the name is looked up makes nobody an operator", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const root = new FakeSession();
  const mallory = new FakeSession();
  await run(server.context(root), "login root");
  await run(server.context(mallory), "login mallory");
  root.user!.account = "root";
  mallory.user!.account = "mallory";
  const { moderation } = server.context(root);
  await moderation.setOperator("root", true);
  await moderation.setOperator("mallory", true);
  await offlineAccount(store, "mallory");
  await offlineAccount(store, "sockpuppet");
  // Whether sockpuppet is an account is read; root deops mallory meanwhile.
  const gate = holdFirst(store, "accountFor");
  const opping = run(server.context(mallory), "op sockpuppet");
  await gate.reached;
  await run(server.context(root), "deop mallory");
  gate.open();
  assert.equal(
    (await opping).at(-1),
    'Only a server operator can use "op"',
  );
  assert.ok(!moderation.isOperator("sockpuppet"));
  assert.deepEqual(await store.operators(), ["root"]);
});

Deno.test("unban: a room operator roomdeop'd while the name is looked up lifts nothing", async () => {
  await using setup = await denWithRoomOp({ claimed: true });
  const { server, store, owner, roomie, den } = setup;
  await offlineAccount(store, "roomie");
  await offlineAccount(store, "carol");
  assert.equal((await run(server.context(owner), "ban carol spam")).length, 1);
  // Whether carol is an account is read; alice roomdeops roomie meanwhile.
  const gate = holdFirst(store, "accountFor");
  const lifting = run(server.context(roomie), "unban carol");
  await gate.reached;
  await run(server.context(owner), "roomdeop roomie");
  assert.ok(!den.operators.has("roomie"));
  gate.open();
  assert.equal(
    (await lifting).at(-1),
    'Only the owner of this room, its room operators and server operators can use "unban"',
  );
  const { moderation } = server.context(owner);
  assert.deepEqual(moderation.list("ban").map((b) => b.label), ["carol"]);
});

Deno.test("login NAME PASSWORD while the cluster's Redis is away does not show the password back", async () => {
  await using server = await fakeServer();
  // Redis cannot be reached; this server knows "alice" is an account.
  const cluster = {
    up: false,
    knownAccount: (key: string) => key === "alice" ? "alice" : null,
  } as unknown as Cluster;
  const ctx = Object.assign(server.context(new FakeSession()), { cluster });
  const account = await run(ctx, "login alice s3cret-pass");
  assert.ok(!account.join("\n").includes("s3cret"), String(account));
  assert.deepEqual(account, await run(ctx, "login alice"));
  // Nor for a name that is no account: as when Redis is there.
  const guest = await run(ctx, "login bob s3cret-pass");
  assert.ok(!guest.join("\n").includes("s3cret"), String(guest));
});

Deno.test("ban: a reload that answers late (another server's announcement) keeps a ban set here meanwhile", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const op = new FakeSession();
  const ctx = server.context(op);
  await run(ctx, "login root");
  op.user!.account = "root";
  await ctx.moderation.setOperator("root", true);
  // The reload's read of the sanctions is done, but its answer comes late.
  const gate = storeGate();
  const sanctions = store.sanctions.bind(store);
  let first = true;
  store.sanctions = async (now) => {
    const kept = await sanctions(now);
    if (first) {
      first = false;
      await gate.wait();
    }
    return kept;
  };
  const reloading = ctx.moderation.reload();
  await gate.reached;
  const [banned] = await run(ctx, "ban 192.0.2.9 spam");
  assert.match(banned, /^Banned 192\.0\.2\.9 from this server/);
  gate.open();
  await reloading;
  const subject = { account: null, address: "192.0.2.9" };
  assert.notEqual(ctx.moderation.find("ban", "", subject), null);
});

Deno.test("kick: a room operator kicked to main while the cluster is asked kicks nobody there", async () => {
  await using setup = await denWithRoomOp({ claimed: true });
  const { server, owner, roomie } = setup;
  // Dave is in main on another server; Redis answers late.
  const gate = storeGate();
  const controls: unknown[] = [];
  const cluster = {
    up: true,
    nodeId: "here",
    async find(name: string) {
      await gate.wait();
      return name === "dave"
        ? {
          name: "dave",
          key: "dave",
          skeleton: skeleton("dave"),
          node: "there",
          since: 0,
          active: 0,
          account: null,
          room: "main",
          roomName: "main",
          away: null,
          address: "192.0.2.9",
        }
        : null;
    },
    control(_node: string, control: unknown) {
      controls.push(control);
      return Promise.resolve();
    },
  } as unknown as Cluster;
  const ctx = Object.assign(server.context(roomie), { cluster });
  const kicking = run(ctx, "kick dave bye");
  await gate.reached;
  // Alice kicks roomie out of den, to main, meanwhile.
  await run(server.context(owner), "kick roomie enough");
  assert.equal(roomie.user?.room?.name, "main");
  gate.open();
  assert.equal(
    (await kicking).at(-1),
    'Only the owner of this room, its room operators and server operators can use "kick"',
  );
  // A kick from main is a server operator's, and disconnects: none was sent.
  assert.deepEqual(controls, []);
});

Deno.test("unban: a reload that read the store before the ban was lifted does not put it back", async () => {
  await using server = await fakeServer();
  const { store } = server;
  const eve = new FakeSession();
  const ctx = server.context(eve);
  await ctx.moderation.add(onEve(server, "ban", "", "spam"));
  // The lift waits in the store; another server's announcement reloads
  // meanwhile, reading the ban that is still there.
  const gate = storeGate();
  const removeSanction = store.removeSanction.bind(store);
  store.removeSanction = async (kind, room, target) => {
    await gate.wait();
    return removeSanction(kind, room, target);
  };
  const lifting = ctx.moderation.remove("ban", "", "address:192.0.2.1");
  await gate.reached;
  await ctx.moderation.reload();
  gate.open();
  assert.ok(await lifting);
  assert.deepEqual(ctx.moderation.list("ban"), []);
  assert.equal(
    ctx.moderation.find("ban", "", { account: null, address: "192.0.2.1" }),
    null,
  );
});

Deno.test("reply: to a sender here whom Redis does not know yet (just back) goes here", async () => {
  await using server = await fakeServer();
  const alice = new FakeSession();
  const bob = new FakeSession();
  await run(server.context(alice), "login alice");
  await run(server.context(bob), "login bob");
  // Alice wrote through Redis; Redis is back, but her presence is not yet
  // retaken: it delivers to nobody.
  bob.user!.lastPrivateFrom = {
    user: alice.user!,
    name: "alice",
    at: server.clock.date(),
    session: "node-a/1.1",
  };
  const cluster = {
    up: true,
    privateMessage: () => Promise.resolve(null),
  } as unknown as Cluster;
  const ctx = Object.assign(server.context(bob), { cluster });
  alice.received = [];
  assert.deepEqual(await run(ctx, "reply still here"), [
    "[private to alice] still here",
  ]);
  assert.deepEqual(alice.received, ["[private] bob: still here"]);
});

Deno.test("nick: a session that ends while Redis renames it leaves no one under the new name", async () => {
  await using server = await fakeServer();
  const { registry } = server;
  const carol = new FakeSession();
  await run(server.context(carol), "login carol");
  const gate = storeGate();
  const released: string[] = [];
  const cluster = {
    up: true,
    async rename() {
      await gate.wait();
      return "ok";
    },
    unclaim: (name: string) => released.push(name),
  } as unknown as Cluster;
  const ctx = Object.assign(server.context(carol), { cluster });
  const renaming = run(ctx, "nick carla");
  await gate.reached;
  const user = carol.user!;
  registry.logout(user);
  gate.open();
  await renaming;
  assert.equal(registry.find("carla"), undefined);
  assert.equal(registry.find("carol"), undefined);
  // The name Redis gave it is given back.
  assert.deepEqual(released, ["carla"]);
});

Deno.test("claim: a room operator left from before the last unclaim is not the new owner's", async () => {
  await using setup = await denWithRoomOp({ claimed: false });
  const { server, roomie, den } = setup;
  // Unclaimed, but a roomop that raced the unclaim left roomie behind.
  den.owner = null;
  const cat = new FakeSession();
  await run(server.context(cat), "login cat");
  cat.user!.account = "cat";
  await run(server.context(cat), "join den");
  const claimed = await run(server.context(cat), "claim");
  assert.match(claimed.at(-1) ?? "", /^You now own "den"/);
  assert.deepEqual([...den.operators], []);
  const kicking = await run(server.context(roomie), "kick cat");
  assert.equal(
    kicking.at(-1),
    'Only the owner of this room, its room operators and server operators can use "kick"',
  );
});

Deno.test("ignore alone while Redis has just gone lists the ignored of other servers as last seen, not a refusal", async () => {
  await using server = await fakeServer();
  const session = new FakeSession();
  const ctx = server.context(session);
  await run(ctx, "login alice");
  session.user!.ignoreElsewhere("b:1", "troll", "troll");
  // Gone, but not yet counted gone: the read of presence fails.
  const cluster = {
    up: true,
    presences: () => Promise.reject(new StoreUnavailable("Redis is away")),
  } as unknown as Cluster;
  const listed = await run(Object.assign(ctx, { cluster }), "ignore");
  assert.deepEqual(listed, ["You are ignoring: troll"]);
});

Deno.test("msg to an offline account: the sender's copy has an id past a line they were shown while it was kept", async () => {
  await using server = await fakeServer();
  const { store } = server;
  await offlineAccount(store, "dave");
  const alice = new FakeSession();
  const carol = new FakeSession();
  await run(server.context(alice), "login alice");
  await run(server.context(carol), "login carol");
  let copy = 0;
  const show = alice.show.bind(alice);
  alice.show = (event) => {
    if (event.type === "private") copy = event.id;
    show(event);
  };
  const gate = holdFirst(store, "leaveMessage");
  const sending = run(server.context(alice), "msg dave see you");
  await gate.reached;
  await run(server.context(carol), "say meanwhile");
  gate.open();
  assert.equal(
    (await sending).at(-1),
    "dave is offline and will get your message at their next login",
  );
  const meanwhile = alice.user!.room!.history().at(-1)!;
  assert.equal(meanwhile.type === "said" && meanwhile.text, "meanwhile");
  assert.ok(copy > meanwhile.id, `${copy} is past ${meanwhile.id}`);
});

Deno.test("an ignore of a user whose server was taken for dead holds when it comes back", async () => {
  await using server = await fakeServer();
  const session = new FakeSession();
  const ctx = server.context(session);
  await run(ctx, "login alice");
  const user = session.user!;
  user.ignoreElsewhere("b:1", "troll", "troll");
  const troll = { login: "b:1", key: "troll", name: "troll" };
  let presences = [troll];
  const cluster = {
    up: true,
    presences: () => Promise.resolve(presences),
  } as unknown as Cluster;
  const inCluster = Object.assign(ctx, { cluster });
  assert.deepEqual(await run(inCluster, "ignore"), ["You are ignoring: troll"]);
  // Its server stalls past the reap time: the others drop its users ...
  presences = [];
  assert.deepEqual(await run(inCluster, "ignore"), [
    "You are not ignoring anyone",
  ]);
  // ... and it wakes and takes them back, under the same sessions.
  presences = [troll];
  assert.deepEqual(await run(inCluster, "ignore"), ["You are ignoring: troll"]);
  assert.ok(user.ignoresSender("troll", "b:1", "troll"));
});

Deno.test("join: a room this server stopped listening to while it was read is listened to again before the join", async () => {
  await using server = await fakeServer();
  const alice = new FakeSession();
  const bob = new FakeSession();
  const aliceCtx = server.context(alice);
  const bobCtx = server.context(bob);
  await run(aliceCtx, "login alice");
  await run(bobCtx, "login bob");
  await run(bobCtx, "join den");
  await run(bobCtx, "say kept for later");
  // alice ignores someone on another server: her join reads presence, and
  // bob, the last one here in den, leaves it while it does: the server
  // stops listening to den (as Cluster.left does).
  alice.user!.ignoreElsewhere("b:1", "troll", "troll");
  const watched = new Set<string>();
  const gate = storeGate();
  const cluster = {
    up: true,
    watch: (room: string) => {
      watched.add(room);
      return Promise.resolve();
    },
    watching: (room: string) => watched.has(room),
    openRoom: () => Promise.resolve(null),
    presences: async () => {
      await gate.wait();
      return [];
    },
  } as unknown as Cluster;
  watched.add("den");
  const joining = run(Object.assign(aliceCtx, { cluster }), "join den");
  await gate.reached;
  await run(bobCtx, "join main");
  watched.delete("den");
  gate.open();
  const shown = await joining;
  assert.ok(shown.includes('You are now in room "den".'), String(shown));
  assert.ok(watched.has("den"), "den is listened to again");
  assert.ok(
    shown.some((line) => line.includes("bob: kept for later")),
    String(shown),
  );
});

/**
 * An account `name` whose password is `password` (hashed by the server's
 * own hasher, so that its parameters are today's).
 */
async function accountWith(
  server: Awaited<ReturnType<typeof fakeServer>>,
  name: string,
  password: string,
): Promise<void> {
  const hasher = server.context(new FakeSession()).hasher;
  assert.ok(
    await server.store.createAccount({
      key: name,
      name,
      skeleton: skeleton(name),
      hash: await hasher.hash(password),
      created: 0,
      lastLogin: null,
    }),
  );
}

/**
 * Holds the next call of the hasher's `verify` at a gate (later ones go
 * straight through), as holdFirst() holds a store read.
 */
function holdVerify(ctx: Context): ReturnType<typeof storeGate> {
  const gate = storeGate();
  const { hasher } = ctx;
  const verify = hasher.verify.bind(hasher);
  let first = true;
  hasher.verify = async (...args) => {
    if (first) {
      first = false;
      await gate.wait();
    }
    return verify(...args);
  };
  return gate;
}

Deno.test("login: a password changed while the old one is being hashed does not let the old one in", async () => {
  await using server = await fakeServer();
  await accountWith(server, "alice", "old secret");
  const owner = new FakeSession();
  await run(server.context(owner), "login alice old secret");
  assert.equal(owner.user?.account, "alice");
  // Someone who knows the old password tries it; its hash waits its turn
  // while the owner changes the password.
  const thief = new FakeSession();
  const gate = holdVerify(server.context(thief));
  const trying = run(server.context(thief), "login alice old secret");
  await gate.reached;
  owner.answers = ["old secret", "new secret", "new secret"];
  assert.ok(
    (await run(server.context(owner), "password")).includes(
      "Your password is changed.",
    ),
  );
  gate.open();
  assert.deepEqual(await trying, ["Wrong password"]);
  assert.equal(thief.user, null);
  assert.equal(owner.ended, false, "the owner's session is not taken over");
  assert.ok(server.registry.isOnline(owner.user!));
});

Deno.test("login: an account deleted while its password is being hashed is not logged in to", async () => {
  await using server = await fakeServer();
  await accountWith(server, "alice", "old secret");
  const late = new FakeSession();
  const gate = holdVerify(server.context(late));
  const trying = run(server.context(late), "login alice old secret");
  await gate.reached;
  await server.store.deleteAccount("alice");
  gate.open();
  assert.deepEqual(await trying, ['The account "alice" no longer exists']);
  assert.equal(late.user, null);
});

Deno.test("msg to an offline account that logs in while the account is read reaches them once, now", async () => {
  await using server = await fakeServer();
  const { store } = server;
  await accountWith(server, "alice", "old secret");
  const bob = new FakeSession();
  await run(server.context(bob), "login bob");
  // Whether alice is an account is read; she logs in meanwhile, and her
  // login finds nothing waiting.
  const gate = holdFirst(store, "accountFor");
  const sending = run(server.context(bob), "msg alice hi");
  await gate.reached;
  const alice = new FakeSession();
  await run(server.context(alice), "login alice old secret");
  assert.equal(alice.user?.account, "alice");
  alice.take();
  assert.deepEqual(bob.take(), ["alice has entered the room."]);
  gate.open();
  assert.deepEqual(await sending, ["[private to alice] hi"]);
  assert.deepEqual(alice.take(), ["[private] bob: hi"]);
  assert.deepEqual(await store.waitingMessages("alice", 0), [], "not kept");
});

/**
 * Holds the next call of the hasher's `hash` at a gate (later ones go
 * straight through), as holdVerify() holds a check.
 */
function holdHash(ctx: Context): ReturnType<typeof storeGate> {
  const gate = storeGate();
  const { hasher } = ctx;
  const hash = hasher.hash.bind(hasher);
  let first = true;
  hasher.hash = async (...args) => {
    if (first) {
      first = false;
      await gate.wait();
    }
    return hash(...args);
  };
  return gate;
}

Deno.test("password: a session taken over while its new password is hashed does not undo the next one's change", async () => {
  await using server = await fakeServer();
  await accountWith(server, "alice", "old secret");
  const first = new FakeSession();
  await run(server.context(first), "login alice old secret");
  first.answers = ["old secret", "first secret", "first secret"];
  const gate = holdHash(server.context(first));
  const changing = run(server.context(first), "password");
  await gate.reached;
  // The owner logs in again elsewhere, and changes it there.
  const second = new FakeSession();
  await run(server.context(second), "login alice old secret");
  assert.equal(first.ended, true, "taken over");
  second.answers = ["old secret", "second secret", "second secret"];
  assert.ok(
    (await run(server.context(second), "password")).includes(
      "Your password is changed.",
    ),
  );
  gate.open();
  await changing;
  const { hasher } = server.context(second);
  const account = await server.store.accountFor("alice", "");
  assert.ok(await hasher.verify("second secret", account!.hash));
});

Deno.test("unregister: a session taken over while the password is checked deletes nothing under the one that took its place", async () => {
  await using server = await fakeServer();
  await accountWith(server, "alice", "old secret");
  const first = new FakeSession();
  await run(server.context(first), "login alice old secret");
  const gate = holdVerify(server.context(first));
  const deleting = run(server.context(first), "unregister old secret");
  await gate.reached;
  const second = new FakeSession();
  await run(server.context(second), "login alice old secret");
  assert.equal(first.ended, true, "taken over");
  gate.open();
  await deleting;
  assert.equal(second.user?.account, "alice");
  assert.equal((await server.store.accountFor("alice", ""))?.key, "alice");
});

Deno.test("login: a lockdown turned on while Redis takes a guest's name keeps the guest out", async () => {
  await using server = await fakeServer();
  const { registry } = server;
  const guest = new FakeSession();
  const gate = storeGate();
  const released: string[] = [];
  const cluster = {
    up: true,
    async claim() {
      await gate.wait();
      return "ok";
    },
    unclaim: (name: string) => released.push(name),
  } as unknown as Cluster;
  const ctx = Object.assign(server.context(guest), { cluster });
  const logging = run(ctx, "login eve");
  await gate.reached;
  await ctx.moderation.setLockdown(true);
  gate.open();
  assert.deepEqual(await logging, [
    "The server is in lockdown: only registered users may log in right now",
  ]);
  assert.equal(guest.user, null);
  assert.equal(registry.find("eve"), undefined);
  // The name Redis gave it is given back.
  assert.deepEqual(released, ["eve"]);
});

Deno.test("join: one kicked off the server while the room is read does not enter it on the way out", async () => {
  await using server = await fakeServer();
  const { store, registry } = server;
  const eve = new FakeSession();
  const ctx = server.context(eve);
  await run(ctx, "login eve");
  // Her join reads the room's kept state; an operator in main kicks her
  // off the server meanwhile (her session logs her out once it is done).
  const gate = holdFirst(store, "room");
  const joining = run(ctx, "join lobby");
  await gate.reached;
  kickHere(registry, eve.user!, "root", "spam");
  assert.equal(eve.ended, true);
  gate.open();
  await joining;
  assert.equal(eve.user?.room ?? null, null);
  assert.equal(registry.rooms.get("lobby"), undefined, "no room made for her");
});
