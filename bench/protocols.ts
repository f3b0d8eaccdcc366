/**
 * How the load generator speaks to each server: this chat server's seed
 * protocol, and IRC for the peer. Both put every client in one room.
 *
 * @module
 */

import { type BenchClient, includes } from "./client.ts";

/** A server's protocol, as the scenarios need it. */
export interface Protocol {
  /** Logs a client in and into the shared room; resolves once done. */
  login(client: BenchClient): Promise<void>;
  /**
   * Resolves once the server has handled everything the client sent before,
   * and the client has read everything the server sent before.
   */
  sync(client: BenchClient): Promise<void>;
  /** The line (with its ending) that says `text` to the room. */
  say(text: string): string;
  /** Whether a sender gets its own line back (IRC does not echo). */
  readonly echoes: boolean;
}

const bytes = (text: string) => new TextEncoder().encode(text);

/** The seed's protocol: `login NAME`, `say TEXT`. */
export const CHAT: Protocol = {
  echoes: true,
  async login(client) {
    // The seed says nothing to a newcomer; an unknown command's answer shows
    // that the login before it was handled.
    await roundTrip(client, `login ${client.name}\r\n`);
  },
  sync: (client) => roundTrip(client, ""),
  say: (text) => `say ${text}\r\n`,
};

let acks = 0;

async function roundTrip(client: BenchClient, before: string): Promise<void> {
  const word = `ack${++acks}`;
  const answer = bytes(`Unknown command: ${word}`);
  const seen = client.waitForLine((b, s, e) =>
    e - s === answer.length && includes(b, s, e, answer)
  );
  await client.send(`${before}${word}\r\n`);
  await seen;
}

/** `:server NNN ...`: whether the line is the numeric reply `code`. */
function isNumeric(
  code: string,
): (b: Uint8Array, s: number, e: number) => boolean {
  const wanted = bytes(` ${code} `);
  return (b, s, e) => {
    let space = s;
    while (space < e && b[space] !== 32) space++;
    if (space + wanted.length > e) return false;
    for (let i = 0; i < wanted.length; i++) {
      if (b[space + i] !== wanted[i]) return false;
    }
    return true;
  };
}

/** IRC, for InspIRCd: NICK, USER, JOIN #bench, PRIVMSG #bench. */
export const IRC: Protocol = {
  echoes: false,
  async login(client) {
    const welcomed = client.waitForLine(isNumeric("001"));
    await client.send(
      `NICK ${client.name}\r\nUSER ${client.name} 0 * :bench\r\n`,
    );
    await welcomed;
    const joined = client.waitForLine(isNumeric("366"));
    await client.send("JOIN #bench\r\n");
    await joined;
  },
  async sync(client) {
    const word = `ack${++acks}`;
    const answer = bytes(word);
    const seen = client.waitForLine((b, s, e) =>
      includes(b, s, e, bytes(" PONG ")) && includes(b, s, e, answer)
    );
    await client.send(`PING ${word}\r\n`);
    await seen;
  },
  say: (text) => `PRIVMSG #bench :${text}\r\n`,
};
