/**
 * The browser client (web/) end to end, in Debian's real Chromium driven by
 * puppeteer-core: pages and telnet users on one server, each test its own
 * server on port 0 and each page its own browser context, in one Chromium
 * for the file. Every test saves screenshots to
 * tests/screenshots/.
 *
 * Without Chromium the tests are reported as ignored, with the reason; in
 * CI (the CI variable set) they fail instead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";
import {
  Client,
  PASSWORD,
  registered,
  startServer,
  TIMEOUT_MS,
  withTimeout,
} from "./helpers.ts";
import {
  ChatPage,
  Chromium,
  chromiumMissing,
  type Dom,
  TcpProxy,
} from "./browser_helpers.ts";
import { redisMissing, RedisServer } from "./redis_helpers.ts";

// The DOM the functions run in the page use (Deno's types have none).
// deno-lint-ignore no-explicit-any
declare const document: any;
declare const innerWidth: number;
declare const innerHeight: number;
// deno-lint-ignore no-explicit-any
declare function getComputedStyle(element: any, pseudo?: string): any;
declare function requestAnimationFrame(callback: () => void): number;

const missing = chromiumMissing();
const inCi = Deno.env.get("CI") !== undefined;
if (missing !== null && !inCi) {
  console.warn(`browser tests ignored: ${missing}`);
}

/**
 * One Chromium for every test of this file: starting and closing one takes
 * most of a second, 60 times. Each page is still in a browser context of
 * its own (its own storage, as another person's browser would be). It is
 * killed, and its profile removed, when the file's tests are done.
 */
let shared: Chromium | null = null;

async function sharedChromium(): Promise<Chromium> {
  if (shared === null) {
    shared = await Chromium.launch();
    globalThis.addEventListener("unload", () => shared?.kill());
  }
  return shared;
}

/** A phone's screen, in CSS pixels. */
const PHONE = { width: 390, height: 844, mobile: true };

/**
 * A test that needs Chromium: it gets the file's one browser, whose pages
 * each open in a context of their own. `also`: why something else it
 * needs (Redis) is missing, or null.
 */
function browserTest(
  name: string,
  fn: (chromium: Chromium) => Promise<void>,
  also: string | null = null,
): void {
  const why = (missing !== null && !inCi) ? missing : also;
  Deno.test({
    name: why !== null ? `${name} (ignored: ${why})` : name,
    ignore: why !== null,
    async fn() {
      if (missing !== null) {
        throw new Error(
          `${missing}; CI is set, so the browser tests fail instead of being ignored`,
        );
      }
      await fn(await sharedChromium());
    },
  });
}

/** The page's address on a server's HTTP port (or a proxy's). */
function pageUrl(port: number): string {
  return `http://127.0.0.1:${port}/`;
}

/** Fails if the page had script errors, console errors or dialogs. */
function assertHealthy(page: ChatPage, allowed: RegExp[] = []): void {
  assert.deepEqual(page.problems(allowed), [], "problems on the page");
}

browserTest(
  "two pages and a telnet user talk in one room, and each sees the others",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using ann = await chromium.open(url);
    await ann.login("ann");
    await tel.expect("ann has entered the room.");
    await using ben = await chromium.open(url);
    await ben.login("ben");
    await tel.expect("ben has entered the room.");
    await ann.waitForLine("ben has entered the room.");
    assert.deepEqual(await ann.members(), ["ann", "ben", "tel"]);
    assert.deepEqual(await ben.members(), ["ann", "ben", "tel"]);

    await ann.type("hello from ann");
    await tel.expect("ann: hello from ann");
    await ben.waitForMessage("ann", "hello from ann");
    await ann.waitForMessage("ann", "hello from ann");

    await tel.send("say hello, pages");
    await tel.expect("tel: hello, pages");
    await ann.waitForMessage("tel", "hello, pages");
    await ben.waitForMessage("tel", "hello, pages");

    await ben.type("/me waves");
    await tel.expect("* ben waves");
    await ann.waitForMessage("ben", "waves");

    // What users type is text, never markup; only http(s) becomes a link.
    const hostile =
      "<img src=x onerror=alert(1)> see https://example.com/a?b=1." +
      ' not javascript:alert(2) nor <a href="javascript:alert(3)">this</a>';
    await ann.paste(hostile);
    await tel.expect(`ann: ${hostile}`);
    await ben.waitForMessage("ann", hostile);
    const shown = await ben.page.evaluate(() => {
      const log = document.querySelector(".log:not([hidden])");
      return {
        images: document.querySelectorAll("img").length,
        links: [...log.querySelectorAll("a")].map((link: Dom) => ({
          href: link.getAttribute("href"),
          rel: link.rel,
          target: link.target,
          text: link.textContent,
        })),
      };
    });
    assert.equal(shown.images, 0, "no img element was made");
    assert.deepEqual(shown.links, [{
      href: "https://example.com/a?b=1",
      rel: "noopener noreferrer",
      target: "_blank",
      text: "https://example.com/a?b=1",
    }]);

    // A line with a password in it is not kept for Up and Down.
    await ann.type("/login ann not-for-the-history");
    await ann.waitForLine('You are already logged in as "ann"');

    // Up and Down walk what was sent from the box; Down gives the draft back.
    await ann.page.focus("#message");
    await ann.page.keyboard.type("a draft");
    await ann.page.keyboard.press("ArrowUp");
    assert.equal(
      await ann.page.$eval("#message", (input: Dom) => input.value),
      hostile,
    );
    await ann.page.keyboard.press("ArrowUp");
    assert.equal(
      await ann.page.$eval("#message", (input: Dom) => input.value),
      "hello from ann",
    );
    await ann.page.keyboard.press("ArrowDown");
    await ann.page.keyboard.press("ArrowDown");
    assert.equal(
      await ann.page.$eval("#message", (input: Dom) => input.value),
      "a draft",
    );

    await ann.screenshot("room-ann");
    await ben.screenshot("room-ben");
    assert.deepEqual(
      (await ben.messages()).map((message) => message.text),
      ["hello from ann", "hello, pages", "waves", hostile],
    );
    assertHealthy(ann);
    assertHealthy(ben);
  },
);

browserTest(
  "a room of more than 500 lists 500 members, says how many more, and counts everyone",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const port = server.addr.port;
    const clients: Client[] = [];
    try {
      // u0 to u499 fifty at a time (their order among themselves is not
      // what is checked), then u500: left out of the list, with the page.
      for (let i = 0; i < 500; i += 50) {
        clients.push(
          ...await Promise.all(
            Array.from(
              { length: 50 },
              (_, j) => Client.login(port, `u${i + j}`),
            ),
          ),
        );
      }
      clients.push(await Client.login(port, "u500"));
      await using page = await chromium.open(pageUrl(server.httpAddr!.port));
      await page.login("ann");
      const shown = () =>
        page.page.evaluate(() => ({
          count: document.querySelector("#member-count")?.textContent,
          more: document.querySelector("#member-list .member-more")
            ?.textContent,
        }));
      await page.waitFor(() =>
        document.querySelector("#member-count")?.textContent === "502"
      );
      assert.equal((await page.members()).length, 500);
      assert.deepEqual(await shown(), { count: "502", more: "and 2 more" });
      // One listed leaves: one fewer listed, as many left out.
      await clients[0][Symbol.asyncDispose]();
      await page.waitForLine("u0 has left the room.");
      assert.equal((await page.members()).length, 499);
      assert.deepEqual(await shown(), { count: "501", more: "and 2 more" });
      // One left out leaves: as many listed, one fewer left out.
      await clients[500][Symbol.asyncDispose]();
      await page.waitForLine("u500 has left the room.");
      assert.equal((await page.members()).length, 499);
      assert.deepEqual(await shown(), { count: "500", more: "and 1 more" });
      assertHealthy(page);
    } finally {
      await Promise.all(clients.map((client) => client[Symbol.asyncDispose]()));
    }
  },
);

browserTest(
  "a reload logs out at once: the name is free, and the form has it ready",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("reloader");
    await tel.expect("reloader has entered the room.");
    // With a question open, which must not take the logout for its answer.
    await page.type("/register");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    await page.page.reload();
    // Gone at once, not held for the resume time as after a dropped socket.
    await tel.expect("reloader has left the room.");
    await page.page.waitForSelector("#login-name", {
      visible: true,
      timeout: TIMEOUT_MS,
    });
    assert.equal(
      await page.page.$eval("#login-name", (input: Dom) => input.value),
      "reloader",
    );
    await page.click("#login-submit");
    await tel.expect("reloader has entered the room.");
    await page.waitFor(
      () =>
        document.getElementById("status")?.textContent ===
          "Connected as reloader",
    );
    assertHealthy(page);
  },
);

browserTest(
  "a page logs in to an account with the password field, after a wrong password",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({ httpPort: 0, clock });
    const port = server.addr.port;
    {
      await using owner = await Client.login(port, "dora");
      await owner.send(`register ${PASSWORD}`);
      await owner.waitFor((line) => line.startsWith('Registered "dora"'));
      await owner.send("logout");
      await owner.closed();
    }
    await using tel = await Client.login(port, "tel");
    await tel.send("msg dora the release is on Friday");
    await tel.waitFor((line) => line.startsWith("dora is offline"));

    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.page.type("#login-name", "dora");
    await page.page.type("#login-password", "not the password");
    await page.click("#login-submit");
    // The error and the prompt are two frames, which may come in two reads.
    await page.waitFor(() =>
      document.getElementById("login-message").textContent.includes(
        "Password for",
      )
    );
    // Telnet's "(a blank line cancels)" is no way out of the form.
    assert.equal(
      await page.page.$eval("#login-message", (m: Dom) => m.textContent),
      "Wrong password. Password for dora:",
    );
    assert.equal(
      await page.page.evaluate(() => document.body.dataset.phase),
      "login",
    );
    assert.equal(
      await page.page.evaluate(() => document.activeElement?.id),
      "login-password",
      "the password field has the focus again",
    );
    await page.screenshot("account-wrong-password");

    await page.page.type("#login-password", PASSWORD);
    await page.page.keyboard.press("Enter");
    // After the wrong one, a second's delay: moved past, not waited out.
    await page.waitFor(() =>
      document.getElementById("login-message").textContent ===
        "1 failed login lately: checking in 1 s"
    );
    clock.advance(1000);
    await page.waitFor(() => document.body.dataset.phase === "chat");
    await tel.waitFor("dora has entered the room.");
    await page.waitForLine("You are logged in as dora.");
    await page.waitForLine("1 failed login attempt since your last login");
    // The message kept while dora was away is in its own conversation.
    await page.waitFor(() =>
      document.querySelector('#private-list [data-private="tel"] .badge')
        ?.textContent === "1"
    );
    await page.screenshot("account-logged-in");
    await page.click('#private-list [data-private="tel"]');
    await page.waitForMessage("tel", "the release is on Friday", "@tel");
    assert.equal(
      await page.page.evaluate(() =>
        document.querySelectorAll("#private-list .badge").length
      ),
      0,
      "read once shown",
    );

    // Log out, then make a new account from the page: the message box
    // turns into a password field for each of the server's questions.
    await page.click("#logout");
    await tel.expect("dora has left the room.");
    await page.waitFor(() =>
      document.body.dataset.phase === "login" &&
      document.getElementById("login-message").textContent ===
        "You have logged out."
    );
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("erin");
    await tel.expect("erin has entered the room.");
    await page.type("/register");
    await page.waitFor(() =>
      document.getElementById("message").type === "password" &&
      document.getElementById("message").placeholder.startsWith(
        "Choose a password",
      )
    );
    await page.screenshot("account-register-prompt");
    await page.type(PASSWORD);
    await page.waitFor(() =>
      document.getElementById("message").placeholder ===
        "Type the same password again:"
    );
    await page.type(PASSWORD);
    await page.waitForLine('Registered "erin"');
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.type),
      "text",
      "a message box again",
    );
    assert.equal(
      await page.page.evaluate(
        (password) =>
          document.querySelector(".log:not([hidden])").textContent.includes(
            password,
          ),
        PASSWORD,
      ),
      false,
      "the password shows nowhere",
    );
    // The password is no line to recall with Up.
    await page.page.keyboard.press("ArrowUp");
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.value),
      "/register",
    );
    assertHealthy(page);
  },
);

browserTest(
  "a login form whose socket the server closed says why as an error, and Log in connects again",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      maxConns: 1,
      // As behind a reverse proxy, whose connections the HTTP port does
      // not count: the page's files load, and only its WebSocket, a
      // session, meets the limit of one.
      trustedProxies: ["127.0.0.1"],
      clock,
    });
    const root = await registered(server.addr.port, "root");
    await root.send("logout");
    await root.closed();
    await root[Symbol.asyncDispose]();
    const tel = await Client.login(server.addr.port, "tel");
    // The server is full: the page's socket is refused as it opens.
    const context = await chromium.browser.createBrowserContext();
    await using page = new ChatPage(await context.newPage(), context);
    await page.page.setViewport({ width: 1280, height: 800 });
    await page.page.goto(pageUrl(server.httpAddr!.port));
    await page.waitFor(() =>
      document.body.dataset.connection === "offline" &&
      document.getElementById("login-message").textContent !== ""
    );
    const form = () =>
      page.page.evaluate(() => {
        const message = document.getElementById("login-message");
        return {
          welcome: document.getElementById("login-welcome").textContent
            .trim(),
          message: message.textContent,
          error: message.classList.contains("error"),
          status: document.getElementById("status").textContent,
        };
      });
    await page.screenshot("login-server-full");
    assert.deepEqual(await form(), {
      welcome: "Not connected to the server. Log in connects again.",
      message: "Server is full",
      error: true,
      status: "Not connected",
    });

    // Room again: Log in is all it takes.
    await tel.send("logout");
    await tel.closed();
    await tel[Symbol.asyncDispose]();
    await page.login("ann");
    assert.equal(
      await page.page.$eval("#login-welcome", (p) => p.textContent.trim()),
      "Welcome to TestChat",
    );
    await page.type("/logout");
    await page.waitFor(() => document.body.dataset.phase === "login");

    // Too many wrong passwords: the server says so and closes the socket.
    // That is an error, the question is gone with the socket, and the form
    // logs in again.
    await page.waitFor(() => document.body.dataset.connection === "connected");
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.page.type("#login-name", "root");
    const message = (text: string) =>
      page.waitFor(
        (text) => document.getElementById("login-message").textContent === text,
        text,
      );
    await page.page.type("#login-password", "wrong one");
    await page.click("#login-submit");
    await message("Wrong password. Password for root:");
    // Each try after a wrong one waits longer (on the test's clock).
    for (const [count, seconds] of [[1, 1], [2, 2]]) {
      await page.page.type("#login-password", "wrong again");
      await page.click("#login-submit");
      await message(
        `${count} failed ${count === 1 ? "login" : "logins"} lately: ` +
          `checking in ${seconds} s`,
      );
      clock.advance(seconds * 1000);
      if (count === 1) await message("Wrong password. Password for root:");
    }
    await page.waitFor(() => document.body.dataset.connection === "offline");
    await page.screenshot("login-too-many-wrong");
    const closed = await form();
    assert.equal(
      closed.welcome,
      "Not connected to the server. Log in connects again.",
    );
    assert.equal(closed.message, "Too many wrong passwords; disconnecting.");
    assert.equal(closed.error, true);
    assert.equal(
      await page.page.$eval(
        "#login-password-label",
        (label) => label.textContent.replace(/\s+/g, " ").trim(),
      ),
      "Password (only for a registered name)",
    );
    await page.page.type("#login-password", PASSWORD);
    await page.click("#login-submit");
    await message("3 failed logins lately: checking in 4 s");
    clock.advance(4000);
    await page.waitFor(() =>
      document.getElementById("status").textContent === "Connected as root"
    );
    assertHealthy(page);
  },
);

