import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  loginAccount,
  loginAll,
  registered,
  startServer,
} from "./helpers.ts";
import { WsClient } from "./ws_helpers.ts";

Deno.test("join moves you: the old room sees you leave, the new one arrive", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await bob.send("join lobby");
  await bob.expect('You are now in room "lobby".');
  await alice.expect("bob has left the room.");
  await carol.expect("bob has left the room.");
  await carol.send("/JOIN Lobby");
  await carol.expect('You are now in room "lobby".');
  await bob.expect("carol has entered the room.");
  await alice.expect("carol has left the room.");

  await bob.send("say only lobby hears this");
  await carol.expect("bob: only lobby hears this");
  await bob.expect("bob: only lobby hears this");
  assert.deepEqual(await alice.sync(), [], "main does not hear the lobby");

  await carol.send("look");
  await carol.expectLines(["The following are in this room:", "bob", "carol"]);
  await alice.send("look");
  await alice.expectLines(["The following are in this room:", "alice"]);
  await alice.send("who");
  await alice.expectLines([
    "The following are logged in:",
    "alice",
    "bob",
    "carol",
  ]);
});

Deno.test("a room exists while it has members; main always", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await bob.send("join den");
  await bob.expect('You are now in room "den".');
  await alice.expect("bob has left the room.");
  await alice.send("rooms");
  await alice.expectLines([
    "Rooms:",
    "  main (2 people)",
    "  den (1 person)",
  ]);
  await bob.send("join main");
  await bob.expect('You are now in room "main".');
  await alice.waitFor("bob has entered the room.");
  await alice.send("rooms");
  await alice.expectLines(["Rooms:", "  main (3 people)"]);
  assert.equal(server.registry.rooms.size, 1);
});

Deno.test("join refuses the room you are in and names that break the rules", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("join MAIN");
  await alice.expect('You are already in room "main"');
  await alice.send("join two words");
  assert.match(await alice.readLine(), /^Cannot use the room name "two words"/);
  await alice.send("join");
  await alice.expect("Usage: join ROOM");
});

Deno.test("join #den, as IRC writes a channel, is the room den", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("join #den");
  await alice.expect('You are now in room "den".');
  await alice.send("join #DEN");
  await alice.expect('You are already in room "den"');
  // Only one "#" goes, and not a "#" alone.
  await alice.send("join ##den");
  assert.match(await alice.readLine(), /^Cannot use the room name "#den"/);
  await alice.send("join #");
  assert.match(await alice.readLine(), /^Cannot use the room name "#"/);
});

Deno.test("join refuses a new room that looks like one that is here", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob");
  const [alice, bob] = party;
  await alice.send("join rnain");
  await alice.expect(
    'Cannot use the room name "rnain": it looks like the room "main"',
  );
  await bob.send("join release");
  await bob.expect('You are now in room "release".');
  await alice.expect("bob has left the room.");
  await alice.send("join re1ease");
  await alice.expect(
    'Cannot use the room name "re1ease": it looks like the room "release"',
  );
  // The room itself, in any letter case, is no look-alike.
  await alice.send("join RELEASE");
  await alice.expect('You are now in room "release".');
  await bob.expect("alice has entered the room.");
  // Once release has gone, the name that looked like it is free.
  await alice.send("join main");
  await alice.expect('You are now in room "main".');
  await bob.expect("alice has left the room.");
  await bob.send("join main");
  await bob.expect('You are now in room "main".');
  await alice.waitFor("bob has entered the room.");
  await alice.send("join re1ease");
  await alice.expect('You are now in room "re1ease".');
});

