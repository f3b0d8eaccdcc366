import assert from "node:assert/strict";
import { ChatError, type Command, COMMANDS } from "../main.ts";
import {
  captureLog,
  Client,
  startServer,
  talkUntil,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";

Deno.test("the seed's transcript with three clients", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send("say hi");
  await alice.expectLines(["Please log in", 'Use "login"']);
  await alice.send("login");
  await alice.expect("Please enter a name");
  await alice.send("login alice");
  assert.deepEqual(await alice.sync(), [], "the newcomer is not announced");

  await using bob = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");

  await using carol = await Client.connect(port);
  await carol.expect("Welcome to TestChat");
  await carol.send("login ALICE");
  await carol.expectLines(['The name "ALICE" is taken.', "Please try again."]);
  await carol.send("login carol");
  await alice.expect("carol has entered the room.");
  await bob.expect("carol has entered the room.");

  await alice.send("say hello, world");
  for (const client of [alice, bob, carol]) {
    await client.expect("alice: hello, world");
  }
  await bob.send("look");
  await bob.expectLines([
    "The following are in this room:",
    "alice",
    "bob",
    "carol",
  ]);
  await carol.send("who");
  await carol.expectLines([
    "The following are logged in:",
    "alice",
    "bob",
    "carol",
  ]);
  await carol.send("dance");
  await carol.expect("Unknown command: dance");

  await bob.send("logout");
  assert.deepEqual(await bob.closed(), []);
  await alice.expect("bob has left the room.");
  await carol.expect("bob has left the room.");

  await using bob2 = await Client.login(port, "Bob");
  await alice.expect("Bob has entered the room.");
  await bob2.send("who");
  await bob2.expectLines([
    "The following are logged in:",
    "alice",
    "carol",
    "Bob",
  ]);
});

Deno.test("commands take a leading slash and any letter case", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("/LOOK");
  await alice.expectLines(["The following are in this room:", "alice"]);
  await alice.send("Say /slash stays in the text");
  await alice.expect("alice: /slash stays in the text");
  await alice.send("   ");
  await alice.send("");
  assert.deepEqual(await alice.sync(), [], "blank lines get no answer");
});

Deno.test("a second login says who you are already", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("login bob");
  await alice.expect('You are already logged in as "alice"');
  assert.equal(server.registry.find("bob"), undefined);
});

Deno.test("quit leaves as logout does; before login it gets the seed's answer", async () => {
  await using server = await startServer();
  await using guest = await Client.connect(server.addr.port);
  await guest.expect("Welcome to TestChat");
  await guest.send("quit");
  await guest.expectLines(["Please log in", 'Use "login"']);
  await using alice = await Client.login(server.addr.port, "alice");
  await using bob = await Client.login(server.addr.port, "bob");
  await alice.expect("bob has entered the room.");
  await bob.send("/QUIT");
  assert.deepEqual(await bob.closed(), []);
  await alice.expect("bob has left the room.");
  assert.equal(server.registry.find("bob"), undefined);
});

Deno.test("say without text answers with its usage", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("say   ");
  await alice.expect("Usage: say TEXT");
});

Deno.test("help lists every command in the table", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("help");
  const lines = await alice.sync();
  assert.equal(lines[0], "Commands (a leading / is optional):");
  assert.equal(lines.at(-1), 'Type "help COMMAND" for more about one command.');
  // One row a command; a summary too long for the line goes on below it.
  const rows = lines.slice(1, -1).filter((line) => /^ {2}\S/.test(line));
  assert.equal(rows.length, COMMANDS.size);
  for (const command of COMMANDS.values()) {
    assert.ok(
      lines.some((line) => line.trim().startsWith(`${command.usage} `)),
      `help lists ${command.name}`,
    );
  }
});

