/**
 * The chat server's entry point: flags to config, start, stop on SIGINT,
 * SIGTERM or SIGHUP. Imported as a module it exports {@linkcode serve}, for
 * embedding the server and for tests.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import { parseFlags, usage, UsageError } from "./src/config.ts";
import { log, startLogging, stopLogging } from "./src/log.ts";
import { ListenError, serve, type ServeOptions } from "./src/server.ts";
import { FlagFileError } from "./src/flag_files.ts";
import { CertificateError } from "./src/tls/certificate.ts";
import { StoreError } from "./src/store/store.ts";

export { ChatServer, serve, type ServeOptions } from "./src/server.ts";
export type { Config } from "./src/config.ts";
export { COMMANDS } from "./src/commands/mod.ts";
export type { Command, Context } from "./src/commands/command.ts";
export { ChatError } from "./src/errors.ts";

/** The version, from deno.json. */
export const VERSION: string = denoJson.version;

/**
 * Runs the server as a program; returns the exit code. `options`: what no
 * flag sets, for a test's own process (tests/cluster_node.ts: the cluster's
 * short test timings); the program itself passes none.
 */
export async function main(
  args: readonly string[],
  options: Pick<ServeOptions, "clusterTimings"> = {},
): Promise<number> {
  let invocation;
  try {
    invocation = parseFlags(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line, not the usage after it: `systemctl status` shows a unit's
    // last lines, which would be the end of the usage and not the error.
    console.error(
      `error: ${
        error.message.replace(/\s*\n\s*/g, " ")
      } (--help lists the flags)`,
    );
    return 2;
  }
  if (invocation.action === "help") {
    console.log(usage());
    return 0;
  }
  if (invocation.action === "version") {
    console.log(`chat-server ${VERSION}`);
    return 0;
  }
  const { config } = invocation;
  await startLogging(config.logLevel);
  using _guard = keepServing();
  try {
    let server;
    try {
      server = await serve({ ...config, ...options });
    } catch (error) {
      if (
        error instanceof StoreError || error instanceof ListenError ||
        error instanceof CertificateError || error instanceof FlagFileError
      ) {
        // Each says what failed: the database, which port, or which file.
        log("server").fatal("{message}", { message: error.message });
      } else {
        log("server").fatal("Cannot start: {message}", {
          message: (error as Error).message,
        });
      }
      return 1;
    }
    // Once up, so the journal says which version each start ran (after an
    // upgrade, or a rollback), and a start that fails stays one line.
    log("server").info("Started chat-server {version} on Deno {deno}", {
      version: VERSION,
      deno: Deno.version.deno,
    });
    await stopSignal();
    await server.close();
    return 0;
  } finally {
    await stopLogging();
  }
}

/**
 * Keeps the process serving through a bug that escapes every handler (an
 * error thrown in a timer, a promise rejected with nobody awaiting it):
 * logged with its stack, as a bug in a session is, instead of ending every
 * session at once. Disposing of the result removes the guard.
 */
export function keepServing(): Disposable {
  const logger = log("server");
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    logger.error("A bug, not handled anywhere: {error}", {
      error: event.reason,
    });
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    logger.error("A bug, not handled anywhere: {error}", {
      error: event.error ?? event.message,
    });
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  return {
    [Symbol.dispose]() {
      globalThis.removeEventListener("unhandledrejection", onRejection);
      globalThis.removeEventListener("error", onError);
    },
  };
}

/**
 * Resolves on the first SIGINT, SIGTERM or SIGHUP (SIGBREAK on Windows).
 * SIGHUP is what a server started in a terminal gets when the terminal
 * goes (an ssh session dropped): without a listener it would die on the
 * spot, with no goodbye and the last writes to the database lost.
 */
function stopSignal(): Promise<void> {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM", "SIGHUP"];
  return new Promise((resolve) => {
    const stop = () => {
      for (const signal of signals) Deno.removeSignalListener(signal, stop);
      resolve();
    };
    for (const signal of signals) Deno.addSignalListener(signal, stop);
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