Deno.test("rooms lists at most 200: main, then those with the most people, and how many more", async () => {
  await using server = await startServer({ ops: ["root"], floodRate: 0 });
  const port = server.addr.port;
  await using root = await registered(port, "root");
  // A claimed room is listed even when empty; an operator may claim any
  // number of them.
  for (let i = 0; i < 205; i++) {
    await root.send(`join r${i}`);
    await root.send("claim");
    await root.waitFor((line) => line.startsWith(`You now own "r${i}"`));
  }
  await root.send("join main");
  await root.waitFor('You are now in room "main".');
  await using bob = await Client.login(port, "bob");
  await root.expect("bob has entered the room.");
  await bob.send("join r204");
  await bob.expect('You are now in room "r204".');
  await root.expect("bob has left the room.");
  await root.send("rooms");
  const lines = [await root.readLine()];
  while (!lines.at(-1)!.startsWith("and ")) lines.push(await root.readLine());
  assert.equal(lines.length, 1 + 200 + 1);
  assert.deepEqual(lines.slice(0, 4), [
    "Rooms:",
    "  main (1 person)",
    "  r0 (0 people)",
    "  r1 (0 people)",
  ]);
  assert.ok(lines.includes("  r204 (1 person)"), "the room with people is in");
  assert.ok(
    !lines.includes("  r203 (0 people)"),
    "an empty one past 200 is not",
  );
  assert.equal(lines.at(-1), "and 6 more rooms, with fewer people");
});

Deno.test("a room keeps its topic; joining shows it; rooms lists it", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await alice.send("topic");
  await alice.expect('Room "main" has no topic');
  await alice.send("topic Deno and chat");
  for (const client of [alice, bob, carol]) {
    await client.expect("alice set the topic: Deno and chat");
  }
  await bob.send("join side");
  await bob.expect('You are now in room "side".');
  await bob.send("join main");
  await bob.expectLines([
    'You are now in room "main".',
    'Topic of "main": Deno and chat',
  ]);
  await bob.send("topic");
  await bob.expect('Topic of "main": Deno and chat');
  await bob.send("rooms");
  await bob.expectLines(["Rooms:", "  main (3 people): Deno and chat"]);
});

Deno.test("joining replays the room's last 20 lines, marked, before live lines", async () => {
  await using server = await startServer({ floodRate: 0 });
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await alice.send("join den");
  await alice.expect('You are now in room "den".');
  const said = Array.from({ length: 25 }, (_, i) => `say line ${i + 1}`);
  await alice.send([...said, "me waves"].join("\r\n"));
  await alice.waitFor("* alice waves");
  await bob.send("join den");
  // Once bob is in (his replay may still be on its way), alice speaks.
  await alice.expect("bob has entered the room.");
  await alice.send("say live");
  await bob.expectLines([
    "alice has left the room.",
    'You are now in room "den".',
  ]);
  for (let i = 7; i <= 25; i++) await bob.expect(`[history] alice: line ${i}`);
  await bob.expect("[history] * alice waves");
  await bob.expect("alice: live");
});

Deno.test("--history-lines 0 turns the replay off", async () => {
  await using server = await startServer({ historyLines: 0 });
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await alice.send("say before");
  await bob.expect("alice: before");
  await bob.send("join den");
  await bob.send("join main");
  await bob.expect('You are now in room "den".');
  await bob.expect('You are now in room "main".');
  assert.deepEqual(await bob.sync(), []);
});

Deno.test("msg is private: the recipient sees who sent it, the sender an echo", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await alice.send("msg BOB meet me in the den");
  await alice.expect("[private to bob] meet me in the den");
  await bob.expect("[private] alice: meet me in the den");
  assert.deepEqual(await carol.sync(), [], "nobody else sees it");
  await bob.send("reply on my way");
  await bob.expect("[private to alice] on my way");
  await alice.expect("[private] bob: on my way");
  assert.deepEqual(await carol.sync(), []);

  await alice.send("msg nobody hello");
  await alice.expect('No one called "nobody" is online');
  await alice.send("msg alice talking to myself");
  await alice.expect("You cannot send a private message to yourself");
  await alice.send("msg bob");
  await alice.expect("Usage: msg NAME TEXT");
  await carol.send("reply hello?");
  await carol.expect("Nobody has sent you a private message yet");
});

