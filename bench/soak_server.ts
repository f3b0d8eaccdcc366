/**
 * The server as `main.ts` runs it, for bench/soak.ts: with `gc()` on
 * SIGUSR2, so that the soak can read the heap after a full collection (run
 * with `--v8-flags=--expose-gc`). Not part of the server.
 *
 * @module
 */

import { writeHeapSnapshot } from "node:v8";
import { main } from "../main.ts";

const gc = (globalThis as { gc?: () => void }).gc;
/** Where each collection also writes a heap snapshot, if set. */
const snapshots = Deno.env.get("SOAK_SNAPSHOTS");
let taken = 0;
if (gc !== undefined) {
  Deno.addSignalListener("SIGUSR2", () => {
    gc();
    if (snapshots) writeHeapSnapshot(`${snapshots}/${++taken}.heapsnapshot`);
    console.log("soak: collected");
  });
}
Deno.exit(await main(Deno.args));
