import assert from "node:assert/strict";
import { Moderation } from "../src/moderation.ts";
import type { Sanction, SanctionKind, Store } from "../src/store/store.ts";
import { FakeClock } from "./fake_clock.ts";
import {
  captureLog,
  Client,
  loginAccount,
  openDatabase,
  PASSWORD,
  registered,
  ServerProcess,
  startServer,
} from "./helpers.ts";

/**
 * A server whose operator is "root" (--op root), with root registered and
 * online; the other names given are registered too, then logged out.
 */
async function withOperator(
  options: Parameters<typeof startServer>[0] = {},
  ...accounts: string[]
) {
  const server = await startServer({ ops: ["root"], ...options });
  const port = server.addr.port;
  for (const name of accounts) {
    const client = await registered(port, name);
    await client.send("logout");
    await client.closed();
  }
  const root = await registered(port, "root");
  return {
    server,
    port,
    root,
    async [Symbol.asyncDispose]() {
      await root[Symbol.asyncDispose]();
      await server.close();
    },
  };
}

/** Joins `room` and reads the lines that say so. */
async function join(client: Client, room: string): Promise<void> {
  await client.send(`join ${room}`);
  await client.waitFor((line) => line.startsWith("You are now in room"));
}

Deno.test("--op makes an account an operator once registered; op and deop; whois says so", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await root.send("whois root");
  await root.expectLines([
    'root is in room "main", connected 0s, idle 0s',
    "root is a registered user",
    "root is a server operator",
  ]);
  await using alice = await loginAccount(port, "alice");
  await root.waitFor("alice has entered the room.");
  await alice.send("op bob");
  await alice.expect('Only a server operator can use "op"');
  await root.send("op alice");
  await root.expect("alice is now a server operator");
  await alice.expect("You are now a server operator");
  await root.send("op alice");
  await root.expect("alice is a server operator already");
  await root.send("op nobody");
  await root.expect('"nobody" is not a registered name');
  await alice.send("deop alice");
  await alice.expect("alice is no longer a server operator");
  await alice.send("lockdown");
  await alice.expect('Only a server operator can use "lockdown"');
  // Offline, an operator is one still: whois says so there too.
  await root.send("op alice");
  await root.expect("alice is now a server operator");
  await alice.expect("You are now a server operator");
  await alice.send("logout");
  await alice.closed();
  await root.send("whois alice");
  await root.waitFor((line) =>
    line.startsWith("alice is a registered user, offline")
  );
  await root.expectLines([
    "alice is a server operator",
    "msg alice TEXT waits for their next login",
  ]);
});

Deno.test("kick: out of the room to main; by an operator in main, off the server", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob");
  await using carol = await Client.login(port, "carol");
  await join(alice, "den");
  await alice.send("claim");
  await alice.expect(
    'You now own "den": it stays, with its topic, even when empty',
  );
  await join(bob, "den");
  await alice.waitFor("bob has entered the room.");
  await alice.send("kick bob spamming links");
  await alice.expect("bob was kicked by alice: spamming links");
  await bob.expectLines([
    'You were kicked from "den" by alice: spamming links',
    'You are now in room "main".',
  ]);
  await root.waitFor("bob has entered the room.");
  await bob.send("look");
  await bob.waitFor("The following are in this room:");
  await carol.send("kick bob");
  await carol.waitFor(
    'Only the owner of this room, its room operators and server operators can use "kick"',
  );
  // From another room, an operator is told it was done.
  await join(carol, "lab");
  await root.send("kick carol off to main");
  await root.waitFor('Kicked carol from "lab"');
  await carol.waitFor('You were kicked from "lab" by root: off to main');
  await carol.waitFor('You are now in room "main".');
  // @carol, as the page writes a name, is carol.
  await root.send("kick @carol flooding");
  await root.waitFor("carol was kicked by root: flooding");
  await bob.waitFor("carol was kicked by root: flooding");
  await carol.waitFor("You were kicked from the server by root: flooding");
  await carol.closed();
  await root.send("who");
  await root.expectLines([
    "The following are logged in:",
    "root",
    "alice",
    "bob",
  ]);
});

Deno.test("guard rails: not yourself, not a server operator, not the owner, not a ban on your own address", async () => {
  await using setup = await withOperator({}, "alice", "roomie");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using roomie = await loginAccount(port, "roomie");
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await join(roomie, "den");
  await alice.send("roomop roomie");
  await alice.waitFor('roomie is now a room operator of "den"');
  await roomie.waitFor('roomie is now a room operator of "den"');
  await alice.send("kick alice");
  await alice.expect("You cannot kick yourself");
  await roomie.send("kick alice");
  await roomie.expect("You cannot kick the owner of this room");
  await roomie.send("mute root 1h");
  await roomie.expect("You cannot mute a server operator");
  await root.send("ban root");
  await root.waitFor("You cannot ban yourself");
  await root.send("ban 127.0.0.0/8 everyone");
  await root.expect(
    "That ban of 127.0.0.0/8 would match you: you are connected from 127.0.0.1",
  );
  // A guest behind the moderator's own address: why a name would match.
  await using twin = await Client.login(port, "twin");
  await root.waitFor("twin has entered the room.");
  await root.send("mute twin 10m");
  await root.expect(
    "That mute of twin (127.0.0.1) would match you: you are connected from 127.0.0.1",
  );
  await twin.send("logout");
  await root.waitFor("twin has left the room.");
  await root.send("ban ::1");
  assert.match(
    await root.readLine(),
    /^Banned ::1 from this server permanently/,
  );
  await roomie.send("roomop alice");
  await roomie.expect(
    'Only the owner of this room (or a server operator) can use "roomop"',
  );
});

Deno.test("a server ban on an address refuses it at connect, from a second loopback address", async () => {
  const clock = new FakeClock();
  await using setup = await withOperator({ clock });
  const { port, root } = setup;
  await using mallory = await Client.login(port, "mallory", {
    from: "127.0.0.2",
  });
  await root.waitFor("mallory has entered the room.");
  await root.send("ban mallory 30m spamming");
  await root.expect(
    "Banned mallory (127.0.0.2) from this server until 2026-01-01 00:30:00 UTC: spamming",
  );
  await mallory.expect(
    "You are banned from this server until 2026-01-01 00:30:00 UTC: spamming",
  );
  await mallory.closed();
  await root.waitFor("mallory has left the room.");
  await using again = await Client.connect(port, { from: "127.0.0.2" });
  await again.expect(
    "You are banned from this server until 2026-01-01 00:30:00 UTC: spamming",
  );
  assert.deepEqual(await again.closed(), []);
  await using other = await Client.connect(port, { from: "127.0.0.3" });
  await other.expect("Welcome to TestChat");
  await root.send("bans");
  await root.expectLines([
    "Bans:",
    "  mallory (127.0.0.2) from this server, by root on 2026-01-01 00:00 UTC, until 2026-01-01 00:30:00 UTC: spamming",
  ]);
  // The ban ends on time.
  clock.advance(30 * 60 * 1000);
  await using later = await Client.connect(port, { from: "127.0.0.2" });
  await later.expect("Welcome to TestChat");
  await root.send("bans");
  await root.expect("No bans");
  // A guest who has gone is unbanned by the name the ban shows.
  await using eve = await Client.login(port, "eve", { from: "127.0.0.4" });
  await root.waitFor("eve has entered the room.");
  await root.send("ban eve");
  await root.waitFor((line) => line.startsWith("Banned eve (127.0.0.4)"));
  await eve.closed();
  await root.send("unban eve");
  await root.waitFor("Unbanned eve (127.0.0.4) from this server");
  await using eveAgain = await Client.connect(port, { from: "127.0.0.4" });
  await eveAgain.expect("Welcome to TestChat");
});