Deno.test("reply to someone who left says so", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await alice.send("msg bob bye");
  await bob.expect("[private] alice: bye");
  await alice.send("logout");
  await bob.expect("alice has left the room.");
  await bob.send("reply wait");
  await bob.expect(
    "alice, who wrote to you, has logged out",
  );
  // Back under the name, a new session: online, but not who wrote.
  await using back = await Client.login(server.addr.port, "alice");
  await bob.expect("alice has entered the room.");
  await bob.send("reply wait");
  await bob.expect(
    "alice, who wrote to you, has logged out",
  );
  await bob.send("msg alice there you are");
  await back.expect("[private] bob: there you are");
});

Deno.test("reply to someone who renamed and left names them as they were last called", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob");
  const [alice, bob] = party;
  await alice.send("msg bob bye");
  await bob.expect("[private] alice: bye");
  await alice.send("nick alicia");
  await bob.expect("alice is now known as alicia.");
  await alice.send("logout");
  await bob.expect("alicia has left the room.");
  // Someone else under the old name: not the one who wrote, and online.
  await using newcomer = await Client.login(server.addr.port, "alice");
  await bob.expect("alice has entered the room.");
  await bob.send("reply wait");
  await bob.expect(
    "alicia, who wrote to you, has logged out",
  );
  assert.deepEqual(await newcomer.sync(), [], "the new alice gets nothing");
});

Deno.test("me shows an emote to the room", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await bob.send("/me waves at everyone");
  for (const client of [alice, bob, carol]) {
    await client.expect("* bob waves at everyone");
  }
  await bob.send("me");
  await bob.expect("Usage: me ACTION");
});

Deno.test("nick renames under the name rules and tells the room", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await bob.send("nick robert");
  for (const client of [alice, bob, carol]) {
    await client.expect("bob is now known as robert.");
  }
  await alice.send("who");
  await alice.expectLines([
    "The following are logged in:",
    "alice",
    "robert",
    "carol",
  ]);
  await alice.send("nick CAROL");
  await alice.expectLines(['The name "CAROL" is taken.', "Please try again."]);
  await alice.send("nick bad name");
  assert.match(await alice.readLine(), /^Cannot use the name "bad name"/);
  await alice.send("nick Alice");
  await alice.expect("alice is now known as Alice.");
  await alice.send("nick Alice");
  await alice.expect('You are already called "Alice"');
  await using newcomer = await Client.login(server.addr.port, "bob");
  await carol.waitFor("bob has entered the room.");
  await newcomer.send("whois robert");
  assert.match(await newcomer.readLine(), /^robert is in room "main"/);
});

Deno.test("whois shows the room, time connected and idle, and away", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  clock.advance(90_000);
  await bob.send("join den");
  await bob.expect('You are now in room "den".');
  await alice.expect("bob has left the room.");
  clock.advance(30_000);
  await alice.send("whois BOB");
  await alice.expect('bob is in room "den", connected 2m 0s, idle 30s');
  await bob.send("away lunch");
  await bob.expect("You are marked as away: lunch");
  await alice.send("whois bob");
  await alice.expectLines([
    'bob is in room "den", connected 2m 0s, idle 0s',
    "bob is away: lunch",
  ]);
  await alice.send("whois nobody");
  await alice.expect('No one called "nobody" is online');
});

Deno.test("away with no reason reads as just away: no made-up reason in whois or a private message's answer", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob");
  const [alice, bob] = party;
  await bob.send("away");
  await bob.expect("You are marked as away");
  await alice.send("msg bob ping");
  await alice.expectLines(["[private to bob] ping", "bob is away"]);
  await bob.expect("[private] alice: ping");
  await alice.send("whois bob");
  assert.match(await alice.readLine(), /^bob is in room "main"/);
  await alice.expect("bob is away");
  // Still away: back answers as for any away.
  await bob.send("back");
  await bob.expect("You are no longer marked as away");
});

Deno.test("away and back; a private message to an away user returns the reason", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await bob.send("away");
  await bob.expect("You are marked as away");
  await bob.send("away in a meeting");
  await bob.expect("You are marked as away: in a meeting");
  await alice.send("msg bob are you there?");
  await alice.expectLines([
    "[private to bob] are you there?",
    "bob is away: in a meeting",
  ]);
  await bob.expect("[private] alice: are you there?");
  await bob.send("back");
  await bob.expect("You are no longer marked as away");
  await bob.send("back");
  await bob.expect("You are not marked as away");
  await alice.send("msg bob now?");
  await alice.expect("[private to bob] now?");
  assert.deepEqual(await alice.sync(), []);
});

