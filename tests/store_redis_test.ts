import assert from "node:assert/strict";
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