Deno.test("unban and unmute take a guest as bans and mutes list them, copied whole, and other words after the target answer the usage", async () => {
  await using setup = await withOperator();
  const { port, root } = setup;
  await using mal = await Client.login(port, "mal", { from: "127.0.0.2" });
  await root.waitFor("mal has entered the room.");
  await root.send("ban mal spam");
  await root.waitFor((line) => line.startsWith("Banned mal (127.0.0.2)"));
  await mal.closed();
  await root.send("bans");
  await root.waitFor((line) => line.startsWith("  mal (127.0.0.2) from"));
  await root.send("unban mal (127.0.0.2)");
  await root.expect("Unbanned mal (127.0.0.2) from this server");
  // A muted guest still online, their label typed with a space too many.
  await using mel = await Client.login(port, "mel", { from: "127.0.0.3" });
  await root.waitFor("mel has entered the room.");
  await root.send("mute mel noise");
  await root.waitFor((line) => line.startsWith("Muted mel (127.0.0.3)"));
  await root.send("unmute MEL  (127.0.0.3)");
  await root.expect("Unmuted mel (127.0.0.3) on this server");
  await mel.send("say back");
  await root.waitFor("mel: back");
  // A label of nothing banned is answered as one.
  await root.send("unban mel (127.0.0.9)");
  await root.expect("mel (127.0.0.9) is not banned from this server");
  // Words that are no label are a slip in the usage, not a name.
  await root.send("mute mel noise");
  await root.waitFor((line) => line.startsWith("Muted mel (127.0.0.3)"));
  await root.send("unmute mel now");
  await root.expect("Usage: unmute NAME");
  await root.send("unmute @mel");
  await root.expect("Unmuted mel (127.0.0.3) on this server");
});

Deno.test("unban by a room ban's label lifts that one, not the server's ban on its address", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith('You now own "den"'));
  await using mal = await Client.login(port, "mal", { from: "127.0.0.2" });
  await join(mal, "den");
  await alice.waitFor("mal has entered the room.");
  await alice.send("ban mal spam");
  await alice.waitFor((line) =>
    line.startsWith('Banned mal (127.0.0.2) from "den"')
  );
  await mal.waitFor('You are now in room "main".');
  await root.send("ban 127.0.0.2 other");
  await root.waitFor((line) =>
    line.startsWith("Banned 127.0.0.2 from this server")
  );
  await mal.closed();
  await join(root, "den");
  await root.send("unban mal (127.0.0.2)");
  await root.expect('Unbanned mal (127.0.0.2) from "den"');
  await root.send("bans");
  await root.expect("Bans:");
  assert.match(
    await root.readLine(),
    /^ {2}127\.0\.0\.2 from this server, by root /,
  );
  await root.send("unban mal (127.0.0.2)");
  await root.expect('mal (127.0.0.2) is not banned from this server or "den"');
});

Deno.test("a CIDR ban and an IPv4 ban; unban lifts them", async () => {
  await using setup = await withOperator();
  const { port, root } = setup;
  await root.send("ban 127.0.1.0/24 a botnet");
  await root.expect(
    "Banned 127.0.1.0/24 from this server permanently: a botnet",
  );
  await using bot = await Client.connect(port, { from: "127.0.1.77" });
  await bot.expect("You are banned from this server permanently: a botnet");
  await root.send("ban 127.0.0.9");
  await root.expect(
    "Banned 127.0.0.9 from this server permanently: no reason given",
  );
  await root.send("unban 127.0.1.0/24");
  await root.expect("Unbanned 127.0.1.0/24 from this server");
  await using back = await Client.connect(port, { from: "127.0.1.77" });
  await back.expect("Welcome to TestChat");
  await root.send("unban 127.0.1.0/24");
  await root.expect("127.0.1.0/24 is not banned from this server");
  await root.send("ban nobody-here");
  await root.expect(
    'No one called "nobody-here" is online or registered, and it is not an address or a CIDR block',
  );
});

Deno.test("a ban on an account refuses it at login, wherever it comes from", async () => {
  await using setup = await withOperator({}, "troll");
  const { port, root } = setup;
  await root.send("ban troll 7d harassment");
  assert.match(await root.readLine(), /^Banned troll from this server until /);
  await using troll = await Client.connect(port, { from: "127.0.0.5" });
  await troll.expect("Welcome to TestChat");
  await troll.send("login troll correct horse");
  assert.match(
    await troll.readLine(),
    /^You are banned from this server until .*: harassment$/,
  );
  await troll.closed();
});

Deno.test("the log names the account a ban refused at login and its address, never the password", async () => {
  await using log = await captureLog(["chat"], "info");
  const records = log.records;
  await using setup = await withOperator({}, "troll", "imp");
  const { port, root } = setup;
  await using imp = await Client.connect(port, { from: "127.0.0.6" });
  await imp.expect("Welcome to TestChat");
  await imp.send("login imp");
  await imp.expect("Password for imp (a blank line cancels):");
  await root.send("ban troll 7d harassment");
  assert.match(await root.readLine(), /^Banned troll /);
  await root.send("ban imp bots");
  assert.match(await root.readLine(), /^Banned imp /);
  // Refused before the password is checked (the one-line form) ...
  await using troll = await Client.connect(port, { from: "127.0.0.5" });
  await troll.expect("Welcome to TestChat");
  await troll.send(`login TROLL ${PASSWORD}`);
  assert.match(await troll.readLine(), /^You are banned from this server /);
  await troll.closed();
  // ... and after it, for a ban set while the prompt waited.
  await imp.send(PASSWORD);
  assert.match(await imp.readLine(), /^You are banned from this server /);
  await imp.closed();
  const refused = records.filter((r) =>
    r.rawMessage === "Refused login as {name} from {remote}: banned"
  ).map((r) => [String(r.properties.name), String(r.properties.remote)]);
  assert.equal(refused.length, 2, JSON.stringify(refused));
  assert.equal(refused[0][0], "troll");
  assert.match(refused[0][1], /^127\.0\.0\.5:\d+$/);
  assert.equal(refused[1][0], "imp");
  assert.match(refused[1][1], /^127\.0\.0\.6:\d+$/);
  const logged = JSON.stringify(
    records.map((r) => [r.message, r.properties]),
  );
  assert.ok(!logged.includes(PASSWORD), "no password");
});

