/**
 * Helpers for the browser tests: Debian's Chromium driven by puppeteer-core,
 * a page of the chat client with what a test asks of it, and a TCP proxy a
 * test can cut, to drop a page's sockets from under it. Nothing here
 * sleeps: every wait is for a condition, with a timeout.
 *
 * @module
 */

import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { TIMEOUT_MS, withTimeout } from "./helpers.ts";

/**
 * The functions given to `waitFor` and `evaluate` run in the page, where
 * the DOM is. Deno's types have no DOM: what they use is typed loosely.
 */
// deno-lint-ignore no-explicit-any
export type Dom = any;
// deno-lint-ignore no-explicit-any
declare const document: any;

/** Where Debian's Chromium is. */
export const CHROMIUM = "/usr/bin/chromium";

/** Where the tests save their screenshots (not committed). */
export const SCREENSHOTS = new URL("./screenshots/", import.meta.url);

/** How long closing the browser may take before its process is killed. */
const CLOSE_MS = 5000;

/** Why the browser tests cannot run on this machine, or null if they can. */
export function chromiumMissing(): string | null {
  try {
    if (Deno.statSync(CHROMIUM).isFile) return null;
  } catch {
    // Not there.
  }
  return `${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`;
}

/** A page's size: a desk's by default. */
export interface Viewport {
  width: number;
  height: number;
  /** A phone: touch, and the mobile meta viewport honoured. */
  mobile?: boolean;
}

/** Headless Chromium, with a profile of its own that goes with it. */
export class Chromium implements AsyncDisposable {
  readonly browser: Browser;
  readonly #profile: string;

  private constructor(browser: Browser, profile: string) {
    this.browser = browser;
    this.#profile = profile;
  }

