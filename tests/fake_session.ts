import type {
  Context,
  InputMode,
  SessionControl,
} from "../src/commands/command.ts";
import { COMMANDS } from "../src/commands/mod.ts";
import { type Config, DEFAULTS } from "../src/config.ts";
import type { ChatEvent, ChatLine } from "../src/events.ts";
import { Moderation } from "../src/moderation.ts";
import { PasswordHasher } from "../src/passwords.ts";
import { Registry } from "../src/registry.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { eventText, historyText, TELNET } from "../src/render/telnet.ts";
import type { Frame } from "../src/render/transport.ts";
import type { Recipient, User } from "../src/room.ts";
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
  readonly recipient: Recipient = {
    transport: TELNET,
    sink: {
      deliver: (frame: Frame) => {
        const text = decoder.decode(frame as Uint8Array);
        this.received.push(...text.split("\r\n").slice(0, -1));
      },
    },
    show: (event: ChatEvent) => this.show(event),
    notice: (line: string) => this.received.push(line),
    moved: () => {},
    disconnect: (line: string) => {
      this.received.push(line);
      this.ended = true;
    },
    hostname: "192.0.2.1",
  };

  /** What {@linkcode flushed} answers: a test can make the link drop. */
  flushes = true;

  flushed(): Promise<boolean> {
    return Promise.resolve(this.flushes && !this.ended);
  }

  reply(...lines: string[]): void {
    this.received.push(...lines);
  }

  show(event: ChatEvent): void {
    const outgoing = event.type === "private" && event.from === this.user?.name;
    this.received.push(eventText(event, outgoing));
  }

  showHistory(events: readonly ChatLine[]): void {
    this.received.push(...events.map(historyText));
  }

  end(): void {
    this.ended = true;
  }

  readonly address = "192.0.2.1";
  readonly remote = "192.0.2.1:40000";
  readonly active = true;
  wrongPasswords = 0;

  wait(): Promise<boolean> {
    return Promise.resolve(true);
  }

  readonly signal = new AbortController().signal;

  hold<T>(work: Promise<T>): Promise<T> {
    return work;
  }

  /** Answers to `ask`, in order; null once they run out. */
  answers: (string | null)[] = [];

  ask(prompt: string): Promise<string | null> {
    this.received.push(prompt);
    return Promise.resolve(this.answers.shift() ?? null);
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
export async function fakeServer(
  options: { config?: Partial<Config>; motd?: string[] } = {},
) {
  const config = { ...DEFAULTS, ...options.config };
  const clock = new FakeClock();
  const store = await SqliteStore.open(":memory:");
  const hasher = new PasswordHasher();
  const moderation = await Moderation.load(store, { operators: [], clock });
  const registry = new Registry({
    historyLines: config.historyLines,
    clock,
    ids: store.ids,
    journal: store,
  });
  return {
    registry,
    store,
    clock,
    [Symbol.asyncDispose]: () => store.close(),
    context(session: SessionControl): Context {
      return {
        session,
        get user() {
          return session.user;
        },
        registry,
        store,
        config,
        commands: COMMANDS,
        clock,
        motd: options.motd ?? [],
        hasher,
        moderation,
      };
    },
  };
}