Deno.test("help and help COMMAND fit in an 80-column terminal, each summary in its column", async () => {
  const { MODERATION } = await import("../src/commands/mod.ts");
  await using setup = await startServer({ ops: ["root"], floodRate: 0 });
  const port = setup.addr.port;
  await using root = await Client.login(port, "root");
  await root.send(`register ${"correct horse"}`);
  await root.waitFor((line) => line.startsWith('Registered "root"'));
  const wide = (lines: string[]) => lines.filter((line) => line.length > 79);
  await root.send("help");
  const lines = await root.sync();
  assert.ok(lines.some((line) => line.startsWith("  lockdown ")), "op: all");
  assert.deepEqual(wide(lines), [], "every line fits");
  const column = lines[1].match(/^ {2}\S.*? {2,}(?=\S)/)![0].length;
  for (const line of lines.slice(1, -1)) {
    if (!/^ {2}\S/.test(line)) {
      assert.match(line, new RegExp(`^ {${column}}\\S`), "in its column");
    }
  }
  for (const name of [...COMMANDS.keys(), ...MODERATION.keys()]) {
    await root.send(`help ${name}`);
    assert.deepEqual(wide(await root.sync()), [], `help ${name} fits`);
  }
});

Deno.test("help in chat mode says a command starts with /, since there it is not optional", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("mode chat");
  await alice.expect("Chat mode: a line is said; commands need a leading /");
  await alice.send("/help");
  // (sync() needs command mode: its word is an unknown command there.)
  await alice.expect("Commands (in chat mode, start each with /):");
  await alice.waitFor('Type "/help COMMAND" for more about one command.');
  await alice.send("/mode command");
  await alice.expect(
    'Command mode: lines are commands; use "say TEXT" to talk',
  );
  await alice.send("help");
  assert.equal((await alice.sync())[0], "Commands (a leading / is optional):");
});

