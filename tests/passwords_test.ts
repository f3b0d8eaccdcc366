import assert from "node:assert/strict";
import { PasswordHasher, SCRYPT_PARAMS } from "../src/passwords.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { registered, startServer, TEST_SCRYPT_PARAMS } from "./helpers.ts";

Deno.test("PasswordHasher hashes with scrypt N=2^15, r=8, p=1 and a 16-byte salt, and verifies", async () => {
  const hasher = new PasswordHasher();
  const hash = await hasher.hash("correct horse");
  const match = hash.match(/^\$scrypt\$ln=15,r=8,p=1\$([^$]+)\$([^$]+)$/);
  assert.ok(match, hash);
  assert.equal(atob(match[1]).length, 16);
  assert.equal(await hasher.verify("correct horse", hash), true);
  assert.equal(await hasher.verify("correct horsE", hash), false);
  assert.notEqual(await hasher.hash("correct horse"), hash, "a fresh salt");
  assert.equal(await hasher.verify("x", "not a hash"), false);
});

Deno.test("PasswordHasher says when a hash was made with weaker parameters", async () => {
  const weak = new PasswordHasher({ params: { ln: 10, r: 8, p: 1 } });
  const hash = await weak.hash("correct horse");
  const strong = new PasswordHasher();
  assert.equal(strong.needsRehash(hash), true);
  assert.equal(await strong.verify("correct horse", hash), true);
  assert.equal(strong.needsRehash(await strong.hash("correct horse")), false);
});

Deno.test("PasswordHasher runs two hashes at once; the rest wait their turn, and the event loop goes on", async () => {
  const hasher = new PasswordHasher();
  const ahead: number[] = [];
  const hashes = Array.from(
    { length: 5 },
    (_, i) => hasher.hash(`password ${i}`, { onQueued: (n) => ahead.push(n) }),
  );
  assert.equal(hasher.running, 2);
  assert.equal(hasher.waiting, 3);
  assert.deepEqual(
    ahead,
    [2, 3, 4],
    "each waiter is told how many are ahead, the running ones included",
  );
  let settled = 0;
  for (const hash of hashes) hash.then(() => settled++);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(settled, 0, "a timer fired while the hashes ran off the loop");
  await Promise.all(hashes);
  assert.equal(hasher.running, 0);
  assert.equal(hasher.waiting, 0);
});

Deno.test("PasswordHasher: a check whose session ended leaves the line, and the next one moves up", async () => {
  const hasher = new PasswordHasher({ concurrency: 1 });
  const first = hasher.hash("password one");
  const gone = new AbortController();
  const leaving = hasher.hash("password two", { signal: gone.signal });
  const ahead: number[] = [];
  const third = hasher.hash("password three", {
    onQueued: (n) => ahead.push(n),
  });
  assert.deepEqual(ahead, [2]);
  assert.equal(hasher.waiting, 2);
  gone.abort();
  await assert.rejects(leaving, (error: Error) => error.name === "AbortError");
  assert.equal(hasher.waiting, 1, "it left the line at once");
  await Promise.all([first, third]);
  assert.equal(hasher.running, 0);
  assert.equal(hasher.waiting, 0);
  await assert.rejects(
    hasher.hash("too late", { signal: gone.signal }),
    (error: Error) => error.name === "AbortError",
    "an ended session does not join the line",
  );
});

Deno.test("PasswordHasher: askers take turns, so one address's many checks do not keep another's behind them all", async () => {
  const hasher = new PasswordHasher({
    concurrency: 1,
    params: { ln: 4, r: 1, p: 1 },
  });
  const done: string[] = [];
  const ask = (name: string, asker: string) =>
    hasher.hash(name, { asker }).then(() => done.push(name));
  const all = [
    ask("a1", "a"),
    ask("a2", "a"),
    ask("a3", "a"),
    ask("a4", "a"),
    ask("b1", "b"),
    ask("c1", "c"),
    ask("b2", "b"),
  ];
  assert.equal(hasher.waiting, 6);
  await Promise.all(all);
  assert.deepEqual(done, ["a1", "a2", "b1", "c1", "a3", "b2", "a4"]);
  assert.equal(hasher.waiting, 0);
  assert.equal(hasher.running, 0);
});

Deno.test("serve()'s scryptParams is the cost of the hashes its accounts get (the tests' cheap one here)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-scrypt-" });
  try {
    const db = `${dir}/chat.db`;
    {
      await using server = await startServer({ db });
      (await registered(server.addr.port, "alice")).close();
    }
    const store = await SqliteStore.open(db);
    try {
      const hash = (await store.accountFor("alice", "alice"))!.hash;
      const { ln, r, p } = TEST_SCRYPT_PARAMS;
      assert.ok(hash.startsWith(`$scrypt$ln=${ln},r=${r},p=${p}$`), hash);
      assert.notEqual(ln, SCRYPT_PARAMS.ln);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
