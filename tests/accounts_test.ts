import assert from "node:assert/strict";
import { PasswordHasher, SCRYPT_PARAMS } from "../src/passwords.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  loginAll,
  PASSWORD,
  pastDelays,
  registered,
  ServerProcess,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";

/** A temporary database file, removed afterwards. */
async function tempDb(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir();
  return {
    path: `${dir}/chat.db`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("register asks twice, with the echo off for a telnet client; login then asks for the password", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  {
    await using alice = await Client.login(port, "alice");
    await alice.send("register");
    await alice.expect(
      "Choose a password (at least 8 characters; a blank line cancels):",
    );
    const first = alice.received;
    await alice.send(PASSWORD);
    await alice.expect("Type the same password again:");
    const second = alice.received;
    await alice.send(PASSWORD);
    await alice.expect(
      'Registered "alice": from now on, logging in as alice asks for this password.',
    );
    // Off from the first question to the end of the second, with no WONT
    // ECHO and WILL ECHO between: busybox's telnet leaves character mode
    // for good at a WONT ECHO, and refuses the WILL ECHO after it.
    assert.deepEqual(alice.telnet, [
      { command: "WILL ECHO", after: first },
      { command: "WONT ECHO", after: second },
    ], "the echo is off while both passwords are typed, and on again after");
    await alice.send("register");
    await alice.expect('You are already registered as "alice"');
  }
  await using bob = await Client.login(port, "bob");
  await using again = await Client.connect(port);
  await again.expect("Welcome to TestChat");
  await again.send("login ALICE");
  await again.expect("Password for alice (a blank line cancels):");
  assert.deepEqual(
    await bob.sync(),
    [],
    "nobody is let in before the password",
  );
  await again.send(PASSWORD);
  await again.expect("You are logged in as alice.");
  await bob.expect("alice has entered the room.");
  await bob.send("whois alice");
  await bob.expectLines([
    'alice is in room "main", connected 0s, idle 0s',
    "alice is a registered user",
  ]);
});

Deno.test("whois of an account offline says so, when they last logged in, and that a message waits", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  const loggedIn = clock.date();
  {
    await using vic = await registered(port, "vic");
    // Three hours online: what whois knows is when they logged in.
    clock.advance(3 * 60 * 60 * 1000);
    await vic.send("logout");
    await vic.closed();
  }
  await using bob = await Client.login(port, "bob");
  await bob.send("whois VIC");
  await bob.expectLines([
    `vic is a registered user, offline (last logged in ${
      new Date(loggedIn).toISOString().slice(0, 16).replace("T", " ")
    } UTC)`,
    "msg vic TEXT waits for their next login",
  ]);
  // Nobody by the name at all: as before.
  await bob.send("whois nobody");
  await bob.expect('No one called "nobody" is online');
});

Deno.test("a client that agrees to hide the password is asked once to send its bytes as they are", async () => {
  await using server = await startServer();
  await using alice = await Client.login(server.addr.port, "alice");
  await alice.send("register");
  await alice.expect(
    "Choose a password (at least 8 characters; a blank line cancels):",
  );
  await alice.sendBytes(new Uint8Array([255, 253, 1])); // IAC DO ECHO
  await alice.send(PASSWORD);
  await alice.expect("Type the same password again:");
  await alice.send(PASSWORD);
  await alice.waitFor((line) => line.startsWith('Registered "alice"'));
  assert.deepEqual(alice.telnet.map((t) => t.command), [
    "WILL ECHO",
    "DO 0", // at once, before the password is typed
    "WONT ECHO",
  ]);
});

Deno.test("a telnet client that refuses IAC WILL ECHO, as busybox's does after its first password, is told at once that the password will show", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using busybox = await Client.connect(port);
  await busybox.expect("Welcome to TestChat");
  await busybox.send("login alice");
  await busybox.expect("Password for alice (a blank line cancels):");
  // busybox's telnet agrees (IAC DO ECHO: character mode) and refuses
  // binary; at the WONT ECHO after the password it goes back to line mode
  // (IAC DONT ECHO), and from then on it answers IAC WILL ECHO with IAC
  // DONT ECHO: what is typed shows. Bytes as captured.
  await busybox.sendBytes(new Uint8Array([255, 253, 1, 255, 252, 0]));
  await busybox.send(PASSWORD);
  await busybox.expect("You are logged in as alice.");
  await busybox.sendBytes(new Uint8Array([255, 254, 1]));
  await busybox.send("password");
  await busybox.expect("Your current password (a blank line cancels):");
  await busybox.sendBytes(new Uint8Array([255, 254, 1]));
  await busybox.expect(
    "Your client did not agree to hide what you type: the password will be visible as you type it. A blank line cancels.",
  );
  await busybox.send("");
  await busybox.expect("Cancelled.");
  // No more WILL ECHO for a client that will not take it.
  await busybox.send("password");
  await busybox.expectLines([
    "Your client shows what you type: the password will be visible as you type it. A blank line cancels.",
    "Your current password (a blank line cancels):",
  ]);
  await busybox.send("");
  await busybox.expect("Cancelled.");
  assert.deepEqual(busybox.telnet.map((t) => t.command), [
    "WILL ECHO",
    "DO 0",
    "WONT ECHO",
    "WILL ECHO",
  ]);
});

