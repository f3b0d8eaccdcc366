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
 * Records queued for stderr before a write is started at once (else every
 * 20 ms). LogTape's non-blocking sink drops the oldest past twice this, and
 * a burst made in a few turns, faster than its one write per record goes,
 * holds about three times this: the shutdown of `--max-conns` (10,000)
 * sessions, one `Disconnected` line each, must fit. At 1,000 it kept 3,000
 * of them and dropped the rest without a word.
 */
const LOG_BUFFER_RECORDS = 5000;

let stopping = false;

/** One record as one line: the timestamp, level and category, then text. */
const FORMATTER = getTextFormatter({
  timestamp: "date-time-tz",
  value: "bare",
});

const DROPPED =
  "Log lines dropped (stderr took them slower than they came): {count}";

/** Dropped records not told yet, and whether a line telling them is out. */
let unreported = 0;
let reporting: Promise<void> | null = null;

/**
 * Says how many records the sink dropped (stderr took them slower than they
 * came). Written to stderr beside the sink, not through it: in its full
 * buffer this line would push out the next oldest record, and so on each
 * time it is told. One such line at a time; counts that come meanwhile go
 * in the next. Once logging stops, at once, as the process ends.
 */
function droppedLines(count: number): void {
  unreported += count;
  if (stopping) {
    tellDroppedNow();
    return;
  }
  if (reporting === null) {
    // Cleared once done (never before this is set: .finally runs later).
    reporting = reportDropped().finally(() => reporting = null);
  }
}

async function reportDropped(): Promise<void> {
  try {
    while (unreported > 0 && !stopping) {
      let bytes = droppedLine();
      while (bytes.length > 0) {
        bytes = bytes.subarray(await Deno.stderr.write(bytes));
      }
    }
  } catch {
    // stderr is gone: nobody is left to tell.
  }
}

/** Tells the records dropped so far at once, as the process ends. */
function tellDroppedNow(): void {
  try {
    Deno.stderr.writeSync(droppedLine());
  } catch {
    // stderr is gone: nobody is left to tell.
  }
}

/** The line that tells the records dropped so far, which are then told. */
function droppedLine(): Uint8Array {
  const count = unreported;
  unreported = 0;
  return new TextEncoder().encode(FORMATTER({
    category: ["chat", "log"],
    level: "warning",
    message: [DROPPED.slice(0, -"{count}".length), count, ""],
    rawMessage: DROPPED,
    timestamp: Date.now(),
    properties: { count },
  }));
}

/**
 * Sends the server's records at `level` and above to stderr. Writes never
 * block the event loop: a stalled stderr costs log lines, not chat, and a
 * warning says how many.
 */
export async function startLogging(level: LogLevelName): Promise<void> {
  stopping = false;
  await configure({
    sinks: {
      stderr: getStreamSink(Deno.stderr.writable, {
        formatter: FORMATTER,
        nonBlocking: {
          bufferSize: LOG_BUFFER_RECORDS,
          flushInterval: 20,
          onDrop: ({ count }) => droppedLines(count),
        },
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
  stopping = true;
  await dispose();
  // A warning being written is finished first, not cut into.
  await reporting;
  // Counts that came while a warning was being written, told now: the
  // sink's last one tells only what it dropped since its own last.
  if (unreported > 0) tellDroppedNow();
}
