/**
 * A soak check run by hand (not in the suite, not `deno task bench`): it
 * starts a server on loopback (`--db :memory:`, ports picked by the system)
 * and runs CYCLES of connect / login / join / private message / ignore /
 * nick / logout, with around them what a long uptime meets: connections
 * dropped before a line, a login left at its password prompt, a half line
 * and a close, a page's WebSocket that logs in and goes. Each private
 * message goes from the one logged in before to the one logged in now,
 * who then logs out in turn (a relay: two connections a worker at a time).
 * It reads the server's heap (after a full collection) and RSS from
 * /metrics at the start, every quarter, at the end, and after an idle
 * past the pages' resume window, and prints them. Bounded in count and
 * time: it stops by itself.
 *
 *     deno run -A bench/soak.ts [CYCLES] [WORKERS]
 *
 * @module
 */

const CYCLES = Number(Deno.args[0] ?? 20_000);
const WORKERS = Number(Deno.args[1] ?? 8);
/** The whole run's bound: it stops here whatever is left. */
const DEADLINE_MS = 10 * 60 * 1000;
/** A page's session waits this long for its page (`--resume-seconds`). */
const RESUME_SECONDS = 5;
const IDLE_MS = (RESUME_SECONDS + 10) * 1000;
const WAIT_MS = 10_000;

const encoder = new TextEncoder();
const started = performance.now();

/** A telnet-like client: lines in, lines out. */
class Client {
  readonly #conn: Deno.TcpConn;
  #text = "";
  #lines: string[] = [];
  #closed = false;
  #wake: (() => void) | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
    this.#read();
  }

  static async open(port: number): Promise<Client> {
    return new Client(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        this.#text += decoder.decode(buffer.subarray(0, n), { stream: true });
        const parts = this.#text.split("\r\n");
        this.#text = parts.pop()!;
        this.#lines.push(...parts);
        this.#wake?.();
      }
    } catch {
      // Reset: closed.
    }
    this.#closed = true;
    this.#wake?.();
  }

  send(line: string): Promise<number> {
    return this.#conn.write(encoder.encode(line + "\r\n"));
  }

  /** Waits for a line containing `text`, dropping the lines before it. */
  async waitFor(text: string): Promise<void> {
    const deadline = performance.now() + WAIT_MS;
    while (true) {
      const at = this.#lines.findIndex((line) => line.includes(text));
      if (at !== -1) {
        this.#lines.splice(0, at + 1);
        return;
      }
      if (this.#closed) throw new Error(`closed before "${text}"`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no "${text}" in ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Waits for the server to close the connection. */
  async closed(): Promise<void> {
    const deadline = performance.now() + WAIT_MS;
    while (!this.#closed) {
      if (performance.now() > deadline) throw new Error("not closed");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    this.close();
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}

// The server, with its log read (for its ports) and then drained.
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    new URL("./soak_server.ts", import.meta.url).pathname,
    "--port",
    "0",
    "--http-port",
    "0",
    "--db",
    ":memory:",
    "--resume-seconds",
    String(RESUME_SECONDS),
    "--host",
    "127.0.0.1",
  ],
  stdout: "piped",
  stderr: "piped",
}).spawn();
const ports: number[] = [];
let collected: (() => void) | null = null;
const ready = Promise.withResolvers<void>();
const follow = async (stream: ReadableStream<Uint8Array>) => {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    const lines = text.split("\n");
    text = lines.pop()!;
    for (const line of lines) {
      const port = /(?:Listening on|Serving HTTP on) [\d.]+:(\d+)/.exec(line);
      if (port) ports.push(Number(port[1]));
      if (line.includes("Started chat-server")) ready.resolve();
      if (line.includes("soak: collected")) collected?.();
      if (/\[(ERR|FTL|WRN)\]/.test(line)) console.error(line);
    }
  }
};
follow(server.stdout);
follow(server.stderr);
await ready.promise;
const [chatPort, httpPort] = ports;