Deno.test("a ban set while a login waits at its password prompt refuses it there", async () => {
  await using setup = await withOperator({}, "troll", "imp");
  const { port, root } = setup;
  await using troll = await Client.connect(port, { from: "127.0.0.5" });
  await troll.expect("Welcome to TestChat");
  await troll.send("login troll");
  await troll.expect("Password for troll (a blank line cancels):");
  await using imp = await Client.connect(port, { from: "127.0.0.6" });
  await imp.expect("Welcome to TestChat");
  await imp.send("login imp");
  await imp.expect("Password for imp (a blank line cancels):");
  await root.send("ban troll 7d harassment");
  assert.match(await root.readLine(), /^Banned troll from this server until /);
  await root.send("ban 127.0.0.6 bots");
  await root.expect("Banned 127.0.0.6 from this server permanently: bots");
  await troll.send(PASSWORD);
  assert.match(
    await troll.readLine(),
    /^You are banned from this server until .*: harassment$/,
  );
  assert.deepEqual(await troll.closed(), []);
  await imp.send(PASSWORD);
  await imp.expect("You are banned from this server permanently: bots");
  assert.deepEqual(await imp.closed(), []);
  await root.send("who");
  await root.expectLines(["The following are logged in:", "root"]);
});

Deno.test("a room ban keeps a user out of that room only, at once; bans and unban", async () => {
  await using setup = await withOperator({}, "alice");
  const { port } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await join(bob, "den");
  await alice.waitFor("bob has entered the room.");
  await alice.send("ban bob trolling");
  await alice.expect('Banned bob (127.0.0.2) from "den" permanently: trolling');
  await bob.expectLines([
    'You are banned from "den" permanently: trolling',
    'You are now in room "main".',
  ]);
  await alice.waitFor("bob has left the room.");
  await bob.send("join den");
  await bob.expect('You are banned from "den" permanently: trolling');
  await bob.send("say still on the server");
  await bob.expect("bob: still on the server");
  await alice.send("bans");
  await alice.expect("Bans:");
  assert.match(
    await alice.readLine(),
    /^ {2}bob \(127\.0\.0\.2\) from "den", by alice on .* UTC, permanently: trolling$/,
  );
  await alice.send("unban bob");
  await alice.expect('Unbanned bob (127.0.0.2) from "den"');
  await join(bob, "den");
});

Deno.test("a server operator in a room lifts its ban and mute, also once its owner has given it up", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await alice.send("ban bob trolling");
  await alice.expect('Banned bob (127.0.0.2) from "den" permanently: trolling');
  await alice.send("mute 127.0.0.3 noise");
  await alice.expect('Muted 127.0.0.3 on "den" permanently: noise');
  await alice.send("unclaim");
  await alice.expect('"den" has no owner any more');
  // From main, an operator's unban is of the server's own bans.
  await root.send("unban bob");
  await root.waitFor("bob (127.0.0.2) is not banned from this server");
  // In the room, of the room's too: nobody else could lift it now.
  await join(root, "den");
  await root.send("unban bob");
  await root.expect('Unbanned bob (127.0.0.2) from "den"');
  await root.send("unmute 127.0.0.3");
  await root.expect('Unmuted 127.0.0.3 on "den"');
  // Neither holds any more: the answer names both places looked in.
  await root.send("unban bob");
  await root.expect('bob (127.0.0.2) is not banned from this server or "den"');
  await root.send("unmute 127.0.0.3");
  await root.expect('127.0.0.3 is not muted on this server or "den"');
  await root.send("bans");
  await root.expect("No bans");
  await join(bob, "den");
  await root.send("modlog 2");
  await root.waitFor("Moderation log, oldest first:");
  assert.match(
    await root.readLine(),
    / root unban bob \(127\.0\.0\.2\) on "den"$/,
  );
  assert.match(await root.readLine(), / root unmute 127\.0\.0\.3 on "den"$/);
});

Deno.test("unmute of an address tells everyone it held, once no other mute holds them", async () => {
  await using setup = await withOperator();
  const { port, root } = setup;
  await using gus = await Client.login(port, "gus", { from: "127.0.0.5" });
  await using gil = await Client.login(port, "gil", { from: "127.0.0.5" });
  await root.waitFor("gil has entered the room.");
  await gus.waitFor("gil has entered the room.");
  await root.send("mute 127.0.0.4/30 wave");
  await root.expect("Muted 127.0.0.4/30 on this server permanently: wave");
  await root.send("mute 127.0.0.5 shh");
  await root.expect("Muted 127.0.0.5 on this server permanently: shh");
  for (const client of [gus, gil]) {
    await client.expectLines([
      "You are muted permanently: wave",
      "You are muted permanently: shh",
    ]);
  }
  // The block still holds them: nothing to tell (each is told at once, in
  // the same turn as root's answer, or not at all).
  await root.send("unmute 127.0.0.5");
  await root.expect("Unmuted 127.0.0.5 on this server");
  for (const client of [gus, gil]) assert.deepEqual(await client.sync(), []);
  await root.send("unmute 127.0.0.4/30");
  await root.expect("Unmuted 127.0.0.4/30 on this server");
  for (const [name, client] of [["gus", gus], ["gil", gil]] as const) {
    await client.expect("You are no longer muted");
    await client.send("say free");
    await client.waitFor(`${name}: free`);
  }
});

Deno.test("a room's unmute does not tell a user the server still mutes that they may speak", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await join(bob, "den");
  await alice.send("mute bob room");
  await alice.waitFor('Muted bob (127.0.0.2) on "den" permanently: room');
  await bob.waitFor('You are muted in "den" permanently: room');
  await root.send("mute bob server");
  await root.waitFor(
    "Muted bob (127.0.0.2) on this server permanently: server",
  );
  await bob.expect("You are muted permanently: server");
  // The room's lifted, the server's holds: nothing to tell him (told at
  // once, in the same turn as alice's answer, or not at all).
  await alice.send("unmute bob");
  await alice.waitFor('Unmuted bob (127.0.0.2) on "den"');
  assert.deepEqual(await bob.sync(), []);
  await bob.send("say still?");
  await bob.expect("You are muted permanently: server");
});