browserTest(
  "a name with a space in it is refused by the form, never sent as a name and a password",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    {
      await using dora = await registered(server.addr.port, "dora");
      await dora.send("logout");
      await dora.closed();
    }
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    // To the server, "login dora correct horse" is dora's account and its
    // password: typed in the name field, in plain sight.
    await page.page.type("#login-name", `dora ${PASSWORD}`);
    await page.click("#login-submit");
    await page.waitFor(() =>
      document.getElementById("login-message").textContent !== ""
    );
    const form = await page.page.evaluate(() => ({
      phase: document.body.dataset.phase,
      message: document.getElementById("login-message").textContent,
      error: document.getElementById("login-message").classList.contains(
        "error",
      ),
      focus: document.activeElement.id,
    }));
    assert.deepEqual(form, {
      phase: "login",
      message: "A name is one word, without spaces: dora_correct_horse, say. " +
        "The password has its own field.",
      error: true,
      focus: "login-name",
    });
    // Nothing was sent: the account is logged in nowhere.
    await using tel = await Client.login(server.addr.port, "tel");
    await tel.send("who");
    assert.deepEqual(
      (await tel.sync()).filter((line) => line === "dora"),
      [],
    );
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("dora", PASSWORD);
    assertHealthy(page);
  },
);

browserTest(
  "a registered name logged in to with no password is said to be registered, with the way out",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    {
      await using dora = await registered(server.addr.port, "dora");
      await dora.send("logout");
      await dora.closed();
    }
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.page.type("#login-name", "dora");
    await page.click("#login-submit");
    await page.waitFor(() =>
      document.getElementById("login-password-label").textContent ===
        "Password for dora:"
    );
    await page.screenshot("login-registered-name");
    assert.deepEqual(
      await page.page.evaluate(() => ({
        message: document.getElementById("login-message").textContent,
        focus: document.activeElement.id,
      })),
      {
        message: '"dora" is a registered name: type its password, or ' +
          "choose another name to come in as a guest.",
        focus: "login-password",
      },
    );
    await page.page.type("#login-password", PASSWORD);
    await page.page.keyboard.press("Enter");
    await page.waitFor(() =>
      document.getElementById("status").textContent === "Connected as dora"
    );
    assertHealthy(page);
  },
);

browserTest(
  "another name submitted while a wrong password waits to be checked is no password",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({ httpPort: 0, clock });
    (await registered(server.addr.port, "dora")).close();
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.page.type("#login-name", "dora");
    await page.page.type("#login-password", "guess one");
    await page.click("#login-submit");
    await page.waitFor(() =>
      document.getElementById("login-message").textContent.startsWith(
        "Wrong password.",
      )
    );
    await page.page.type("#login-password", "guess two");
    await page.click("#login-submit");
    await page.waitFor(() =>
      document.getElementById("login-message").textContent ===
        "1 failed login lately: checking in 1 s"
    );
    // A change of mind during the wait: a guest after all. Without the
    // question cancelled, "login guesty" would be dora's next password.
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.page.type("#login-name", "guesty");
    await page.click("#login-submit");
    await withTimeout(clock.untilPending(2), TIMEOUT_MS, "the delay");
    clock.advance(1000);
    await page.waitFor(() =>
      document.getElementById("status")?.textContent === "Connected as guesty"
    );
    assertHealthy(page);
  },
);

browserTest(
  "a password typed for a name that is no account is not used, and the page says so",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("alcie", "what-alice-uses");
    await tel.expect("alcie has entered the room.");
    await page.waitForLine(
      'There is no account "alcie": you are in as a guest, and the password was not used.',
    );
    await page.screenshot("guest-with-password");

    // A guest who typed no password is told nothing of the kind.
    await using other = await chromium.open(pageUrl(server.httpAddr!.port));
    await other.login("ben");
    await tel.expect("ben has entered the room.");
    await other.type("/look");
    await other.waitForLine("The following are in this room:");
    const notes = await other.page.evaluate(() =>
      [...document.querySelectorAll(".log:not([hidden]) .entry")].filter(
        (entry: Dom) => entry.textContent.includes("There is no account"),
      ).length
    );
    assert.equal(notes, 0);
    assertHealthy(page);
    assertHealthy(other);
  },
);

browserTest(
  "a private conversation gets its own entry with an unread count, and both sides see it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using ann = await chromium.open(url);
    await ann.login("ann");
    await using ben = await chromium.open(url);
    await ben.login("ben");
    await tel.expect("ann has entered the room.");
    await tel.expect("ben has entered the room.");

    // telnet to page: a new entry, marked unread, while ann reads the room.
    await tel.send("msg ann psst, ann");
    await tel.expect("[private to ann] psst, ann");
    await ann.waitFor(() =>
      document.querySelector('#private-list [data-private="tel"] .badge')
        ?.textContent === "1"
    );
    assert.deepEqual(
      (await ann.entries()).find((entry) => entry.name === "tel"),
      {
        kind: "private",
        name: "tel",
        unread: 1,
        mention: true,
        current: false,
      },
    );
    await ann.screenshot("private-unread");
    await ann.click('#private-list [data-private="tel"]');
    await ann.waitForMessage("tel", "psst, ann");
    assert.equal(
      await ann.page.$eval(
        "#conversation-title",
        (title: Dom) => title.textContent,
      ),
      "@tel",
    );
    // One entry is marked as the one shown: the conversation, not the room.
    assert.deepEqual(
      (await ann.entries()).filter((entry) => entry.current).map((entry) =>
        entry.name
      ),
      ["tel"],
    );
    await ann.type("hi tel");
    await tel.expect("[private] ann: hi tel");
    await ann.waitForMessage("ann", "hi tel");

    // The room goes on while ann reads the private conversation: its entry
    // counts, and marks the line that names her.
    await tel.send("say ann, the build is green");
    await tel.expect("tel: ann, the build is green");
    await ann.waitFor(() =>
      document.querySelector("#room-list .here .badge.mention")
        ?.textContent === "1"
    );
    await ann.screenshot("private-conversation");
    assert.deepEqual(
      (await ann.messages()).map((message) => message.text),
      ["psst, ann", "hi tel"],
      "room lines stay in the room",
    );
    await ann.click('#room-list [data-room="main"]');
    await ann.waitForMessage("tel", "ann, the build is green");
    assert.equal(
      await ann.page.evaluate(() =>
        document.querySelector(".log:not([hidden]) .msg.mention mark")
          ?.textContent
      ),
      "ann",
    );

    // page to page: from the member list.
    await ann.click('#member-list [data-member="ben"]');
    await ann.type("hello ben, privately");
    await ann.waitForMessage("ann", "hello ben, privately", "@ben");
    await ben.waitFor(() =>
      document.querySelector('#private-list [data-private="ann"] .badge')
        ?.textContent === "1"
    );
    await ben.click('#private-list [data-private="ann"]');
    await ben.waitForMessage("ann", "hello ben, privately");
    await ben.type("hello ann");
    await ann.waitForMessage("ben", "hello ann", "@ben");
    assert.deepEqual(await tel.sync(), [], "tel saw none of it");
    await ben.screenshot("private-page-to-page");
    assertHealthy(ann);
    assertHealthy(ben);
  },
);

browserTest(
  "a page whose socket is cut shows a banner, resumes, and shows what it missed once; a session lost is marked",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      floodRate: 0,
      resumeSeconds: 60,
    });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    for (let i = 1; i <= 3; i++) {
      await tel.send(`say before ${i}`);
      await tel.expect(`tel: before ${i}`);
    }
    await page.waitForMessage("tel", "before 3");

    // The network drops, and stays down for a while.
    proxy.hold();
    assert.ok(await proxy.cut() >= 1);
    await page.waitFor(() =>
      !document.getElementById("banner").hidden &&
      document.getElementById("banner-text").textContent.startsWith(
        "Connection lost",
      )
    );
    // The countdown is shown beside the alert, not in it: a screen reader
    // reads the alert once, not every second.
    await page.waitFor(() => {
      const countdown = document.getElementById("banner-countdown");
      return countdown.getAttribute("aria-hidden") === "true" &&
        /^ Next try in \d+ s\.$/.test(countdown.textContent) &&
        !/\d/.test(document.getElementById("banner-text").textContent);
    });
    // The server keeps the session, waiting for the page (its one timer).
    await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
    for (let i = 1; i <= 3; i++) {
      await tel.send(`say while away ${i}`);
      await tel.expect(`tel: while away ${i}`);
    }
    // What ann types meanwhile waits for the socket; a draft stays in the box.
    await page.type("typed while away");
    await page.page.keyboard.type("a draft");
    await page.waitFor(() =>
      document.getElementById("banner-text").textContent.includes(
        "1 line will be sent",
      )
    );
    await page.screenshot("reconnect-banner");

    proxy.release();
    await page.waitForMessage("tel", "while away 3");
    await page.waitFor(() => document.getElementById("banner").hidden);
    await tel.expect("ann: typed while away");
    assert.deepEqual(await tel.sync(), [], "tel never saw ann leave");
    await page.waitForMessage("ann", "typed while away");
    assert.deepEqual((await page.messages()).map((message) => message.text), [
      "before 1",
      "before 2",
      "before 3",
      "while away 1",
      "while away 2",
      "while away 3",
      "typed while away",
    ]);
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.value),
      "a draft",
    );
    assert.equal(
      await page.page.evaluate(() => document.querySelectorAll(".mark").length),
      0,
      "nothing was lost",
    );
    await page.screenshot("reconnect-resumed");

    // Down for longer than the server waits: the session is gone. The page
    // logs in again, marks the place, and fills in the room's lines.
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
    await tel.send("say while lost");
    await tel.expect("tel: while lost");
    clock.advance(60_000);
    await tel.expect("ann has left the room.");
    proxy.release();
    await tel.expect("ann has entered the room.");
    await page.waitForMessage("tel", "while lost");
    await page.waitFor(() => document.getElementById("banner").hidden);
    await page.waitForLine("this is a new session");
    const after = await page.page.evaluate(() =>
      [...document.querySelectorAll(".log:not([hidden]) .entry")].map(
        (entry: Dom) =>
          entry.classList.contains("mark")
            ? "MARK"
            : entry.querySelector(".text")?.textContent,
      ).filter((text: unknown) => text !== undefined)
    );
    assert.deepEqual(after, [
      "before 1",
      "before 2",
      "before 3",
      "while away 1",
      "while away 2",
      "while away 3",
      "typed while away",
      "MARK",
      "while lost",
    ]);
    await page.page.$eval("#message", (input: Dom) => input.value = "");
    await page.type("back again");
    await tel.expect("ann: back again");
    await page.screenshot("reconnect-session-lost");
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "a server that restarts is said to restart, in the banner and where the new session starts",
  async (chromium) => {
    let server = await startServer({ httpPort: 0 });
    const httpPort = server.httpAddr!.port;
    try {
      await using page = await chromium.open(pageUrl(httpPort));
      await page.login("ann");
      await page.type("before");
      await page.waitForMessage("ann", "before");
      await page.page.focus("#message");
      await page.page.keyboard.type("half typed");
      await server.close();
      await page.waitFor(() => !document.getElementById("banner").hidden);
      await page.screenshot("restart-banner");
      assert.equal(
        await page.page.$eval("#banner-text", (text) => text.textContent),
        "The server is restarting. Reconnecting…",
      );
      // Back on the same port: a new session, under the same name, marked
      // as the restart it is, not as a connection lost too long.
      server = await startServer({ httpPort });
      await page.waitFor(() =>
        document.getElementById("banner").hidden &&
        document.getElementById("status").textContent === "Connected as ann"
      );
      await page.waitForLine("this is a new session");
      await page.screenshot("restart-after");
      const marks = await page.page.$$eval(
        ".log:not([hidden]) .mark",
        (marks) => marks.map((mark) => mark.textContent),
      );
      assert.equal(marks.length, 1);
      assert.match(
        marks[0],
        /^The server restarted: this is a new session\. /,
      );
      assert.equal(
        await page.page.$eval("#message", (input: Dom) => input.value),
        "half typed",
        "what was being typed stays",
      );
      assertHealthy(page, [/WebSocket|ERR_CONNECTION_REFUSED/]);
    } finally {
      await server.close();
    }
  },
);

browserTest(
  "a line typed while the connection is down shows in its log as not sent yet, until it is",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    proxy.hold();
    assert.ok(await proxy.cut() >= 1);
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await page.type("typed while away");
    const pending = () =>
      page.page.$$eval(
        ".log:not([hidden]) .entry.pending",
        (entries) =>
          entries.map((entry: Dom) => ({
            from: entry.dataset.from,
            text: entry.querySelector(".text").textContent,
            note: entry.querySelector(".pending-note").textContent.trim(),
            last: entry === entry.parentElement.lastElementChild,
          })),
      );
    await page.screenshot("pending-line");
    assert.deepEqual(await pending(), [{
      from: "ann",
      text: "typed while away",
      note: "not sent yet",
      last: true,
    }]);
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.value),
      "",
    );

    // Back: sent, and shown once, as the server says it.
    proxy.release();
    await tel.expect("ann: typed while away");
    await page.waitForMessage("ann", "typed while away");
    await page.waitFor(() =>
      document.querySelector(".log:not([hidden]) .entry.pending") === null
    );
    assert.deepEqual(
      (await page.messages()).filter((m) => m.text === "typed while away"),
      [{ from: "ann", text: "typed while away" }],
    );
    assertHealthy(page, [/WebSocket|ERR_/]);
  },
);

browserTest(
  "Reconnect now, pressed from the keyboard, gives the focus back to the message box",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    proxy.hold();
    assert.ok(await proxy.cut() >= 1);
    await page.waitFor(() =>
      !document.getElementById("banner").hidden &&
      !document.getElementById("reconnect-now").hidden
    );
    await page.page.focus("#reconnect-now");
    proxy.release();
    await page.page.keyboard.press("Enter");
    await page.waitFor(() =>
      document.getElementById("banner").hidden &&
      document.body.dataset.connection === "connected"
    );
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "message",
    );
    assertHealthy(page, [/WebSocket|ERR_/]);
  },
);

browserTest(
  "a logout while the connection is down ends the session once it is back",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({ httpPort: 0, clock });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    // In chat mode a bare "logout" is said to the room, not done.
    await page.type("/mode chat");
    await page.waitForLine("Chat mode: ");
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await page.click("#logout");
    await page.waitFor(() => document.body.dataset.phase === "login");
    proxy.release();
    // The server held the session for its resume time, and the name with
    // it: "The name "ann" is taken" until then.
    await page.click("#login-submit");
    await tel.expect("ann has left the room.");
    await tel.expect("ann has entered the room.");
    await page.waitFor(() =>
      document.getElementById("status").textContent === "Connected as ann"
    );
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "Log out with a question open (a password being chosen) cancels it and logs out",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await page.type("/register");
    await page.waitForLine("Choose a password");
    // "/logout" was the answer to the question: a password too short, and
    // the page stayed logged in.
    await page.click("#logout");
    await tel.expect("ann has left the room.");
    await page.waitFor(() =>
      document.body.dataset.phase === "login" &&
      document.getElementById("login-message").textContent ===
        "You have logged out."
    );
    await page.screenshot("logout-question-open");
    // The name was not registered with "/logout" for a password: a guest
    // comes back under it, asked no password.
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    assertHealthy(page);
  },
);

