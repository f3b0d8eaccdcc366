import assert from "node:assert/strict";
import { Client, loginAll, startServer } from "./helpers.ts";

/** A temporary folder with a database path in it, removed afterwards. */
async function tempDb(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  return {
    path: `${dir}/chat.db`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("history shows the room's last lines, marked, and pages back", async () => {
  await using server = await startServer({ floodRate: 0 });
  await using party = await loginAll(server.addr.port, "alice", "bob");
  const [alice, bob] = party;
  await alice.send("history");
  await alice.expect('Nothing has been said in "main" yet');
  const said = Array.from({ length: 30 }, (_, i) => `say line ${i + 1}`);
  await alice.send(said.join("\r\n"));
  await bob.waitFor("alice: line 30");
  await bob.send("history");
  await bob.expect('The last 20 lines of "main":');
  for (let i = 11; i <= 30; i++) await bob.expect(`[history] alice: line ${i}`);
  const more = await bob.readLine();
  const match = more.match(/^Older lines: history before (\d+)$/);
  assert.ok(match, more);
  await bob.send(`history before ${match[1]} 4`);
  await bob.expectLines([
    'Earlier 4 lines of "main":',
    "[history] alice: line 7",
    "[history] alice: line 8",
    "[history] alice: line 9",
    "[history] alice: line 10",
  ]);
  const next = (await bob.readLine()).match(/before (\d+)$/)!;
  await bob.send(`history before ${next[1]} 200`);
  await bob.expect('Earlier 6 lines of "main":');
  for (let i = 1; i <= 6; i++) await bob.expect(`[history] alice: line ${i}`);
  assert.deepEqual(await bob.sync(), [], "no more lines to page to");
  await bob.send("history before 1 5");
  await bob.expect('There are no older lines in "main"');
  // Exactly as many lines as asked for: no offer of older ones.
  await bob.send("history 30");
  await bob.expect('The last 30 lines of "main":');
  for (let i = 1; i <= 30; i++) await bob.expect(`[history] alice: line ${i}`);
  assert.deepEqual(await bob.sync(), [], "no older lines are offered");
  // An id past the last one pages from the newest line.
  await bob.send("history before 9999999999999 2");
  await bob.expectLines([
    'Earlier 2 lines of "main":',
    "[history] alice: line 29",
    "[history] alice: line 30",
  ]);
});

Deno.test("history refuses more than 200 lines and words it cannot read", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("history 201");
  await alice.expect("At most 200 lines at a time");
  // However many digits: a huge count is past the most, not a word.
  await alice.send("history 12345678901234567");
  await alice.expect("At most 200 lines at a time");
  await alice.send("history lots");
  await alice.expect("Usage: history [before ID] [N]");
  await alice.send("history before");
  await alice.expect("Usage: history [before ID] [N]");
  await alice.send("history 0");
  await alice.expect("Usage: history [before ID] [N]");
  await alice.send("history 5 6");
  await alice.expect("Usage: history [before ID] [N]");
  await alice.send("history before 9999999999999999");
  await alice.expect("Usage: history [before ID] [N]");
});

Deno.test("history leaves out the people you ignore", async () => {
  await using server = await startServer();
  await using party = await loginAll(server.addr.port, "alice", "bob", "carol");
  const [alice, bob, carol] = party;
  await bob.send("say from bob");
  await bob.expect("bob: from bob");
  await carol.send("say from carol");
  await alice.waitFor("carol: from carol");
  await alice.send("ignore bob");
  await alice.expect("You are ignoring bob");
  await alice.send("history");
  await alice.expectLines([
    'The last 1 line of "main" (1 from people you ignore left out):',
    "[history] carol: from carol",
  ]);
});

Deno.test("a restart keeps rooms' history and topics: join replays it, login does not", async () => {
  await using db = await tempDb();
  {
    await using server = await startServer({ db: db.path });
    await using party = await loginAll(server.addr.port, "alice", "bob");
    const [alice, bob] = party;
    await alice.send("say in main");
    await bob.expect("alice: in main");
    await alice.expect("alice: in main");
    await alice.send("join Den");
    await alice.expect('You are now in room "Den".');
    await alice.send("topic plans for the weekend");
    await alice.expect("alice set the topic: plans for the weekend");
    await alice.send("say first");
    await alice.send("me leaves a note");
    await alice.expectLines(["alice: first", "* alice leaves a note"]);
  }
  await using server = await startServer({ db: db.path });
  await using carol = await Client.connect(server.addr.port);
  await carol.expect("Welcome to TestChat");
  await carol.send("login carol");
  assert.deepEqual(await carol.sync(), [], "logging in replays nothing");
  await carol.send("join den");
  await carol.expectLines([
    'You are now in room "Den".',
    'Topic of "Den": plans for the weekend',
    "[history] alice: first",
    "[history] * alice leaves a note",
  ]);
  await carol.send("join main");
  await carol.expectLines([
    'You are now in room "main".',
    "[history] alice: in main",
  ]);
  await carol.send("history");
  await carol.expectLines([
    'The last 1 line of "main":',
    "[history] alice: in main",
  ]);
});

Deno.test("topic - clears the topic: the room is told, and it stays cleared across a restart", async () => {
  await using db = await tempDb();
  {
    await using server = await startServer({ db: db.path });
    await using party = await loginAll(server.addr.port, "alice", "bob");
    const [alice, bob] = party;
    await alice.send("topic -");
    await alice.expect('Room "main" has no topic');
    await alice.send("topic plans for the weekend");
    await alice.expect("alice set the topic: plans for the weekend");
    await bob.expect("alice set the topic: plans for the weekend");
    await bob.send("topic -");
    await bob.expect("bob cleared the topic");
    await alice.expect("bob cleared the topic");
    await alice.send("topic");
    await alice.expect('Room "main" has no topic');
    await alice.send("topic -");
    await alice.expect('Room "main" has no topic');
    await alice.send("rooms");
    await alice.expectLines(["Rooms:", "  main (2 people)"]);
    // Only a dash alone clears: "- x" is a topic.
    await alice.send("join den");
    await alice.expect('You are now in room "den".');
    await alice.send("topic - draft -");
    await alice.expect("alice set the topic: - draft -");
    await alice.send("topic -");
    await alice.expect("alice cleared the topic");
  }
  await using server = await startServer({ db: db.path });
  await using carol = await Client.login(server.addr.port, "carol");
  await carol.send("topic");
  await carol.expect('Room "main" has no topic');
  await carol.send("join den");
  await carol.expect('You are now in room "den".');
  assert.deepEqual(await carol.sync(), [], "no topic shown on joining");
  await carol.send("topic");
  await carol.expect('Room "den" has no topic');
});

Deno.test("an ignore ends when the one ignored logs out: their lines after it are in history", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using party = await loginAll(port, "alice", "carol");
  const [alice, carol] = party;
  {
    await using bob = await Client.login(port, "bob");
    await alice.waitFor("bob has entered the room.");
    await alice.send("ignore bob");
    await alice.expect("You are ignoring bob");
    await bob.send("logout");
    await alice.expect("bob has left the room.");
  }
  await using back = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await back.send("say back again");
  await alice.expect("bob: back again");
  await carol.waitFor("bob: back again");
  await alice.send("history");
  await alice.expectLines([
    'The last 1 line of "main":',
    "[history] bob: back again",
  ]);
});
