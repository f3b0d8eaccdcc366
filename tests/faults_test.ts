import assert from "node:assert/strict";
import net from "node:net";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../src/store/sqlite.ts";
import { TEXT } from "../src/text.ts";
import {
  Client,
  loginAccount,
  loginAll,
  PASSWORD,
  registered,
  ServerProcess,
  startServer,
  talkUntil,
} from "./helpers.ts";

const fixture = new URL("./fixtures/client.ts", import.meta.url).pathname;

/** Starts the fixture client as its own process. */
function spawnClient(port: number, name: string, mode: "read" | "write") {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", fixture, String(port), name, mode],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/** The resident memory of a process, in bytes, from /proc. */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const match = status.match(/^VmRSS:\s+(\d+) kB$/m);
  assert.ok(match, "VmRSS in /proc/PID/status");
  return Number(match[1]) * 1024;
}

Deno.test("50 MiB without a line end: one reason, the session lives, memory stays put", async () => {
  await using server = await ServerProcess.start();
  await using alice = await Client.login(server.port, "alice");
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  async function endlessLine(bytes: number): Promise<void> {
    for (let sent = 0; sent < bytes; sent += chunk.length) {
      await alice.sendBytes(chunk);
    }
  }
  // Warm up first, so that compiled code and the heap's first growth are
  // not counted as the cost of the long line.
  await endlessLine(4 * 1024 * 1024);
  await alice.send("\r\nsay warm");
  await alice.expectLines(["Line too long (max 1024 bytes)", "alice: warm"]);
  const before = await rss(server.child.pid);
  await endlessLine(50 * 1024 * 1024);
  const grown = (await rss(server.child.pid)) - before;
  await alice.send("\r\nsay survived");
  await alice.expectLines([
    "Line too long (max 1024 bytes)",
    "alice: survived",
  ]);
  assert.ok(grown < 10 * 1024 * 1024, `memory grew by ${grown} bytes`);
});

Deno.test("1,000 connect, login and drop cycles leave the registry empty and memory flat", async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, "deno task test runs with --v8-flags=--expose-gc");
  await using server = await startServer();
  const port = server.addr.port;
  await using watcher = await Client.login(port, "watcher");
  let cycle = 0;
  async function cycles(count: number): Promise<void> {
    for (let batch = 0; batch < count / 50; batch++) {
      const clients = await Promise.all(
        Array.from({ length: 50 }, () => Client.login(port, `u${cycle++}`)),
      );
      for (const client of clients) client.close();
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
      for (let left = 0; left < 50;) {
        const line = await watcher.readLine();
        if (line.endsWith(" has left the room.")) left++;
      }
    }
    await watcher.sync();
  }
  await cycles(200); // warm up: caches, JIT, pools
  gc();
  const before = Deno.memoryUsage().heapUsed;
  await cycles(1000);
  gc();
  const grown = Deno.memoryUsage().heapUsed - before;
  assert.equal(server.registry.users.size, 1);
  assert.equal(server.connections, 1);
  assert.ok(grown < 1024 * 1024, `heap grew by ${grown} bytes`);
});