Deno.test("mute: a server operator's holds everywhere, a room owner's in the room; each try says until when", async () => {
  const clock = new FakeClock();
  // Flood control would hold lines on the fake clock.
  await using setup = await withOperator({ clock, floodRate: 0 }, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await root.waitFor("bob has entered the room.");
  await root.send("mute bob 2h calm down");
  await root.waitFor(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 02:00:00 UTC: calm down",
  );
  await bob.expect("You are muted until 2026-01-01 02:00:00 UTC: calm down");
  for (const line of ["say hello", "me waves", "msg alice hi", "topic mine"]) {
    await bob.send(line);
    await bob.expect("You are muted until 2026-01-01 02:00:00 UTC: calm down");
  }
  await bob.send("look");
  await bob.expect("The following are in this room:");
  await root.send("unmute bob");
  await root.expect("Unmuted bob (127.0.0.2) on this server");
  await bob.waitFor("You are no longer muted");
  // A room mute: in the room only.
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await join(bob, "den");
  await alice.waitFor("bob has entered the room.");
  await alice.send("mute bob");
  await alice.expect(
    'Muted bob (127.0.0.2) on "den" permanently: no reason given',
  );
  await bob.expect('You are muted in "den" permanently: no reason given');
  await bob.send("say in den");
  await bob.expect('You are muted in "den" permanently: no reason given');
  await bob.send("msg alice private is fine");
  await bob.expect("[private to alice] private is fine");
  await alice.send("mute root");
  await alice.waitFor("You cannot mute a server operator");
  await join(bob, "main");
  await bob.send("say in main");
  await bob.expect("bob: in main");
  // A timed mute ends on time.
  await root.send("mute bob 30m");
  await root.waitFor((line) => line.startsWith("Muted bob"));
  clock.advance(30 * 60 * 1000);
  await bob.send("say free again");
  await bob.waitFor("bob: free again");
});

Deno.test("mutes lists the mutes in force as bans lists the bans: every one to a server operator, the room's to its owner and room operators", async () => {
  const clock = new FakeClock();
  await using setup = await withOperator(
    { clock, floodRate: 0 },
    "alice",
    "carol",
  );
  const { port, root } = setup;
  // Where the others' comings and goings do not show.
  await join(root, "ops");
  await using alice = await loginAccount(port, "alice");
  await using carol = await loginAccount(port, "carol");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await root.send("mutes");
  await root.expect("No mutes");
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await alice.send("roomop carol");
  await alice.expect('carol is now a room operator of "den"');
  await carol.waitFor('carol is now a room operator of "den"');
  await join(carol, "den");
  await alice.send("mute 127.0.0.3 noise");
  await alice.waitFor('Muted 127.0.0.3 on "den" permanently: noise');
  await root.send("mute bob 30m calm down");
  await root.waitFor(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 00:30:00 UTC: calm down",
  );
  // Server-wide first, though set last; the bans are not among them.
  const both = [
    "Mutes:",
    "  bob (127.0.0.2) on this server, by root on 2026-01-01 00:00 UTC, until 2026-01-01 00:30:00 UTC: calm down",
    '  127.0.0.3 on "den", by alice on 2026-01-01 00:00 UTC, permanently: noise',
  ];
  await root.send("mutes");
  assert.deepEqual(await root.sync(), both);
  await root.send("bans");
  assert.deepEqual(await root.sync(), ["No bans"]);
  // The owner and a room operator: their room's only.
  for (const moderator of [alice, carol]) {
    await moderator.send("mutes");
    assert.deepEqual(await moderator.sync(), [both[0], both[2]]);
  }
  // Nobody else, and help lists it only to those who may use it.
  await bob.send("mutes");
  await bob.waitFor(
    'Only the owner of this room, its room operators and server operators can use "mutes"',
  );
  await bob.send("help");
  assert.ok(!(await bob.sync()).some((line) => line.startsWith("  mutes ")));
  await carol.send("help");
  assert.ok((await carol.sync()).some((line) => line.startsWith("  mutes ")));
  // One that has ended is not listed.
  clock.advance(30 * 60 * 1000);
  await root.send("mutes");
  assert.deepEqual(await root.sync(), [both[0], both[2]]);
  await alice.send("unmute 127.0.0.3");
  await alice.expect('Unmuted 127.0.0.3 on "den"');
  await carol.send("mutes");
  assert.deepEqual(await carol.sync(), ["No mutes"]);
});

Deno.test("mutes lists at most 200, and says how many more", async () => {
  await using setup = await withOperator({ floodRate: 0 });
  const { root } = setup;
  for (let i = 0; i < 202; i++) {
    await root.send(`mute 10.0.${i >> 8}.${i & 255} noise`);
    await root.waitFor((line) => line.startsWith("Muted 10.0."));
  }
  await root.send("mutes");
  const lines = await root.sync();
  assert.equal(lines[0], "Mutes:");
  assert.equal(lines.length, 202);
  assert.equal(lines.at(-1), "and 2 more mutes");
});

Deno.test("lockdown: only registered users may log in, and a guest is told why", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await root.send("lockdown on");
  await root.expect("Lockdown is on: only registered users may log in");
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await guest.send("login newcomer");
  await guest.expect(
    "The server is in lockdown: only registered users may log in right now",
  );
  await using alice = await loginAccount(port, "alice");
  await root.expect("alice has entered the room.");
  await alice.send("whois alice");
  await alice.expect('alice is in room "main", connected 0s, idle 0s');
  await root.send("lockdown off");
  await root.expect("Lockdown is off: guests may log in");
  await guest.send("login newcomer");
  await root.waitFor("newcomer has entered the room.");
  await root.send("modlog 2");
  await root.expect("Moderation log, oldest first:");
  assert.match(await root.readLine(), / root lockdown on$/);
  assert.match(await root.readLine(), / root lockdown off$/);
});

Deno.test("modlog: server operators see all of it, a room owner their room's", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await join(bob, "den");
  await alice.waitFor("bob has entered the room.");
  await alice.send("kick bob behave");
  await alice.waitFor("bob was kicked by alice: behave");
  await root.send("mute bob 1h noise");
  await root.waitFor((line) => line.startsWith("Muted bob"));
  await alice.send("modlog");
  await alice.expect("Moderation log, oldest first:");
  assert.match(await alice.readLine(), / alice claim on "den"$/);
  assert.match(await alice.readLine(), / alice kick bob on "den": behave$/);
  assert.deepEqual(await alice.sync(), [], "not the server's mute");
  await root.send("modlog 2");
  await root.waitFor("Moderation log, oldest first:");
  assert.match(await root.readLine(), / alice kick bob on "den": behave$/);
  assert.match(
    await root.readLine(),
    / root mute bob \(127\.0\.0\.2\) on this server until .* UTC: noise$/,
  );
  await bob.send("modlog");
  await bob.waitFor(
    'Only the owner of this room, its room operators and server operators can use "modlog"',
  );
  // A sanction for good says so, as bans does; a kick has no end to tell.
  await root.send("ban 192.0.2.9 bots");
  await root.expect("Banned 192.0.2.9 from this server permanently: bots");
  await root.send("modlog 1");
  await root.expect("Moderation log, oldest first:");
  assert.match(
    await root.readLine(),
    / root ban 192\.0\.2\.9 on this server permanently: bots$/,
  );
  // Past the most at a time is said, as history says it, not cut quietly.
  await root.send("modlog 500");
  await root.expect("At most 200 lines at a time");
  // However many digits: "modlog 999999" is as past the most as 500 is.
  await root.send("modlog 999999");
  await root.expect("At most 200 lines at a time");
});

