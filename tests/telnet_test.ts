import assert from "node:assert/strict";
import { Client, startServer, typeInto } from "./helpers.ts";
import { missingProgram } from "./required.ts";

/** Where Debian's telnet is, if it is installed. */
function findTelnet(): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/telnet`).isFile) return `${dir}/telnet`;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const telnet = findTelnet();
const reason = "telnet is not installed (apt-get install telnet; .ci/run does)";
missingProgram(telnet ? null : reason, "telnet test");

Deno.test({
  name: telnet
    ? "the real telnet client logs in and talks"
    : `the real telnet client logs in and talks (ignored: ${reason})`,
  ignore: !telnet,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    const text = await typeInto(
      telnet!,
      ["127.0.0.1", String(port)],
      async (type) => {
        await type("login tel");
        await watcher.expect("tel has entered the room.");
        await type("say hello from telnet");
        await watcher.expect("tel: hello from telnet");
        await type("look");
        await type("logout");
        await watcher.expect("tel has left the room.");
      },
    );
    assert.match(text, /Welcome to TestChat\r?\n/);
    assert.match(text, /tel: hello from telnet\r?\n/);
    assert.match(
      text,
      /The following are in this room:\r?\nwatcher\r?\ntel\r?\n/,
    );
  },
});

/** Where a program is on PATH, if it is installed. */
function which(program: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${program}`).isFile) return `${dir}/${program}`;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

const tmux = which("tmux");
const tmuxReason = !telnet
  ? reason
  : "tmux is not installed (apt-get install tmux; .ci/run does)";
const terminal = telnet !== null && tmux !== null;
missingProgram(terminal ? null : tmuxReason, "telnet-in-a-terminal test");

/**
 * Debian's telnet in a real terminal: tmux runs it, keys are typed into it,
 * and the screen is read back, as a person would see it.
 */