Deno.test("a raw client is told the password will show, sees no telnet bytes, and can cancel", async () => {
  await using server = await startServer();
  await using nc = await Client.connect(server.addr.port);
  await nc.expect("Welcome to TestChat");
  await nc.send("login alice", "\n");
  await nc.send("register", "\n");
  await nc.expectLines([
    "Your client shows what you type: the password will be visible as you type it. A blank line cancels.",
    "Choose a password (at least 8 characters; a blank line cancels):",
  ]);
  await nc.send("", "\n");
  await nc.expect("Cancelled.");
  await nc.send("register", "\n");
  await nc.waitFor((line) => line.startsWith("Choose a password"));
  await nc.send(PASSWORD, "\n");
  // Told once for the command, not again for its second question.
  await nc.expect("Type the same password again:");
  await nc.send("something else", "\n");
  await nc.expect("The two passwords differ; nothing was changed");
  await nc.send("say still here", "\n");
  await nc.expect("alice: still here");
  assert.deepEqual(nc.telnet, [], "no telnet command reached a raw client");
});

Deno.test("a raw client that ends its lines with CRLF and never answers IAC WILL ECHO is told, before it types, that the password will show", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, floodRate: 0 });
  // Client sends CRLF and ignores telnet commands, as `nc -C` does.
  await using raw = await Client.login(server.addr.port, "alice");
  await raw.send("register");
  await raw.expect(
    "Choose a password (at least 8 characters; a blank line cancels):",
  );
  assert.deepEqual(raw.telnet.map((t) => t.command), ["WILL ECHO"]);
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "the wait for DO ECHO");
  clock.advance(2000);
  await raw.expect(
    "Your client did not agree to hide what you type: the password will be visible as you type it. A blank line cancels.",
  );
  await raw.send(PASSWORD);
  // Told already: the second question comes alone, with no telnet command.
  await raw.expect("Type the same password again:");
  await raw.send(PASSWORD);
  await raw.waitFor((line) => line.startsWith('Registered "alice"'));
  // Told up front from now on, and sent no more telnet commands.
  await raw.send("password");
  await raw.expectLines([
    "Your client shows what you type: the password will be visible as you type it. A blank line cancels.",
    "Your current password (a blank line cancels):",
  ]);
  await raw.send("");
  await raw.expect("Cancelled.");
  assert.deepEqual(raw.telnet.map((t) => t.command), ["WILL ECHO"]);
});

Deno.test("register and login take the password on one line; a short one or the name is refused", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  {
    await using alice = await Client.login(port, "alice");
    await alice.send("register short");
    await alice.expect("A password needs at least 8 characters");
    await alice.send("register ALICE");
    await alice.expect("A password needs at least 8 characters");
    // Counted as it is kept, in NFC: "e" and its accent are one "é".
    await alice.send("register cafe\u0301xyz");
    await alice.expect("A password needs at least 8 characters");
    await alice.send("nick alice.bcd");
    await alice.expect("alice is now known as alice.bcd.");
    await alice.send("register ALICE.BCD");
    await alice.expect("A password must not be your name");
    await alice.send(`register ${PASSWORD}`);
    await alice.waitFor((line) => line.startsWith('Registered "alice.bcd"'));
  }
  await using script = await Client.connect(port);
  await script.expect("Welcome to TestChat");
  await script.send(`login alice.bcd ${PASSWORD}`);
  await script.expect("You are logged in as alice.bcd.");
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await guest.send("login two words");
  assert.equal(
    await guest.readLine(),
    'Cannot use the name "two …": a name is one word, and no account is called "two" to log in to with a password (log in with the name alone; "register" then makes it an account)',
    "what follows the first word may be a password: it is not echoed",
  );
});

Deno.test("a password typed at a prompt with spaces around it also works on one line", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  {
    await using alice = await Client.login(port, "alice");
    await alice.send("register");
    await alice.expect(
      "Choose a password (at least 8 characters; a blank line cancels):",
    );
    await alice.send("  hello world ");
    await alice.expect("Type the same password again:");
    await alice.send("hello world  ");
    await alice.waitFor((line) => line.startsWith('Registered "alice"'));
    await alice.send("logout");
    await alice.closed();
  }
  {
    await using alice = await Client.connect(port);
    await alice.expect("Welcome to TestChat");
    await alice.send("login alice hello world");
    await alice.expect("You are logged in as alice.");
    await alice.send("logout");
    await alice.closed();
  }
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send("login alice");
  await alice.expect("Password for alice (a blank line cancels):");
  await alice.send(" hello world\t");
  await alice.expect("You are logged in as alice.");
});