Deno.test("README's commands table has a row for every command, with the usage help shows", async () => {
  const { MODERATION } = await import("../src/commands/mod.ts");
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const table = readme.split("\n## Commands\n")[1].split("\n\n")
    .find((block) => block.startsWith("| command"));
  assert.ok(table !== undefined, "the commands table is in README.md");
  // The first column of each row: one usage or more, each in backticks
  // (a | inside one is written \|).
  const documented = table.split("\n").slice(2).flatMap((row) =>
    [...row.split(/(?<!\\)\|/)[1].matchAll(/`([^`]+)`/g)].map((match) =>
      match[1].replaceAll("\\|", "|")
    )
  );
  const usages = [...COMMANDS.values(), ...MODERATION.values()].map((
    command,
  ) => command.usage);
  assert.deepEqual(documented.toSorted(), usages.toSorted());
});

Deno.test("an invalid name gets one line saying why", async () => {
  await using server = await startServer();
  await using client = await Client.connect(server.addr.port);
  await client.expect("Welcome to TestChat");
  await client.send("login Pаypal"); // a Cyrillic "а"
  await client.expect(
    'Cannot use the name "Pаypal": it mixes letters from different scripts',
  );
  await client.send("login two words");
  assert.equal(
    await client.readLine(),
    'Cannot use the name "two …": a name is one word, and no account is called "two" to log in to with a password (log in with the name alone; "register" then makes it an account)',
  );
  // What README's "login NAME PASSWORD" looks like for a name not registered.
  await client.send("login newcomer hunter22");
  assert.equal(
    await client.readLine(),
    'Cannot use the name "newcomer …": a name is one word, and no account is called "newcomer" to log in to with a password (log in with the name alone; "register" then makes it an account)',
  );
  await client.send(`login ${"x".repeat(25)}`);
  assert.match(await client.readLine(), /longer than 24 characters/);
  await client.send("login ｆｕｌｌｗｉｄｔｈ"); // NFKC makes it ASCII
  assert.deepEqual(await client.sync(), []);
  assert.equal(server.registry.find("FULLWIDTH")?.name, "fullwidth");
});

Deno.test("nc's LF, a lone CR and CR NUL all end lines", async () => {
  await using server = await startServer();
  await using alice = await Client.connect(server.addr.port);
  await alice.expect("Welcome to TestChat");
  await alice.send("login nc", "\n");
  await alice.send("say one", "\r");
  await alice.send("say two", "\r\0");
  await alice.send("say three", "\n");
  await alice.expectLines(["nc: one", "nc: two", "nc: three"]);
});

Deno.test("a client that ends its input (nc -N, nc -q) still gets the answers to its lines", async () => {
  await using server = await startServer();
  await using watcher = await Client.login(server.addr.port, "watcher");
  const conn = await Deno.connect({ port: server.addr.port });
  const client = Client.from(conn);
  try {
    // What `printf 'login nc\nsay hi\nlook\n' | nc -N HOST PORT` sends: the
    // lines, then a FIN; it reads on until the server closes.
    await client.sendBytes(
      new TextEncoder().encode("login nc\nsay hi\nlook\n"),
    );
    await conn.closeWrite();
    assert.deepEqual(await client.closed(), [
      "Welcome to TestChat",
      "nc: hi",
      "The following are in this room:",
      "watcher",
      "nc",
    ]);
    await watcher.expectLines([
      "nc has entered the room.",
      "nc: hi",
      "nc has left the room.",
    ]);
  } finally {
    client.close();
  }
});

Deno.test("a line past the cap is refused and the session goes on", async () => {
  await using server = await startServer({ maxLineBytes: 100 });
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send(`say ${"x".repeat(5000)}`);
  await alice.send("say short");
  await alice.expectLines(["Line too long (max 100 bytes)", "alice: short"]);
});

Deno.test("terminal controls never reach another user", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  await using bob = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await bob.send("say \x1b[2J\x1b]0;pwned\x07hi\u202e\u0085 there\x00");
  await alice.expect("bob: [2J]0;pwnedhi there");
});

Deno.test("telnet commands are stripped from the input", async () => {
  await using server = await startServer();
  await using alice = await Client.connect(server.addr.port);
  await alice.expect("Welcome to TestChat");
  // IAC DO ECHO, IAC SB NAWS ... IAC SE, then a line with IAC NOP inside.
  await alice.sendBytes(
    new Uint8Array([
      255,
      253,
      1,
      255,
      250,
      31,
      0,
      80,
      0,
      24,
      255,
      240,
      ...new TextEncoder().encode("login te"),
      255,
      241,
      ...new TextEncoder().encode("lnet\r\nsay ok\r\n"),
    ]),
  );
  await alice.expect("telnet: ok");
});

Deno.test("a line typed in character mode keeps its Backspace, ^U and IAC EC / IAC EL corrections", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using watcher = await Client.login(port, "watcher");
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  const bytes = (...parts: (string | number[])[]) =>
    new Uint8Array(
      parts.flatMap((part) =>
        typeof part === "string" ? [...new TextEncoder().encode(part)] : part
      ),
    );
  // Debian's telnet after `mode character` (it sends IAC DO SGA, IAC DO
  // ECHO, then each key as typed: Backspace as DEL, ^U as NAK, Enter as a
  // lone CR), as captured.
  await alice.sendBytes(bytes([255, 253, 3, 255, 253, 1], "login alx", [0x7f]));
  await alice.sendBytes(bytes("ice\r"));
  await watcher.expect("alice has entered the room.");
  await alice.sendBytes(bytes("say helo", [0x7f], "lo\r"));
  await watcher.expect("alice: hello");
  await alice.sendBytes(bytes("say abcd", [0x15], "say x\r"));
  await watcher.expect("alice: x");
  // busybox's telnet in character mode: Backspace as DEL, Enter as CR LF;
  // a letter of two bytes, and one of four, erased whole.
  await alice.sendBytes(
    bytes("say h\u00e9", [0x7f], "e \u{1f600}", [0x7f], "!\r\n"),
  );
  await watcher.expect("alice: he !");
  // The same keys as telnet commands: IAC EC, and IAC EL.
  await alice.sendBytes(bytes("say hellx", [255, 247], "o\r\n"));
  await watcher.expect("alice: hello");
  await alice.sendBytes(bytes("say junk", [255, 248], "say ok\r\n"));
  await watcher.expect("alice: ok");
});

Deno.test("a client that asks the server to echo is told it will not, so that it shows what is typed itself", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  // Debian's telnet after `mode character`: IAC DO SGA, IAC DO ECHO. Until
  // it is answered, it shows nothing of what is typed.
  await using telnet = await Client.connect(port);
  await telnet.expect("Welcome to TestChat");
  await telnet.sendBytes(new Uint8Array([255, 253, 3, 255, 253, 1]));
  await telnet.send("login tc", "\r");
  await telnet.sync();
  assert.deepEqual(telnet.telnet.map((t) => t.command), ["DO 0", "WONT ECHO"]);
  // PuTTY's first bytes (WILL NAWS, TSPEED, TTYPE, NEW-ENVIRON, DO ECHO,
  // WILL SGA, DO SGA), as captured: one WONT ECHO; a password prompt after
  // it is still hidden, and its DO ECHO is no request.
  await using putty = await Client.connect(port);
  await putty.expect("Welcome to TestChat");
  await putty.sendBytes(
    new Uint8Array([
      ...[255, 251, 31, 255, 251, 32, 255, 251, 24, 255, 251, 39],
      ...[255, 253, 1, 255, 251, 3, 255, 253, 3],
    ]),
  );
  await putty.send("login pl", "\n");
  await putty.send("register", "\n");
  await putty.expect(
    "Choose a password (at least 8 characters; a blank line cancels):",
  );
  await putty.sendBytes(new Uint8Array([255, 253, 1]));
  await putty.send("", "\n");
  await putty.expect("Cancelled.");
  assert.deepEqual(putty.telnet.map((t) => t.command), [
    "DO 0",
    "WONT ECHO",
    "WILL ECHO",
    "WONT ECHO",
  ]);
});

Deno.test("IAC DO TIMING-MARK is answered at once, and telnet is asked for its bytes as they are", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  // What telnet sends for ^C: IAC IP IAC DO TIMING-MARK.
  await alice.sendBytes(new Uint8Array([255, 244, 255, 253, 6]));
  await alice.send("say é");
  await alice.expect("alice: é");
  // Again (^Z: IAC SUSP IAC DO TIMING-MARK), then a line ending in LF, as
  // telnet sends them once it sends binary.
  await alice.sendBytes(new Uint8Array([255, 237, 255, 253, 6]));
  await alice.send("say ok", "\n");
  await alice.expect("alice: ok");
  assert.deepEqual(alice.telnet.map((t) => t.command), [
    "WILL 6",
    "DO 0",
    "WILL 6",
  ], "each timing mark answered, binary asked for once");
});

Deno.test("^C in telnet (IAC IP) cancels a password question, and the next line is chat again", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("register");
  await alice.expect(
    "Choose a password (at least 8 characters; a blank line cancels):",
  );
  // Telnet agrees to hide what is typed (IAC DO ECHO); at ^C its terminal
  // throws away what was typed, and it sends IAC IP IAC DO TIMING-MARK.
  await alice.sendBytes(new Uint8Array([255, 253, 1, 255, 244, 255, 253, 6]));
  await alice.expect("Cancelled.");
  await alice.send("say still chatting");
  await alice.expect("alice: still chatting");
  await alice.send("whois alice");
  const whois = await alice.sync();
  assert.ok(whois.length > 0, "whois answered");
  assert.ok(
    !whois.includes("alice is a registered user"),
    `no account was made: ${JSON.stringify(whois)}`,
  );
});

Deno.test("a name that is not UTF-8 is refused saying so, and a telnet client is asked for binary", async () => {
  await using server = await startServer();
  await using client = await Client.connect(server.addr.port);
  await client.expect("Welcome to TestChat");
  // "Åsa" as Debian's telnet sends it before binary (C3 85, the 85 dropped),
  // then "René" from a Latin-1 terminal.
  await client.sendBytes(
    new Uint8Array([
      ...new TextEncoder().encode("login "),
      0xc3,
      ...new TextEncoder().encode("sa\r\nlogin Ren"),
      0xe9,
      13,
      10,
    ]),
  );
  const why =
    "some of its bytes are not UTF-8; type it again (if it comes out so again, set your terminal to UTF-8)";
  await client.expectLines([
    `Cannot use the name "\ufffdsa": ${why}`,
    `Cannot use the name "Ren\ufffd": ${why}`,
  ]);
  assert.deepEqual(client.telnet.map((t) => t.command), ["DO 0"], "once");
  await using nc = await Client.connect(server.addr.port);
  await nc.expect("Welcome to TestChat");
  await nc.sendBytes(
    new Uint8Array([...new TextEncoder().encode("login Ren"), 0xe9, 10]),
  );
  await nc.expect(`Cannot use the name "Ren\ufffd": ${why}`);
  await nc.sync();
  assert.deepEqual(nc.telnet, [], "nc (LF) gets no telnet bytes");
});

Deno.test("a dropped connection leaves the room like a logout", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  const bob = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await bob[Symbol.asyncDispose]();
  await alice.expect("bob has left the room.");
  await alice.send("who");
  await alice.expectLines(["The following are logged in:", "alice"]);
  await using bobAgain = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await bobAgain.send("look");
  await bobAgain.expectLines([
    "The following are in this room:",
    "alice",
    "bob",
  ]);
});

Deno.test("200 clients dropping at once leave no ghosts", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using watcher = await Client.login(port, "watcher");
  const clients: Client[] = [];
  for (let batch = 0; batch < 4; batch++) {
    clients.push(
      ...await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => Client.login(port, `user${batch * 50 + i}`),
        ),
      ),
    );
  }
  for (let i = 0; i < 200; i++) {
    await watcher.waitFor((line) => line.endsWith(" has entered the room."));
  }
  for (const client of clients) client.close();
  const left = new Set<string>();
  while (left.size < 200) {
    const line = await watcher.waitFor((l) =>
      l.endsWith(" has left the room.")
    );
    left.add(line);
  }
  await watcher.send("who");
  await watcher.expectLines(["The following are logged in:", "watcher"]);
  assert.equal(server.registry.users.size, 1);
  await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
});

Deno.test("a stalled reader is dropped and the room keeps talking", async () => {
  await using server = await startServer({
    maxQueueBytes: 256 * 1024,
    floodRate: 0,
  });
  const port = server.addr.port;
  await using watcher = await Client.login(port, "watcher");
  await using talker = await Client.login(port, "talker");
  await using stalled = await Client.connect(port, { read: false });
  await stalled.send("login stalled");
  await watcher.waitFor("stalled has entered the room.");

  await talkUntil(talker, watcher.waitFor("stalled has left the room."));
  await talker.send("say still here");
  await watcher.waitFor("talker: still here");
  await talker.waitFor("talker: still here");
  assert.equal(server.registry.find("stalled"), undefined);
});

Deno.test("shutdown tells everyone, flushes and closes", async () => {
  const server = await startServer();
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  await using bob = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await withTimeout(server.close(), TIMEOUT_MS, "server.close()");
  for (const client of [alice, bob, guest]) {
    await client.expect("Server is shutting down.");
    assert.deepEqual(await client.closed(), [], "nothing after the goodbye");
  }
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test("a bug in a handler is logged and the session goes on", async () => {
  await using log = await captureLog(["chat"], "error");
  const records = log.records;
  const boom: Command = {
    name: "boom",
    usage: "boom",
    summary: "throw a bug",
    loginRequired: true,
    run() {
      throw new TypeError("a bug in boom");
    },
  };
  const oops: Command = {
    name: "oops",
    usage: "oops",
    summary: "throw a user mistake",
    loginRequired: true,
    run() {
      throw new ChatError("That was your mistake");
    },
  };
  await using server = await startServer({
    commands: new Map([...COMMANDS, ["boom", boom], ["oops", oops]]),
  });
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  await using bob = await Client.login(port, "bob");
  await alice.expect("bob has entered the room.");
  await bob.send("boom");
  await bob.expect("Sorry, something went wrong; please try again.");
  await bob.send("oops");
  await bob.expect("That was your mistake");
  await bob.send("say still alive");
  await alice.expect("bob: still alive");
  await bob.expect("bob: still alive");
  assert.equal(records.length, 1, "only the bug is logged");
  const error = records[0].properties.error as Error;
  assert.equal(error.message, "a bug in boom");
  assert.match(String(error.stack), /boom/);
});