browserTest(
  "the password asked to log in again, once cancelled or left with Log out, leaves the form working",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      resumeSeconds: 60,
    });
    (await registered(server.addr.port, "dora")).close();
    await using tel = await Client.login(server.addr.port, "tel");
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("dora", PASSWORD);
    await tel.expect("dora has entered the room.");
    /** Down for longer than the server waits: back, it asks the password. */
    const loseSession = async () => {
      proxy.hold();
      await proxy.cut();
      await page.waitFor(() => !document.getElementById("banner").hidden);
      await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
      clock.advance(60_000);
      await tel.expect("dora has left the room.");
      proxy.release();
      await page.waitFor(() =>
        document.body.dataset.phase === "chat" &&
        document.getElementById("message").type === "password" &&
        document.getElementById("message").placeholder.startsWith(
          "Password for dora",
        )
      );
      // Why it asks is said above the question, not only once answered.
      const shown = await page.page.$$eval(
        ".log:not([hidden]) .entry",
        (entries) =>
          entries.map((entry: Dom) =>
            entry.classList.contains("mark") ? "MARK" : entry.textContent
          ).slice(-2),
      );
      assert.equal(shown[0], "MARK");
      assert.match(shown[1], /Password for dora \(a blank line cancels\):$/);
    };

    // Escape cancels the question: the page stayed in the chat logged in to
    // nothing, the top bar "Connected", every line typed "not sent yet".
    await loseSession();
    await page.page.focus("#message");
    await page.page.keyboard.press("Escape");
    await page.waitFor(() =>
      document.body.dataset.phase === "login" &&
      document.getElementById("login-message").textContent.startsWith(
        'Cancelled: you are logged out. To come back as "dora", type its password',
      )
    );
    await page.screenshot("relogin-cancelled");
    assert.deepEqual(
      await page.page.evaluate(() => [
        document.getElementById("login-name").value,
        document.activeElement.id,
      ]),
      ["dora", "login-password"],
    );
    await page.page.keyboard.type(PASSWORD);
    await page.page.click("#login-submit");
    await tel.expect("dora has entered the room.");
    await page.waitFor(() =>
      document.getElementById("status").textContent === "Connected as dora"
    );
    // Logged in on the socket that asked: a short drop takes that session
    // back, nobody sees dora leave.
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await page.waitFor(() =>
      document.getElementById("banner").hidden &&
      document.getElementById("status").textContent === "Connected as dora"
    );
    await page.type("back at once");
    await tel.expect("dora: back at once");

    // Log out while it asks: "/logout" was sent as the password, and the
    // next login from the form ("login bob") too.
    await loseSession();
    await page.click("#logout");
    await page.waitFor(() =>
      document.body.dataset.phase === "login" &&
      document.getElementById("login-message").textContent ===
        "You have logged out."
    );
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("bob");
    await tel.expect("bob has entered the room.");
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "Log out pressed while the page logs in again, before the server's answer came, logs out: the answer brings no chat back",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      resumeSeconds: 60,
    });
    (await registered(server.addr.port, "dora")).close();
    await using tel = await Client.login(server.addr.port, "tel");
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port));
    const loggedOut = () =>
      page.waitFor(() =>
        document.body.dataset.phase === "login" &&
        document.getElementById("login-message").textContent ===
          "You have logged out."
      );
    /**
     * Down for longer than the server waits; back, the page sends
     * `login NAME` on its own, and Log out is pressed at once, before the
     * page reads anything more (the server's answer is a frame still to
     * come, read after this).
     */
    const loseSessionAndLogOut = async (name: string) => {
      proxy.hold();
      await proxy.cut();
      await page.waitFor(() => !document.getElementById("banner").hidden);
      await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
      clock.advance(60_000);
      await tel.expect(`${name} has left the room.`);
      await page.page.evaluate(() => {
        const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function (this: WebSocket, data) {
          send.call(this, data);
          if (typeof data === "string" && data.startsWith("login ")) {
            WebSocket.prototype.send = send;
            queueMicrotask(() => document.getElementById("logout").click());
          }
        };
      });
      proxy.release();
    };

    // A guest: the server logs it in, and its room frame, come after the
    // click, put the page back in the chat, the socket logged in.
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await loseSessionAndLogOut("ann");
    await tel.expect("ann has entered the room.");
    await tel.expect("ann has left the room.");
    await loggedOut();
    await page.screenshot("relogin-logged-out");

    // An account: the password question, come after the click, is
    // cancelled by the blank line sent first (else "logout" was taken for
    // its password), and the form logs in anew.
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("dora", PASSWORD);
    await tel.expect("dora has entered the room.");
    await loseSessionAndLogOut("dora");
    await loggedOut();
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("bob");
    await tel.expect("bob has entered the room.");
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "a line the page sent before the server's question reached it, taken for the answer, leaves no password box open",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    (await registered(server.addr.port, "dora")).close();
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("dora", PASSWORD);
    await tel.expect("dora has entered the room.");
    // In one turn: /password goes, then the page's own "rooms", before the
    // question comes back; the server takes "rooms" for the password.
    await page.page.evaluate(() => {
      const message = document.getElementById("message") as Dom;
      message.value = "/password";
      (document.getElementById("composer") as Dom).requestSubmit();
      (document.getElementById("rooms-refresh") as Dom).click();
    });
    await page.waitForLine("Wrong password");
    // The question is over: the box is for messages again, so what is
    // typed next is said, not sent as a line of its own.
    await page.waitFor(() =>
      document.getElementById("message").type === "text" &&
      document.getElementById("prompt-cancel").hidden
    );
    await page.type("hello");
    await tel.expect("dora: hello");
    assertHealthy(page);
  },
);

browserTest(
  "a button pressed while the server asks a password cancels the question, not answers it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    (await registered(server.addr.port, "dora")).close();
    await using tel = await Client.login(server.addr.port, "tel");
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("dora", PASSWORD);
    await tel.expect("dora has entered the room.");
    await page.type("/password");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    // "rooms" went as the current password: "Wrong password", and the box
    // stayed a password field, whose next line went to the server as typed.
    await page.click("#rooms-refresh");
    await page.waitForLine("Cancelled.");
    await page.waitFor(() =>
      document.getElementById("message").type === "text" &&
      document.getElementById("prompt-cancel").hidden
    );
    await page.type("hello");
    await tel.expect("dora: hello");
    await page.waitForMessage("dora", "hello");

    // Offline, the line waits for the session: the blank line that cancels
    // goes before it ("rooms" was the answer once back).
    await page.type("/password");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await page.click("#rooms-refresh");
    await page.waitFor(() =>
      document.getElementById("message").type === "text"
    );
    proxy.release();
    await page.waitFor(() => document.getElementById("banner").hidden);
    await page.type("hello again");
    await tel.expect("dora: hello again");
    await page.waitForMessage("dora", "hello again");
    assert.deepEqual(
      await page.page.$$eval(
        ".log:not([hidden]) .entry",
        (entries) =>
          entries.filter((entry: Dom) =>
            entry.textContent.includes("Wrong password")
          ).length,
      ),
      0,
    );
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "the log keeps its last line in sight when the reconnecting banner takes room above it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port), {
      width: 1280,
      height: 500,
    });
    await page.login("ann");
    await page.type("/help");
    const last = 'Type "/help COMMAND" for more about one command.';
    await page.waitForLine(last);
    const lastLineShown = () =>
      page.page.evaluate(() => {
        const scroller = document.getElementById("scroller");
        const entries = document.querySelectorAll(".log:not([hidden]) .entry");
        const entry = entries[entries.length - 1];
        return {
          text: entry.textContent,
          overflows: scroller.scrollHeight > scroller.clientHeight,
          below: entry.getBoundingClientRect().bottom -
            scroller.getBoundingClientRect().bottom,
        };
      });
    const before = await lastLineShown();
    assert.ok(before.text.includes(last));
    assert.ok(before.overflows, "the log is longer than its box");
    assert.ok(before.below <= 1, "the last line shows");

    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    // The page scrolls from a ResizeObserver, which runs after layout in
    // the frame that shows the banner: measure once that frame is over,
    // when the second animation frame after it begins.
    await page.page.evaluate(() =>
      new Promise<void>((resolve) =>
        requestAnimationFrame(() => requestAnimationFrame(() => resolve()))
      )
    );
    const during = await lastLineShown();
    assert.ok(during.text.includes(last));
    assert.ok(
      during.below <= 1,
      `the last line still shows (${during.below}px below the box)`,
    );
    await page.screenshot("banner-log-end");
    proxy.release();
    await page.waitFor(() => document.getElementById("banner").hidden);
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "a page whose old socket the server still thinks open takes its session over as soon as it is back",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await tel.send("say before");
    await tel.expect("tel: before");
    await page.waitForMessage("tel", "before");

    // The browser's side goes; the server's stays open (a laptop that
    // changed networks), and the network is not back yet.
    proxy.hold();
    assert.ok(proxy.drop() >= 1);
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await tel.send("say while half-open");
    await tel.expect("tel: while half-open");
    // The network is back: the page's next socket takes the session over
    // from the old one, which the server has not seen go.
    proxy.release();
    await page.waitForMessage("tel", "while half-open");
    await page.waitFor(() => document.getElementById("banner").hidden);
    assert.deepEqual((await page.messages()).map((message) => message.text), [
      "before",
      "while half-open",
    ]);
    assert.equal(
      await page.page.evaluate(() => document.querySelectorAll(".mark").length),
      0,
      "the session was not lost",
    );
    await page.type("still me");
    await tel.expect("ann: still me");
    assert.deepEqual(await tel.sync(), [], "tel never saw ann leave");
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "on a phone-sized screen the layout is one column, and a message can be sent",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(
      pageUrl(server.httpAddr!.port),
      PHONE,
    );
    await page.screenshot("phone-login");
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await tel.send("say hi from telnet");
    await tel.expect("tel: hi from telnet");
    await page.waitForMessage("tel", "hi from telnet");

    const layout = await page.page.evaluate(() => {
      const box = (id: string) => {
        const rect = document.getElementById(id).getBoundingClientRect();
        return {
          left: rect.left,
          right: rect.right,
          top: rect.top,
          bottom: rect.bottom,
          width: rect.width,
        };
      };
      const display = (id: string) =>
        getComputedStyle(document.getElementById(id)).display;
      return {
        columns: getComputedStyle(document.getElementById("chat-view"))
          .gridTemplateColumns.split(" ").length,
        sidebar: display("sidebar"),
        members: display("members"),
        navToggle: display("nav-toggle"),
        scroller: box("scroller"),
        message: box("message"),
        send: box("send"),
        page: { width: innerWidth, height: innerHeight },
        scrollWidth: document.documentElement.scrollWidth,
        status: {
          text: document.getElementById("status").textContent,
          cut: document.getElementById("status").scrollWidth >
            document.getElementById("status").clientWidth,
        },
      };
    });
    assert.equal(layout.columns, 1, "one grid column");
    // The top bar shows whom one is logged in as, not "Connecte…".
    assert.deepEqual(layout.status, { text: "Connected as ann", cut: false });
    assert.equal(layout.sidebar, "none", "the side list is folded away");
    assert.equal(layout.members, "none", "so is the member list");
    assert.notEqual(layout.navToggle, "none", "with a button to open it");
    assert.ok(
      layout.scrollWidth <= layout.page.width,
      "nothing wider than the screen",
    );
    assert.ok(layout.scroller.width >= layout.page.width - 1);
    assert.ok(layout.message.width >= 250, "the message box takes the width");
    assert.ok(layout.message.left >= 0);
    assert.ok(layout.send.right <= layout.page.width);
    assert.ok(layout.message.bottom <= layout.page.height, "and is on screen");
    assert.ok(layout.scroller.top < layout.message.top, "below the log");

    await page.page.tap("#message");
    await page.page.keyboard.type("sent from a phone");
    await page.page.tap("#send");
    await tel.expect("ann: sent from a phone");
    await page.waitForMessage("ann", "sent from a phone");
    await page.screenshot("phone-room");

    // The side list opens as a drawer over the log; choosing closes it.
    await page.page.tap("#nav-toggle");
    const drawer = await page.page.evaluate(() => {
      const rect = document.getElementById("sidebar").getBoundingClientRect();
      return {
        display: getComputedStyle(document.getElementById("sidebar")).display,
        width: rect.width,
        expanded: document.getElementById("nav-toggle").getAttribute(
          "aria-expanded",
        ),
      };
    });
    assert.notEqual(drawer.display, "none");
    assert.ok(drawer.width > 200 && drawer.width < 390);
    assert.equal(drawer.expanded, "true");
    await page.screenshot("phone-drawer");
    await page.page.tap('#room-list [data-room="main"]');
    await page.waitFor(() =>
      getComputedStyle(document.getElementById("sidebar")).display === "none"
    );
    assertHealthy(page);
  },
);

browserTest(
  "Send, tapped on a phone or pressed from the keyboard, leaves the focus in the message box",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(
      pageUrl(server.httpAddr!.port),
      PHONE,
    );
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    // A blur of the message box closes a phone's keyboard: the next line
    // needed a tap on the box first.
    await page.page.evaluate(() => {
      document.body.dataset.blurs = "0";
      document.getElementById("message").addEventListener("blur", () => {
        document.body.dataset.blurs = String(
          Number(document.body.dataset.blurs) + 1,
        );
      });
    });
    await page.page.focus("#message");
    await page.page.keyboard.type("tapped");
    await page.page.tap("#send");
    await tel.expect("ann: tapped");
    await page.waitForMessage("ann", "tapped");
    assert.deepEqual(
      await page.page.evaluate(() => [
        document.activeElement.id,
        document.body.dataset.blurs,
      ]),
      ["message", "0"],
    );
    await page.page.keyboard.type("typed on");
    await page.page.keyboard.press("Enter");
    await tel.expect("ann: typed on");

    // From the keyboard: Tab to Send, Enter.
    await page.page.keyboard.type("from the button");
    await page.page.keyboard.press("Tab");
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "send",
    );
    await page.page.keyboard.press("Enter");
    await tel.expect("ann: from the button");
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "message",
    );
    assertHealthy(page);
  },
);

browserTest(
  "on a phone, the reconnecting banner's text has its row, the countdown and the button the one under it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using page = await chromium.open(pageUrl(proxy.port), {
      width: 375,
      height: 667,
      mobile: true,
    });
    await page.login("ann");
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() =>
      !document.getElementById("banner").hidden &&
      document.getElementById("banner-countdown").textContent !== ""
    );
    await page.screenshot("phone-reconnect-banner");
    // Side by side, each was squeezed into a column of its own: the text
    // in four lines, the countdown in three.
    const box = await page.page.evaluate(() => {
      const rect = (id: string) => {
        const r = document.getElementById(id).getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
      };
      return {
        text: rect("banner-text"),
        countdown: rect("banner-countdown"),
        button: rect("reconnect-now"),
      };
    });
    assert.ok(box.text.bottom <= box.countdown.top, JSON.stringify(box));
    assert.ok(box.text.bottom <= box.button.top, JSON.stringify(box));
    assert.ok(box.countdown.right <= box.button.left, JSON.stringify(box));
    proxy.release();
    await page.waitFor(() => document.getElementById("banner").hidden);
    assertHealthy(page, [/WebSocket|ERR_/]);
  },
);