Deno.test("a name may be written @NAME, as the page and chat apps write it: msg, whois, ignore, unignore", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob");
  const [alice, bob] = party;
  await alice.send("msg @bob hi");
  await alice.expect("[private to bob] hi");
  await bob.expect("[private] alice: hi");
  await alice.send("whois @BOB");
  assert.match(await alice.readLine(), /^bob is in room "main"/);
  await alice.send("ignore @bob");
  await alice.expect("You are ignoring bob");
  await alice.send("unignore @bob");
  await alice.expect("You are no longer ignoring bob");
  // One @ only; and @ alone is no name.
  await alice.send("whois @@bob");
  await alice.expect('No one called "@bob" is online');
  await alice.send("whois @");
  await alice.expect("Usage: whois NAME");
  // Not the list that ignore with no name shows.
  await alice.send("ignore @");
  await alice.expect("Usage: ignore [NAME]");
});

Deno.test("ignore hides a user's lines and private messages; unignore brings them back", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await alice.send("ignore BOB");
  await alice.expect("You are ignoring bob");
  await bob.send("say can you hear me?");
  await bob.send("me shouts");
  await bob.send("msg alice psst");
  await bob.expectLines([
    "bob: can you hear me?",
    "* bob shouts",
    "[private to alice] psst",
  ]);
  await carol.expectLines(["bob: can you hear me?", "* bob shouts"]);
  assert.deepEqual(await alice.sync(), [], "alice sees none of it");
  await alice.send("ignore");
  await alice.expect("You are ignoring: bob");
  await alice.send("ignore alice");
  await alice.expect("You cannot ignore yourself");
  await alice.send("unignore bob");
  await alice.expect("You are no longer ignoring bob");
  await bob.send("say and now?");
  await alice.expect("bob: and now?");
  await alice.send("unignore bob");
  await alice.expect('You are not ignoring anyone called "bob"');
});

Deno.test("an ignored account stays ignored when it logs in again, from a new connection or in its own place", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "carol");
  const [alice, carol] = party;
  {
    await using mal = await registered(port, "mal");
    await alice.waitFor("mal has entered the room.");
    await alice.send("ignore mal");
    await alice.expect("You are ignoring mal");
    await mal.send("logout");
    await alice.expect("mal has left the room.");
  }
  // Logged out and in again: the pest's lines and messages stay hidden.
  await using again = await loginAccount(port, "mal");
  await alice.expect("mal has entered the room.");
  await again.send("say back again");
  await again.send("msg alice psst");
  await carol.waitFor("mal: back again");
  // Its own place taken from another connection, as a second device does.
  await using taken = await loginAccount(port, "mal");
  await again.closed();
  await taken.send("say and again");
  await carol.waitFor("mal: and again");
  assert.deepEqual(await alice.sync(), [
    "mal has left the room.",
    "mal has entered the room.",
  ], "alice sees mal come and go, and none of what mal says");
  await alice.send("ignore");
  await alice.expect("You are ignoring: mal");
  await carol.send("say carol here");
  await alice.expect("carol: carol here");
  await alice.send("history");
  await alice.expectLines([
    'The last 1 line of "main" (2 from people you ignore left out):',
    "[history] carol: carol here",
  ]);
  // Unignored while logged out: seen again at the next login.
  await taken.send("logout");
  await alice.waitFor("mal has left the room.");
  await alice.send("ignore");
  await alice.expect("You are ignoring: mal");
  await alice.send("unignore mal");
  await alice.expect("You are no longer ignoring mal");
  await using seen = await loginAccount(port, "mal");
  await seen.send("say seen now");
  await alice.waitFor("mal: seen now");
});