Deno.test("a hash kept of a password with spaces at its ends still takes it as typed", async () => {
  await using db = await tempDb();
  {
    const store = await SqliteStore.open(db.path);
    await store.createAccount({
      key: "alice",
      name: "alice",
      skeleton: "alice",
      hash: await new PasswordHasher().hash(" hello world "),
      created: 0,
      lastLogin: null,
    });
    await store.close();
  }
  await using server = await startServer({ db: db.path });
  await using alice = await Client.connect(server.addr.port);
  await alice.expect("Welcome to TestChat");
  await alice.send("login alice");
  await alice.expect("Password for alice (a blank line cancels):");
  await alice.send(" hello world ");
  await alice.expect("You are logged in as alice.");
});

Deno.test('a password is the same in NFC or not: "é" as one character or as "e" and its accent; an older hash of an NFD one still takes it', async () => {
  await using db = await tempDb();
  {
    const store = await SqliteStore.open(db.path);
    await store.createAccount({
      key: "bob",
      name: "bob",
      skeleton: "bob",
      hash: await new PasswordHasher().hash("cafe\u0301 older"),
      created: 0,
      lastLogin: null,
    });
    await store.close();
  }
  await using server = await startServer({ db: db.path });
  const port = server.addr.port;
  await using alice = await Client.login(port, "alice");
  await alice.send("register caf\u00e9 au lait");
  await alice.waitFor((line) => line.startsWith('Registered "alice"'));
  alice.close();
  await using again = await Client.connect(port);
  await again.expect("Welcome to TestChat");
  await again.send("login alice cafe\u0301 au lait");
  await again.expect("You are logged in as alice.");
  await using bob = await Client.connect(port);
  await bob.expect("Welcome to TestChat");
  await bob.send("login bob");
  await bob.expect("Password for bob (a blank line cancels):");
  await bob.send("cafe\u0301 older "); // spaces at its ends go too
  await bob.expect("You are logged in as bob.");
  // That login made the hash again, of today's form: from now on "é" as
  // one character takes it too.
  bob.close();
  await using later = await Client.connect(port);
  await later.expect("Welcome to TestChat");
  await later.send("login bob caf\u00e9 older");
  await later.expect("You are logged in as bob.");
});

Deno.test("a registered name is reserved while its owner is away: a look-alike and nick are refused", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using bob = await Client.login(port, "bob");
  await bob.send("nick alice");
  await bob.expect(
    'Cannot use the name "alice": it is registered to someone else',
  );
  await bob.send("nick a1ice");
  await bob.expect(
    'Cannot use the name "a1ice": it looks like "alice", a registered name',
  );
  await using mallory = await Client.connect(port);
  await mallory.expect("Welcome to TestChat");
  await mallory.send("login aIice"); // a capital "I"
  await mallory.expect(
    'Cannot use the name "aIice": it looks like "alice", a registered name',
  );
  // With a password on the line too: the same reason, not "one word".
  await mallory.send(`login aIice ${PASSWORD}`);
  await mallory.expect(
    'Cannot use the name "aIice": it looks like "alice", a registered name',
  );
  await mallory.send("login ALICE");
  await mallory.expect("Password for alice (a blank line cancels):");
  await mallory.send("");
  await mallory.expect("Cancelled.");
  await mallory.send("look");
  await mallory.expectLines(["Please log in", 'Use "login"']);
});

Deno.test("an account's name can change its letter case only", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  await using alice = await registered(port, "alice");
  await alice.send("nick Alice");
  await alice.expect("alice is now known as Alice.");
  await alice.send("nick ally");
  await alice.expect(
    'You are logged in to the account "Alice": only the letter case of your name can change',
  );
});

Deno.test("an account online logged in again with its password: the new connection takes its place", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  await using old = await registered(port, "alice");
  await using bob = await Client.login(port, "bob");
  await old.expect("bob has entered the room.");
  // A wrong password changes nothing for the session online.
  await using thief = await Client.connect(port, { from: "127.0.0.2" });
  await thief.expect("Welcome to TestChat");
  await thief.send("login alice");
  await thief.expect("Password for alice (a blank line cancels):");
  await thief.send("not the password");
  await thief.expect("Wrong password");
  await thief.expect("Password for alice (a blank line cancels):");
  await thief.send("");
  await thief.expect("Cancelled.");
  await old.send("look");
  await old.expectLines(["The following are in this room:", "alice", "bob"]);
  // The right one: the old connection is told from where, and closed.
  await using again = await Client.connect(port, { from: "127.0.0.3" });
  await again.expect("Welcome to TestChat");
  await again.send(`login alice ${PASSWORD}`);
  // After the thief's wrong try: a delay, moved past.
  await again.expect("1 failed login lately: checking in 1 s");
  clock.advance(1000);
  assert.deepEqual(await old.closed(), [
    "You have logged in again from 127.0.0.3: this connection is closed.",
  ]);
  await bob.expectLines([
    "alice has left the room.",
    "alice has entered the room.",
  ]);
  await again.send("who");
  await again.waitFor((line) => line === "The following are logged in:");
  assert.deepEqual((await again.sync()).sort(), ["alice", "bob"]);
});