  /** Starts Chromium on a fresh profile in a temporary folder. */
  static async launch(): Promise<Chromium> {
    const profile = await Deno.makeTempDir({ prefix: "chat-chromium-" });
    try {
      const browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${profile}`,
        ],
      });
      return new Chromium(browser, profile);
    } catch (error) {
      await Deno.remove(profile, { recursive: true }).catch(() => {});
      throw error;
    }
  }

  /**
   * Opens the chat at `url` in a browser context of its own (its own
   * storage, as another person's browser would be), and waits until its
   * socket is connected.
   */
  async open(
    url: string,
    viewport: Viewport = { width: 1280, height: 800 },
  ): Promise<ChatPage> {
    const context = await this.browser.createBrowserContext();
    try {
      const page = await context.newPage();
      const chat = new ChatPage(page, context);
      await page.setViewport({
        width: viewport.width,
        height: viewport.height,
        isMobile: viewport.mobile ?? false,
        hasTouch: viewport.mobile ?? false,
        deviceScaleFactor: 1,
      });
      await page.goto(url, { waitUntil: "load", timeout: TIMEOUT_MS });
      await chat.waitFor(() =>
        document.body.dataset.connection === "connected"
      );
      return chat;
    } catch (error) {
      await context.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Kills the browser and removes its profile at once, for where nothing
   * can be awaited (a test file's unload).
   */
  kill(): void {
    this.browser.process()?.kill("SIGKILL");
    try {
      Deno.removeSync(this.#profile, { recursive: true });
    } catch {
      // Gone already.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    const process = this.browser.process();
    try {
      await withTimeout(this.browser.close(), CLOSE_MS, "Chromium to close");
    } catch {
      process?.kill("SIGKILL");
    }
    await Deno.remove(this.#profile, { recursive: true }).catch(() => {});
  }
}

/** A message in a page's log, as it shows it. */
export interface ShownMessage {
  from: string;
  text: string;
}

/**
 * A page of the chat client. It records what should never happen on it
 * (script errors, console errors such as a Content-Security-Policy
 * violation, dialogs, failed requests), for {@linkcode ChatPage.problems}.
 */
export class ChatPage implements AsyncDisposable {
  readonly page: Page;
  readonly #context: { close(): Promise<void> };
  readonly #problems: string[] = [];

  constructor(page: Page, context: { close(): Promise<void> }) {
    this.page = page;
    this.#context = context;
    page.on("pageerror", (error) => {
      this.#problems.push(`page error: ${(error as Error).message ?? error}`);
    });
    page.on("console", (message) => {
      if (message.type() === "error") {
        this.#problems.push(`console error: ${message.text()}`);
      }
    });
    page.on("dialog", (dialog) => {
      this.#problems.push(`dialog: ${dialog.message()}`);
      dialog.dismiss().catch(() => {});
    });
    page.on("response", (response) => {
      if (response.status() >= 400) {
        this.#problems.push(`HTTP ${response.status()}: ${response.url()}`);
      }
    });
  }

  /**
   * What went wrong on the page so far, but for what matches `allowed` (a
   * test that cuts the page's socket expects the browser to say so).
   */
  problems(allowed: readonly RegExp[] = []): string[] {
    return this.#problems.filter((problem) =>
      !allowed.some((pattern) => pattern.test(problem))
    );
  }

  /**
   * Waits until `predicate`, run in the page, returns something truthy, and
   * returns it. The page is asked again at each change of its DOM, which
   * works in a tab in the background too (unlike animation frames).
   */
  async waitFor<T, A extends unknown[]>(
    predicate: (...args: A) => T,
    ...args: A
  ): Promise<Awaited<T>> {
    const handle = await this.page.waitForFunction(
      predicate as (...args: unknown[]) => T,
      { timeout: TIMEOUT_MS, polling: "mutation" },
      ...args,
    );
    const value = await handle.jsonValue();
    await handle.dispose();
    return value as Awaited<T>;
  }

  /**
   * Clicks the element `selector` finds, as a user would. A list the page
   * draws again (an answer came) can swap the element out between finding
   * and clicking it: then it is found again, a few times at most.
   */
  async click(selector: string): Promise<void> {
    for (let attempt = 1;; attempt++) {
      await this.page.waitForSelector(selector, {
        visible: true,
        timeout: TIMEOUT_MS,
      });
      try {
        return await this.page.click(selector);
      } catch (error) {
        const swapped = /detached|not clickable|no node/i.test(String(error));
        if (!swapped || attempt === 5) throw error;
      }
    }
  }

  /**
   * Logs in with the form: the name, and the password when given (a
   * registered name); waits until the chat shows.
   */
  async login(name: string, password?: string): Promise<void> {
    await this.page.waitForSelector("#login-name", {
      visible: true,
      timeout: TIMEOUT_MS,
    });
    await this.page.type("#login-name", name);
    if (password !== undefined) {
      await this.page.type("#login-password", password);
    }
    await this.page.click("#login-submit");
    await this.waitFor(
      (me) =>
        document.body.dataset.phase === "chat" &&
        document.getElementById("status")?.textContent ===
          `Connected as ${me}`,
      name,
    );
  }

  /** Types `text` in the message box, as keys, and presses Enter. */
  async type(text: string): Promise<void> {
    await this.page.focus("#message");
    await this.page.keyboard.type(text);
    await this.page.keyboard.press("Enter");
  }

  /** Puts `text` in the message box at once (a paste) and presses Enter. */
  async paste(text: string): Promise<void> {
    await this.page.$eval("#message", (input, value) => {
      (input as Dom).value = value;
      input.dispatchEvent(new Event("input", { bubbles: true }));
    }, text);
    await this.page.focus("#message");
    await this.page.keyboard.press("Enter");
  }

  /**
   * Waits until the conversation shown (or the one with key `conversation`:
   * `room`, `@name`) shows a message `text` from `from`.
   */
  async waitForMessage(
    from: string,
    text: string,
    conversation?: string,
  ): Promise<void> {
    await this.waitFor(
      (from, text, key) => {
        const log = document.querySelector(
          key === null
            ? ".log:not([hidden])"
            : `.log[data-conversation="${key}"]`,
        );
        return [...(log?.querySelectorAll(".msg") ?? [])].some((item: Dom) =>
          item.dataset.from === from &&
          item.querySelector(".text")?.textContent === text
        );
      },
      from,
      text,
      conversation ?? null,
    );
  }

  /**
   * Waits until the conversation shown has an entry (a server line, an
   * event, a mark) whose text includes `text`.
   */
  async waitForLine(text: string): Promise<void> {
    await this.waitFor(
      (text) =>
        [...document.querySelectorAll(".log:not([hidden]) .entry")].some(
          (item: Dom) => item.textContent?.includes(text),
        ),
      text,
    );
  }

  /** The messages of the conversation shown, in order. */
  messages(): Promise<ShownMessage[]> {
    return this.page.evaluate(() =>
      [...document.querySelectorAll(".log:not([hidden]) .msg")].map(
        (item: Dom) => ({
          from: item.dataset.from ?? "",
          text: item.querySelector(".text")?.textContent ?? "",
        }),
      )
    );
  }

  /** The names in the member list, as shown. */
  members(): Promise<string[]> {
    return this.page.evaluate(() =>
      [...document.querySelectorAll("#member-list .nick")].map((nick: Dom) =>
        nick.textContent ?? ""
      )
    );
  }

  /**
   * The side list's entries: rooms and private conversations, each with
   * its unread count (0: none), whether that is marked as a mention, and
   * whether it is the one shown.
   */
  entries(): Promise<
    {
      kind: "room" | "private";
      name: string;
      unread: number;
      mention: boolean;
      current: boolean;
    }[]
  > {
    return this.page.evaluate(() =>
      [...document.querySelectorAll("#sidebar .entry-button")].map(
        (element: Dom) => {
          const badge = element.querySelector(".badge");
          return {
            kind: element.dataset.room !== undefined
              ? "room" as const
              : "private" as const,
            name: element.dataset.room ?? element.dataset.private ?? "",
            unread: Number(badge?.textContent ?? 0),
            mention: badge?.classList.contains("mention") ?? false,
            current: element.classList.contains("current"),
          };
        },
      )
    );
  }

  /** Saves a screenshot as tests/screenshots/NAME.png. */
  async screenshot(name: string): Promise<void> {
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    const path = decodeURIComponent(
      new URL(`${name}.png`, SCREENSHOTS).pathname,
    );
    await this.page.screenshot({ path: path as `${string}.png` });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#context.close().catch(() => {});
  }
}

/** A client's connection through the proxy and the proxy's to the server. */
interface Pair {
  readonly client: Deno.Conn;
  readonly server: Deno.Conn;
  /** Dropped on the client's side only: the server's stays open. */
  dropped: boolean;
}

/** Closes a connection that may be closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/**
 * Copies bytes from one connection of a pair to the other until either
 * ends; then closes both, or only the client's if the pair was dropped.
 */
async function pump(
  from: Deno.Conn,
  to: Deno.Conn,
  pair: Pair,
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const count = await from.read(buffer);
      if (count === null) break;
      let written = 0;
      while (written < count) {
        written += await to.write(buffer.subarray(written, count));
      }
    }
  } catch {
    // Cut, or closed by the other side.
  } finally {
    closeQuietly(pair.client);
    if (!pair.dropped) closeQuietly(pair.server);
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of a server's port: the browser loads
 * the page and opens its socket through it, and the test can cut every
 * connection at once (a network that drops), and hold new ones unanswered
 * (a network that is still down) until it releases them.
 */
export class TcpProxy implements AsyncDisposable {
  readonly #listener: Deno.Listener;
  readonly #target: number;
  readonly #pairs = new Map<Pair, Promise<void>>();
  readonly #held: Deno.Conn[] = [];
  readonly #accepting: Promise<void>;
  #holding = false;
  /** Connections accepted so far. */
  accepted = 0;

  private constructor(listener: Deno.Listener, target: number) {
    this.#listener = listener;
    this.#target = target;
    this.#accepting = this.#accept();
  }

  /** Listens on a free port of 127.0.0.1, for the server on `target`. */
  static open(target: number): TcpProxy {
    return new TcpProxy(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      target,
    );
  }

  /** The port to connect to. */
  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  /** From now on, new connections are accepted but not passed on. */
  hold(): void {
    this.#holding = true;
  }

  /** Passes on the connections held, and every new one. */
  release(): void {
    this.#holding = false;
    for (const conn of this.#held.splice(0)) this.#pipe(conn);
  }

  /** How many connections are held, waiting for release. */
  get held(): number {
    return this.#held.length;
  }

  /**
   * Cuts every connection passed on so far, both ways, and resolves once
   * they are closed; returns how many there were.
   */
  async cut(): Promise<number> {
    const pairs = [...this.#pairs];
    for (const [pair] of pairs) {
      closeQuietly(pair.client);
      closeQuietly(pair.server);
      this.#pairs.delete(pair);
    }
    await Promise.all(pairs.map(([, done]) => done));
    return pairs.length;
  }

  /**
   * Closes every connection on the client's side only: the server still
   * sees its side open (a half-open connection, as after a laptop changes
   * networks) until {@linkcode TcpProxy.cut} closes it. Returns how many.
   */
  drop(): number {
    let count = 0;
    for (const pair of this.#pairs.keys()) {
      if (pair.dropped) continue;
      pair.dropped = true;
      closeQuietly(pair.client);
      count++;
    }
    return count;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#held.splice(0)) closeQuietly(conn);
    await this.cut();
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.accepted++;
        if (this.#holding) this.#held.push(conn);
        else this.#pipe(conn);
      }
    } catch {
      // The listener was closed.
    }
  }

  async #pipe(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({
        hostname: "127.0.0.1",
        port: this.#target,
      });
    } catch {
      closeQuietly(client);
      return;
    }
    const pair: Pair = { client, server, dropped: false };
    const done = Promise.all([
      pump(client, server, pair),
      pump(server, client, pair),
    ]).then(() => {});
    this.#pairs.set(pair, done);
    await done;
    // A dropped pair's server side stays open until cut() closes it.
    if (!pair.dropped) this.#pairs.delete(pair);
  }
}
