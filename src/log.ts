/**
 * Logging: LogTape, to stderr. Library code only calls `getLogger`; the
 * process entry point configures where records go, so embedding the server
 * (or testing it) logs nothing unless the host configures LogTape itself.
 *
 * @module
 */

import {
  configure,
  dispose,
  getLogger,
  getStreamSink,
  getTextFormatter,
  type Logger,
} from "@logtape/logtape";
import type { LogLevelName } from "./config.ts";

/** The logger of one part of the server: `log("server")`. */
export function log(part: string): Logger {
  return getLogger(["chat", part]);
}

/**
 * Sends the server's records at `level` and above to stderr. Writes never
 * block the event loop: a stalled stderr costs log lines, not chat.
 */
export async function startLogging(level: LogLevelName): Promise<void> {
  await configure({
    sinks: {
      stderr: getStreamSink(Deno.stderr.writable, {
        formatter: getTextFormatter({
          timestamp: "date-time-tz",
          value: "bare",
        }),
        nonBlocking: { bufferSize: 1000, flushInterval: 20 },
      }),
    },
    loggers: [
      { category: ["chat"], lowestLevel: level, sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}

/** Flushes and closes the log sinks; call before the process exits. */
export async function stopLogging(): Promise<void> {
  await dispose();
}