/** The heap and RSS from /metrics, after a full collection if `gc`. */
async function measure(label: string, gc: boolean): Promise<void> {
  if (gc) {
    const done = new Promise<void>((resolve) => collected = resolve);
    server.kill("SIGUSR2");
    await done;
  }
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`))
    .text();
  const read = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const conns = [...text.matchAll(/^chat_connections\{[^}]*\} (\d+)$/gm)]
    .reduce((sum, m) => sum + Number(m[1]), 0);
  console.log(
    `${label.padEnd(28)} heap ${mib(read("process_heap_used_bytes"))} MiB` +
      `  rss ${mib(read("process_resident_memory_bytes"))} MiB` +
      `  connections ${conns}  ${
        ((performance.now() - started) / 1000).toFixed(0)
      } s`,
  );
}

// One registered account per worker, whose login is left at the prompt.
async function register(name: string): Promise<void> {
  const c = await Client.open(chatPort);
  await c.waitFor("Welcome");
  await c.send(`login ${name}`);
  await c.send("register");
  await c.waitFor("Choose a password");
  await c.send("soak-password-1");
  await c.waitFor("Type the same password again");
  await c.send("soak-password-1");
  await c.waitFor("Registered");
  await c.send("logout");
  await c.closed();
}

async function loggedIn(name: string): Promise<Client> {
  const c = await Client.open(chatPort);
  await c.waitFor("Welcome");
  await c.send(`login ${name}`);
  return c;
}

/** A page: its WebSocket logs in and goes (its session waits, then ends). */
async function page(name: string): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${httpPort}/ws`);
  const frames: string[] = [];
  const got = Promise.withResolvers<void>();
  socket.onmessage = (event) => {
    const frame = String(event.data);
    frames.push(frame);
    // After the welcome: a frame sent at once on open can come before the
    // session reads (see the report), as the page never sends one.
    if (frame.includes("Welcome")) socket.send(`login ${name}`);
    if (frame.includes('"type":"room"')) got.resolve();
  };
  socket.onerror = () => got.reject(new Error("websocket failed"));
  const timer = setTimeout(
    () => got.reject(new Error("no room frame")),
    10_000,
  );
  try {
    await got.promise;
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}

let done = 0;
let failures = 0;
const quarter = Math.max(1, Math.floor(CYCLES / 4));
let nextMark = quarter;
let marking: Promise<void> = Promise.resolve();

async function worker(w: number): Promise<void> {
  const account = `soakacct${w}`;
  await register(account);
  let i = 0;
  let prevName = `s${w}x${i}`;
  let prev = await loggedIn(prevName);
  while (done < CYCLES && performance.now() - started < DEADLINE_MS) {
    i++;
    try {
      const name = `s${w}x${i}`;
      const next = await loggedIn(name);
      await next.send(`join r${w}x${i}`);
      await next.waitFor("You are now in room");
      await prev.send(`msg ${name} pass it on`);
      await next.waitFor("[private]");
      await prev.send(`ignore ${name}`);
      await prev.waitFor("gnor");
      const nick = `n${w}x${i}`;
      await next.send(`nick ${nick}`);
      await next.waitFor("is now known as");
      await prev.send("logout");
      await prev.closed();
      prev = next;
      prevName = nick;
      // Dropped before a line.
      (await Client.open(chatPort)).close();
      // Half a line, then gone.
      const half = await Client.open(chatPort);
      await half.waitFor("Welcome");
      await half.send("login half");
      await half.send("say never end");
      half.close();
      if (i % 10 === 0) {
        // A login left at the password prompt.
        const asked = await Client.open(chatPort);
        await asked.waitFor("Welcome");
        await asked.send(`login ${account}`);
        await asked.waitFor("Password for");
        asked.close();
        await page(`p${w}x${i}`);
      }
    } catch (error) {
      failures++;
      if (failures <= 10) console.error(`worker ${w} cycle ${i}: ${error}`);
      prev.close();
      prev = await loggedIn(`s${w}x${i}r`);
    }
    done++;
    if (done >= nextMark) {
      nextMark += quarter;
      const label = `after ${done} cycles`;
      marking = marking.then(() => measure(label, true));
    }
  }
  await prev.send("logout");
  await prev.closed().catch(() => {});
}

await measure("start (collected)", true);
await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
await marking;
await measure(`end, ${done} cycles`, false);
await measure("end (collected)", true);
await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
await measure(`idle ${IDLE_MS / 1000} s (collected)`, true);
console.log(`failures: ${failures}`);
server.kill("SIGTERM");
await server.status;