browserTest(
  "on a phone, the ☰ button counts what is unread in the folded side list",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(
      pageUrl(server.httpAddr!.port),
      { width: 375, height: 667, mobile: true },
    );
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    const toggle = async () => {
      // The button's name as a screen reader reads it (the badge is not).
      const button = await page.page.$("#nav-toggle");
      const node = await page.page.accessibility.snapshot({
        root: button ?? undefined,
      });
      await button?.dispose();
      const badge = await page.page.evaluate(() => {
        const badge = document.getElementById("nav-badge");
        const style = getComputedStyle(badge);
        const rect = badge.getBoundingClientRect();
        return {
          shown: style.display !== "none" && rect.width > 0 &&
            rect.right <= innerWidth && rect.top >= 0,
          count: badge.textContent.trim(),
          mention: badge.classList.contains("mention"),
        };
      });
      return { ...badge, label: node?.name };
    };
    assert.deepEqual(await toggle(), {
      shown: false,
      count: "",
      mention: false,
      label: "Rooms and conversations",
    });

    // A line in the room shown is read where it is: no count.
    await tel.send("say in the room");
    await tel.expect("tel: in the room");
    await page.waitForMessage("tel", "in the room");
    assert.equal((await toggle()).shown, false);

    // A private message while the room is shown: the side list, folded
    // away, would have its count; the ☰ button has it instead.
    await tel.send("msg ann psst");
    await tel.expect("[private to ann] psst");
    await page.waitFor(() => !document.getElementById("nav-badge").hidden);
    await page.screenshot("phone-nav-badge");
    assert.deepEqual(await toggle(), {
      shown: true,
      count: "1",
      mention: true,
      label: "Rooms and conversations (1 unread, mentioning you)",
    });

    // Read there, the count goes; the room's lines meanwhile count, not
    // red for lines that do not mention ann.
    await page.page.tap("#nav-toggle");
    await page.click('#private-list [data-private="tel"]');
    await page.waitForMessage("tel", "psst");
    await page.waitFor(() => document.getElementById("nav-badge").hidden);
    await tel.send("say back in main");
    await tel.expect("tel: back in main");
    await page.waitFor(() =>
      document.getElementById("nav-badge").textContent.trim() === "1"
    );
    assert.deepEqual(await toggle(), {
      shown: true,
      count: "1",
      mention: false,
      label: "Rooms and conversations (1 unread)",
    });
    assertHealthy(page);
  },
);

browserTest(
  "a conversation chosen in the side list takes the focus to the message box, on a phone too",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    const url = pageUrl(server.httpAddr!.port);
    const focused = (page: ChatPage) =>
      page.page.evaluate(() => {
        const element = document.activeElement;
        return element === null || element === document.body
          ? "body"
          : element.id || element.className;
      });
    const keys = (page: ChatPage) => page.page.keyboard;

    // On a desk: Enter on an entry shows it, and one types at once.
    await using desk = await chromium.open(url);
    await desk.login("ann");
    await tel.expect("ann has entered the room.");
    await tel.send("msg ann psst");
    await tel.expect("[private to ann] psst");
    await desk.page.waitForSelector('#private-list [data-private="tel"]');
    await desk.page.focus('#private-list [data-private="tel"]');
    await keys(desk).press("Enter");
    await desk.waitForMessage("tel", "psst");
    assert.equal(await focused(desk), "message");
    await keys(desk).type("typed at once");
    await keys(desk).press("Enter");
    await tel.expect("[private] ann: typed at once");
    // Back to the room by its entry, with a click this time.
    await desk.click('#room-list [data-room="main"]');
    await desk.waitFor(() =>
      document.getElementById("conversation-title").textContent === "#main"
    );
    assert.equal(await focused(desk), "message");
    // Closing a conversation takes its button away: the focus goes on.
    await desk.page.focus('#private-list [data-close="tel"]');
    await keys(desk).press("Enter");
    await desk.waitFor(() =>
      document.querySelector('#private-list [data-private="tel"]') === null
    );
    assert.equal(await focused(desk), "message");

    // On a phone the list is a drawer that closes as one chooses: a key
    // puts the focus in the message box, a tap on the log (no keyboard
    // popping up), and never nowhere.
    await using phone = await chromium.open(url, {
      width: 375,
      height: 667,
      mobile: true,
    });
    await phone.login("bea");
    await tel.expect("bea has entered the room.");
    await tel.send("msg bea hello bea");
    await tel.expect("[private to bea] hello bea");
    await phone.page.waitForSelector('#private-list [data-private="tel"]', {
      hidden: true,
    });
    await phone.page.focus("#nav-toggle");
    await keys(phone).press("Enter");
    await phone.page.waitForSelector('#private-list [data-private="tel"]', {
      visible: true,
    });
    await phone.page.focus('#private-list [data-private="tel"]');
    await keys(phone).press("Enter");
    await phone.waitForMessage("tel", "hello bea");
    assert.equal(await focused(phone), "message");
    await phone.page.tap("#nav-toggle");
    await phone.page.waitForSelector('#room-list [data-room="main"]', {
      visible: true,
    });
    await phone.page.tap('#room-list [data-room="main"]');
    await phone.waitFor(() =>
      document.getElementById("conversation-title").textContent === "#main"
    );
    assert.equal(await focused(phone), "scroller");
    assertHealthy(desk);
    assertHealthy(phone);
  },
);

browserTest(
  "on a phone, the member list opened alone in a room takes the focus, not the button it covers",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(
      pageUrl(server.httpAddr!.port),
      PHONE,
    );
    await page.login("ann");
    await page.page.focus("#members-toggle");
    await page.page.keyboard.press("Enter");
    const focus = await page.page.evaluate(() => {
      const element = document.activeElement;
      const rect = element.getBoundingClientRect();
      const top = document.elementFromPoint(
        rect.left + rect.width / 2,
        rect.top + rect.height / 2,
      );
      return {
        id: element.id,
        seen: top !== null && (element.contains(top) || top.contains(element)),
      };
    });
    assert.deepEqual(focus, { id: "members", seen: true });
    await page.page.keyboard.press("Escape");
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "members-toggle",
    );
    assertHealthy(page);
  },
);

browserTest(
  "notifications the browser blocks are said in the log, readable on a phone, and the top bar still says who one is",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    await using page = await chromium.open(url, PHONE);
    // The site's notifications blocked, as a user who said no once.
    await page.page.browserContext().overridePermissions(url, []);
    await page.login("ann");
    await page.click("#notify-toggle");
    await page.waitForLine(
      "Notifications are blocked for this site in the browser",
    );
    const shown = await page.page.evaluate(() => ({
      status: document.getElementById("status").textContent,
      pressed: document.getElementById("notify-toggle").ariaPressed,
    }));
    assert.deepEqual(shown, { status: "Connected as ann", pressed: "false" });
    assertHealthy(page);
  },
);

browserTest(
  "on a phone, Tab out of an open drawer closes it: the focus is never under it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port), {
      width: 375,
      height: 667,
      mobile: true,
    });
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    /** Where the focus is, and whether it is what shows at its place. */
    const focus = () =>
      page.page.evaluate(() => {
        const element = document.activeElement;
        if (element === null || element === document.body) return null;
        const rect = element.getBoundingClientRect();
        const top = document.elementFromPoint(
          rect.left + rect.width / 2,
          rect.top + rect.height / 2,
        );
        return {
          id: element.id || element.className,
          inDrawer: element.closest("#sidebar, #members") !== null,
          seen: top !== null &&
            (element.contains(top) || top.contains(element)),
          open: document.getElementById("app").classList.contains("nav-open") ||
            document.getElementById("app").classList.contains("members-open"),
        };
      });
    for (const toggle of ["#nav-toggle", "#members-toggle"]) {
      await page.page.focus(toggle);
      await page.page.keyboard.press("Enter");
      const opened = await focus();
      assert.ok(opened?.open && opened.inDrawer, `${toggle} opens, focused`);
      // Tab on past the drawer's last control: whatever takes the focus
      // next (the message box, under the side list) is in sight.
      let now: Awaited<ReturnType<typeof focus>> = opened;
      for (let presses = 0; presses < 12; presses++) {
        await page.page.keyboard.press("Tab");
        now = await focus();
        if (now !== null && !now.inDrawer) break;
      }
      assert.ok(now !== null && !now.inDrawer, `the focus left ${toggle}'s`);
      assert.equal(now.open, false, "the drawer closed");
      assert.ok(now.seen, `${now.id} is in sight, not under a drawer`);
      assert.equal(
        await page.page.$eval(toggle, (button) => button.ariaExpanded),
        "false",
      );
    }
    assertHealthy(page);
  },
);

browserTest(
  "every nick colour, a link, the room shown in the side list and the placeholders read at 4.5:1 at least, light and dark",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    /** The lowest contrast of each nick colour, on a line and a mention. */
    const contrasts = () =>
      page.page.evaluate(() => {
        const rgb = (colour: string) => {
          const parts = colour.match(/[\d.]+/g)!.map(Number);
          return { r: parts[0], g: parts[1], b: parts[2], a: parts[3] ?? 1 };
        };
        const luminance = ({ r, g, b }: { r: number; g: number; b: number }) =>
          [r, g, b].map((value) => {
            const v = value / 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
          }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
        // The colour behind an element: its own and its ancestors'
        // backgrounds, laid over each other up to the first opaque one.
        const behind = (element: Dom) => {
          const layers = [];
          for (let at = element; at !== null; at = at.parentElement) {
            const colour = rgb(getComputedStyle(at).backgroundColor);
            if (colour.a > 0) layers.push(colour);
            if (colour.a >= 1) break;
          }
          let under = { r: 255, g: 255, b: 255 };
          for (const layer of layers.reverse()) {
            under = {
              r: layer.r * layer.a + under.r * (1 - layer.a),
              g: layer.g * layer.a + under.g * (1 - layer.a),
              b: layer.b * layer.a + under.b * (1 - layer.a),
            };
          }
          return under;
        };
        const log = document.querySelector(".log:not([hidden])");
        const worst: Record<string, number> = {};
        for (let index = 0; index < 16; index++) {
          for (const kind of ["said", "said mention"]) {
            const item = document.createElement("li");
            item.className = `entry msg ${kind}`;
            const body = document.createElement("div");
            body.className = "body";
            const nick = document.createElement("span");
            nick.className = `nick nick-c${index}`;
            nick.textContent = "name";
            const link = document.createElement("a");
            link.className = "link";
            link.textContent = "https://example.com";
            body.append(nick, link);
            item.append(body);
            log.append(item);
            for (
              const [what, element] of [[nick.className, nick], ["link", link]]
            ) {
              const a = luminance(rgb(getComputedStyle(element).color));
              const b = luminance(behind(element));
              const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
              worst[what] = Math.min(
                worst[what] ?? Infinity,
                Math.round(ratio * 100) / 100,
              );
            }
            item.remove();
          }
        }
        // And the muted parts of the side list's entry shown: its # and
        // head count, small on the accent colour.
        for (
          const part of document.querySelectorAll(
            "#room-list .current .entry-sigil, #room-list .current .entry-count",
          )
        ) {
          const a = luminance(rgb(getComputedStyle(part).color));
          const b = luminance(behind(part));
          worst[part.className] = Math.round(
            (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) * 100,
          ) / 100;
        }
        // And the placeholders that stand for a label ("Join a room…",
        // "Message #main"), which the browser draws grey by default.
        for (const id of ["join-name", "message"]) {
          const input = document.getElementById(id);
          const a = luminance(
            rgb(getComputedStyle(input, "::placeholder").color),
          );
          const b = luminance(behind(input));
          worst[`#${id}::placeholder`] = Math.round(
            (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05) * 100,
          ) / 100;
        }
        return worst;
      });
    for (const scheme of ["light", "dark"]) {
      // No transitions: the colours measured are the ones that stay.
      await page.page.emulateMediaFeatures([
        { name: "prefers-color-scheme", value: scheme },
        { name: "prefers-reduced-motion", value: "reduce" },
      ]);
      const worst = await contrasts();
      assert.ok(worst["entry-count"] !== undefined, "the room's head count");
      assert.ok(worst["#join-name::placeholder"] !== undefined);
      const faint = Object.entries(worst).filter(([, ratio]) => ratio < 4.5);
      assert.deepEqual(faint, [], `colours under 4.5:1 (${scheme})`);
    }
    assertHealthy(page);
  },
);

browserTest(
  "a private message or a mention in a conversation not shown is said to a screen reader",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    const said = async () => {
      const region = await page.page.$("#announce");
      const live = await page.page.$eval(
        "#announce",
        (element) => element.getAttribute("aria-live"),
      );
      const text = await region!.evaluate((element) =>
        element.textContent.trim()
      );
      await region!.dispose();
      return { live, text };
    };
    // What comes in the conversation shown is its log's to read out.
    await tel.send("say ann: hello");
    await tel.expect("tel: ann: hello");
    await page.waitForMessage("tel", "ann: hello");
    assert.deepEqual(await said(), { live: "polite", text: "" });

    await tel.send("msg ann psst");
    await tel.expect("[private to ann] psst");
    await page.waitFor(() =>
      document.getElementById("announce").textContent.trim() !== ""
    );
    assert.deepEqual(await said(), {
      live: "polite",
      text: "Private message from tel",
    });

    // Shown, the private conversation's own log reads it; the room's
    // mention is said.
    await page.click('#private-list [data-private="tel"]');
    await page.waitForMessage("tel", "psst");
    await tel.send("say ann, are you there?");
    await tel.expect("tel: ann, are you there?");
    await page.waitFor(() =>
      document.getElementById("announce").textContent.includes("mentioned")
    );
    assert.deepEqual(await said(), {
      live: "polite",
      text: "tel mentioned you in #main",
    });
    assertHealthy(page);
  },
);

browserTest(
  "a room's entry in the side list tells a screen reader its head count as people, apart from what is unread",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await page.waitFor(() =>
      document.querySelector('#room-list [data-room="main"] .entry-count')
        ?.textContent === "2"
    );
    /** The accessible name of the room's entry, as a screen reader has it. */
    const heard = async () => {
      const button = await page.page.$('#room-list [data-room="main"]');
      const node = await page.page.accessibility.snapshot({
        root: button!,
        interestingOnly: false,
      });
      await button!.dispose();
      return node?.name?.replace(/\s+/g, " ").trim();
    };
    assert.equal(await heard(), "# main (2 people)");
    // A private conversation shown: the room's lines are unread, and said so.
    await tel.send("msg ann psst");
    await page.click('#private-list [data-private="tel"]');
    await tel.send("say one");
    await page.waitFor(() =>
      document.querySelector('#room-list [data-room="main"] .badge') !== null
    );
    assert.equal(await heard(), "# main (2 people) (1 unread)");
    assertHealthy(page);
  },
);

browserTest(
  "the log one tabs to is a region a screen reader names Messages, not a nameless box",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    const scroller = await page.page.$("#scroller");
    const node = await page.page.accessibility.snapshot({
      root: scroller!,
      interestingOnly: false,
    });
    await scroller!.dispose();
    // A name on a plain div is one ARIA forbids, and screen readers skip.
    assert.deepEqual(
      { role: node?.role, name: node?.name },
      { role: "region", name: "Messages" },
    );
    assertHealthy(page);
  },
);

browserTest(
  "someone who takes a name the page talked with before joins that conversation, not a box that writes to nobody",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const port = server.addr.port;
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    {
      // The first rob writes, and goes.
      await using rob = await Client.login(port, "rob");
      await rob.send("msg ann from the first rob");
      await rob.expect("[private to ann] from the first rob");
      await rob.send("logout");
      await rob.closed();
    }
    await page.waitForMessage("rob", "from the first rob", "@rob");
    await using bob = await Client.login(port, "bob");
    await page.waitForLine("bob has entered the room.");
    await bob.send("msg ann from bob");
    await bob.expect("[private to ann] from bob");
    await page.waitForMessage("bob", "from bob", "@bob");

    // bob takes the name rob, in ann's room: one conversation, rob's.
    await bob.send("nick rob");
    await page.waitForLine("bob is now known as rob.");
    const privates = async () =>
      (await page.entries()).filter((entry) => entry.kind === "private");
    assert.deepEqual(
      (await privates()).map(({ name, unread }) => ({ name, unread })),
      [{ name: "rob", unread: 2 }],
    );
    await page.click('#private-list [data-private="rob"]');
    assert.deepEqual(await page.messages(), [
      { from: "rob", text: "from the first rob" },
      { from: "bob", text: "from bob" },
    ]);
    // Where bob's lines end and rob's begin, the log says why.
    assert.deepEqual(
      await page.page.$$eval(
        ".log:not([hidden]) .entry:not(.unread-marker)",
        (entries) =>
          entries.map((entry: Dom) =>
            entry.querySelector(".body").textContent.trim()
          ),
      ),
      ["robfrom the first rob", "bobfrom bob", "bob is now known as rob."],
    );
    await page.screenshot("private-merged");
    await page.type("you are rob now");
    await bob.waitFor((line) => line === "[private] ann: you are rob now");
    assertHealthy(page);
  },
);