Deno.test("wrong passwords: each try waits longer, the third closes, and the next login hears of them", async () => {
  await using db = await tempDb();
  const clock = new FakeClock();
  {
    await using server = await startServer({ clock, db: db.path });
    const port = server.addr.port;
    (await registered(port, "alice")).close();
    await using thief = await Client.connect(port);
    await thief.expect("Welcome to TestChat");
    await thief.send("login alice");
    await thief.expect("Password for alice (a blank line cancels):");
    await thief.send("guess number one");
    await thief.expectLines([
      "Wrong password",
      "Password for alice (a blank line cancels):",
    ]);
    await thief.send("guess number two");
    await thief.expect("1 failed login lately: checking in 1 s");
    await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
    clock.advance(1000);
    await thief.expectLines([
      "Wrong password",
      "Password for alice (a blank line cancels):",
    ]);
    await thief.send("guess number three");
    await thief.expect("2 failed logins lately: checking in 2 s");
    await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
    clock.advance(2000);
    await thief.expectLines([
      "Wrong password",
      "Too many wrong passwords; disconnecting.",
    ]);
    assert.deepEqual(await thief.closed(), []);
  }
  // The failures are in the database: a restart does not forget them.
  await using server = await startServer({ clock, db: db.path });
  await using owner = await Client.connect(server.addr.port);
  await owner.expect("Welcome to TestChat");
  await owner.send(`login alice ${PASSWORD}`);
  await owner.expect("3 failed logins lately: checking in 4 s");
  await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
  clock.advance(4000);
  await owner.expectLines([
    "You are logged in as alice.",
    "3 failed login attempts since your last login, from 127.0.0.1.",
  ]);
  await owner.send("logout");
  await owner.closed();
  // The address's failures are forgotten 15 minutes after its last one.
  clock.advance(15 * 60 * 1000 + 1);
  await using later = await Client.connect(server.addr.port);
  await later.expect("Welcome to TestChat");
  await later.send(`login alice ${PASSWORD}`);
  await later.expect("You are logged in as alice.");
  assert.deepEqual(await later.sync(), [], "no delay, nothing to report");
});

Deno.test("an account others have guessed at for long still logs in: the login timeout waits for the delay", async () => {
  await using db = await tempDb();
  const clock = new FakeClock();
  {
    // Ten failures from elsewhere, in the database.
    const store = await SqliteStore.open(db.path);
    for (let i = 0; i < 10; i++) {
      await store.addLoginFailure("alice", "192.0.2.66", {
        at: clock.date(),
        since: 0,
      });
    }
    await store.close();
  }
  await using server = await startServer({
    clock,
    db: db.path,
    loginTimeout: 60,
  });
  (await registered(server.addr.port, "alice")).close();
  await using owner = await Client.connect(server.addr.port, {
    from: "127.0.0.7",
  });
  await owner.expect("Welcome to TestChat");
  await owner.send(`login alice ${PASSWORD}`);
  await owner.expect("10 failed logins lately: checking in 60 s");
  // The login timeout (armed at connect) and the delay both run out.
  await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
  clock.advance(60_000);
  await owner.expectLines([
    "You are logged in as alice.",
    "10 failed login attempts since your last login, from 192.0.2.66.",
  ]);
});

Deno.test("wrong passwords sent all at once each wait longer than the one before", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  const guessers = await Promise.all(
    [2, 3, 4, 5].map((n) => Client.connect(port, { from: `127.0.0.${n}` })),
  );
  try {
    for (const guesser of guessers) await guesser.expect("Welcome to TestChat");
    await Promise.all(
      guessers.map((guesser) => guesser.send("login alice wrong guess")),
    );
    // The first try waits for nothing; each one begun after it, longer.
    const first = await guessers[0].readLine();
    assert.equal(first, "Wrong password");
    const waits = await Promise.all(
      guessers.slice(1).map((guesser) => guesser.readLine()),
    );
    assert.deepEqual(waits.sort(), [
      "1 failed login lately: checking in 1 s",
      "2 failed logins lately: checking in 2 s",
      "3 failed logins lately: checking in 4 s",
    ]);
    clock.advance(4000);
    for (const guesser of guessers.slice(1)) {
      await guesser.waitFor("Wrong password");
    }
  } finally {
    for (const guesser of guessers) guesser.close();
  }
});

Deno.test("a try that fails while the owner waits for theirs is in the owner's report", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using thief = await Client.connect(port, { from: "127.0.0.9" });
  await thief.expect("Welcome to TestChat");
  await thief.send("login alice guess one");
  await thief.expect("Wrong password");
  await thief.send("login alice guess two");
  await thief.expect("1 failed login lately: checking in 1 s");
  await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
  clock.advance(1000);
  await thief.expect("Wrong password");
  await using late = await Client.connect(port, { from: "127.0.0.8" });
  await late.expect("Welcome to TestChat");
  await late.send("login alice guess three");
  await late.expect("2 failed logins lately: checking in 2 s");
  await using owner = await Client.connect(port);
  await owner.expect("Welcome to TestChat");
  await owner.send(`login alice ${PASSWORD}`);
  await owner.expect("3 failed logins lately: checking in 4 s");
  await withTimeout(clock.untilPending(3), TIMEOUT_MS, "both delays");
  clock.advance(2000);
  await late.expect("Wrong password");
  await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the owner's delay");
  clock.advance(2000);
  await owner.expectLines([
    "You are logged in as alice.",
    "3 failed login attempts since your last login, from 127.0.0.8, 127.0.0.9.",
  ]);
});

