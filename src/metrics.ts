/**
 * `/metrics` in the Prometheus text format (version 0.0.4), written by hand:
 * a few counters, gauges and one histogram, none labelled per user or per
 * room. prom-client, the usual library, is made for Node: its default
 * collectors read Node's event-loop monitor, cluster and process APIs, some
 * of which Deno lacks or stubs, and it would be the first dependency for
 * what is a page of code here.
 *
 * @module
 */

/** A label set, as `{ transport: "telnet" }`. */
type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  lines(): string[];
}

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels);
  if (pairs.length === 0) return "";
  return `{${
    pairs.map(([key, value]) =>
      `${key}="${
        value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll(
          "\n",
          "\\n",
        )
      }"`
    ).join(",")
  }}`;
}

/** A sample or bound in its shortest exact form: `0.0005`, not `0.000500000`. */
function number(value: number): string {
  return value === Infinity ? "+Inf" : String(value);
}

/**
 * A number that only grows, per value of one label (or none): counting a
 * line is one map update, with no label text made.
 */
export class Counter implements Family {
  readonly type = "counter";
  readonly #values = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly label?: string,
  ) {}

  /** Adds `by` (default 1) to the count of the label's `value`. */
  inc(value = "", by = 1): void {
    this.#values.set(value, (this.#values.get(value) ?? 0) + by);
  }

  lines(): string[] {
    if (this.#values.size === 0) {
      return this.label === undefined ? [`${this.name} 0`] : [];
    }
    return [...this.#values].map(([value, count]) =>
      `${this.name}${
        this.label === undefined ? "" : labelText({ [this.label]: value })
      } ${number(count)}`
    );
  }
}

/**
 * A value read when scraped, per label set: a gauge, or (with `type`
 * "counter") a count kept elsewhere.
 */
export class Gauge implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number | ReadonlyMap<Labels, number>,
    readonly type: "gauge" | "counter" = "gauge",
  ) {}

  lines(): string[] {
    const value = this.read();
    if (typeof value === "number") return [`${this.name} ${number(value)}`];
    return [...value].map(([labels, v]) =>
      `${this.name}${labelText(labels)} ${number(v)}`
    );
  }
}

/** How long things took, in buckets (seconds). */
export class Histogram implements Family {
  readonly type = "histogram";
  readonly #bounds: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = [...bounds].sort((a, b) => a - b);
    this.#counts = this.#bounds.map(() => 0);
  }

  observe(value: number): void {
    this.#sum += value;
    this.#count++;
    for (let i = 0; i < this.#bounds.length; i++) {
      if (value <= this.#bounds[i]) this.#counts[i]++;
    }
  }

  lines(): string[] {
    return [
      ...this.#bounds.map((bound, i) =>
        `${this.name}_bucket{le="${number(bound)}"} ${this.#counts[i]}`
      ),
      `${this.name}_bucket{le="+Inf"} ${this.#count}`,
      `${this.name}_sum ${number(this.#sum)}`,
      `${this.name}_count ${this.#count}`,
    ];
  }
}

/** Families in the order they are written. */
export class MetricsRegistry {
  readonly #families: Family[] = [];

  add<F extends Family>(family: F): F {
    this.#families.push(family);
    return family;
  }

  /** The Prometheus text format. */
  render(): string {
    const out: string[] = [];
    for (const family of this.#families) {
      out.push(`# HELP ${family.name} ${family.help}`);
      out.push(`# TYPE ${family.name} ${family.type}`);
      out.push(...family.lines());
    }
    return out.join("\n") + "\n";
  }
}

/** Why a session ended, for `chat_disconnects_total`. */
export type DisconnectReason =
  | "logout"
  | "closed"
  | "slow_reader"
  | "flood"
  | "login_timeout"
  | "idle_timeout"
  | "too_many_lines"
  | "wrong_passwords"
  | "kicked"
  | "banned"
  | "replaced"
  | "http_on_chat_port"
  | "tls_on_plain_port"
  | "tls_handshake_failed"
  | "tls_handshake_timeout"
  | "frame_too_big"
  | "shutdown"
  | "error";

/** Why a session was ended from outside it: a moderator, or its owner. */
export type RemovalReason = "kicked" | "banned" | "replaced";

/** Why a connection was refused, for `chat_refused_connections_total`. */
export type RefusalReason =
  | "full"
  | "address"
  | "rate"
  | "banned"
  | "origin";

/** The server's own metrics. */
export class ChatMetrics {
  readonly registry = new MetricsRegistry();
  readonly lines: Counter;
  readonly disconnects: Counter;
  readonly refused: Counter;
  readonly storeWrites: Histogram;
  readonly storeErrors: Counter;

  constructor(read: {
    connections(): ReadonlyMap<Labels, number>;
    users(): number;
    rooms(): number;
    deliveries(): number;
    /** In a cluster: whether Redis can be reached now. */
    redisUp?: () => boolean;
    version: string;
  }) {
    const r = this.registry;
    r.add(
      new Gauge(
        "chat_connections",
        "Open connections, by transport (telnet, tls, websocket).",
        read.connections,
      ),
    );
    r.add(new Gauge("chat_users_online", "Users logged in.", read.users));
    r.add(new Gauge("chat_rooms", "Rooms open or claimed.", read.rooms));
    this.lines = r.add(
      new Counter(
        "chat_lines_received_total",
        "Lines received from clients, by kind (the command, blank, too_long, unknown, answer: one typed at a question).",
        "kind",
      ),
    );
    r.add(
      new Gauge(
        "chat_deliveries_total",
        "Events and lines delivered to recipients (a room line to 10 members is 10).",
        read.deliveries,
        "counter",
      ),
    );
    this.disconnects = r.add(
      new Counter(
        "chat_disconnects_total",
        "Sessions ended, by reason (logout, closed, slow_reader, flood, login_timeout, ...).",
        "reason",
      ),
    );
    this.refused = r.add(
      new Counter(
        "chat_refused_connections_total",
        "Connections refused before a session, by reason (full, address, rate, banned, origin).",
        "reason",
      ),
    );
    this.storeWrites = r.add(
      new Histogram(
        "chat_store_write_seconds",
        "Time to commit a batch of queued writes to the database.",
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      ),
    );
    this.storeErrors = r.add(
      new Counter(
        "chat_store_errors_total",
        "Writes the database failed (a full disk, a file removed): chat lines not kept, and requests users were told failed.",
      ),
    );
    if (read.redisUp !== undefined) {
      const up = read.redisUp;
      r.add(
        new Gauge(
          "chat_redis_up",
          "1 while Redis (the cluster's) can be reached, 0 while it cannot.",
          () => up() ? 1 : 0,
        ),
      );
    }
    r.add(
      new Gauge(
        "process_resident_memory_bytes",
        "Resident memory of the process.",
        () => Deno.memoryUsage().rss,
      ),
    );
    r.add(
      new Gauge(
        "process_heap_used_bytes",
        "V8 heap in use.",
        () => Deno.memoryUsage().heapUsed,
      ),
    );
    const build = new Map([[{
      version: read.version,
      deno: Deno.version.deno,
      v8: Deno.version.v8,
    }, 1]]);
    r.add(
      new Gauge(
        "chat_build_info",
        "The server's version and its runtime's, as labels.",
        () => build,
      ),
    );
  }
}