browserTest(
  "a /nick typed in a private conversation is answered there, and in each other one",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const port = server.addr.port;
    await using tel = await Client.login(port, "tel");
    await using bob = await Client.login(port, "bob");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.waitFor((line) => line === "ann has entered the room.");
    await tel.send("msg ann hi from tel");
    await bob.send("msg ann hi from bob");
    await page.waitForMessage("bob", "hi from bob", "@bob");
    await page.click('#private-list [data-private="tel"]');
    await page.waitForMessage("tel", "hi from tel");
    await page.type("/nick annie");
    await tel.waitFor((line) => line === "ann is now known as annie.");
    // Where it was typed, as the room's log has it (the room is not shown).
    await page.waitForLine("ann is now known as annie.");
    const lines = await page.page.$$eval(
      ".log .event-renamed",
      (entries) =>
        entries.map((entry: Dom) => [
          entry.closest(".log").dataset.conversation,
          entry.querySelector(".body").textContent,
        ]),
    );
    assert.deepEqual(lines.sort(), [
      ["@bob", "ann is now known as annie."],
      ["@tel", "ann is now known as annie."],
      ["room", "ann is now known as annie."],
    ]);
    await page.screenshot("private-own-rename");
    assertHealthy(page);
  },
);

browserTest(
  "away shows in the top bar and beside one's own name until /back",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    const shown = () =>
      page.page.evaluate(() => ({
        status: document.getElementById("status").textContent,
        self: document.querySelector("#member-list .self").textContent,
        dot: getComputedStyle(
          document.querySelector("#member-list .self"),
          "::before",
        ).backgroundColor,
      }));
    await page.type("/away dinner");
    await page.waitForLine("You are marked as away: dinner");
    assert.deepEqual(await shown(), {
      status: "Connected as ann (away)",
      self: "ann (you, away)",
      dot: "rgb(224, 161, 0)",
    });
    await page.screenshot("away");
    await page.type("/back");
    await page.waitForLine("You are no longer marked as away");
    assert.deepEqual(await shown(), {
      status: "Connected as ann",
      self: "ann (you)",
      dot: "rgb(52, 194, 107)",
    });
    assertHealthy(page);
  },
);

browserTest(
  "a line typed with // says a line that starts with /, to the room and privately",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await page.type("//usr/bin is where it lives");
    await tel.expect("ann: /usr/bin is where it lives");
    await page.waitForMessage("ann", "/usr/bin is where it lives");
    await page.click('#member-list [data-member="tel"]');
    await page.type("//shrug");
    await tel.expect("[private] ann: /shrug");
    await page.waitForMessage("ann", "/shrug", "@tel");
    assertHealthy(page);
  },
);

browserTest(
  "a password being chosen is a new one to a password manager, the current one is not",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    const box = () =>
      page.page.$eval("#message", (input: Dom) => ({
        type: input.type,
        autocomplete: input.autocomplete,
      }));
    const secret = (autocomplete: string) => ({
      type: "password",
      autocomplete,
    });
    await page.type("/register");
    await page.waitForLine("Choose a password");
    assert.deepEqual(await box(), secret("new-password"));
    await page.type(PASSWORD);
    await page.waitForLine("Type the same password again:");
    assert.deepEqual(await box(), secret("new-password"));
    await page.type(PASSWORD);
    await page.waitForLine('Registered "ann"');
    assert.deepEqual(await box(), { type: "text", autocomplete: "off" });
    await page.type("/password");
    await page.waitForLine("Your current password");
    assert.deepEqual(await box(), secret("current-password"));
    await page.page.keyboard.press("Escape");
    assertHealthy(page);
  },
);

browserTest(
  "a room typed as #den and a name as @tel, as the page writes them, are understood",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");

    await page.type("/whois @tel");
    await page.waitForLine('tel is in room "main"');
    await page.type("/msg @tel hi there");
    await tel.expect("[private] ann: hi there");
    await page.waitForMessage("ann", "hi there", "@tel");
    await page.type("/join #den");
    await tel.expect("ann has left the room.");
    await page.waitForLine('You are now in room "den".');
    assert.equal(
      await page.page.$eval(
        "#conversation-title",
        (title) => title.textContent,
      ),
      "#den",
    );
    // A sign elsewhere in the line is the user's text, as typed.
    await page.type("/msg tel #den and @tel");
    await tel.expect("[private] ann: #den and @tel");
    assertHealthy(page);
  },
);

browserTest(
  "the keyboard alone logs in, sends, moves between conversations and cancels a question",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    const keys = page.page.keyboard;
    const focused = () =>
      page.page.evaluate(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return {
          id: element.id,
          what: element.id || `${element.tagName} ${element.className} ` +
              `"${element.textContent.trim().slice(0, 30)}"`,
          ring: style.outlineStyle !== "none" && style.outlineWidth !== "0px",
        };
      });
    // The form has the focus on arrival: a name and Enter log in.
    assert.equal((await focused()).id, "login-name");
    await keys.type("ann");
    await keys.press("Enter");
    await tel.expect("ann has entered the room.");
    await page.waitFor(() => document.body.dataset.phase === "chat");
    assert.equal((await focused()).id, "message", "then the message box");
    await keys.type("typed, not clicked");
    await keys.press("Enter");
    await tel.expect("ann: typed, not clicked");

    // Tab reaches every control, each with its focus ring: from the box,
    // round to the room list and back to the box.
    const seen: string[] = [];
    for (let step = 0; step < 30; step++) {
      await keys.press("Tab");
      const now = await focused();
      // Past the last control, the focus leaves the page for the browser's.
      if (now.what.startsWith("BODY ")) continue;
      assert.ok(now.ring, `${now.what} shows its focus`);
      seen.push(now.id);
      if (now.id === "message") break;
    }
    assert.equal(seen.at(-1), "message", "Tab comes back to the message box");
    assert.ok(seen.includes("send"));
    assert.ok(seen.includes("join-name"));
    assert.ok(seen.includes("logout"));

    // Alt+Down and Alt+Up move between the room and a private conversation.
    await tel.send("msg ann psst");
    await tel.expect("[private to ann] psst");
    await page.waitFor(() =>
      document.querySelector('#private-list [data-private="tel"]') !== null
    );
    const shown = () =>
      page.page.$eval("#conversation-title", (title) => title.textContent);
    await keys.down("Alt");
    await keys.press("ArrowDown");
    await keys.up("Alt");
    assert.equal(await shown(), "@tel");
    await page.waitForMessage("tel", "psst");
    await keys.type("back at you");
    await keys.press("Enter");
    await tel.expect("[private] ann: back at you");
    await keys.down("Alt");
    await keys.press("ArrowUp");
    await keys.up("Alt");
    assert.equal(await shown(), "#main");

    // Escape cancels a question, and the box is for messages again.
    await keys.type("/register");
    await keys.press("Enter");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    await keys.press("Escape");
    await page.waitForLine("Cancelled.");
    await page.waitFor(() =>
      document.getElementById("message").type === "text"
    );
    await keys.type("and on");
    await keys.press("Enter");
    await tel.expect("ann: and on");
    assertHealthy(page);
  },
);

browserTest(
  "a link with the user's name in it is no mention; the name in the text is",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    const mentions = () =>
      page.page.evaluate(() =>
        [...document.querySelectorAll(".log:not([hidden]) .msg")].map(
          (item: Dom) => ({
            text: item.querySelector(".text").textContent,
            mention: item.classList.contains("mention"),
            marks: item.querySelectorAll("mark").length,
          }),
        )
      );
    await tel.send("say the notes: https://example.com/ann/notes");
    await tel.expect("tel: the notes: https://example.com/ann/notes");
    await page.waitForMessage(
      "tel",
      "the notes: https://example.com/ann/notes",
    );
    await tel.send("say ann, see above");
    await tel.expect("tel: ann, see above");
    await page.waitForMessage("tel", "ann, see above");
    assert.deepEqual(await mentions(), [
      {
        text: "the notes: https://example.com/ann/notes",
        mention: false,
        marks: 0,
      },
      { text: "ann, see above", mention: true, marks: 1 },
    ]);
    assertHealthy(page);
  },
);

browserTest(
  "a room's history from an earlier day is headed by its date, and today by Today",
  async (chromium) => {
    // The server's clock says 2026-01-01; the browser's, today.
    const clock = new FakeClock();
    await using server = await startServer({ httpPort: 0, clock });
    await using tel = await Client.login(server.addr.port, "tel");
    await tel.send("say said on new year's day");
    await tel.expect("tel: said on new year's day");
    await tel.send("say and again");
    await tel.expect("tel: and again");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await page.waitForMessage("tel", "and again");
    await page.type("/look");
    await page.waitForLine("The following are in this room:");
    const days = await page.page.evaluate(() =>
      [...document.querySelectorAll(".log:not([hidden]) .entry")].map(
        (entry: Dom) => ({
          text: entry.querySelector(".text")?.textContent ??
            entry.querySelector(".body")?.textContent,
          day: entry.dataset.day ?? null,
          shown: getComputedStyle(entry, "::before").content,
        }),
      )
    );
    const newYear = new Date(Date.UTC(2026, 0, 1)).toLocaleDateString([], {
      weekday: "long",
      month: "long",
      day: "numeric",
      year: new Date().getFullYear() === 2026 ? undefined : "numeric",
    });
    assert.deepEqual(days.slice(0, 2), [
      {
        text: "said on new year's day",
        day: newYear,
        shown: `"${newYear}"`,
      },
      { text: "and again", day: null, shown: "none" },
    ]);
    const rest = days.slice(2);
    assert.ok(rest.length >= 1);
    assert.equal(rest[0].day, "Today", "the page's own lines are today's");
    assert.ok(rest.slice(1).every((entry) => entry.day === null));
    await page.screenshot("history-days");
    assertHealthy(page);
  },
);

browserTest(
  "a page kicked out of a room is told why in the room it lands in",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, ops: ["root"] });
    await using root = await registered(server.addr.port, "root");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await root.expect("ann has entered the room.");
    await page.type("/join den");
    await page.waitForLine('You are now in room "den".');
    await root.expect("ann has left the room.");
    await root.send("join den");
    await root.waitFor((line) => line === 'You are now in room "den".');
    await page.waitForLine("root has entered the room.");
    await root.send("kick ann off topic");
    await root.expect("ann was kicked by root: off topic");
    await page.waitFor(() =>
      document.getElementById("conversation-title").textContent === "#main"
    );
    await page.waitForLine('You are now in room "main".');
    await page.waitForLine('You were kicked from "den" by root: off topic');
    await page.screenshot("kicked-to-main");
    assertHealthy(page);
  },
);

browserTest(
  "a kick from the room while a private conversation is shown is said to a screen reader",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, ops: ["root"] });
    await using root = await registered(server.addr.port, "root");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port), {
      width: 375,
      height: 667,
      mobile: true,
    });
    await page.login("ann");
    await page.type("/join den");
    await page.waitForLine('You are now in room "den".');
    await root.send("join den");
    await root.waitFor((line) => line === 'You are now in room "den".');
    await root.send("msg ann a word in private");
    await root.expect("[private to ann] a word in private");
    await page.click("#nav-toggle");
    await page.click('#private-list [data-private="root"]');
    await page.waitForMessage("root", "a word in private");
    await root.send("kick ann off topic");
    await root.expect("ann was kicked by root: off topic");
    // Into the room's log, hidden behind the private conversation: that
    // reads nothing out, so the page says it.
    await page.waitFor(() =>
      document.querySelector('.log[data-conversation="room"]')?.textContent
        .includes("You were kicked from")
    );
    assert.deepEqual(
      await page.page.$eval("#announce", (element: Dom) => ({
        live: element.getAttribute("aria-live"),
        text: element.textContent.trim(),
      })),
      {
        live: "polite",
        text: 'You were kicked from "den" by root: off topic',
      },
    );
    await page.screenshot("kicked-while-private");
    assertHealthy(page);
  },
);

browserTest(
  "a long topic is cut short in the header, and the page stays as wide as the screen",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    const topic = "the release: ".repeat(12) +
      "https://wiki.example.org/release/checklist/2026";
    for (
      const [name, viewport] of [
        ["ann", PHONE],
        ["ben", { width: 1280, height: 800 }],
      ] as const
    ) {
      await using page = await chromium.open(url, viewport);
      await page.login(name);
      await page.type(`/topic ${topic}`);
      await page.waitForLine(`${name} set the topic: ${topic}`);
      const layout = await page.page.evaluate(() => {
        const shown = document.getElementById("conversation-topic");
        return {
          topic: shown.textContent,
          cut: shown.scrollWidth > shown.clientWidth,
          right: shown.getBoundingClientRect().right,
          width: innerWidth,
          scrollWidth: document.documentElement.scrollWidth,
        };
      });
      assert.equal(layout.topic, topic);
      assert.equal(layout.width, viewport.width, "not zoomed out to fit");
      assert.ok(layout.scrollWidth <= layout.width, "nothing wider than it");
      assert.ok(layout.cut, "the topic is cut short");
      assert.ok(layout.right <= layout.width);
      await page.screenshot(`long-topic-${viewport.width}`);
      // Cleared: the header says there is none, not an empty topic.
      await page.type("/topic -");
      await page.waitForLine(`${name} cleared the topic`);
      await page.waitFor(() =>
        document.getElementById("conversation-topic").textContent ===
          "No topic. /topic TEXT sets one."
      );
      assertHealthy(page);
    }
  },
);

/**
 * Where `help`'s rows are on the page: each row's term and description
 * boxes, and the width of the page and of what it holds.
 */
function helpLayout(page: ChatPage) {
  return page.page.evaluate(() => {
    const box = (element: Dom) => {
      const rect = element.getBoundingClientRect();
      return { left: rect.left, right: rect.right, top: rect.top };
    };
    const rows = [...document.querySelectorAll(".log:not([hidden]) .pair")];
    return {
      rows: rows.map((row: Dom) => ({
        term: row.querySelector(".term").textContent,
        description: row.querySelector(".description").textContent,
        termBox: box(row.querySelector(".term")),
        descriptionBox: box(row.querySelector(".description")),
      })),
      width: innerWidth,
      scrollWidth: document.documentElement.scrollWidth,
    };
  });
}

browserTest(
  "a private conversation with a long wide name stays within the screen and its panel",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    const wide = "W".repeat(24);
    await using tel = await Client.login(server.addr.port, wide);
    for (
      const [name, viewport] of [
        ["ann", PHONE],
        ["ben", { width: 1280, height: 800 }],
      ] as const
    ) {
      await using page = await chromium.open(url, viewport);
      await page.login(name);
      await page.type(`/msg ${wide} hi`);
      await tel.waitFor(`[private] ${name}: hi`);
      await page.waitFor(() =>
        document.getElementById("person-status").textContent ===
          "Online, in #main"
      );
      const layout = await page.page.evaluate(() => {
        const panel = document.getElementById("person");
        const edge = panel.getBoundingClientRect().right;
        return {
          width: innerWidth,
          scrollWidth: document.documentElement.scrollWidth,
          // On a phone the panel is a drawer, closed: nothing to measure.
          outside: panel.offsetParent === null ? [] : [
            ...panel.querySelectorAll("*"),
          ].filter((element: Dom) =>
            element.getBoundingClientRect().right > edge + 0.5
          ).map((element: Dom) => element.id || element.className),
        };
      });
      assert.equal(layout.width, viewport.width, "not zoomed out to fit");
      assert.ok(layout.scrollWidth <= layout.width, "nothing wider than it");
      assert.deepEqual(layout.outside, [], "nothing wider than the panel");
      await page.screenshot(`long-name-private-${viewport.width}`);
      assertHealthy(page);
    }
  },
);

