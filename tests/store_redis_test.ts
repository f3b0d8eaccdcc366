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