Deno.test("a hash made with weaker parameters is made again at the next login", async () => {
  await using db = await tempDb();
  const weak = new PasswordHasher({ params: { ln: 10, r: 8, p: 1 } });
  {
    const store = await SqliteStore.open(db.path);
    await store.createAccount({
      key: "alice",
      name: "alice",
      skeleton: "alice",
      hash: await weak.hash(PASSWORD),
      created: 0,
      lastLogin: null,
    });
    await store.close();
  }
  {
    // The production cost, not the tests' cheap one: it is what is checked.
    await using server = await startServer({
      db: db.path,
      scryptParams: SCRYPT_PARAMS,
    });
    await using alice = await Client.connect(server.addr.port);
    await alice.expect("Welcome to TestChat");
    await alice.send(`login alice ${PASSWORD}`);
    await alice.expect("You are logged in as alice.");
    await alice.send("logout");
    await alice.closed();
    await server.close();
  }
  const store = await SqliteStore.open(db.path);
  try {
    const hash = (await store.accountFor("alice", "alice"))!.hash;
    assert.match(hash, /^\$scrypt\$ln=15,r=8,p=1\$/);
    assert.equal(await new PasswordHasher().verify(PASSWORD, hash), true);
  } finally {
    await store.close();
  }
});

Deno.test("password changes the password after the current one; unregister frees the name", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  {
    await using alice = await registered(port, "alice");
    await alice.send("password");
    await alice.expect("Your current password (a blank line cancels):");
    await alice.send("not the password");
    await alice.expect("Wrong password");
    await alice.send("password");
    await alice.expect("Your current password (a blank line cancels):");
    await alice.send(PASSWORD);
    await alice.expect("1 failed login lately: checking in 1 s");
    await withTimeout(clock.untilPending(), TIMEOUT_MS, "the delay");
    clock.advance(1000);
    await alice.expect("Your new password (at least 8 characters):");
    await alice.send("battery staple");
    await alice.expect("Type the same password again:");
    await alice.send("battery staple");
    await alice.expect("Your password is changed.");
  }
  {
    await using alice = await Client.connect(port);
    await alice.expect("Welcome to TestChat");
    await alice.send(`login alice ${PASSWORD}`);
    await alice.expect("1 failed login lately: checking in 1 s");
    await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
    clock.advance(1000);
    await alice.expect("Wrong password");
    await alice.send("login alice battery staple");
    await alice.expect("2 failed logins lately: checking in 2 s");
    await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
    clock.advance(2000);
    await alice.expectLines([
      "You are logged in as alice.",
      "2 failed login attempts since your last login, from 127.0.0.1.",
    ]);
    await alice.send("unregister");
    await alice.expect(
      'To delete the account "alice", type its password (a blank line cancels):',
    );
    await alice.send("battery staple");
    // This address failed twice in the last 15 minutes: it waits too.
    await alice.expect("2 failed logins lately: checking in 2 s");
    await withTimeout(clock.untilPending(), TIMEOUT_MS, "the delay");
    clock.advance(2000);
    await alice.expect(
      'The account "alice" is deleted; you stay online as a guest.',
    );
    await alice.send("password");
    await alice.expect(
      'You are a guest: "register" makes your name an account',
    );
  }
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await guest.send("login alice");
  assert.deepEqual(await guest.sync(), [], "a guest again, as in the seed");
});

Deno.test("unregister PASSWORD deletes the account in one line, as login NAME PASSWORD logs in; a wrong one is not asked again", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  await using alice = await registered(port, "alice");
  await alice.send("unregister guessed-wrong-1");
  await alice.expect("Wrong password");
  // No prompt follows: the line was the try, as at login.
  assert.deepEqual(await alice.sync(), []);
  await alice.send(`unregister ${PASSWORD}`);
  await alice.expect("1 failed login lately: checking in 1 s");
  await withTimeout(clock.untilPending(), TIMEOUT_MS, "the delay");
  clock.advance(1000);
  await alice.expect(
    'The account "alice" is deleted; you stay online as a guest.',
  );
  await alice.send("logout");
  const farewell = await alice.closed();
  assert.ok(
    !farewell.some((line) =>
      line.includes("guessed") || line.includes(PASSWORD)
    ),
    "the password is never shown back",
  );
  // The name is a guest's again.
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await guest.send("login alice");
  assert.deepEqual(await guest.sync(), [], "a guest's login, as in the seed");
});

Deno.test("unregister PASSWORD with a wrong password logs the try, never what was typed", async () => {
  const server = await ServerProcess.start();
  try {
    await using alice = await registered(server.port, "alice");
    await alice.send("unregister guessed-wrong-2");
    await alice.expect("Wrong password");
    await alice.send("logout");
    await alice.closed();
  } finally {
    await server.stop();
  }
  assert.match(
    server.stderr,
    /Wrong password for alice from 127\.0\.0\.1:\d+ \(try 1 on this connection\)/,
  );
  assert.doesNotMatch(server.stderr, /guessed-wrong-2/);
});