Deno.test("join skips ignored users' lines in the replay", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await bob.send("join den");
  await bob.expect('You are now in room "den".');
  await bob.send("say from bob");
  await bob.expect("bob: from bob");
  await carol.send("join den");
  await carol.expectLines([
    "bob has left the room.",
    'You are now in room "den".',
  ]);
  await carol.send("say from carol");
  await carol.expectLines(["[history] bob: from bob", "carol: from carol"]);
  await alice.send("ignore bob");
  await alice.expectLines([
    "bob has left the room.",
    "carol has left the room.",
    "You are ignoring bob",
  ]);
  await alice.send("join den");
  await alice.expectLines([
    'You are now in room "den".',
    "[history] carol: from carol",
  ]);
});

Deno.test("--motd is shown after login and by motd", async () => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, "Welcome!\nBe kind.\x1b[31m\n\n");
  try {
    await using server = await startServer({ motd: file });
    await using alice = await Client.connect(server.addr.port);
    await alice.expect("Welcome to TestChat");
    await alice.send("login alice");
    await alice.expectLines([
      "Message of the day:",
      "Welcome!",
      "Be kind.[31m",
    ]);
    await alice.send("motd");
    await alice.expectLines([
      "Message of the day:",
      "Welcome!",
      "Be kind.[31m",
    ]);
  } finally {
    await Deno.remove(file);
  }
  await using plain = await startServer();
  await using bob = await Client.login(plain.addr.port, "bob");
  await bob.send("motd");
  await bob.expect("There is no message of the day");
});

Deno.test("mode chat says plain lines; commands need the slash", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob] = party;
  await alice.send("mode");
  await alice.expect(
    'Command mode: lines are commands; use "say TEXT" to talk',
  );
  await alice.send("mode chat");
  await alice.expect("Chat mode: a line is said; commands need a leading /");
  await alice.send("look at this");
  await bob.expect("alice: look at this");
  await alice.send("/look");
  await alice.expectLines([
    "alice: look at this",
    "The following are in this room:",
    "alice",
    "bob",
    "carol",
  ]);
  await alice.send("//slash stays");
  await bob.expect("alice: /slash stays");
  await alice.send("/mode command");
  await alice.expectLines([
    "alice: /slash stays",
    'Command mode: lines are commands; use "say TEXT" to talk',
  ]);
  await alice.send("look");
  await alice.expect("The following are in this room:");
  await alice.send("mode loud");
  await alice.waitFor("Usage: mode [chat|command]");
});

Deno.test("help COMMAND explains one command", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("help /MSG");
  await alice.expectLines([
    "Usage: msg NAME TEXT",
    "  send TEXT to NAME only",
    '  The recipient sees "[private] YOU: TEXT"; "reply" answers.',
    "  To a registered name that is offline, it waits for their next login.",
  ]);
  await alice.send("help join");
  await alice.expectLines([
    "Usage: join ROOM",
    "  move to ROOM (made if new); shows its topic and recent lines",
    '  Room names follow the name rules; a leading "#" is left out.',
    "  An empty room goes away, unless it is main or claimed (see claim).",
    "  The last lines said in the room are replayed, marked [history].",
  ]);
  await alice.send("help look at this");
  await alice.expectLines([
    "Usage: look",
    "  list the people in this room",
    "  At most 500, those in the room longest, and how many more.",
  ]);
  await alice.send("help dance now");
  await alice.expect('No command called "dance"; type "help" for the list');
});

/** Reads `header`, then the lines of a list up to its "and N more" line. */
async function longList(client: Client, header: string): Promise<string[]> {
  await client.waitFor(header);
  const lines: string[] = [];
  while (!lines.at(-1)?.startsWith("and ")) lines.push(await client.readLine());
  return lines;
}