browserTest(
  "help's table is two columns on a desk and a term over its description on a phone",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const url = pageUrl(server.httpAddr!.port);
    await using desk = await chromium.open(url);
    await desk.login("ann");
    await desk.type("/help");
    await desk.waitForLine('Type "/help COMMAND" for more about one command.');
    // On the page a line without a / is said: help says that commands
    // start with one, as it does in chat mode.
    assert.equal(
      await desk.page.evaluate(() => {
        const entries = document.querySelectorAll(".log:not([hidden]) .entry");
        return entries[entries.length - 1].querySelector(".line").textContent;
      }),
      "Commands (in chat mode, start each with /):",
    );
    const wide = await helpLayout(desk);
    // The server lines the table up with spaces, for a fixed-width font;
    // the page's is not one, so it makes the columns itself.
    const say = wide.rows.find((row) => row.term === "say TEXT");
    assert.deepEqual(
      say && { term: say.term, description: say.description },
      { term: "say TEXT", description: "say TEXT to everyone in the room" },
    );
    assert.ok(wide.rows.length >= 20, "every command is a row");
    const column = wide.rows[0].descriptionBox.left;
    for (const row of wide.rows) {
      assert.equal(row.descriptionBox.left, column, `"${row.term}" lines up`);
      assert.ok(row.termBox.right < column, `"${row.term}" fits its column`);
    }
    await desk.screenshot("help-desk");

    // Asked of no command, it says to type "/help" too.
    await desk.type("/help nosuch");
    await desk.waitForLine(
      'No command called "nosuch"; type "/help" for the list',
    );

    // Only help's rows are a table: a line of another reply that happens
    // to have two spaces in it (a topic, a ban's reason) stays one line.
    await desk.type("/topic ship  on Friday");
    await desk.waitForLine("ann set the topic: ship  on Friday");
    await desk.type("/rooms");
    await desk.waitForLine("Rooms:");
    const rooms = await desk.page.evaluate(() => {
      const entries = document.querySelectorAll(".log:not([hidden]) .entry");
      const entry = entries[entries.length - 1];
      return {
        pairs: entry.querySelectorAll(".pair").length,
        lines: [...entry.querySelectorAll(".line")].map((line: Dom) =>
          line.textContent
        ),
      };
    });
    assert.deepEqual(rooms, {
      pairs: 0,
      lines: ["Rooms:", "  main (1 person): ship  on Friday"],
    });

    await using phone = await chromium.open(url, PHONE);
    await phone.login("ben");
    await phone.type("/help");
    await phone.waitForLine('Type "/help COMMAND" for more about one command.');
    const narrow = await helpLayout(phone);
    assert.equal(narrow.rows.length, wide.rows.length);
    for (const row of narrow.rows) {
      assert.ok(
        row.descriptionBox.top > row.termBox.top,
        `"${row.term}" has its description under it`,
      );
    }
    assert.ok(narrow.scrollWidth <= narrow.width, "nothing wider than it");
    await phone.screenshot("help-phone");
    assertHealthy(desk);
    assertHealthy(phone);
  },
);

browserTest(
  "the room's history shows after login and on join, and Load older pages back to the start",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    const port = server.addr.port;
    await using tel = await Client.login(port, "tel");
    await tel.send(
      Array.from({ length: 60 }, (_, i) => `say line ${i + 1}`).join("\r\n"),
    );
    await tel.waitFor("tel: line 60");
    await using den = await Client.login(port, "denny");
    await den.send("join den");
    await den.waitFor('You are now in room "den".');
    await den.send("topic plans for the den");
    await den.send("say the den is open");
    await den.waitFor("denny: the den is open");

    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    // The last 50 lines, without the history command's own lines.
    await page.waitForMessage("tel", "line 60");
    let texts = (await page.messages()).map((message) => message.text);
    assert.equal(texts.length, 50);
    assert.equal(texts[0], "line 11");
    await page.click("#load-older");
    await page.waitForMessage("tel", "line 1");
    texts = (await page.messages()).map((message) => message.text);
    assert.deepEqual(
      texts,
      Array.from({ length: 60 }, (_, i) => `line ${i + 1}`),
    );
    await page.click("#load-older");
    await page.waitFor(() => !document.getElementById("older-end").hidden);
    assert.equal(
      await page.page.evaluate(() =>
        document.querySelectorAll(".log:not([hidden]) .system").length
      ),
      0,
      "the page's own history requests show no reply lines",
    );
    await page.screenshot("history-start");

    // The room list, refreshed, has the den; joining it shows its history.
    await page.click("#rooms-refresh");
    await page.waitFor(() =>
      document.querySelector('#room-list [data-room="den"]')
    );
    await page.click('#room-list [data-room="den"]');
    await den.expect("ann has entered the room.");
    await page.waitForMessage("denny", "the den is open");
    assert.deepEqual(await page.members(), ["ann", "denny"]);
    assert.equal(
      await page.page.$eval(
        "#conversation-topic",
        (topic: Dom) => topic.textContent,
      ),
      "plans for the den",
    );
    assert.equal(
      await page.page.$eval(
        '#room-list [data-room="den"]',
        (entry: Dom) => entry.getAttribute("aria-current"),
      ),
      "page",
    );
    await page.screenshot("history-joined");
    assertHealthy(page);
  },
);

browserTest(
  "Load older, pressed from the keyboard, keeps the focus, and in the log at the start",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    for (let index = 0; index < 60; index++) await tel.send(`say ${index}`);
    await tel.sync();
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await page.waitForMessage("tel", "59");
    await page.page.focus("#load-older");
    await page.page.keyboard.press("Enter");
    await page.waitForMessage("tel", "0");
    // Still on the button (busy meanwhile, but not disabled, which drops
    // the focus): once more, nothing older, and the button goes.
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "load-older",
    );
    await page.page.keyboard.press("Enter");
    await page.waitFor(() => document.getElementById("load-older").hidden);
    assert.equal(
      await page.page.evaluate(() => document.activeElement.id),
      "scroller",
    );
    assertHealthy(page);
  },
);

browserTest(
  "history after login and from Load older goes into a busy log, not read out as news; the next line is",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await tel.send(
      Array.from({ length: 60 }, (_, i) => `say line ${i + 1}`).join("\r\n"),
    );
    await tel.waitFor("tel: line 60");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    // Each entry added to a log, whether the log was aria-busy once the
    // page's task that added it was over (where a screen reader could first
    // see it: a busy mark set and cleared in one task is none), and when;
    // when a log's busy mark went; and what the announcer said.
    await page.page.evaluate(() => {
      const seen: Dom = {
        added: [],
        unbusied: [],
        announced: [],
      };
      (globalThis as Dom).seen = seen;
      new (globalThis as Dom).MutationObserver((records: Dom[]) => {
        const at = performance.now();
        for (const record of records) {
          if (record.target.id === "announce") {
            seen.announced.push(record.target.textContent);
            continue;
          }
          if (!record.target.classList?.contains("log")) continue;
          if (record.type === "attributes") {
            if (!record.target.hasAttribute("aria-busy")) {
              seen.unbusied.push(at);
            }
            continue;
          }
          for (const node of record.addedNodes) {
            if (!node.classList?.contains("msg")) continue;
            seen.added.push({
              text: node.querySelector(".text")?.textContent ?? "",
              history: node.classList.contains("history"),
              busy: record.target.getAttribute("aria-busy") === "true",
              at,
            });
          }
        }
      }).observe(document.body, {
        childList: true,
        subtree: true,
        characterData: true,
        attributes: true,
        attributeFilter: ["aria-busy"],
      });
    });
    await page.login("ann");
    await page.waitForMessage("tel", "line 60");
    // With nothing new to read out, the busy mark goes on its own.
    await page.waitFor(() =>
      !document.querySelector(".log:not([hidden])").hasAttribute("aria-busy")
    );
    await page.click("#load-older");
    await page.waitForMessage("tel", "line 1");
    // At once after the history: a screen reader is told of changes in
    // batches, so this line must not take the busy mark away with it (the
    // history would be read out too); it is said by the announcer.
    await tel.send("say news after the history");
    await page.waitForMessage("tel", "news after the history");
    await page.waitFor(() =>
      !document.querySelector(".log:not([hidden])").hasAttribute("aria-busy")
    );
    const seen: {
      added: { text: string; history: boolean; busy: boolean; at: number }[];
      unbusied: number[];
      announced: string[];
    } = await page.page.evaluate(() => (globalThis as Dom).seen);
    const history = seen.added.filter((entry) => entry.history);
    assert.equal(history.length, 60, "50 after login, 10 from Load older");
    assert.deepEqual(
      history.filter((entry) => !entry.busy).map((entry) => entry.text),
      [],
      "history lines added while the log was not busy",
    );
    // Each time the mark went, the last history had been in the log for
    // most of HISTORY_QUIET_LEAST_MS (500 ms; less a little for when the
    // observer ran).
    for (const at of seen.unbusied) {
      const before = history.filter((entry) => entry.at <= at).at(-1);
      if (before === undefined) continue;
      assert.ok(
        at - before.at >= 400,
        `the busy mark went ${Math.round(at - before.at)} ms after history`,
      );
    }
    const news = seen.added.filter((entry) => !entry.history);
    assert.deepEqual(news.map((entry) => entry.text), [
      "news after the history",
    ]);
    // Read out by the log, or while the mark stayed, by the announcer.
    assert.ok(
      !news[0].busy ||
        seen.announced.some((text) => text.includes("news after the history")),
      `news neither read by the log nor announced: ${seen.announced}`,
    );
    assert.equal(
      await page.page.evaluate(() =>
        document.querySelector(".log:not([hidden])").getAttribute("aria-live")
      ),
      "polite",
    );
    assertHealthy(page);
  },
);

browserTest(
  "coming back to the tab brings the other rooms' head counts up to date",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const port = server.addr.port;
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await page.type("/join den");
    const count = () =>
      page.page.evaluate(() =>
        document.querySelector(
          '#room-list [data-room="main"] .entry-count',
        )?.textContent
      );
    // Asked for at the join: main is empty.
    await page.waitFor(() =>
      document.querySelector('#room-list [data-room="den"][aria-current]') &&
      document.querySelector('#room-list [data-room="main"] .entry-count')
          ?.textContent === "0"
    );
    await using tel = await Client.login(port, "tel");
    await tel.send("look");
    await tel.expectLines(["The following are in this room:", "tel"]);
    assert.equal(await count(), "0", "nothing told the page meanwhile");
    const systemLines = () =>
      page.page.evaluate(() =>
        document.querySelectorAll(".log:not([hidden]) .system").length
      );
    const before = await systemLines();
    // The tab is hidden, then shown again.
    await page.page.evaluate(() => {
      Object.defineProperty(document, "hidden", {
        value: false,
        configurable: true,
      });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await page.waitFor(() =>
      document.querySelector('#room-list [data-room="main"] .entry-count')
        ?.textContent === "1"
    );
    assert.equal(
      await systemLines(),
      before,
      "the page's own rooms request shows no reply",
    );
    await page.screenshot("rooms-counts-refreshed");
    // With a question open, coming back sends nothing: the next line sent
    // is its answer.
    await page.type("/register");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    await page.page.evaluate(() =>
      document.dispatchEvent(new Event("visibilitychange"))
    );
    await page.type(PASSWORD);
    await page.waitForLine("Type the same password again:");
    await page.type(PASSWORD);
    await page.waitForLine(
      'Registered "ann": from now on, logging in as ann asks for this password.',
    );
    assertHealthy(page);
  },
);

browserTest(
  "a busy room looks right at 1280x800 (the README's screenshot)",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    const port = server.addr.port;
    const url = pageUrl(server.httpAddr!.port);
    await using carol = await Client.login(port, "carol");
    await using dave = await Client.login(port, "dave");
    await dave.send("join design");
    await dave.waitFor('You are now in room "design".');
    await carol.send(
      "topic Release 1.0 on Friday; checklist: https://wiki.example.org/release",
    );
    await carol.waitFor(
      "carol set the topic: Release 1.0 on Friday; checklist: https://wiki.example.org/release",
    );
    await using alice = await chromium.open(url);
    await alice.login("alice");
    await using bob = await chromium.open(url);
    await bob.login("bob");
    await carol.waitFor("bob has entered the room.");
    await alice.waitForLine("bob has entered the room.");

    const say = async (who: ChatPage | Client, text: string) => {
      if (who instanceof Client) {
        await who.send(text.startsWith("/") ? text.slice(1) : `say ${text}`);
      } else await who.type(text);
      await carol.waitFor((line) => line.endsWith(text.replace(/^\/me /, "")));
    };
    await say(carol, "morning all! the release branch is cut");
    await say(alice, "morning! coffee first, then the checklist");
    await say(bob, "/me waves from the train");
    await say(bob, "nice, I'll start on the changelog");
    await say(alice, "great. anything left on the checklist?");
    await say(carol, "alice: can you look at the login bug? #412");
    await say(bob, "the CI run is here: https://ci.example.org/runs/1287");
    await say(alice, "on it, carol");
    await say(carol, "/me puts the kettle on");
    await say(bob, "tests are green on my side");
    await say(carol, "lovely. let's freeze at 3pm, then ship on Friday");
    await say(bob, "sounds good to me");
    await dave.send("msg alice can I borrow you for the icons later?");
    await dave.expect(
      "[private to alice] can I borrow you for the icons later?",
    );
    await alice.waitFor(() =>
      document.querySelector('#private-list [data-private="dave"] .badge')
    );
    await alice.waitForMessage("bob", "sounds good to me");
    await alice.click("#rooms-refresh");
    await alice.waitFor(() =>
      document.querySelector('#room-list [data-room="design"]')
    );
    await alice.page.mouse.move(640, 400);
    await alice.page.focus("#message");
    await alice.page.keyboard.type("I'll push the fix after lunch");
    await alice.screenshot("readme");
    assertHealthy(alice);
    assertHealthy(bob);
  },
);

browserTest(
  "in a cluster, the member list has the room's members on every server",
  async (chromium) => {
    await using redis = await RedisServer.start();
    await using a = await startServer({ redis: redis.url, nodeId: "node-a" });
    await using b = await startServer({
      redis: redis.url,
      nodeId: "node-b",
      httpPort: 0,
    });
    await using tel = await Client.login(a.addr.port, "tel");
    await using ann = await chromium.open(pageUrl(b.httpAddr!.port));
    await ann.login("ann");
    await tel.expect("ann has entered the room.");
    await ann.waitFor(() =>
      document.querySelectorAll("#member-list .nick").length === 2
    );
    assert.deepEqual(await ann.members(), ["ann", "tel"]);
    await tel.send("join den");
    await tel.expect('You are now in room "den".');
    await ann.waitForLine("tel has left the room.");
    await ann.type("/join den");
    await ann.waitFor(() =>
      document.querySelector("#members-room")?.textContent === "of #den" &&
      document.querySelectorAll("#member-list .nick").length === 2
    );
    assert.deepEqual(await ann.members(), ["ann", "tel"]);
    await ann.screenshot("cluster-members");
    assertHealthy(ann);
  },
  redisMissing,
);

