/**
 * The files flags name, read once at start (`--motd`,
 * `--redis-password-file`), and the database path as the log shows it.
 *
 * @module
 */

import { StoreError } from "./store/store.ts";
import { sanitize } from "./text.ts";

/** `path` made absolute, for the log; as it is if that cannot be done. */
export function databasePath(path: string): string {
  if (path === ":memory:") return path;
  try {
    return Deno.realPathSync(path);
  } catch {
    return path;
  }
}

/**
 * Reads `--redis-password-file`: its text without the line ends after it
 * (`echo`, an editor and `systemd-creds` all end a file with one). A
 * missing or empty file is a {@linkcode StoreError}, one line for the
 * operator, that names the file and never its contents.
 */
export function readRedisPassword(path: string): string {
  let text;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new StoreError(
      `Cannot read the Redis password file "${path}": ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const password = text.replace(/[\r\n]+$/, "");
  if (password === "") {
    throw new StoreError(`The Redis password file "${path}" is empty`);
  }
  return password;
}

/**
 * A file a flag names (`--motd`) that cannot be read at start: one line for
 * the operator, naming the flag and the file.
 */
export class FlagFileError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FlagFileError";
  }
}

/** The message of the day: its lines, sanitised, without trailing blanks. */
export function readMotd(path: string): string[] {
  let text;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    throw new FlagFileError(
      `Cannot read the message of the day (--motd) "${path}": ${
        (error as Error).message
      }`,
      { cause: error },
    );
  }
  const lines = text.split(/\r\n|\n|\r/).map(sanitize);
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  return lines;
}