Deno.test("a login prompt opened before a password change, or before the account went, does not take the old password", async () => {
  // A fake clock, moved past each login delay (pastDelays) as it is told.
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  {
    await using alice = await registered(port, "alice");
    await alice.send("logout");
    await alice.closed();
  }
  // Opened while alice is away, and left waiting.
  await using early = await Client.connect(port);
  await early.expect("Welcome to TestChat");
  await early.send("login alice");
  await early.expect("Password for alice (a blank line cancels):");
  {
    await using alice = await Client.connect(port);
    await alice.expect("Welcome to TestChat");
    await alice.send(`login alice ${PASSWORD}`);
    await alice.expect("You are logged in as alice.");
    await alice.send("password");
    await alice.expect("Your current password (a blank line cancels):");
    await alice.send(PASSWORD);
    await alice.expect("Your new password (at least 8 characters):");
    await alice.send("battery staple");
    await alice.expect("Type the same password again:");
    await alice.send("battery staple");
    await alice.expect("Your password is changed.");
    await alice.send("logout");
    await alice.closed();
  }
  await early.send(PASSWORD);
  await early.expectLines([
    "Wrong password",
    "Password for alice (a blank line cancels):",
  ]);

  await early.send("");
  await early.expect("Cancelled.");
  await early.send("login alice");
  await early.expect("Password for alice (a blank line cancels):");
  {
    await using alice = await Client.connect(port);
    await alice.expect("Welcome to TestChat");
    await alice.send("login alice battery staple");
    // After the wrong try above, each waits a second first.
    await alice.waitFor(pastDelays(clock, "You are logged in as alice."));
    await alice.expect(
      "1 failed login attempt since your last login, from 127.0.0.1.",
    );
    await alice.send("unregister");
    await alice.expect(
      'To delete the account "alice", type its password (a blank line cancels):',
    );
    await alice.send("battery staple");
    await alice.waitFor(
      pastDelays(
        clock,
        (line) => line.startsWith('The account "alice" is deleted'),
      ),
    );
    await alice.send("logout");
    await alice.closed();
  }
  await early.send("battery staple");
  await early.waitFor(
    pastDelays(clock, 'The account "alice" no longer exists'),
  );
  await early.send("login alice");
  assert.deepEqual(await early.sync(), [], "a guest's login, as in the seed");
  await early.send("whois alice");
  await early.expect('alice is in room "main", connected 0s, idle 0s');
  assert.deepEqual(await early.sync(), [], "not a registered user");
});

Deno.test("a private message to an offline account waits for its next login, with its date", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, offlineMax: 2 });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using bob = await Client.login(port, "bob");
  await bob.send("msg alice see you at noon");
  await bob.expectLines([
    "[private to alice] see you at noon",
    "alice is offline and will get your message at their next login",
  ]);
  clock.advance(90 * 60 * 1000);
  await bob.send("msg ALICE and bring the notes");
  await bob.expectLines([
    "[private to alice] and bring the notes",
    "alice is offline and will get your message at their next login",
  ]);
  await bob.send("msg alice a third");
  await bob.expect(
    "alice is offline and has 2 messages waiting; yours was not kept",
  );
  await bob.send("msg carol hello");
  await bob.expect('No one called "carol" is online');
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.expectLines([
    "You are logged in as alice.",
    "While you were away, 2 private messages came for you:",
    "[private, 2026-01-01 00:00 UTC] bob: see you at noon",
    "[private, 2026-01-01 01:30 UTC] bob: and bring the notes",
  ]);
  await alice.send("logout");
  await alice.closed();
  await using again = await Client.connect(port);
  await again.expect("Welcome to TestChat");
  await again.send(`login alice ${PASSWORD}`);
  await again.expect("You are logged in as alice.");
  assert.deepEqual(await again.sync(), [], "delivered once");
});

Deno.test("one sender leaves at most their share of an offline account's messages; others still may", async () => {
  await using server = await startServer({
    offlineMax: 3,
    offlinePerSender: 2,
  });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using bob = await Client.login(port, "bob");
  for (const text of ["one", "two"]) {
    await bob.send(`msg alice ${text}`);
    await bob.expectLines([
      `[private to alice] ${text}`,
      "alice is offline and will get your message at their next login",
    ]);
  }
  await bob.send("msg alice three");
  await bob.expect(
    "alice is offline and has 2 of your messages waiting, the most one sender may leave; yours was not kept",
  );
  await using carol = await Client.login(port, "carol");
  await carol.send("msg alice from carol");
  await carol.expectLines([
    "[private to alice] from carol",
    "alice is offline and will get your message at their next login",
  ]);
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.expect("You are logged in as alice.");
  await alice.expect("While you were away, 3 private messages came for you:");
  for (const line of ["bob: one", "bob: two", "carol: from carol"]) {
    assert.match(await alice.readLine(), new RegExp(`\\] ${line}$`));
  }
});

