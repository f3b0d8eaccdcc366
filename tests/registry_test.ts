import assert from "node:assert/strict";
import { ChatError } from "../src/errors.ts";
import type { SaidEvent } from "../src/events.ts";
import { Registry } from "../src/registry.ts";
import { TELNET } from "../src/render/telnet.ts";
import { Room, User } from "../src/room.ts";

const nobody = {
  transport: TELNET,
  sink: { deliver() {} },
  show() {},
  notice() {},
  moved() {},
  disconnect() {},
  hostname: "192.0.2.1",
};
let lastId = 0;
const said = (text: string): SaidEvent => ({
  type: "said",
  id: ++lastId,
  at: 0,
  room: "den",
  from: "alice",
  text,
});
const login = (registry: Registry, name: string) =>
  registry.login(name, { recipient: nobody, now: 0 });

Deno.test("Room.history() keeps the last N chat lines, oldest first", () => {
  const room = new Room("den", { historyLines: 3 });
  const user = new User("alice", "alice", { recipient: nobody, now: 0 });
  for (let i = 1; i <= 7; i++) room.chat(said(`line ${i}`), user);
  assert.deepEqual(room.history().map((entry) => entry.text), [
    "line 5",
    "line 6",
    "line 7",
  ]);
  const none = new Room("quiet", { historyLines: 0 });
  none.chat(said("gone"), user);
  assert.deepEqual(none.history(), []);
});

Deno.test("Registry.join() creates a room on first join and drops it when empty", () => {
  const registry = new Registry();
  const alice = login(registry, "alice");
  const bob = login(registry, "bob");
  const den = registry.join(alice, "Den");
  assert.equal(
    registry.join(bob, "DEN"),
    den,
    "names compare case-insensitively",
  );
  assert.deepEqual([...registry.rooms.keys()], ["main", "den"]);
  registry.join(alice, "main");
  assert.equal(registry.rooms.size, 2, "bob is still in den");
  registry.logout(bob);
  assert.deepEqual([...registry.rooms.keys()], ["main"]);
  registry.join(alice, "den");
  assert.equal(registry.main.members.size, 0);
  assert.ok(registry.rooms.has("main"), "main stays, even empty");
});

Deno.test("Registry.join() still refuses a look-alike of a room once the first of two look-alikes has gone", () => {
  const registry = new Registry();
  const alice = login(registry, "alice");
  const bob = login(registry, "bob");
  registry.join(alice, "release");
  // One the store knows may open beside a room it looks like.
  registry.join(bob, "re1ease", { history: [], topic: "kept" });
  registry.join(alice, "main"); // release goes; re1ease is still open
  assert.deepEqual([...registry.rooms.keys()], ["main", "re1ease"]);
  assert.throws(
    () => registry.join(alice, "reIease"),
    /looks like the room "re1ease"/,
  );
  registry.join(bob, "main");
  registry.join(alice, "reIease"); // both gone: the name is free
});

Deno.test("Registry.dropIfEmpty() of a room gone already leaves the one open under its name", () => {
  const registry = new Registry();
  const alice = login(registry, "alice");
  const bob = login(registry, "bob");
  const old = registry.join(alice, "moon");
  registry.join(alice, "main"); // moon goes
  const moon = registry.join(bob, "moon"); // and is made again
  assert.notEqual(moon, old);
  // A command that held the old room across an await (unclaim) drops it.
  registry.dropIfEmpty(old);
  assert.equal(registry.rooms.get("moon"), moon);
  assert.throws(
    () => registry.join(alice, "rnoon"),
    /looks like the room "moon"/,
  );
});

Deno.test("Registry.rename() frees the old name and keeps the login order", () => {
  const registry = new Registry();
  const alice = login(registry, "alice");
  login(registry, "bob");
  registry.rename(alice, "zoe");
  assert.equal(registry.find("alice"), undefined);
  assert.equal(registry.find("ZOE"), alice);
  assert.deepEqual([...registry.online].map((user) => user.name), [
    "zoe",
    "bob",
  ]);
  assert.throws(() => registry.rename(alice, "Bob"), ChatError);
  assert.throws(() => registry.rename(alice, "b0b"), /looks like "bob"/);
  registry.rename(alice, "z0e"); // a look-alike of one's own name is fine
  assert.equal(registry.find("z0e"), alice);
});

