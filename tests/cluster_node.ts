/**
 * main.ts as a program, on the cluster's short test timings: for the
 * cluster tests that stop a server's process (SIGSTOP, SIGKILL) and wait for
 * the others to reap it, or for its heartbeat to expire, to happen, not for
 * how long it takes. Run as main.ts is, with its flags
 * (`deno run ... tests/cluster_node.ts --redis ...`).
 *
 * @module
 */

import { main } from "../main.ts";
import type { ClusterTimings } from "../src/cluster/cluster.ts";

/**
 * A cluster's clockwork at a fifth to a third of production's, for
 * `serve()`'s `clusterTimings` in tests that wait for a heartbeat, a reap or
 * a stall to be noticed to happen, not for how long it takes: production's
 * take seconds each. In the same proportions (a heartbeat expires after
 * several, the answer time is as long as that, the reap grace longer), and
 * not so short that a busy machine's late timer passes for a stall. Tests of
 * what the docs promise in seconds ("within 10 s", "within 5 s of Redis
 * coming back") keep production's.
 */
export const TEST_CLUSTER_TIMINGS: ClusterTimings = {
  heartbeatMs: 200,
  aliveTtlMs: 1000,
  reapGraceMs: 1500,
  answerMs: 1000,
};

if (import.meta.main) {
  Deno.exit(await main(Deno.args, { clusterTimings: TEST_CLUSTER_TIMINGS }));
}
