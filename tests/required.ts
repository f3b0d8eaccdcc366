/**
 * Programs the tests start (telnet, busybox, tmux, openssl, InspIRCd, ss,
 * redis-server, Chromium, nginx): where one is missing, the tests that need it are
 * ignored with the reason, but in CI (`CI` set, as `.ci/run` does, which
 * installs them all) that is an error: a missing program must not turn into
 * a green run that tested less.
 *
 * @module
 */

/**
 * Returns `reason` when a program is missing (null when it is there), after
 * a warning naming `what` is ignored; throws in CI.
 */
export function missingProgram(
  reason: string | null,
  what: string,
): string | null {
  if (reason === null) return null;
  if (Deno.env.get("CI")) throw new Error(`${reason}, and CI needs it`);
  console.warn(`${what} ignored: ${reason}`);
  return reason;
}