Deno.test("an account that changes the letter case of its name still has only its share of an offline account's messages", async () => {
  await using server = await startServer({
    offlineMax: 5,
    offlinePerSender: 2,
  });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using mal = await registered(port, "mal");
  for (const text of ["one", "two"]) {
    await mal.send(`msg alice ${text}`);
    await mal.expectLines([
      `[private to alice] ${text}`,
      "alice is offline and will get your message at their next login",
    ]);
  }
  // The only change of name an account may make: it is still one sender.
  for (const name of ["Mal", "MAL"]) {
    await mal.send(`nick ${name}`);
    await mal.waitFor((line) => line.endsWith(`is now known as ${name}.`));
    await mal.send("msg alice three");
    await mal.expect(
      "alice is offline and has 2 of your messages waiting, the most one sender may leave; yours was not kept",
    );
  }
});

Deno.test("reply answers an offline message's guest sender who is still online", async () => {
  await using server = await startServer();
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using guest = await Client.login(port, "gus");
  await guest.send("msg alice are you around?");
  await guest.waitFor((line) => line.startsWith("alice is offline"));
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.waitFor((line) => line.endsWith("gus: are you around?"));
  await guest.expect("alice has entered the room.");
  // gus is right here: not "No one called "gus" is online".
  await alice.send("reply I am now");
  await alice.expect("[private to gus] I am now");
  await guest.expect("[private] alice: I am now");
});

Deno.test("reply to an offline message's guest sender gone since does not reach a new gus", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  {
    await using gus = await Client.login(port, "gus");
    await gus.send("msg alice my plan");
    await gus.waitFor((line) => line.startsWith("alice is offline"));
    await gus.send("logout");
    await gus.closed();
  }
  clock.advance(1000);
  await using stranger = await Client.login(port, "gus");
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.waitFor((line) => line.endsWith("gus: my plan"));
  await stranger.expect("alice has entered the room.");
  await alice.send("reply my answer to your plan");
  await alice.expect("gus, who wrote to you, has logged out");
  await alice.send("say done");
  await stranger.expect("alice: done");
});

Deno.test("reply answers an offline message's sender, and an account's owner who came back", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  {
    await using bob = await registered(port, "bob");
    await bob.send("msg alice lunch?");
    await bob.waitFor((line) => line.startsWith("alice is offline"));
    await bob.send("logout");
    await bob.closed();
  }
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.waitFor((line) => line.endsWith("bob: lunch?"));
  // bob is away: kept for him, as "msg" would.
  await alice.send("reply yes, at one");
  await alice.expectLines([
    "[private to bob] yes, at one",
    "bob is offline and will get your message at their next login",
  ]);
  await using bob = await Client.connect(port);
  await bob.expect("Welcome to TestChat");
  await bob.send(`login bob ${PASSWORD}`);
  await bob.waitFor((line) => line.endsWith("alice: yes, at one"));
  await bob.send("msg alice see you");
  await bob.expect("[private to alice] see you");
  await alice.waitFor("[private] bob: see you");
  await bob.send("logout");
  await bob.closed();
  await alice.waitFor("bob has left the room.");
  // The same account back on another connection is still bob.
  await using back = await Client.connect(port);
  await back.expect("Welcome to TestChat");
  await back.send(`login bob ${PASSWORD}`);
  await back.expect("You are logged in as bob.");
  await alice.waitFor("bob has entered the room.");
  await alice.send("reply on my way");
  await alice.expect("[private to bob] on my way");
  await back.expect("[private] alice: on my way");
  // bob writes while alice is away, then his account goes, and someone
  // else makes one under the name later: not the bob who wrote.
  await alice.send("logout");
  await alice.closed();
  await back.send("msg alice one more thing");
  await back.waitFor((line) => line.startsWith("alice is offline"));
  await back.send("unregister");
  await back.waitFor((line) => line.startsWith("To delete the account"));
  await back.send(PASSWORD);
  await back.waitFor((line) => line.startsWith('The account "bob" is deleted'));
  await back.send("logout");
  await back.closed();
  clock.advance(60_000);
  (await registered(port, "bob")).close();
  await using later = await Client.connect(port);
  await later.expect("Welcome to TestChat");
  await later.send(`login alice ${PASSWORD}`);
  await later.waitFor((line) => line.endsWith("bob: one more thing"));
  await later.send("reply are you still there?");
  await later.expect("bob, who wrote to you, has logged out");
});

Deno.test("an offline message older than --offline-days is not delivered", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, offlineDays: 1 });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  await using bob = await Client.login(port, "bob");
  await bob.send("msg alice too late");
  await bob.waitFor((line) => line.startsWith("alice is offline"));
  clock.advance(24 * 60 * 60 * 1000 + 1);
  await using alice = await Client.connect(port);
  await alice.expect("Welcome to TestChat");
  await alice.send(`login alice ${PASSWORD}`);
  await alice.expect("You are logged in as alice.");
  assert.deepEqual(await alice.sync(), []);
});

