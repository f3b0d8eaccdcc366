import assert from "node:assert/strict";
import type { ChatLine } from "../src/events.ts";
import { RedisLink } from "../src/redis/link.ts";
import { RedisStore } from "../src/store/redis.ts";
import { redisMissing, RedisServer } from "./redis_helpers.ts";
import { storeContract } from "./store_contract.ts";

if (redisMissing === null) {
  storeContract("RedisStore", async () => {
    const redis = await RedisServer.start();
    const link = await RedisLink.connect(redis.url);
    return {
      open: (options) => RedisStore.open(link, options),
      async reopen(store, options) {
        await store.close();
        return await RedisStore.open(link, options);
      },
      async cleanup() {
        await link.close();
        await redis[Symbol.asyncDispose]();
      },
    };
  });
} else {
  Deno.test({
    name: `RedisStore passes the store contract (ignored: ${redisMissing})`,
    ignore: true,
    fn() {},
  });
}

Deno.test({
  name:
    "RedisStore: ids reserved while Redis was away are asked for again once it is back",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start();
    let up = () => {};
    const link = await RedisLink.connect(redis.url, {
      onState: (state) => state && up(),
    });
    let failed = () => {};
    const refused = new Promise<void>((resolve) => failed = resolve);
    const store = await RedisStore.open(link, { onError: () => failed() });
    try {
      await redis.stop();
      // Half the first block: the next one is asked for, and refused.
      let last = 0;
      for (let i = 0; i < 60_000; i++) last = store.ids.next();
      await refused;
      const back = new Promise<void>((resolve) => up = resolve);
      await redis.restart();
      await back;
      // Past the end of the first block, with Redis back.
      for (let i = 0; i < 60_000; i++) last = store.ids.next();
      // Answered after the INCRBY sent before it, on the same connection.
      const reserved = Number(await link.call("GET", "chat:ids"));
      assert.ok(reserved > last, `${reserved} is past ${last}`);
    } finally {
      await store.close();
      await link.close();
    }
  },
});

Deno.test({
  name:
    "RedisStore: a sanction set again just as an ended one is read is not dropped with it",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start();
    const link = await RedisLink.connect(redis.url);
    const other = await RedisLink.connect(redis.url);
    const store = await RedisStore.open(link);
    try {
      const ban = {
        kind: "ban" as const,
        room: "",
        target: "account:troll",
        label: "troll",
        by: "root",
        at: 1000,
        until: 2000,
        reason: "old",
      };
      await store.addSanction(ban);
      // Another server bans troll again between this one's read of the
      // ended ban and its cleaning up: the new ban is kept.
      const again = { ...ban, at: 3000, until: null, reason: "again" };
      const otherStore = await RedisStore.open(other);
      const call = link.call.bind(link);
      let read = false;
      link.call = async (...args: Parameters<typeof link.call>) => {
        if (read) {
          read = false;
          await otherStore.addSanction(again);
        }
        const reply = await call(...args);
        if (args[0] === "HGETALL" && String(args[1]).endsWith("sanctions")) {
          read = true;
        }
        return reply;
      };
      const evaluate = link.eval.bind(link);
      link.eval = async (...args: Parameters<typeof link.eval>) => {
        if (read) {
          read = false;
          await otherStore.addSanction(again);
        }
        return await evaluate(...args);
      };
      assert.deepEqual(await store.sanctions(2500), []);
      link.call = call;
      link.eval = evaluate;
      assert.deepEqual(await store.sanctions(3500), [again]);
      await otherStore.close();
    } finally {
      await store.close();
      await link.close();
      await other.close();
    }
  },
});

Deno.test({
  name:
    "RedisStore: an offline message whose stored JSON this version would write otherwise is let go of once shown",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start();
    const link = await RedisLink.connect(redis.url);
    const store = await RedisStore.open(link);
    try {
      // As another writer keeps it (Lua's cjson escapes "/", another
      // encoder spaces and escapes letters): parsed and written again, the
      // member would not be found, and ZREM would let go of nothing.
      const member = '{"type": "private", "id": 7, "at": 5000, ' +
        '"from": "bob", "to": "Alice", "text": "see http:\\/\\/x \\u00e9"}';
      await link.call("ZADD", "chat:offline:alice", "5000", member);
      const waiting = await store.waitingMessages("alice", 0);
      assert.deepEqual(waiting.map((m) => m.event.text), [
        "see http://x \u00e9",
      ]);
      await store.ackMessages("alice", waiting);
      assert.equal(await link.call("ZCARD", "chat:offline:alice"), 0);
    } finally {
      await store.close();
      await link.close();
    }
  },
});

Deno.test({
  name:
    "RedisStore.forgetOld(): a quiet room with members on another server, or being made, is kept; another prefix's rooms are not looked at",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start();
    const link = await RedisLink.connect(redis.url);
    // Glob characters in the prefix: MATCH takes them as they are.
    const store = await RedisStore.open(link, { prefix: "c*[h]:" });
    const other = await RedisStore.open(link, { prefix: "ch:" });
    try {
      const line = (s: RedisStore, room: string): ChatLine => ({
        type: "said",
        id: s.ids.next(),
        at: 1000,
        room,
        from: "alice",
        text: "old",
      });
      for (const room of ["den", "lab", "attic"]) {
        store.line(room, line(store, room));
      }
      other.line("den", line(other, "den"));
      await other.flush();
      // As the cluster keeps them: a member of den on some server, and lab
      // being made (its first member not in yet).
      await link.call("ZADD", "c*[h]:members:den", 1000, "bob");
      await link.call("SET", "c*[h]:opening:lab", "lab", "PX", 60_000);
      const forget = (s: RedisStore) =>
        s.forgetOld({
          messagesBefore: 0,
          failuresBefore: 0,
          roomsQuietBefore: 2000,
        });
      assert.equal(await forget(store), 1);
      assert.equal(await store.room("attic", 0), null);
      assert.equal((await store.room("den", 1))?.history.length, 1);
      assert.equal((await store.room("lab", 1))?.history.length, 1);
      assert.equal(
        (await other.room("den", 1))?.history.length,
        1,
        "another prefix's room is not this store's",
      );
      assert.equal(await forget(other), 1);
      assert.equal(await other.room("den", 0), null);
    } finally {
      await store.close();
      await other.close();
      await link.close();
    }
  },
});