Deno.test("Registry.privateMessage() and offlineMessage() in a cluster give each message an id of its own, after the last from Redis", () => {
  // A cluster whose Redis cannot be reached: msg delivers on this server.
  const registry = new Registry({
    cluster: {
      emit() {},
      entered() {},
      left() {},
      renamed() {},
      loggedOut() {},
    },
  });
  const alice = login(registry, "alice");
  const bob = login(registry, "bob");
  registry.seenId(41);
  const first = registry.privateMessage(alice, bob, "one");
  const second = registry.privateMessage(bob, alice, "two");
  // A page orders and resumes by id, and takes a key it has seen for a
  // frame it has shown: 0 for both sorted them first and dropped the second.
  assert.ok(first.id > 41, `first: ${first.id}`);
  assert.ok(second.id > first.id, `second: ${second.id}`);
  assert.ok(second.id < 42, "before the next id Redis gives");
  // One kept for an account offline too: its sender's page is shown it.
  const kept = registry.offlineMessage(alice, "carol", "three");
  const again = registry.offlineMessage(alice, "carol", "three");
  assert.ok(kept.id > second.id, `kept: ${kept.id}`);
  assert.ok(again.id > kept.id, `again: ${again.id}`);
  assert.ok(again.id < 42, "before the next id Redis gives");
});

Deno.test("Registry.deliver() in a cluster: who came or went on another server before a newcomer's arrival came back from Redis is not news to them", () => {
  const registry = new Registry({
    cluster: {
      emit() {},
      entered() {},
      left() {},
      renamed() {},
      loggedOut() {},
    },
  });
  const heard: string[] = [];
  const decoder = new TextDecoder();
  const troll = registry.login("troll", {
    recipient: {
      ...nobody,
      sink: {
        deliver: (frame) =>
          heard.push(typeof frame === "string" ? frame : decoder.decode(frame)),
      },
    },
    now: 0,
  });
  const arrival = (name: string, id: number) => ({
    type: "entered" as const,
    id,
    at: 0,
    room: "main",
    name,
  });
  // alice logged in on another server, and Redis published her arrival
  // before troll's: it reaches this server only after troll is in.
  registry.deliver(arrival("alice", 1), null, null);
  assert.deepEqual(heard, [], "alice was there before troll");
  // troll's own arrival is back (made here when main had had no arrivals):
  // what comes now came after troll.
  registry.deliver(arrival("troll", 2), null, null, 0, 1);
  assert.equal(troll.joined, 1);
  registry.deliver(arrival("bob", 3), null, null);
  assert.deepEqual(heard, ["bob has entered the room.\r\n"]);
});

Deno.test("keptOpen() has the rooms open here and those a join is opening, until it is done", () => {
  const registry = new Registry();
  assert.deepEqual([...registry.keptOpen()], ["main"]);
  const first = registry.opening("den");
  const second = registry.opening("den");
  const main = registry.opening("main");
  assert.deepEqual([...registry.keptOpen()], ["main", "den"]);
  first();
  first();
  main();
  assert.deepEqual([...registry.keptOpen()], ["main", "den"], "one still");
  second();
  assert.deepEqual([...registry.keptOpen()], ["main"]);
});

Deno.test("Registry.logout() forgets whom the user could reply to, so a chain of relayed messages holds no ended sessions", () => {
  const registry = new Registry();
  // Each logs in, is written to by the one before, writes to the next and
  // logs out: two connections at a time would otherwise keep them all.
  let previous = login(registry, "u0");
  const gone: User[] = [];
  for (let i = 1; i <= 5; i++) {
    const next = login(registry, `u${i}`);
    registry.privateMessage(previous, next, "pass it on");
    registry.logout(previous);
    gone.push(previous);
    previous = next;
  }
  const last = previous;
  assert.equal(last.lastPrivateFrom?.user, gone.at(-1), "reply still knows");
  for (const user of gone) {
    assert.equal(user.lastPrivateFrom, null, `${user.name} holds no sender`);
  }
});