Deno.test("help lists moderation commands only to those who may use them, and explains each to anyone", async () => {
  await using setup = await withOperator({}, "alice");
  const { port, root } = setup;
  const helpOf = async (client: Client) => {
    await client.send("help");
    return (await client.sync()).map((line) => line.trim().split(" ")[0]);
  };
  await using guest = await Client.login(port, "guest");
  const plain = await helpOf(guest);
  for (const word of ["kick", "ban", "op", "lockdown", "claim", "roomop"]) {
    assert.ok(!plain.includes(word), `a guest is not shown ${word}`);
  }
  await using alice = await loginAccount(port, "alice");
  assert.ok((await helpOf(alice)).includes("claim"), "registered: claim");
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  const owner = await helpOf(alice);
  for (const word of ["kick", "ban", "unban", "bans", "mute", "roomop"]) {
    assert.ok(owner.includes(word), `the owner is shown ${word}`);
  }
  assert.ok(!owner.includes("lockdown") && !owner.includes("op"));
  const operator = await helpOf(root);
  for (const word of ["op", "deop", "lockdown", "kick", "ban", "modlog"]) {
    assert.ok(operator.includes(word), `an operator is shown ${word}`);
  }
  // Asked about by name, a command one may not use is explained, with who
  // may use it, as running it says: not "No command called".
  // A line too long for the terminal goes on below it, indented further.
  const unwrapped = (lines: string[]) =>
    lines.reduce<string[]>((all, line) => {
      if (line.startsWith("    ")) all.push(`${all.pop()} ${line.trim()}`);
      else all.push(line);
      return all;
    }, []);
  await guest.send("help kick");
  await guest.waitFor("Usage: kick NAME [REASON]");
  const kick = unwrapped(await guest.sync());
  assert.equal(
    kick.at(-1),
    '  Only the owner of this room, its room operators and server operators can use "kick"',
  );
  await guest.send("help lockdown");
  await guest.expect("Usage: lockdown [on|off]");
  assert.equal(
    unwrapped(await guest.sync()).at(-1),
    '  Only a server operator can use "lockdown"',
  );
  // To one who may, the same explanation without that line.
  await root.send("help kick");
  await root.waitFor("Usage: kick NAME [REASON]");
  assert.deepEqual(unwrapped(await root.sync()), kick.slice(0, -1));
  await root.send("help modlog");
  await root.expectLines([
    "Usage: modlog [N]",
    "  the last N moderation actions (default 20)",
    "  Server operators see all of it; others, this room's.",
    "  At most 200 at a time.",
  ]);
  await guest.send("help dance");
  await guest.expect('No command called "dance"; type "help" for the list');
});