Deno.test("who and look list at most 500 names, and the page's room frame carries 500 and a count", async () => {
  await using server = await startServer({ httpPort: 0 });
  const port = server.addr.port;
  await using asker = await Client.login(port, "asker");
  // Logged in one after the other: who lists them in that order.
  const names = Array.from({ length: 501 }, (_, i) => `u${i}`);
  const clients: Client[] = [];
  try {
    for (const name of names) clients.push(await Client.login(port, name));
    await asker.waitFor("u500 has entered the room.");
    await asker.send("who");
    assert.deepEqual(await longList(asker, "The following are logged in:"), [
      "asker",
      ...names.slice(0, 499),
      "and 2 more people",
    ]);
    await asker.send("look");
    assert.deepEqual(
      await longList(asker, "The following are in this room:"),
      ["asker", ...names.slice(0, 499), "and 2 more people"],
    );
    await using page = await WsClient.open(server.httpAddr!.port);
    await page.waitFor((frame) => frame.type === "hello");
    page.send("login page");
    const frame = await page.waitFor((frame) => frame.type === "room");
    assert.equal(frame.room.members.length, 500);
    assert.equal(frame.room.count, 503);
    assert.deepEqual(frame.room.members.slice(0, 2), ["asker", "u0"]);
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
});

Deno.test("who and look list everyone when there are 500", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using asker = await Client.login(port, "asker");
  const names = Array.from({ length: 499 }, (_, i) => `u${i}`);
  const clients: Client[] = [];
  try {
    for (const name of names) clients.push(await Client.login(port, name));
    await asker.waitFor("u498 has entered the room.");
    await asker.send("who");
    await asker.expect("The following are logged in:");
    await asker.expectLines(["asker", ...names]);
    await asker.send("look");
    await asker.expect("The following are in this room:");
    await asker.expectLines(["asker", ...names]);
    assert.deepEqual(await asker.sync(), []);
  } finally {
    await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
  }
});

Deno.test("join: one address makes at most --max-new-rooms-per-ip rooms an hour, and still joins rooms that exist", async () => {
  const clock = new FakeClock();
  await using server = await startServer({
    clock,
    limitLoopback: true,
    maxNewRoomsPerIp: 2,
  });
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  await using bob = await Client.login(port, "bob", { from: "127.0.0.2" });
  await alice.expect("bob has entered the room.");
  await bob.send("join lobby");
  await bob.expect('You are now in room "lobby".');
  await alice.expect("bob has left the room.");
  await alice.send("join r1");
  await alice.expect('You are now in room "r1".');
  await alice.send("join r2");
  await alice.expect('You are now in room "r2".');
  await alice.send("join r3");
  await alice.expect(
    "Too many new rooms made from your address (at most 2 an hour); join one that exists, or try again later",
  );
  // Refused, she is where she was; a room that exists takes no place.
  await alice.send("look");
  await alice.expectLines(["The following are in this room:", "alice"]);
  await alice.send("join lobby");
  await alice.expect('You are now in room "lobby".');
  await bob.waitFor("alice has entered the room.");
  // Another address has places of its own.
  await bob.send("join r4");
  await bob.expect('You are now in room "r4".');
  // An hour later, this address may make rooms again.
  clock.advance(60 * 60 * 1000);
  await alice.send("join r3");
  await alice.waitFor('You are now in room "r3".');
});

Deno.test("join: a new room refused for its name takes no place in --max-new-rooms-per-ip", async () => {
  await using server = await startServer({
    limitLoopback: true,
    maxNewRoomsPerIp: 1,
  });
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("join rnain");
  await alice.expect(
    'Cannot use the room name "rnain": it looks like the room "main"',
  );
  await alice.send("join r1");
  await alice.expect('You are now in room "r1".');
});

Deno.test("join: a server operator makes rooms past --max-new-rooms-per-ip, and loopback does without --limit-loopback", async () => {
  {
    await using server = await startServer({
      ops: ["root"],
      limitLoopback: true,
      maxNewRoomsPerIp: 1,
    });
    await using root = await registered(server.addr.port, "root");
    for (const room of ["r1", "r2", "r3"]) {
      await root.send(`join ${room}`);
      await root.expect(`You are now in room "${room}".`);
    }
  }
  await using server = await startServer({ maxNewRoomsPerIp: 1 });
  await using alice = await Client.login(server.addr.port, "alice");
  for (const room of ["r1", "r2"]) {
    await alice.send(`join ${room}`);
    await alice.expect(`You are now in room "${room}".`);
  }
});