class Terminal implements AsyncDisposable {
  readonly #socket = `chat-test-${Deno.pid}-${
    Math.random().toString(36).slice(2)
  }`;

  static async open(command: string): Promise<Terminal> {
    const terminal = new Terminal();
    await terminal.#tmux("new-session", "-d", "-x", "120", "-y", "50", command);
    return terminal;
  }

  /** Types `text` and Enter. */
  async type(text: string): Promise<void> {
    await this.#tmux("send-keys", "-t", "0", "-l", text);
    await this.#tmux("send-keys", "-t", "0", "Enter");
  }

  /** Presses a key, in tmux's words (`C-c`). */
  async press(key: string): Promise<void> {
    await this.#tmux("send-keys", "-t", "0", key);
  }

  /** What the screen shows now. */
  async screen(): Promise<string> {
    return await this.#tmux("capture-pane", "-p", "-t", "0", "-S", "-1000");
  }

  /** Waits until the screen shows `text`; returns the screen. */
  async shows(text: string, ms = 10_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (true) {
      const screen = await this.screen();
      if (screen.includes(text)) return screen;
      if (Date.now() > deadline) {
        throw new Error(
          `The terminal never showed ${JSON.stringify(text)}:\n${screen}`,
        );
      }
      // Polling the screen: each capture is a process of its own.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
  }

  async #tmux(...args: string[]): Promise<string> {
    const output = await new Deno.Command(tmux!, {
      args: ["-L", this.#socket, ...args],
      stdin: "null",
      env: { TERM: "xterm" },
    }).output();
    if (!output.success) {
      throw new Error(
        `tmux ${args[0]}: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
    return new TextDecoder().decode(output.stdout);
  }
}

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal does not show a password as it is typed"
    : `the real telnet client in a terminal does not show a password as it is typed (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    const secret = "Tr0ub4dor&3x";
    const next = "c0rrect-h0rse";
    await using watcher = await Client.login(port, "watcher");
    {
      await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
      await screen.shows("Welcome to TestChat");
      await screen.type("login tel");
      await watcher.expect("tel has entered the room.");
      await screen.type("register");
      await screen.shows("Choose a password");
      await screen.type(secret);
      await screen.shows("Type the same password again:");
      await screen.type(secret);
      const after = await screen.shows('Registered "tel"');
      assert.ok(!after.includes(secret), `the password showed:\n${after}`);
      // Telnet answered each WONT ECHO with DONT ECHO: the next prompts on
      // this connection hide what is typed all the same.
      await screen.type("password");
      await screen.shows("Your current password");
      await screen.type(secret);
      await screen.shows("Your new password");
      await screen.type(next);
      await screen.shows("Type the same password again:");
      await screen.type(next);
      const changed = await screen.shows("Your password is changed.");
      for (const typed of [secret, next]) {
        assert.ok(!changed.includes(typed), `a password showed:\n${changed}`);
      }
      await screen.type("say typing shows again");
      const echoed = await screen.shows("tel: typing shows again");
      assert.match(echoed, /^say typing shows again$/m, "the echo is back on");
      await screen.type("logout");
      await watcher.expect("tel: typing shows again");
      await watcher.expect("tel has left the room.");
    }
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.type("login tel");
    await screen.shows("Password for tel (a blank line cancels):");
    await screen.type(next);
    const after = await screen.shows("You are logged in as tel.");
    assert.ok(!after.includes(next), `the password showed:\n${after}`);
    await watcher.expect("tel has entered the room.");
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal shows the chat again after ^C"
    : `the real telnet client in a terminal shows the chat again after ^C (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.type("login tel");
    await watcher.expect("tel has entered the room.");
    // Telnet sends IAC IP IAC DO TIMING-MARK and shows nothing the server
    // sends until the server answers the DO.
    await screen.press("C-c");
    await screen.type("say still here");
    await watcher.expect("tel: still here");
    await watcher.send("say welcome back");
    const after = await screen.shows("watcher: welcome back");
    assert.match(after, /^tel: still here$/m);
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal sends Cyrillic whole once it has shown it is telnet"
    : `the real telnet client in a terminal sends Cyrillic whole once it has shown it is telnet (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.type("login tel");
    await watcher.expect("tel has entered the room.");
    // "я" is D1 8F: telnet takes the 8F for ^O and sends IAC AO IAC DO
    // TIMING-MARK instead; the answer asks it for its bytes as they are.
    await screen.type("say я");
    await watcher.waitFor((line) => line.startsWith("tel: "));
    // "Н" (D0 9D) would be ^], telnet's escape; "Ü" (C3 9C), ^\.
    await screen.type("say Нет, я тут: Ü");
    await watcher.expect("tel: Нет, я тут: Ü");
    await screen.type("say and back to ASCII");
    await watcher.expect("tel: and back to ASCII");
    const after = await screen.shows("tel: and back to ASCII");
    assert.ok(!after.includes("telnet>"), `telnet's prompt opened:\n${after}`);
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal takes a Cyrillic password at the first prompt"
    : `the real telnet client in a terminal takes a Cyrillic password at the first prompt (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    // "я" ends in a byte telnet reads as ^O, "Н" in its escape, ^].
    const secret = "Неясно-Ü-1";
    await using watcher = await Client.login(port, "watcher");
    {
      await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
      await screen.shows("Welcome to TestChat");
      await screen.type("login tel");
      await screen.type("register");
      await screen.shows("Choose a password");
      await screen.type(secret);
      await screen.shows("Type the same password again:");
      await screen.type(secret);
      const after = await screen.shows('Registered "tel"');
      assert.ok(
        !after.includes("telnet>"),
        `telnet's prompt opened:\n${after}`,
      );
      await screen.type("logout");
      await watcher.waitFor("tel has left the room.");
    }
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.type("login tel");
    await screen.shows("Password for tel (a blank line cancels):");
    await screen.type(secret);
    const after = await screen.shows("You are logged in as tel.");
    assert.ok(!after.includes(secret), `the password showed:\n${after}`);
    await watcher.waitFor("tel has entered the room.");
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal cancels a password question with ^C, and shows what is typed again"
    : `the real telnet client in a terminal cancels a password question with ^C, and shows what is typed again (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.type("login tel");
    await watcher.expect("tel has entered the room.");
    await screen.type("register");
    await screen.shows("Choose a password");
    await screen.press("h");
    await screen.press("C-c");
    await screen.shows("Cancelled.");
    await screen.type("say not a password");
    await watcher.expect("tel: not a password");
    const after = await screen.shows("tel: not a password");
    assert.match(after, /^say not a password$/m, "the echo is back on");
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in a terminal logs in as Åsa at the second try, and is told why the first failed"
    : `the real telnet client in a terminal logs in as Åsa at the second try, and is told why the first failed (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    // "Å" is C3 85: telnet drops the 85 (^E) until it is asked for binary.
    await screen.type("login Åsa");
    await screen.shows("some of its bytes are not UTF-8; type it again");
    await screen.type("login Åsa");
    await watcher.expect("Åsa has entered the room.");
  },
});