Deno.test("a client killed in the middle of a write leaves; the others keep chatting", async () => {
  await using server = await startServer({ floodRate: 0 });
  const port = server.addr.port;
  await using party = await loginAll(port, "watcher", "talker");
  const [watcher, talker] = party;
  const child = spawnClient(port, "writer", "write");
  try {
    await watcher.waitFor("writer: ready");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  await watcher.waitFor("writer has left the room.");
  await talker.send("say still chatting");
  await watcher.waitFor("talker: still chatting");
  assert.equal(server.registry.find("writer"), undefined);
});

Deno.test("a reader stopped with SIGSTOP is dropped; the others keep chatting", async () => {
  await using server = await startServer({
    floodRate: 0,
    maxQueueBytes: 256 * 1024,
  });
  const port = server.addr.port;
  await using party = await loginAll(port, "watcher", "talker");
  const [watcher, talker] = party;
  const child = spawnClient(port, "sleepy", "read");
  try {
    await watcher.waitFor("sleepy: ready");
    child.kill("SIGSTOP");
    await talkUntil(talker, watcher.waitFor("sleepy has left the room."));
    await talker.send("say still chatting");
    await watcher.waitFor("talker: still chatting");
    await talker.waitFor("talker: still chatting");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("a peer that resets its connection leaves, and the log calls it a disconnect, not an error", async () => {
  await using server = await ServerProcess.start();
  await using watcher = await Client.login(server.port, "watcher");
  const socket = net.connect(server.port, "127.0.0.1");
  await new Promise((resolve) => socket.once("connect", resolve));
  socket.write("login resetter\r\nsay about to go\r\n");
  await watcher.waitFor("resetter: about to go");
  // An RST, as a crashed client or a middlebox sends it.
  socket.resetAndDestroy();
  await watcher.waitFor("resetter has left the room.");
  await watcher.send("logout");
  await watcher.closed();
  const status = await server.stop();
  assert.equal(status.code, 0);
  assert.match(server.stderr, /Disconnected .*resetter/);
  assert.doesNotMatch(server.stderr, /\[ERR\]/);
});

Deno.test("the database's folder removed under a running server: chat goes on, each user is told what was not done, the log says it once, logins and shutdown still work", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = await ServerProcess.start(
      ServerProcess.mainArgs(
        "--db",
        `${dir}/chat.db`,
        "--flood-rate",
        "0",
        "--op",
        "alice",
      ),
    );
    await using alice = await registered(server.port, "alice");
    {
      await using carol = await registered(server.port, "carol");
      await alice.expect("carol has entered the room.");
      await carol.send("quit");
      await alice.waitFor("carol has left the room.");
    }
    await using bob = await Client.login(server.port, "bob");
    await alice.expect("bob has entered the room.");
    await Deno.remove(dir, { recursive: true });

    for (let i = 1; i <= 3; i++) await bob.send(`say line ${i}`);
    await alice.expectLines(["bob: line 1", "bob: line 2", "bob: line 3"]);
    await bob.expectLines(["bob: line 1", "bob: line 2", "bob: line 3"]);
    // Each was told "done" before, and nothing of it was there at the next
    // start.
    await bob.send(`register ${PASSWORD}`);
    assert.deepEqual(await bob.sync(), [TEXT.storeFailed]);
    await alice.send("ban 192.0.2.7");
    assert.deepEqual(await alice.sync(), [TEXT.storeFailed]);
    await alice.send("msg carol are you there?");
    assert.deepEqual(await alice.sync(), [TEXT.storeFailed]);
    // A login the store cannot record is a login all the same.
    await using again = await loginAccount(server.port, "carol");
    await again.send("say back");
    await bob.waitFor("carol: back");

    const status = await server.stop();
    assert.equal(status.code, 0);
    const failures = server.stderr.split("\n").filter((line) =>
      line.includes("Writing to the database failed")
    );
    // The first, and at the end how many more there were.
    assert.equal(failures.length, 2, server.stderr);
    assert.match(failures[0], /was deleted or replaced while the server ran/);
    const more = /\((\d+) more times not logged\)$/.exec(failures[1]);
    assert.ok(more && Number(more[1]) >= 3, failures[1]);
    assert.doesNotMatch(server.stderr, /Handling a line/);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/** Whether this machine lets the test mount a tmpfs (root, with the right). */
function canMountTmpfs(): boolean {
  if (Deno.uid() !== 0) return false;
  const dir = Deno.makeTempDirSync();
  try {
    const mount = new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
      stderr: "null",
    }).outputSync();
    if (!mount.success) return false;
    new Deno.Command("umount", { args: [dir] }).outputSync();
    return true;
  } catch {
    return false;
  } finally {
    Deno.removeSync(dir);
  }
}

Deno.test({
  name:
    "a full disk under a running server: chat goes on, each user is told what was not done, the log says it once, logins and shutdown still work",
  ignore: !canMountTmpfs(),
  async fn() {
    const dir = await Deno.makeTempDir();
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=512k", "tmpfs", dir],
    }).output();
    assert.ok(mounted.success, "a tmpfs of 512 KiB");
    try {
      await using server = await ServerProcess.start(
        ServerProcess.mainArgs(
          "--db",
          `${dir}/chat.db`,
          "--flood-rate",
          "0",
          "--op",
          "alice",
        ),
      );
      await using alice = await registered(server.port, "alice");
      {
        await using carol = await registered(server.port, "carol");
        await alice.expect("carol has entered the room.");
        await carol.send("quit");
        await alice.waitFor("carol has left the room.");
      }
      await using bob = await Client.login(server.port, "bob");
      await alice.expect("bob has entered the room.");
      await assert.rejects(
        Deno.writeFile(`${dir}/filler`, new Uint8Array(1024 * 1024)),
        /No space left on device/,
      );

      for (let i = 1; i <= 3; i++) await bob.send(`say line ${i}`);
      await alice.expectLines(["bob: line 1", "bob: line 2", "bob: line 3"]);
      await bob.expectLines(["bob: line 1", "bob: line 2", "bob: line 3"]);
      await bob.send(`register ${PASSWORD}`);
      assert.deepEqual(await bob.sync(), [TEXT.storeFailed]);
      await alice.send("ban 192.0.2.7");
      assert.deepEqual(await alice.sync(), [TEXT.storeFailed]);
      await alice.send("msg carol are you there?");
      assert.deepEqual(await alice.sync(), [TEXT.storeFailed]);
      await using again = await loginAccount(server.port, "carol");
      await again.send("say back");
      await bob.waitFor("carol: back");

      // Room again: what is asked for now is kept.
      await Deno.remove(`${dir}/filler`);
      await bob.send(`register ${PASSWORD}`);
      await bob.waitFor((line) => line.startsWith('Registered "bob"'));

      const status = await server.stop();
      assert.equal(status.code, 0);
      const failures = server.stderr.split("\n").filter((line) =>
        line.includes("Writing to the database failed")
      );
      assert.equal(failures.length, 2, server.stderr);
      assert.match(failures[0], /database or disk is full/);
      const more = /\((\d+) more times not logged\)$/.exec(failures[1]);
      assert.ok(more && Number(more[1]) >= 3, failures[1]);
      assert.doesNotMatch(server.stderr, /Handling a line/);
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("while the database cannot be written, /metrics counts each failed write and /readyz stays 200 (chat goes on)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await using server = await startServer({
      db: `${dir}/chat.db`,
      httpPort: 0,
    });
    const base = `http://127.0.0.1:${server.httpAddr!.port}`;
    const failures = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(/^chat_store_errors_total (\d+)$/m.exec(text)?.[1]);
    };
    assert.equal(await failures(), 0);
    await using alice = await Client.login(server.addr.port, "alice");
    await Deno.remove(dir, { recursive: true });
    await alice.send(`register ${PASSWORD}`);
    assert.deepEqual(await alice.sync(), [TEXT.storeFailed]);
    assert.equal(await failures(), 1);
    const ready = await fetch(`${base}/readyz`);
    assert.equal(ready.status, 200);
    await ready.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name:
    "a start on a full disk is one line that says where to look, and exit code 1",
  ignore: !canMountTmpfs(),
  async fn() {
    const dir = await Deno.makeTempDir();
    const mounted = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir],
    }).output();
    assert.ok(mounted.success, "a tmpfs of 256 KiB");
    try {
      // A database that was there before the disk filled.
      await (await SqliteStore.open(`${dir}/chat.db`)).close();
      await assert.rejects(
        Deno.writeFile(`${dir}/filler`, new Uint8Array(1024 * 1024)),
        /No space left on device/,
      );
      const { code, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ServerProcess.mainArgs("--db", `${dir}/chat.db`),
        cwd: new URL("..", import.meta.url),
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(code, 1);
      const lines = new TextDecoder().decode(stderr).trim().split("\n");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0],
        new RegExp(
          `Cannot open the database "${dir}/chat\\.db": disk I/O error \\(is its disk full\\?\\)$`,
        ),
      );
    } finally {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the database's -shm file alone removed under a running server: nothing is kept that another process's sqlite3 can then empty out of the WAL", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  try {
    let answer: string[];
    {
      await using server = await ServerProcess.start(
        ServerProcess.mainArgs("--db", db),
      );
      (await registered(server.port, "alice")).close();
      // Taken for a stale lock file.
      await Deno.remove(`${db}-shm`);
      // sqlite3 makes a -shm of its own, and empties the WAL it reads as
      // all checkpointed.
      const other = new DatabaseSync(db);
      try {
        other.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      } finally {
        other.close();
      }
      await using bob = await Client.login(server.port, "bob");
      await bob.send(`register ${PASSWORD}`);
      answer = await bob.sync();
      server.child.kill("SIGKILL");
      await server.child.status;
    }
    await using again = await ServerProcess.start(
      ServerProcess.mainArgs("--db", db),
    );
    await using carol = await Client.login(again.port, "carol");
    await carol.send("whois alice");
    assert.match((await carol.sync())[0], /^alice is a registered user/);
    // What bob was told is what was kept: he was told he was registered,
    // and was not, when the WAL with his account in it was emptied.
    await carol.send("whois bob");
    const bobKept = /^bob is a registered user/.test((await carol.sync())[0]);
    assert.equal(bobKept, answer[0].startsWith('Registered "bob"'), answer[0]);
    assert.deepEqual(answer, [TEXT.storeFailed]);
    const file = new DatabaseSync(db, { readOnly: true });
    try {
      const check = file.prepare("PRAGMA integrity_check").get();
      assert.equal(check?.integrity_check, "ok");
    } finally {
      file.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the database's -wal and -shm files removed under a running server: what they held is put in the database file at once, and nothing more goes where no one sees it", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/chat.db`;
  try {
    {
      await using server = await ServerProcess.start(
        ServerProcess.mainArgs("--db", db),
      );
      (await registered(server.port, "alice")).close();
      // Taken for leftovers.
      await Deno.remove(`${db}-wal`);
      await Deno.remove(`${db}-shm`);
      await using bob = await Client.login(server.port, "bob");
      await bob.send(`register ${PASSWORD}`);
      assert.deepEqual(await bob.sync(), [TEXT.storeFailed]);
      // Another process (a backup) sees alice, who was only in the WAL.
      const other = new DatabaseSync(db);
      try {
        assert.deepEqual(
          other.prepare("SELECT name FROM accounts").all().map((row) =>
            row.name
          ),
          ["alice"],
        );
      } finally {
        other.close();
      }
      const status = await server.stop();
      assert.equal(status.code, 0);
      assert.match(
        server.stderr,
        /Writing to the database failed: The database's file ".*chat\.db-wal" was deleted while the server ran/,
      );
    }
    await using again = await ServerProcess.start(
      ServerProcess.mainArgs("--db", db),
    );
    await using carol = await Client.login(again.port, "carol");
    await carol.send("whois alice");
    assert.match((await carol.sync())[0], /^alice is a registered user/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