Deno.test("logins that wait for a hash are told how many are ahead, and chat goes on", async () => {
  // Hashes at the production cost: a cheap one can be done before the
  // next login is read, and nobody waits.
  await using server = await startServer({
    maxPasswordHashes: 1,
    scryptParams: SCRYPT_PARAMS,
  });
  const port = server.addr.port;
  const names = ["ann", "ben", "cat"];
  for (const name of names) (await registered(port, name)).close();
  await using party = await loginAll(port, "talker", "listener");
  const [talker, listener] = party;
  const clients = await Promise.all(names.map(async () => {
    const client = await Client.connect(port);
    await client.expect("Welcome to TestChat");
    return client;
  }));
  try {
    await Promise.all(
      clients.map((client, i) => client.send(`login ${names[i]} ${PASSWORD}`)),
    );
    await talker.send("say chat goes on");
    await listener.waitFor("talker: chat goes on");
    const seen = await Promise.all(clients.map(async (client, i) => {
      const lines = [];
      do lines.push(await client.readLine()); while (
        lines.at(-1) !== `You are logged in as ${names[i]}.`
      );
      return lines.filter((line) => !line.endsWith("has entered the room."));
    }));
    const waited = seen.filter((lines) => lines.length === 2);
    assert.equal(waited.length, 2, JSON.stringify(seen));
    assert.deepEqual(waited.map((lines) => lines[0]).sort(), [
      "Checking the password: 1 check is ahead of yours",
      "Checking the password: 2 checks are ahead of yours",
    ]);
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("register: one address registers at most --max-registrations-per-ip accounts an hour", async () => {
  const clock = new FakeClock();
  await using server = await startServer({
    clock,
    limitLoopback: true,
    maxRegistrationsPerIp: 2,
  });
  const port = server.addr.port;
  // A try refused for its password takes no place.
  await using a = await Client.login(port, "ra");
  await a.send("register short");
  await a.expect("A password needs at least 8 characters");
  await a.send(`register ${PASSWORD}`);
  await a.expect(
    'Registered "ra": from now on, logging in as ra asks for this password.',
  );
  await using b = await registered(port, "rb");
  await using c = await Client.login(port, "rc");
  await c.send(`register ${PASSWORD}`);
  await c.expect(
    "Too many accounts registered from your address (at most 2 an hour); try again later",
  );
  // The name is still free: a guest may take it.
  await c.send("logout");
  await c.closed();
  await using other = await Client.login(port, "rc");
  // Another address has places of its own.
  await using d = await registered(port, "rd", { from: "127.0.0.2" });
  // An hour later, this address may register again.
  clock.advance(60 * 60 * 1000);
  await other.send(`register ${PASSWORD}`);
  await other.waitFor(
    'Registered "rc": from now on, logging in as rc asks for this password.',
  );
  assert.ok(b && d);
});

Deno.test("a wrong password is logged, with the account and the peer, never what was typed", async () => {
  const server = await ServerProcess.start();
  try {
    await using alice = await registered(server.port, "alice");
    await alice.send("logout");
    await alice.closed();
    await using thief = await Client.connect(server.port, {
      from: "127.0.0.2",
    });
    await thief.expect("Welcome to TestChat");
    await thief.send("login alice guessed-wrong-1");
    await thief.expect("Wrong password");
    await thief.send("logout");
    await thief.closed();
  } finally {
    await server.stop();
  }
  // One line a log watcher (fail2ban and the like) can act on.
  assert.match(
    server.stderr,
    /Wrong password for alice from 127\.0\.0\.2:\d+ \(try 1 on this connection\)/,
  );
  assert.doesNotMatch(server.stderr, /guessed-wrong-1/);
  assert.doesNotMatch(server.stderr, new RegExp(PASSWORD));
});

Deno.test("a session that times out at a password question ends with its reason: no Cancelled. after it", async () => {
  const clock = new FakeClock();
  await using server = await startServer({ clock, idleTimeout: 600 });
  const port = server.addr.port;
  (await registered(port, "alice")).close();
  // The login timeout, while the account's password is asked for.
  await using guest = await Client.connect(port);
  await guest.expect("Welcome to TestChat");
  await guest.send("login alice", "\n");
  await guest.waitFor((line) => line.startsWith("Password for alice"));
  clock.advance(60_000);
  await guest.expect("Login timed out.");
  assert.deepEqual(await guest.closed(), []);
  // The idle timeout, while a new password is asked for.
  await using bob = await Client.connect(port);
  await bob.expect("Welcome to TestChat");
  await bob.send("login bob", "\n");
  await bob.send("register", "\n");
  await bob.waitFor((line) => line.startsWith("Choose a password"));
  clock.advance(600_000);
  await bob.expect("Idle for more than 600 seconds; disconnecting.");
  assert.deepEqual(await bob.closed(), []);
});

// A guard for the shutdown's line only: the close drops what the session
// still had to send, so no Cancelled. could follow it even before the
// session.active checks (the timeouts' test above holds those).
Deno.test("a shutdown while a password is asked for ends with its line", async () => {
  const server = await startServer();
  await using alice = await Client.connect(server.addr.port);
  await alice.expect("Welcome to TestChat");
  await alice.send("login alice", "\n");
  await alice.send("register", "\n");
  await alice.waitFor((line) => line.startsWith("Choose a password"));
  await server.close();
  await alice.expect("Server is shutting down.");
  assert.deepEqual(await alice.closed(), []);
});