Deno.test({
  name: terminal
    ? "the real telnet client in character mode shows what is typed, and its Backspace and ^U edit the line"
    : `the real telnet client in character mode shows what is typed, and its Backspace and ^U edit the line (ignored: ${tmuxReason})`,
  ignore: !terminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(`${telnet} 127.0.0.1 ${port}`);
    await screen.shows("Welcome to TestChat");
    await screen.press("C-]");
    await screen.shows("telnet>");
    await screen.type("mode character");
    // Each key now goes as it is typed: Backspace as DEL, ^U as NAK.
    await screen.press("login tx");
    await screen.press("BSpace");
    await screen.type("el");
    await watcher.expect("tel has entered the room.");
    await screen.press("say helo");
    await screen.press("BSpace");
    await screen.type("lo");
    await watcher.expect("tel: hello");
    await screen.press("say oops");
    await screen.press("C-u");
    await screen.type("say fine");
    await watcher.expect("tel: fine");
    // Telnet was told the server does not echo, so it shows the keys itself.
    const after = await screen.shows("tel: fine");
    assert.match(after, /say fine/, `what was typed did not show:\n${after}`);
  },
});

const busybox = which("busybox");
const busyboxReason =
  "busybox is not installed (apt-get install busybox; .ci/run does)";
const busyboxTerminal = busybox !== null && tmux !== null;
missingProgram(
  busyboxTerminal ? null : (busybox === null ? busyboxReason : tmuxReason),
  "busybox-telnet-in-a-terminal test",
);

Deno.test({
  name: busyboxTerminal
    ? "busybox's telnet in a terminal registers with a password corrected by Backspace, shown neither time, and is told when it will show"
    : `busybox's telnet in a terminal registers with a password corrected by Backspace, shown neither time, and is told when it will show (ignored: ${
      busybox === null ? busyboxReason : tmuxReason
    })`,
  ignore: !busyboxTerminal,
  async fn() {
    await using server = await startServer();
    const port = server.addr.port;
    const secret = "Tr0ub4dor&3x";
    await using watcher = await Client.login(port, "watcher");
    await using screen = await Terminal.open(
      `${busybox} telnet 127.0.0.1 ${port}`,
    );
    await screen.shows("Welcome to TestChat");
    await screen.type("login bb");
    await watcher.expect("bb has entered the room.");
    await screen.type("register");
    // At IAC WILL ECHO busybox goes to character mode: each key is sent as
    // it is typed, Backspace as DEL, and nothing is shown.
    await screen.shows("Entering character mode");
    await screen.press(secret.slice(0, -1) + "q");
    await screen.press("BSpace");
    await screen.type(secret.slice(-1));
    await screen.shows("Type the same password again:");
    await screen.type(secret);
    const after = await screen.shows('Registered "bb"');
    for (const typed of [secret, secret.slice(0, -1)]) {
      assert.ok(!after.includes(typed), `the password showed:\n${after}`);
    }
    // Back in line mode (IAC WONT ECHO), where busybox stays for good: it
    // shows what is typed, and refuses the next WILL ECHO.
    await screen.shows("Entering line mode");
    await screen.type("say typing shows again");
    const echoed = await screen.shows("bb: typing shows again");
    assert.match(echoed, /^say typing shows again$/m, "the echo is back on");
    await screen.type("password");
    await screen.shows("Your client did not agree to hide what you type");
    await screen.type("");
    await screen.shows("Cancelled.");
    await screen.type("say bye");
    await watcher.expect("bb: typing shows again");
    await watcher.expect("bb: bye");
  },
});
