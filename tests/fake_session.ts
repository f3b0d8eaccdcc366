import type {
  Context,
  InputMode,
  SessionControl,
} from "../src/commands/command.ts";
import { COMMANDS } from "../src/commands/mod.ts";
import { type Config, DEFAULTS } from "../src/config.ts";
import { Registry } from "../src/registry.ts";
import type { User } from "../src/room.ts";
import { FakeClock } from "./fake_clock.ts";

const decoder = new TextDecoder();

/** A session without a socket: everything it is sent is kept as lines. */
export class FakeSession implements SessionControl {
  user: User | null = null;
  mode: InputMode = "command";
  /** Every line this session was sent, replies and broadcasts alike. */
  received: string[] = [];
  ended = false;
  /** How many times the session was told its user spoke. */
  spoken = 0;
  readonly recipient = {
    deliver: (bytes: Uint8Array) => {
      this.received.push(...decoder.decode(bytes).split("\r\n").slice(0, -1));
    },
  };

  reply(...lines: string[]): void {
    this.received.push(...lines);
  }

  end(): void {
    this.ended = true;
  }

  spoke(): void {
    this.spoken++;
  }

  /** Returns what was received since the last call, and forgets it. */
  take(): string[] {
    const lines = this.received;
    this.received = [];
    return lines;
  }
}

/** A registry, a clock and a way to make contexts for fake sessions. */
export function fakeServer(
  options: { config?: Partial<Config>; motd?: string[] } = {},
) {
  const config = { ...DEFAULTS, ...options.config };
  const clock = new FakeClock();
  const registry = new Registry({ historyLines: config.historyLines });
  return {
    registry,
    clock,
    context(session: SessionControl): Context {
      return {
        session,
        get user() {
          return session.user;
        },
        registry,
        config,
        commands: COMMANDS,
        clock,
        motd: options.motd ?? [],
      };
    },
  };
}