browserTest(
  "Tab completes a member's name and a command, and moves on when nothing matches",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "bobby");
    await using _bea = await Client.login(server.addr.port, "Bea");
    await using ann = await chromium.open(pageUrl(server.httpAddr!.port));
    await ann.login("ann");
    await tel.expect("Bea has entered the room.");
    await tel.expect("ann has entered the room.");
    await ann.waitFor(() =>
      document.querySelectorAll("#member-list .nick").length === 3
    );
    const box = () =>
      ann.page.evaluate(() => ({
        value: document.getElementById("message").value,
        focused: document.activeElement?.id,
      }));
    const clear = () =>
      ann.page.$eval("#message", (input: Dom) => {
        input.value = "";
      });

    // At the start of a line, a name gets ": "; further on, a space; an @
    // stays; letter case does not matter.
    await ann.page.focus("#message");
    await ann.page.keyboard.type("bo");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "bobby: ", focused: "message" });
    await ann.page.keyboard.type("ask @b");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), {
      value: "bobby: ask @Bea ",
      focused: "message",
    });
    // Each further Tab puts the next name that fits.
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), {
      value: "bobby: ask @bobby ",
      focused: "message",
    });
    await ann.page.keyboard.press("Enter");
    await tel.expect("ann: bobby: ask @bobby");

    // After a / at the start of the line: a command, the next at each Tab.
    await ann.page.keyboard.type("/wh");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "/who ", focused: "message" });
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "/whois ", focused: "message" });
    await ann.page.keyboard.type("be");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "/whois Bea ", focused: "message" });

    // Nothing to complete (no word, or no name fits): Tab moves the focus
    // on, as everywhere else, so the keyboard alone still gets around.
    await clear();
    await ann.page.keyboard.type("zz");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "zz", focused: "send" });
    await clear();
    await ann.page.focus("#message");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "", focused: "send" });

    // A paste (no key pressed) after a completion: the next Tab completes
    // what is there now, not the old completion's place.
    await clear();
    await ann.page.focus("#message");
    await ann.page.keyboard.type("bo");
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "bobby: ", focused: "message" });
    await ann.page.$eval("#message", (input: Dom) => {
      input.value = "thanks b";
      input.dispatchEvent(new Event("input", { bubbles: true }));
    });
    await ann.page.keyboard.press("Tab");
    assert.deepEqual(await box(), { value: "thanks Bea ", focused: "message" });
    await ann.screenshot("tab-completion");
    assertHealthy(ann);
  },
);

browserTest(
  'a conversation shown again has a "New messages" line where its unread lines start',
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using ann = await chromium.open(pageUrl(server.httpAddr!.port));
    await ann.login("ann");
    await tel.expect("ann has entered the room.");
    await tel.send("say read before");
    await tel.expect("tel: read before");
    await ann.waitForMessage("tel", "read before");
    await ann.type("/msg tel over here");
    await tel.expect("[private] ann: over here");
    await ann.waitFor(() =>
      document.getElementById("conversation-title")?.textContent === "@tel"
    );
    // More than the log shows at once comes in the room meanwhile.
    for (let i = 1; i <= 40; i++) await tel.send(`say unread ${i}`);
    await ann.waitFor(() =>
      document.querySelector("#room-list .badge")?.textContent === "40"
    );
    await ann.click("#room-list .entry-button");
    await ann.waitForMessage("tel", "unread 40");
    const shown = () =>
      ann.page.evaluate(() => {
        const log = document.querySelector(".log:not([hidden])");
        const markers = log.querySelectorAll(".unread-marker");
        const marker = markers[0];
        const scroller = document.getElementById("scroller")
          .getBoundingClientRect();
        const box = marker?.getBoundingClientRect();
        return {
          count: markers.length,
          text: marker?.textContent,
          before: marker?.previousElementSibling?.querySelector(".text")
            ?.textContent,
          after: marker?.nextElementSibling?.querySelector(".text")
            ?.textContent,
          inView: box !== undefined && box.top >= scroller.top &&
            box.bottom <= scroller.bottom,
        };
      });
    // The first unread line is in view, under the mark, rather than the
    // last one with the first ones scrolled away above it.
    assert.deepEqual(await shown(), {
      count: 1,
      text: "New messages",
      before: "read before",
      after: "unread 1",
      inView: true,
    });
    await ann.screenshot("new-messages");

    // Shown again with nothing new: the mark is gone; with new lines, it is
    // before the first of them, once.
    await ann.click('#private-list [data-private="tel"]');
    await ann.click("#room-list .entry-button");
    assert.equal((await shown()).count, 0);
    await ann.click('#private-list [data-private="tel"]');
    await tel.send("say later one");
    await ann.waitFor(() =>
      document.querySelector("#room-list .badge")?.textContent === "1"
    );
    await ann.click("#room-list .entry-button");
    await ann.waitForMessage("tel", "later one");
    const again = await shown();
    assert.deepEqual(
      [again.count, again.before, again.after],
      [1, "unread 40", "later one"],
    );
    assertHealthy(ann);
  },
);

browserTest(
  "a session the server ends shows why, and the top bar no longer says connected",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    const port = server.addr.port;
    {
      await using owner = await registered(port, "dora");
      await owner.send("logout");
      await owner.closed();
    }
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("dora", PASSWORD);
    // The account logs in elsewhere, which closes this session.
    await using other = await Client.connect(port);
    await other.expect("Welcome to TestChat");
    await other.send(`login dora ${PASSWORD}`);
    await other.waitFor((line) => line.startsWith("You are logged in as"));
    await page.waitFor(() =>
      document.body.dataset.phase === "login" &&
      document.getElementById("login-message").textContent.startsWith(
        "You have logged in again from",
      )
    );
    const status = () =>
      page.page.evaluate(() => ({
        connection: document.body.dataset.connection,
        status: document.getElementById("status").textContent,
        welcome: document.getElementById("login-welcome").textContent.trim(),
      }));
    assert.deepEqual(await status(), {
      connection: "offline",
      status: "Not connected",
      welcome: "Not connected to the server. Log in connects again.",
    });
    await page.screenshot("session-ended");
    // The form logs in again (the other session goes, in its turn).
    await page.page.type("#login-password", PASSWORD);
    await page.click("#login-submit");
    await page.waitFor(() =>
      document.getElementById("status")?.textContent === "Connected as dora"
    );
    await other.waitFor((line) =>
      line.startsWith("You have logged in again from")
    );
    assertHealthy(page);
  },
);

browserTest(
  "a ban that ends others' sessions too still says why on the form, not that the session ended",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, ops: ["root"] });
    const port = server.addr.port;
    // root elsewhere; tel a guest on the page's address, there first.
    await using root = await registered(port, "root", { from: "127.0.0.2" });
    await using tel = await Client.login(port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    // A guest is banned by address: tel goes too, and the room (ann still
    // in it) hears tel leave after ann was told of the ban.
    await root.send("ban ann 1h spam");
    await root.waitFor((line) => line.startsWith("Banned ann (127.0.0.1)"));
    await page.waitFor(() => document.body.dataset.phase === "login");
    const message = await page.page.$eval(
      "#login-message",
      (p: Dom) => p.textContent,
    );
    assert.match(message, /^You are banned from this server until .*: spam$/);
    await page.screenshot("banned-with-others");
    assertHealthy(page);
  },
);

browserTest(
  "a ban while a password question is open still says why on the form, not that the session ended",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, ops: ["root"] });
    const port = server.addr.port;
    await using root = await registered(port, "root", { from: "127.0.0.2" });
    (await registered(port, "dora")).close();
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("dora", PASSWORD);
    await root.waitFor("dora has entered the room.");
    await page.type("/password");
    await page.waitFor(() =>
      document.getElementById("message").type === "password"
    );
    // The question ends with the session: after the line that says why.
    await root.send("ban dora 1h spam");
    await root.waitFor((line) => line.startsWith("Banned dora"));
    await page.waitFor(() => document.body.dataset.phase === "login");
    const message = await page.page.$eval(
      "#login-message",
      (p: Dom) => p.textContent,
    );
    assert.match(message, /^You are banned from this server until .*: spam$/);
    assertHealthy(page);
  },
);

browserTest(
  "a line that comes while one reads further up brings a bar that goes to it",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, floodRate: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using ann = await chromium.open(pageUrl(server.httpAddr!.port));
    await ann.login("ann");
    await tel.expect("ann has entered the room.");
    for (let i = 1; i <= 40; i++) await tel.send(`say line ${i}`);
    await ann.waitForMessage("tel", "line 40");
    const state = () =>
      ann.page.evaluate(() => {
        const scroller = document.getElementById("scroller");
        return {
          bar: !document.getElementById("jump-latest").hidden,
          atBottom: scroller.scrollHeight - scroller.scrollTop -
              scroller.clientHeight < 40,
        };
      });
    assert.deepEqual(await state(), { bar: false, atBottom: true });
    // Reading further up: nothing new yet, no bar.
    await ann.page.$eval("#scroller", (scroller: Dom) => {
      scroller.scrollTop = 0;
    });
    await ann.waitFor(() =>
      document.getElementById("scroller").scrollTop === 0
    );
    assert.deepEqual(await state(), { bar: false, atBottom: false });
    await tel.send("say something new");
    await ann.waitForMessage("tel", "something new");
    // The view stays where it was, and the bar says there is more below.
    assert.deepEqual(await state(), { bar: true, atBottom: false });
    await ann.screenshot("jump-latest");
    await ann.click("#jump-latest");
    await ann.waitFor(() => document.getElementById("jump-latest").hidden);
    assert.deepEqual(await state(), { bar: false, atBottom: true });
    assert.equal(
      await ann.page.evaluate(() => document.activeElement?.id),
      "message",
    );
    // Sending while reading further up goes to the end, where the line is.
    await ann.page.$eval("#scroller", (scroller: Dom) => {
      scroller.scrollTop = 0;
    });
    await ann.waitFor(() =>
      document.getElementById("scroller").scrollTop === 0
    );
    await ann.type("my own line");
    await tel.waitFor("ann: my own line");
    await ann.waitForMessage("ann", "my own line");
    assert.deepEqual(await state(), { bar: false, atBottom: true });
    assertHealthy(ann);
  },
);

browserTest(
  "a guest who changed name comes back under the new name when the session is lost",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      resumeSeconds: 60,
    });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    await page.type("/nick anna");
    await tel.expect("ann is now known as anna.");
    await page.waitFor(() =>
      document.getElementById("status")?.textContent === "Connected as anna"
    );
    // Down for longer than the server waits: the session is gone.
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
    clock.advance(60_000);
    await tel.expect("anna has left the room.");
    proxy.release();
    // Back as anna, the name the room knew, not as ann from the form.
    await tel.expect("anna has entered the room.");
    await page.waitFor(() =>
      document.getElementById("status")?.textContent === "Connected as anna"
    );
    await page.waitForLine("this is a new session");
    // And the form offers it after a logout.
    await page.click("#logout");
    await tel.expect("anna has left the room.");
    await page.page.waitForSelector("#login-name", {
      visible: true,
      timeout: TIMEOUT_MS,
    });
    assert.equal(
      await page.page.$eval("#login-name", (input: Dom) => input.value),
      "anna",
    );
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "a line above the message box lists the commands being typed, then explains the one typed",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using ann = await chromium.open(pageUrl(server.httpAddr!.port));
    await ann.login("ann");
    const hint = () =>
      ann.page.evaluate(() => {
        const element = document.getElementById("command-hint");
        return element.hidden ? null : element.textContent;
      });
    await ann.page.focus("#message");
    assert.equal(await hint(), null);
    await ann.page.keyboard.type("/");
    assert.equal(
      await hint(),
      "A command: Tab completes it; /help lists them",
    );
    await ann.page.keyboard.type("m");
    assert.equal(
      await hint(),
      "/me  /mode  /modlog  /motd  /msg  /mute  /mutes",
    );
    await ann.page.keyboard.type("sg ");
    assert.equal(await hint(), "/msg NAME TEXT: send TEXT to NAME only");
    await ann.screenshot("command-hint");
    // Tab completes, and the hint follows.
    await ann.page.$eval("#message", (input: Dom) => {
      input.value = "";
    });
    await ann.page.keyboard.type("/whoi");
    await ann.page.keyboard.press("Tab");
    assert.equal(
      await hint(),
      "/whois NAME: show NAME's room, time connected and idle, and away message",
    );
    await ann.page.keyboard.type("ann");
    await ann.page.keyboard.press("Enter");
    await ann.waitForLine("ann is in room");
    assert.equal(await hint(), null, "gone once the line is sent");
    await ann.page.keyboard.type("/dance ");
    assert.equal(await hint(), 'No command "/dance": /help lists them');
    await ann.page.$eval("#message", (input: Dom) => {
      input.value = "";
    });
    await ann.page.keyboard.type("not a command");
    assert.equal(await hint(), null);
    // The hint is the box's description for a screen reader, which reads
    // it hidden or not: it says nothing once hidden.
    assert.deepEqual(
      await ann.page.evaluate(() => ({
        describedBy: document.getElementById("message")
          .getAttribute("aria-describedby"),
        text: document.getElementById("command-hint").textContent,
      })),
      { describedBy: "command-hint", text: "" },
    );
    assertHealthy(ann);
  },
);

Deno.test("the page's list of commands is the server's, with the same usage and summary", async () => {
  const { COMMANDS, MODERATION } = await import("../src/commands/mod.ts");
  const server = [...COMMANDS.values(), ...MODERATION.values()]
    .filter((command) => command.name !== "login")
    .map((command) => [command.usage, command.summary])
    .sort(([a], [b]) => a.localeCompare(b));
  const source = await Deno.readTextFile(
    new URL("../web/app.js", import.meta.url),
  );
  const block = source.match(/const COMMAND_HELP = (\[[\s\S]*?\n\]);/);
  assert.ok(block !== null, "COMMAND_HELP is in web/app.js");
  // The list is written as JSON would be, but for its trailing commas.
  const page = JSON.parse(block[1].replace(/,(\s*\])/g, "$1"));
  assert.deepEqual(
    [...page].sort(([a]: string[], [b]: string[]) => a.localeCompare(b)),
    server,
  );
});

browserTest(
  "the server's moments in UTC are shown in the user's own time zone",
  async (chromium) => {
    // The server's clock stands at 2026-01-01 00:00 UTC.
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      ops: ["root"],
    });
    const port = server.addr.port;
    {
      await using owner = await registered(port, "dora");
      await owner.send("logout");
      await owner.closed();
    }
    await using root = await registered(port, "root");
    await root.send("msg dora see you at the release");
    await root.waitFor((line) => line.startsWith("dora is offline"));
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    // In Berlin, an hour ahead of UTC in winter.
    await page.page.emulateTimezone("Europe/Berlin");
    await page.login("dora", PASSWORD);
    await root.waitFor("dora has entered the room.");
    await root.send("mute dora 1h calm down");
    await root.waitFor((line) => line.startsWith("Muted dora"));
    await page.waitForLine("You are muted until");
    const moment = await page.page.evaluate(() => {
      const time = [...document.querySelectorAll(".log:not([hidden]) .entry")]
        .find((entry: Dom) => entry.textContent.includes("You are muted"))
        ?.querySelector("time.moment");
      return {
        shown: time?.textContent,
        title: time?.title,
        dateTime: time?.dateTime,
      };
    });
    assert.equal(moment.title, "2026-01-01 01:00:00 UTC");
    assert.equal(moment.dateTime, "2026-01-01T01:00:00.000Z");
    assert.match(moment.shown ?? "", /\b2:00:00\b/, "01:00 UTC is 02:00 here");

    // The private message kept while dora was offline: its time is hers too,
    // and its day heads it.
    await page.click('#private-list [data-private="root"]');
    await page.waitForMessage("root", "see you at the release", "@root");
    const kept = await page.page.evaluate(() => {
      const entry = document.querySelector(
        '.log[data-conversation="@root"] .msg',
      );
      const time = entry.querySelector("time");
      return {
        shown: time?.textContent,
        dateTime: time?.dateTime,
        day: entry.dataset.day,
      };
    });
    assert.equal(kept.dateTime, "2026-01-01T00:00:00.000Z");
    assert.match(kept.shown ?? "", /^1:00\b/);
    assert.ok(kept.day !== undefined, "headed by its day");
    await page.screenshot("moments-local");
    assertHealthy(page);
  },
);