Deno.test("a claimed room stays with its topic and owner when empty, and rooms lists it; main cannot be claimed", async () => {
  await using setup = await withOperator({}, "alice");
  const { port } = setup;
  await using guest = await Client.login(port, "guest");
  await guest.send("claim");
  await guest.expect('Only a registered user can use "claim"; see "register"');
  await using alice = await loginAccount(port, "alice");
  await guest.expect("alice has entered the room.");
  await alice.send("claim");
  await alice.expect('"main" belongs to the server operators');
  await setup.root.send("roomop alice");
  await setup.root.waitFor('"main" belongs to the server operators');
  await join(alice, "Den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  await alice.send("topic ours");
  await alice.expect("alice set the topic: ours");
  await join(alice, "main");
  await guest.sync();
  await guest.send("rooms");
  await guest.expectLines([
    "Rooms:",
    "  main (3 people)",
    "  Den (0 people): ours",
  ]);
  await join(guest, "den");
  await guest.send("claim");
  await guest.waitFor('Only a registered user can use "claim"; see "register"');
  await join(alice, "den");
  await alice.send("unclaim");
  await alice.waitFor('"Den" has no owner any more');
  await join(alice, "main");
  await join(guest, "main");
  await guest.sync();
  await guest.send("rooms");
  await guest.expectLines(["Rooms:", "  main (3 people)"]);
});

Deno.test("an account owns at most 15 rooms; a server operator any number", async () => {
  await using setup = await withOperator({ floodRate: 0 }, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  for (let i = 0; i < 15; i++) {
    await join(alice, `r${i}`);
    await alice.send("claim");
    await alice.waitFor(
      `You now own "r${i}": it stays, with its topic, even when empty`,
    );
  }
  await join(alice, "r15");
  await alice.send("claim");
  await alice.expect(
    "You own 15 rooms already, the most one account may; unclaim one first",
  );
  await join(alice, "r3");
  await alice.send("unclaim");
  await alice.waitFor('"r3" has no owner any more');
  await join(alice, "r15");
  await alice.send("claim");
  await alice.waitFor(
    'You now own "r15": it stays, with its topic, even when empty',
  );
  for (let i = 0; i < 16; i++) {
    await join(root, `op${i}`);
    await root.send("claim");
    await root.waitFor(
      `You now own "op${i}": it stays, with its topic, even when empty`,
    );
  }
});

Deno.test("--max-claimed-rooms: past it in all, a claim is refused with a line; a server operator's is not", async () => {
  await using setup = await withOperator(
    { floodRate: 0, maxClaimedRooms: 3 },
    "alice",
    "bob",
  );
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await loginAccount(port, "bob");
  for (const room of ["a1", "a2"]) {
    await join(alice, room);
    await alice.send("claim");
    await alice.waitFor((line) => line.startsWith(`You now own "${room}"`));
  }
  await join(root, "op1");
  await root.send("claim");
  await root.waitFor((line) => line.startsWith('You now own "op1"'));
  // Three claimed: bob owns none, and still may not.
  await join(bob, "b1");
  await bob.send("claim");
  await bob.expect(
    "This server has 3 claimed rooms, the most it keeps; ask a server operator",
  );
  await bob.send("look");
  await bob.expectLines(["The following are in this room:", "bob"]);
  await join(root, "op2");
  await root.send("claim");
  await root.waitFor((line) => line.startsWith('You now own "op2"'));
  // One given up makes room for another.
  await join(alice, "a1");
  await alice.send("unclaim");
  await alice.waitFor('"a1" has no owner any more');
  await root.send("unclaim");
  await root.waitFor('"op2" has no owner any more');
  await bob.send("claim");
  await bob.waitFor((line) => line.startsWith('You now own "b1"'));
});

Deno.test("a room holds at most 100 bans in force; a server operator's are not counted", async () => {
  await using setup = await withOperator({ floodRate: 0 }, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  for (let i = 0; i < 100; i++) {
    await alice.send(`ban 10.0.0.${i}`);
    await alice.waitFor((line) =>
      line.startsWith(`Banned 10.0.0.${i} from "den"`)
    );
  }
  await alice.send("ban 10.0.1.0");
  await alice.expect(
    '"den" has 100 bans in force already, the most a room may; unban one first',
  );
  // One in force may still be set again, with a new reason.
  await alice.send("ban 10.0.0.7 again");
  await alice.waitFor((line) => line.startsWith('Banned 10.0.0.7 from "den"'));
  await alice.send("unban 10.0.0.7");
  await alice.waitFor((line) => line.startsWith("Unbanned 10.0.0.7"));
  await alice.send("ban 10.0.1.0");
  await alice.waitFor((line) => line.startsWith('Banned 10.0.1.0 from "den"'));
  await root.send("ban 10.0.2.0");
  await root.waitFor((line) =>
    line.startsWith("Banned 10.0.2.0 from this server")
  );
});

Deno.test("bans lists at most 200, the server's own first, and says how many more", async () => {
  await using setup = await withOperator({ floodRate: 0 }, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  for (const room of ["a", "b", "c"]) {
    await join(alice, room);
    await alice.send("claim");
    await alice.waitFor((line) => line.startsWith("You now own"));
    for (let i = 0; i < 70; i++) {
      await alice.send(
        `ban 10.0.${room.charCodeAt(0)}.${i} ${"why ".repeat(50)}`,
      );
      await alice.waitFor((line) => line.startsWith(`Banned 10.0.`));
    }
  }
  await root.send("ban 192.0.2.1 the server's own");
  await root.waitFor((line) => line.startsWith("Banned 192.0.2.1"));
  await root.send("bans");
  await root.expect("Bans:");
  assert.match(await root.readLine(), /^ {2}192\.0\.2\.1 from this server, /);
  const lines: string[] = [];
  while (true) {
    const line = await root.readLine();
    if (line.startsWith("and ")) {
      assert.equal(line, "and 11 more bans");
      break;
    }
    lines.push(line);
  }
  assert.equal(lines.length, 199);
});

Deno.test("bans, operators and claimed rooms outlive a restart of the real process", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  const start = () =>
    ServerProcess.start(ServerProcess.mainArgs("--db", db, "--op", "root"));
  try {
    {
      await using server = await start();
      await using root = await registered(server.port, "root");
      await root.send("ban 127.0.0.2 before the restart");
      await root.expect(
        "Banned 127.0.0.2 from this server permanently: before the restart",
      );
      await join(root, "den");
      await root.send("claim");
      await root.waitFor((line) => line.startsWith("You now own"));
      assert.equal((await server.stop()).code, 0);
    }
    await using server = await start();
    await using banned = await Client.connect(server.port, {
      from: "127.0.0.2",
    });
    await banned.expect(
      "You are banned from this server permanently: before the restart",
    );
    await using root = await loginAccount(server.port, "root");
    await root.send("whois root");
    await root.waitFor("root is a server operator");
    await root.send("rooms");
    await root.expectLines(["Rooms:", "  main (1 person)", "  den (0 people)"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("unregister takes an account's roles with it: whoever registers the name next has none", async () => {
  await using setup = await withOperator({}, "dave");
  const { port, root } = setup;
  {
    await using dave = await loginAccount(port, "dave");
    await root.send("op dave");
    await root.waitFor("dave is now a server operator");
    await join(dave, "den");
    await dave.send("claim");
    await dave.waitFor((line) => line.startsWith("You now own"));
    await dave.send("unregister");
    await dave.waitFor((line) =>
      line.startsWith('To delete the account "dave"')
    );
    await dave.send(PASSWORD);
    await dave.waitFor(
      'The account "dave" is deleted; you stay online as a guest.',
    );
    await dave.send("lockdown");
    await dave.expect('Only a server operator can use "lockdown"');
    await dave.send("logout");
    await dave.closed();
  }
  await using next = await registered(port, "dave", { from: "127.0.0.9" });
  await next.send("lockdown");
  await next.expect('Only a server operator can use "lockdown"');
  await next.send("whois dave");
  const whois = await next.sync();
  assert.ok(!whois.includes("dave is a server operator"), whois.join("\n"));
  await join(next, "den");
  await next.send("unclaim");
  await next.expect(
    'Only the owner of this room (or a server operator) can use "unclaim"',
  );
  await next.send("claim");
  await next.expect(
    'You now own "den": it stays, with its topic, even when empty',
  );
});

Deno.test("an account that is muted cannot unregister to go on as a guest", async () => {
  await using setup = await withOperator({}, "bob");
  const { port, root } = setup;
  await using bob = await loginAccount(port, "bob", { from: "127.0.0.2" });
  await root.waitFor("bob has entered the room.");
  await root.send("mute bob");
  await root.waitFor((line) => line.startsWith("Muted bob"));
  await bob.waitFor("You are muted permanently: no reason given");
  await bob.send("unregister");
  await bob.expectLines([
    "You cannot unregister while your account is banned or muted",
    "You are muted permanently: no reason given",
  ]);
  // Nor by waiting at the password prompt for the mute to come.
  await root.send("unmute bob");
  await root.expect("Unmuted bob on this server");
  await bob.expect("You are no longer muted");
  await bob.send("unregister");
  await bob.expect(
    'To delete the account "bob", type its password (a blank line cancels):',
  );
  await root.send("mute bob 1h calm down");
  await root.waitFor((line) => line.startsWith("Muted bob"));
  await bob.waitFor((line) => line.startsWith("You are muted until "));
  await bob.send(PASSWORD);
  await bob.expect(
    "You cannot unregister while your account is banned or muted",
  );
  assert.match(await bob.readLine(), /^You are muted until .*: calm down$/);
  await bob.send("whois bob");
  await bob.waitFor("bob is a registered user");
});

Deno.test("guard rails hold for addresses too; a room operator acts, until roomdeop", async () => {
  // The fake clock, for the end of the mute; flood control would hold lines
  // on it.
  await using setup = await withOperator(
    { clock: new FakeClock(), floodRate: 0 },
    "alice",
    "roomie",
  );
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice", { from: "127.0.0.5" });
  await using roomie = await loginAccount(port, "roomie", {
    from: "127.0.0.6",
  });
  await using bob = await Client.login(port, "bob", { from: "127.0.0.7" });
  await join(alice, "den");
  await alice.send("claim");
  await alice.waitFor((line) => line.startsWith("You now own"));
  for (const client of [roomie, bob, root]) await join(client, "den");
  await alice.send("roomop roomie");
  await alice.waitFor('roomie is now a room operator of "den"');
  await roomie.waitFor('roomie is now a room operator of "den"');
  // The owner, and a server operator, by the address they are behind.
  await roomie.send("ban 127.0.0.5 coup");
  await roomie.expect("That ban would match alice, the owner of this room");
  await roomie.send("mute 127.0.0.5");
  await roomie.expect("That mute would match alice, the owner of this room");
  // A room's mute does not hold a server operator: set, and telling
  // nothing of whose address it is.
  await alice.send("mute 127.0.0.1/32 shh");
  assert.match(await alice.readLine(), /^Muted 127\.0\.0\.1 on "den" /);
  await alice.send("unmute 127.0.0.1/32");
  await alice.sync();
  await root.send("ban 127.0.0.0/29");
  await root.expect(
    "That ban of 127.0.0.0/29 would match you: you are connected from 127.0.0.1",
  );
  // A room operator acts in the room; the owner and operators are refused.
  await roomie.send("kick root");
  await roomie.expect("You cannot kick a server operator");
  await alice.send("ban root");
  await alice.expect("You cannot ban a server operator");
  await root.send("mute root");
  await root.expect("You cannot mute yourself");
  await roomie.send("mute bob 10m noise");
  await roomie.expect(
    'Muted bob (127.0.0.7) on "den" until 2026-01-01 00:10:00 UTC: noise',
  );
  await bob.waitFor((line) => line.startsWith('You are muted in "den"'));
  await roomie.send("kick bob");
  await roomie.expect("bob was kicked by roomie: no reason given");
  await alice.send("roomdeop roomie");
  await alice.waitFor('roomie is no longer a room operator of "den"');
  await roomie.waitFor('roomie is no longer a room operator of "den"');
  await roomie.send("unmute bob");
  await roomie.expect(
    'Only the owner of this room, its room operators and server operators can use "unmute"',
  );
});

Deno.test("a duration is read whole (1h30m, 90min) and a mistyped one is refused, not taken for the reason", async () => {
  // Flood control would hold lines on the fake clock.
  await using setup = await withOperator({
    clock: new FakeClock(),
    floodRate: 0,
  });
  const { port, root } = setup;
  await using _bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await root.waitFor("bob has entered the room.");
  await root.send("mute bob 1h30m spam");
  await root.expect(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 01:30:00 UTC: spam",
  );
  await root.send("mute bob 90min spam");
  await root.expect(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 01:30:00 UTC: spam",
  );
  // In full width, as a CJK input method types it: the same duration, not a
  // reason that makes the mute permanent.
  await root.send("mute bob ３０ｍ spam");
  await root.expect(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 00:30:00 UTC: spam",
  );
  // Durations in a row add up, as people write them.
  await root.send("mute bob 1h 30m spam");
  await root.expect(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 01:30:00 UTC: spam",
  );
  await root.send("mute bob 2h");
  await root.expect(
    "Muted bob (127.0.0.2) on this server until 2026-01-01 02:00:00 UTC: no reason given",
  );
  for (
    const typed of [
      "1.5h",
      "0m",
      "400d",
      "2y",
      "90",
      "-5m",
      "+2h",
      "１.５ｈ",
      "1e3m",
      "99999999d",
      "1h30",
      "6mo",
    ]
  ) {
    await root.send(`mute bob ${typed} spam`);
    await root.expect(
      `Cannot read "${typed}" as a duration: write whole numbers with s, m, h, d, w or y (30m, 2h, 1h30m or 1h 30m, 7d), at most 366d; leave it out for good`,
    );
  }
  // After a duration, a mistyped one is refused too, not taken for the
  // reason; and the whole is held to 366 days.
  await root.send("mute bob 1h 1e3m spam");
  assert.match(await root.readLine(), /^Cannot read "1e3m" as a duration/);
  await root.send("mute bob 300d 100d spam");
  assert.match(
    await root.readLine(),
    /^Cannot read "300d 100d" as a duration/,
  );
  await root.send("mute bob 1 hour");
  assert.match(await root.readLine(), /^Cannot read "1" as a duration/);
  await root.send("mute bob 3rd strike");
  await root.expect(
    "Muted bob (127.0.0.2) on this server permanently: 3rd strike",
  );
  // A word with a number that is no unit is the reason's first.
  await root.send("mute bob  2fa bypass");
  await root.expect(
    "Muted bob (127.0.0.2) on this server permanently: 2fa bypass",
  );
});

Deno.test("a ban on an IPv6 address, and one on a mapped IPv4 block, refuse at connect", async () => {
  // Dual stack: root comes from 127.0.0.1, the others from ::1 and 127.0.2.x.
  await using setup = await withOperator({ host: "::" });
  const { port, root } = setup;
  await root.send("ban ::1 over six");
  await root.expect("Banned ::1 from this server permanently: over six");
  await using six = await Client.connect(port, { hostname: "::1" });
  await six.expect("You are banned from this server permanently: over six");
  await root.send("ban ::ffff:127.0.2.0/120 mapped");
  await root.expect("Banned 127.0.2.0/24 from this server permanently: mapped");
  await using mapped = await Client.connect(port, { from: "127.0.2.9" });
  await mapped.expect("You are banned from this server permanently: mapped");
  await using four = await Client.connect(port, { from: "127.0.3.9" });
  await four.expect("Welcome to TestChat");
});

Deno.test("a muted user cannot reply, change name or set an away message either", async () => {
  await using setup = await withOperator({ floodRate: 0 }, "alice");
  const { port, root } = setup;
  await using alice = await loginAccount(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await alice.waitFor("bob has entered the room.");
  await alice.send("msg bob are you there?");
  await bob.waitFor("[private] alice: are you there?");
  await alice.sync();
  await root.send("mute bob calm down");
  await root.waitFor((line) => line.startsWith("Muted bob"));
  await bob.waitFor("You are muted permanently: calm down");
  for (const line of ["reply yes", "nick LOUD_BOB", "away BUY NOW"]) {
    await bob.send(line);
    await bob.expect("You are muted permanently: calm down");
  }
  await bob.send("away");
  await bob.expect("You are marked as away");
  assert.deepEqual(await alice.sync(), [], "alice saw none of it");
});

Deno.test("a timed ban outlives a restart on the same file and ends on time (fake clock)", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  const clock = new FakeClock();
  try {
    {
      await using setup = await withOperator({ db, clock });
      await setup.root.send("ban 127.0.0.2 20m spam");
      await setup.root.expect(
        "Banned 127.0.0.2 from this server until 2026-01-01 00:20:00 UTC: spam",
      );
    }
    clock.advance(19 * 60 * 1000);
    await using server = await startServer({ db, clock, ops: ["root"] });
    {
      await using banned = await Client.connect(server.addr.port, {
        from: "127.0.0.2",
      });
      await banned.expect(
        "You are banned from this server until 2026-01-01 00:20:00 UTC: spam",
      );
    }
    clock.advance(60 * 1000);
    await using back = await Client.connect(server.addr.port, {
      from: "127.0.0.2",
    });
    await back.expect("Welcome to TestChat");
    await server.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Moderation.find() reads only the sanctions of the kind and room asked, whatever other rooms hold", async () => {
  // Every registered user may fill 15 rooms with 100 bans and 100 mutes:
  // the check on each line and each connection must not read them all.
  let read = 0;
  const counted = (sanction: Sanction): Sanction =>
    new Proxy(sanction, {
      get(target, key: keyof Sanction) {
        read++;
        return target[key];
      },
    });
  const sanction = (kind: SanctionKind, room: string, target: string) =>
    counted({
      kind,
      room,
      target,
      label: target,
      by: "someone",
      at: 0,
      until: null,
      reason: "spam",
    });
  const sanctions = [
    sanction("mute", "", "account:eve"),
    sanction("mute", "den", "address:192.0.2.0/24"),
    sanction("ban", "den", "address:192.0.2.0/24"),
  ];
  for (let i = 0; i < 1000; i++) {
    sanctions.push(sanction("mute", `room${i % 15}`, `address:10.0.${i}`));
  }
  const store = {
    operators: () => Promise.resolve([]),
    sanctions: () => Promise.resolve(sanctions),
    lockdown: () => Promise.resolve(false),
  } as unknown as Store;
  const moderation = await Moderation.load(store, {
    operators: [],
    clock: new FakeClock(),
  });
  read = 0;
  const bob = { account: "bob", address: "192.0.2.1" };
  assert.equal(moderation.find("mute", "", bob), null);
  assert.equal(moderation.find("mute", "den", bob), sanctions[1]);
  assert.equal(moderation.find("ban", "", bob), null);
  assert.equal(moderation.find("mute", "lab", bob), null);
  // The server's one mute and den's: a few reads each, not a thousand.
  assert.ok(read < 20, `${read} reads of the sanctions`);
});

Deno.test("Moderation: address bans set and lifted over time leave no parsed address behind", async () => {
  const kept: Sanction[] = [];
  const store = {
    operators: () => Promise.resolve([]),
    sanctions: () => Promise.resolve([...kept]),
    lockdown: () => Promise.resolve(false),
    addSanction: (sanction: Sanction) => {
      kept.push(sanction);
      return Promise.resolve();
    },
    removeSanction: () => Promise.resolve(),
  } as unknown as Store;
  const moderation = await Moderation.load(store, {
    operators: [],
    clock: new FakeClock(),
  });
  const guest = { account: null, address: "192.0.2.1" };
  // A room owner bans an address, someone says a line (which parses it),
  // and the ban is lifted: a thousand times over.
  for (let i = 0; i < 1000; i++) {
    const target = `address:10.${i >> 8}.${i & 255}.1`;
    await moderation.add({
      kind: "ban",
      room: "den",
      target,
      label: target,
      by: "owner",
      at: 0,
      until: null,
      reason: "spam",
    });
    assert.equal(moderation.find("ban", "den", guest), null);
    await moderation.remove("ban", "den", target);
  }
  assert.ok(
    moderation.parsedBlocks <= 64,
    `${moderation.parsedBlocks} parsed addresses kept`,
  );
});

Deno.test("a ban whose moderation log line the database cannot take is in force all the same: the user is put out and the moderator told", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const clock = new FakeClock();
    await using setup = await withOperator({ clock, db: `${dir}/chat.db` });
    const { port, root } = setup;
    await using mallory = await Client.login(port, "mallory", {
      from: "127.0.0.2",
    });
    await root.waitFor("mallory has entered the room.");
    // The disk fills between the ban and its line in the moderation log.
    const other = openDatabase(`${dir}/chat.db`);
    try {
      other.exec(
        "CREATE TRIGGER full BEFORE INSERT ON modlog BEGIN " +
          "SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
      );
    } finally {
      other.close();
    }
    await root.send("ban mallory 30m spamming");
    await root.expect(
      "Banned mallory (127.0.0.2) from this server until 2026-01-01 00:30:00 UTC: spamming",
    );
    await mallory.expect(
      "You are banned from this server until 2026-01-01 00:30:00 UTC: spamming",
    );
    await mallory.closed();
    await root.send("modlog");
    assert.ok(
      !(await root.sync()).some((line) => line.includes("spamming")),
      "the line was not kept",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an address ban that matches where an offline server operator last logged in is refused, as for one online", async () => {
  await using server = await startServer({ ops: ["root", "admin"] });
  const port = server.addr.port;
  {
    await using admin = await registered(port, "admin", { from: "127.0.0.2" });
    await admin.send("logout");
    await admin.closed();
  }
  {
    await using again = await loginAccount(port, "admin", {
      from: "127.0.0.3",
    });
    await again.send("logout");
    await again.closed();
  }
  await using root = await registered(port, "root");
  // Where admin last logged in: refused, or admin is shut out with nobody
  // online to lift it.
  await root.send("ban 127.0.0.2/31 nobody from there");
  assert.deepEqual(await root.sync(), [
    "That ban would match admin, a server operator",
  ]);
  await root.send("ban 127.0.0.3");
  assert.deepEqual(await root.sync(), [
    "That ban would match admin, a server operator",
  ]);
  // Where admin registered from, but no longer logs in from: a ban.
  await root.send("ban 127.0.0.2");
  await root.waitFor((line) => line.startsWith("Banned 127.0.0.2 "));
});

Deno.test("an --op account registered while the database cannot record it as an operator is registered, and an operator here", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = await startServer({
      ops: ["root"],
      db: `${dir}/chat.db`,
    });
    // The disk fills between the account and its operator row.
    const other = openDatabase(`${dir}/chat.db`);
    try {
      other.exec(
        "CREATE TRIGGER full BEFORE INSERT ON operators BEGIN " +
          "SELECT RAISE(ROLLBACK, 'database or disk is full'); END",
      );
    } finally {
      other.close();
    }
    await using root = await registered(server.addr.port, "root");
    await root.send("lockdown");
    assert.deepEqual(await root.sync(), ["Lockdown is off: guests may log in"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a room's ban or mute of an address tells nothing of where a server operator is or was: only a server ban is refused for it", async () => {
  await using server = await startServer({ ops: ["root", "admin"] });
  const port = server.addr.port;
  {
    // admin was last on 127.0.0.2 and is offline; root is on 127.0.0.4.
    await using admin = await registered(port, "admin", { from: "127.0.0.2" });
    await admin.send("logout");
    await admin.closed();
  }
  await using root = await registered(port, "root", { from: "127.0.0.4" });
  await using bob = await registered(port, "bob", { from: "127.0.0.9" });
  await join(bob, "den");
  await bob.send("claim");
  await bob.waitFor((line) => line.startsWith("You now own"));
  // Room bans and mutes do not hold server operators: set, not refused
  // with the operator's name (which would say where they are).
  for (const target of ["127.0.0.2", "127.0.0.4"]) {
    await bob.send(`ban ${target} 1h`);
    const banned = await bob.sync();
    assert.ok(
      banned.some((line) => line.startsWith(`Banned ${target} from "den"`)),
      `${banned}`,
    );
    await bob.send(`mute ${target} 1h`);
    const muted = await bob.sync();
    assert.ok(
      !muted.some((line) => line.includes("server operator")),
      `${muted}`,
    );
  }
  // root, online on 127.0.0.4, still joins the room banned to that address.
  await join(root, "den");
  // A server ban of either address is refused, as before.
  await root.send("ban 127.0.0.2");
  assert.deepEqual(await root.sync(), [
    "That ban would match admin, a server operator",
  ]);
});

Deno.test("Moderation.reload() answers each sanction set or lifted elsewhere once, and not one that ran out", async () => {
  const clock = new FakeClock();
  const mute = (target: string, until: number | null): Sanction => ({
    kind: "mute",
    room: "",
    target,
    label: target,
    by: "root",
    at: clock.date(),
    until,
    reason: "",
  });
  const lifted = mute("address:192.0.2.1", null);
  const ending = mute("address:192.0.2.2", clock.date() + 1000);
  let kept: Sanction[] = [lifted, ending];
  const store = {
    operators: () => Promise.resolve([]),
    sanctions: (now: number) =>
      Promise.resolve(
        kept.filter((s) => s.until === null || s.until > now),
      ),
    lockdown: () => Promise.resolve(false),
  } as unknown as Store;
  const moderation = await Moderation.load(store, { operators: [], clock });
  // Another server lifts one and sets one; the other runs out.
  const added = mute("address:192.0.2.3", null);
  kept = [ending, added];
  clock.advance(1000);
  // Two reloads at once (an announcement heard and the retake after a
  // cut-off): the changes are answered by one of them only.
  const both = await Promise.all([moderation.reload(), moderation.reload()]);
  assert.deepEqual(both[0], { added: [added], lifted: [lifted] });
  assert.deepEqual(both[1], { added: [], lifted: [] });
  assert.deepEqual(await moderation.reload(), { added: [], lifted: [] });
});