browserTest(
  "the server's lines about the room go to the room's log while a private conversation is shown",
  async (chromium) => {
    const clock = new FakeClock();
    await using server = await startServer({
      httpPort: 0,
      clock,
      resumeSeconds: 60,
      ops: ["tel"],
    });
    await using proxy = TcpProxy.open(server.httpAddr!.port);
    await using tel = await registered(server.addr.port, "tel");
    await tel.send("join den");
    await tel.waitFor((line) => line === 'You are now in room "den".');
    await using page = await chromium.open(pageUrl(proxy.port));
    await page.login("ann");
    await page.type("/join den");
    await tel.expect("ann has entered the room.");
    await page.waitForLine('You are now in room "den".');
    await tel.send("msg ann psst");
    await tel.expect("[private to ann] psst");
    await page.click('#private-list [data-private="tel"]');
    await page.waitForMessage("tel", "psst", "@tel");
    const lines = (key: string) =>
      page.page.evaluate(
        (key: string) =>
          [
            ...document.querySelectorAll(
              `.log[data-conversation="${key}"] .entry.system`,
            ),
          ].map((entry: Dom) => entry.textContent),
        key,
      );

    // The session is lost; the page logs in again and goes back to den
    // while the private conversation stays in front.
    proxy.hold();
    await proxy.cut();
    await page.waitFor(() => !document.getElementById("banner").hidden);
    await withTimeout(clock.untilPending(1), 10_000, "the session to wait");
    clock.advance(60_000);
    await tel.expect("ann has left the room.");
    const before = (await lines("room")).length;
    proxy.release();
    await tel.expect("ann has entered the room.");
    await page.waitFor(
      (count: number) =>
        document.querySelectorAll('.log[data-conversation="room"] .system')
          .length > count,
      before,
    );
    assert.ok(
      (await lines("room")).some((text) =>
        text.includes('You are now in room "den".')
      ),
      "the room's log says so",
    );
    assert.equal(
      await page.page.$eval(
        "#conversation-title",
        (title: Dom) => title.textContent,
      ),
      "@tel",
      "the private conversation is still shown",
    );
    // What one types here is answered here.
    await page.type("/whois tel");
    await page.waitForLine('tel is in room "den"');
    await page.screenshot("room-lines-private-shown");
    const shown = await lines("@tel");
    assert.ok(shown.some((text) => text.includes('tel is in room "den"')));
    assert.ok(
      shown.every((text) => !text.includes("You are now in room")),
      "nothing about the room in the private conversation",
    );

    // A kick out of den while the private conversation is shown: the page
    // shows main, and why it is there.
    await tel.send("kick ann off topic");
    await tel.expect("ann was kicked by tel: off topic");
    await page.waitFor(() =>
      document.getElementById("conversation-title").textContent === "#main"
    );
    await page.waitForLine('You were kicked from "den" by tel: off topic');
    assert.ok(
      (await lines("@tel")).every((text) => !text.includes("kicked")),
      "the kick is not in the private conversation",
    );
    assertHealthy(page, [/WebSocket connection to .* failed/]);
  },
);

browserTest(
  "a private conversation's side panel shows the person and where they are, not the room's members",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    const panel = () =>
      page.page.evaluate(() => ({
        toggle: document.getElementById("members-toggle").textContent
          .replace(/\s+/g, " ").trim(),
        title: document.getElementById("members-title").textContent
          .replace(/\s+/g, " ").trim(),
        listShown: !document.getElementById("member-list").hidden &&
          document.getElementById("member-list").offsetParent !== null,
        person: document.getElementById("person").hidden
          ? null
          : document.getElementById("person-name").textContent,
        status: document.getElementById("person").hidden
          ? null
          : document.getElementById("person-status").textContent,
      }));
    assert.deepEqual(await panel(), {
      toggle: "Members 2",
      title: "Members of #main",
      listShown: true,
      person: null,
      status: null,
    });

    await page.click('#member-list [data-member="tel"]');
    await page.waitFor(() =>
      document.getElementById("conversation-title").textContent === "@tel"
    );
    assert.deepEqual(await panel(), {
      toggle: "Details",
      title: "Talking with",
      listShown: false,
      person: "tel",
      status: "Online, in #main",
    });
    await page.screenshot("private-person-panel");

    // Away: the answer to a private message says so, and the panel too.
    await tel.send("away lunch");
    await tel.expect("You are marked as away: lunch");
    await page.type("are you there?");
    await tel.expect("[private] ann: are you there?");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch, in #main"
    );
    // Away with no reason: just away, no made-up reason.
    await tel.send("away");
    await tel.expect("You are marked as away");
    await page.type("still out?");
    await tel.expect("[private] ann: still out?");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away, in #main"
    );
    await tel.send("away lunch");
    await tel.expect("You are marked as away: lunch");
    await page.type("and now?");
    await tel.expect("[private] ann: and now?");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch, in #main"
    );
    // Gone to another room: "Who is" finds them.
    await tel.send("join den");
    await tel.waitFor((line) => line === 'You are now in room "den".');
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch; not in #main"
    );
    await page.click("#person-whois");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch, in #den"
    );
    await page.waitForLine('tel is in room "den"');
    // Back in main, then gone from the server.
    await tel.send("join main");
    await tel.waitFor((line) => line === 'You are now in room "main".');
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch, in #main"
    );
    tel.close();
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Away: lunch; not in #main"
    );
    await page.type("bye?");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent === "Offline"
    );
    await page.screenshot("private-person-offline");

    // Back in the room, the members again.
    await page.click('#room-list [data-room="main"]');
    assert.deepEqual(await panel(), {
      toggle: "Members 1",
      title: "Members of #main",
      listShown: true,
      person: null,
      status: null,
    });
    assertHealthy(page);
  },
);

browserTest(
  "a private conversation with an offline account says whether the message was kept",
  async (chromium) => {
    await using server = await startServer({
      httpPort: 0,
      offlineMax: 5,
      offlinePerSender: 1,
    });
    (await registered(server.addr.port, "tel")).close();
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await page.type("/msg tel first");
    await page.waitForLine(
      "tel is offline and will get your message at their next login",
    );
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Offline: your messages wait for their next login"
    );
    await page.type("second");
    await page.waitForLine(
      "tel is offline and has 1 of your messages waiting, the most one sender may leave; yours was not kept",
    );
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Offline: too many messages wait for them; yours was not kept"
    );
    // Not kept: it comes back to the message box.
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.value),
      "second",
    );
    await page.page.$eval("#message", (input: Dom) => input.value = "");
    // whois of the account offline says so too.
    await page.type("/whois tel");
    await page.waitForLine(
      "tel is a registered user, offline (last logged in ",
    );
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Offline: a registered user; a message waits for their next login"
    );
    assertHealthy(page);
  },
);

browserTest(
  "a reply to someone who has logged out marks them offline in the side panel",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    {
      await using tel = await Client.login(server.addr.port, "tel");
      await tel.send("msg ann psst");
      await page.click('#sidebar [data-private="tel"]');
      await page.waitForMessage("tel", "psst");
    }
    await page.waitFor(() =>
      document.getElementById("person-status").textContent === "Not in #main"
    );
    await page.type("/reply still there?");
    await page.waitForLine("tel, who wrote to you, has logged out");
    await page.waitFor(() =>
      document.getElementById("person-status").textContent ===
        "Offline: logged out; the name may be someone else's now"
    );
    assertHealthy(page);
  },
);

browserTest(
  "a right-to-left name and the text after it keep their own places, and Hebrew is typed right to left",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await using dani = await Client.login(server.addr.port, "דני");
    await dani.send("say 3 of us are coming");
    await page.waitForMessage("דני", "3 of us are coming");
    // Without isolation, the 3 joins the Hebrew name's run and is drawn
    // before it: "3 ינד of us are coming".
    const places = await page.page.evaluate(() => {
      const item = document.querySelector('.msg[data-from="דני"]');
      const range = document.createRange();
      const text = item.querySelector(".text").firstChild;
      range.setStart(text, 0);
      range.setEnd(text, 1);
      return {
        nameRight: item.querySelector(".nick").getBoundingClientRect().right,
        digitLeft: range.getBoundingClientRect().left,
      };
    });
    assert.ok(places.digitLeft >= places.nameRight, JSON.stringify(places));
    // A reply typed in Hebrew runs right to left as it is typed ("!" last,
    // on the left), and a line in English again left to right.
    await page.page.focus("#message");
    await page.page.keyboard.type("שלום!");
    const typed = () =>
      page.page.$eval("#message", (input: Dom) => input.matches(":dir(rtl)"));
    assert.equal(await typed(), true, "right to left");
    await page.page.keyboard.press("Enter");
    await dani.waitFor("ann: שלום!");
    await page.page.keyboard.type("hi!");
    assert.equal(await typed(), false, "left to right");
    await page.screenshot("rtl-name");
    assertHealthy(page);
  },
);

browserTest(
  "a message too long for the server comes back to the message box",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    // 600 letters, but 1,200 bytes: more than a line may hold.
    const long = "я".repeat(600);
    await page.paste(long);
    await page.waitForLine("Line too long (max 1024 bytes)");
    assert.equal(
      await page.page.$eval("#message", (input: Dom) => input.value),
      long,
    );
    assertHealthy(page);
  },
);

browserTest(
  "a private message the server refuses comes back to the message box",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    const box = () => page.page.$eval("#message", (input: Dom) => input.value);
    {
      await using tel = await Client.login(server.addr.port, "tel");
      await tel.send("msg ann psst");
      await page.click('#sidebar [data-private="tel"]');
      await page.waitForMessage("tel", "psst");
      // Delivered: this one is answered, and is not the one to come back.
      await page.type("got it");
      await tel.waitFor((line) => line.endsWith("ann: got it"));
    }
    await page.waitFor(() =>
      document.getElementById("person-status").textContent === "Not in #main"
    );
    // The box was cleared on send, and the text lost with it.
    await page.type("are you still there?");
    await page.waitForLine('No one called "tel" is online');
    assert.equal(await box(), "are you still there?");
    // Typed as a command, in the room: it comes back as typed.
    await page.page.$eval("#message", (input: Dom) => input.value = "");
    await page.click('#room-list [data-room="main"]');
    await page.type("/msg @nobody see you at eight");
    await page.waitForLine('No one called "nobody" is online');
    assert.equal(await box(), "/msg @nobody see you at eight");
    assertHealthy(page);
  },
);

browserTest(
  "a refusal brings back no message answered by something else, nor one typed before a logout",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0, ops: ["root"] });
    const port = server.addr.port;
    await using root = await registered(port, "root", { from: "127.0.0.2" });
    const tel = await Client.login(port, "tel", { from: "127.0.0.3" });
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await root.waitFor("ann has entered the room.");
    const box = () => page.page.$eval("#message", (input: Dom) => input.value);
    await root.send("mute ann 1h shh");
    await page.waitForLine("You are muted");
    // Answered by the mute: a refusal the page does not count.
    await page.type("/msg tel hi");
    await page.waitFor(() =>
      [...document.querySelectorAll(".log:not([hidden]) .entry")].filter((
        entry: Dom,
      ) => entry.textContent.includes("You are muted")).length === 2
    );
    await root.send("unmute ann");
    await page.waitForLine("You are no longer muted");
    await page.click("#logout");
    await root.waitFor("ann has left the room.");
    await page.waitFor(() => document.body.dataset.phase === "login");
    await page.page.$eval("#login-name", (input: Dom) => input.value = "");
    await page.login("bob");
    await root.waitFor("bob has entered the room.");
    await tel.send("logout");
    await tel.closed();
    // "No one called tel": bob's whois, not ann's message to tel.
    await page.type("/whois tel");
    await page.waitForLine('No one called "tel" is online');
    assert.equal(await box(), "");
    assertHealthy(page);
  },
);

browserTest(
  "a run of joins and leaves is one line that opens to show them all",
  async (chromium) => {
    await using server = await startServer({ httpPort: 0 });
    await using tel = await Client.login(server.addr.port, "tel");
    await using page = await chromium.open(pageUrl(server.httpAddr!.port));
    await page.login("ann");
    await tel.expect("ann has entered the room.");
    /** What the log shows, as a reader sees it (times left out). */
    const shown = () =>
      page.page.evaluate(() =>
        [...document.querySelectorAll(".log:not([hidden]) > .entry")]
          .filter((entry: Dom) => entry.offsetParent !== null)
          .map((entry: Dom) =>
            entry.querySelector(".body")?.textContent.trim() ?? ""
          )
      );
    const names = Array.from({ length: 12 }, (_, i) => `u${i + 10}`);
    const clients: Client[] = [];
    try {
      for (const name of names) {
        clients.push(await Client.login(server.addr.port, name));
        await tel.expect(`${name} has entered the room.`);
      }
      for (const client of clients.splice(0, 2)) client.close();
      await tel.expect("u10 has left the room.");
      await tel.expect("u11 has left the room.");
      await page.waitFor(() =>
        document.querySelectorAll(".log:not([hidden]) .event-left").length ===
          2
      );
      assert.deepEqual(await shown(), [
        "u10, u11 and 10 others joined, u10 and u11 left",
      ]);
      const summary = await page.page.evaluate(() => {
        const button = document.querySelector(".condensed-toggle");
        return {
          expanded: button.getAttribute("aria-expanded"),
          lines: document.querySelectorAll(".log:not([hidden]) .event").length,
          hidden: document.querySelectorAll(
            ".log:not([hidden]) .event[hidden]",
          ).length,
        };
      });
      assert.deepEqual(summary, { expanded: "false", lines: 15, hidden: 14 });
      await page.screenshot("joins-condensed");

      // Opened: every line, under the summary.
      await page.click(".condensed-toggle");
      await page.waitFor(() =>
        document.querySelector(".condensed-toggle")
          .getAttribute("aria-expanded") === "true"
      );
      const open = await shown();
      assert.equal(open.length, 15);
      assert.equal(open[1], "u10 has entered the room.");
      assert.equal(open[14], "u11 has left the room.");
      await page.screenshot("joins-expanded");
      await page.click(".condensed-toggle");
      await page.waitFor(() =>
        document.querySelector(".condensed-toggle")
          .getAttribute("aria-expanded") === "false"
      );

      // A line said ends the run; a join after it stands alone, and the
      // next starts a run of its own.
      await tel.send("say hello all");
      await tel.expect("tel: hello all");
      await page.waitForMessage("tel", "hello all");
      clients.push(await Client.login(server.addr.port, "late"));
      await tel.expect("late has entered the room.");
      await page.waitForLine("late has entered the room.");
      assert.deepEqual((await shown()).slice(1), [
        "telhello all",
        "late has entered the room.",
      ]);
      clients.pop()?.close();
      await tel.expect("late has left the room.");
      await page.waitFor(() =>
        document.querySelectorAll(".log:not([hidden]) .condensed").length === 2
      );
      assert.deepEqual((await shown()).slice(1), [
        "telhello all",
        "late joined, late left",
      ]);
    } finally {
      for (const client of clients) client.close();
    }
    assertHealthy(page);
  },
);
