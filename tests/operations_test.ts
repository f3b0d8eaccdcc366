import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  Client,
  loginAccount,
  PASSWORD,
  registered,
  ServerProcess,
  withTimeout,
} from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Whether the sqlite3 shell is installed. */
function hasSqlite3(): boolean {
  try {
    return new Deno.Command("sqlite3", { args: ["-version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/**
 * The `sqlite3` lines of the first ```sh block after `heading` in `file`
 * (also in a `(umask 077; ...)`), each after the block's `umask` line if
 * it has one.
 */
function commandsAfter(file: string, heading: string): string[] {
  const text = Deno.readTextFileSync(`${ROOT}/${file}`);
  const from = text.indexOf(heading);
  assert.ok(from >= 0, `${heading} in ${file}`);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(from));
  assert.ok(block, `a sh block after ${heading} in ${file}`);
  const lines = block[1].split("\n");
  const umask = lines.find((line) => line.startsWith("umask "));
  const commands = lines.filter((line) =>
    /^(\(umask \d+; )?sqlite3 /.test(line)
  ).map((line) => umask === undefined ? line : `${umask}\n${line}`);
  assert.ok(commands.length > 0, `sqlite3 commands after ${heading}`);
  return commands;
}

/** Runs `command` with sh in `cwd`; fails unless it exits 0 within 30 s. */
async function sh(command: string, cwd: string): Promise<void> {
  const output = await withTimeout(
    new Deno.Command("sh", { args: ["-c", command], cwd, stderr: "piped" })
      .output(),
    30_000,
    command,
  );
  assert.ok(
    output.success,
    `${command}: ${new TextDecoder().decode(output.stderr)}`,
  );
}

function server(db: string): Promise<ServerProcess> {
  return ServerProcess.start(
    ServerProcess.mainArgs("--db", db, "--flood-rate", "0"),
  );
}

Deno.test({
  name:
    "the backup commands of docs/operations.md and the README copy a running server's database under chat, and the server starts on the copy",
  ignore: !hasSqlite3(),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const db = `${dir}/chat.db`;
      await Deno.mkdir(`${dir}/backup`);
      // The docs' paths, here: operations.md's are absolute, the README's
      // are in the server's folder.
      const commands = [
        ...commandsAfter("docs/operations.md", "## Backups").map((line) =>
          line.replaceAll("/var/lib/chat/", `${dir}/`).replaceAll(
            "/backup/",
            `${dir}/backup/`,
          )
        ),
        ...commandsAfter("README.md", "**Backups while it runs.**"),
      ];
      {
        await using running = await server(db);
        (await registered(running.port, "alice")).close();
        await using bob = await Client.login(running.port, "bob");
        await bob.send("say before the backups");
        // history reads the store, which commits what is queued first.
        await bob.send("history 1");
        await bob.waitFor("[history] bob: before the backups");
        // Another room chats during the backups: a room keeps its last
        // --history-keep lines, and as many lines said in main while the
        // backups ran (fast, with flood control off) would trim bob's out.
        await using carol = await Client.login(running.port, "carol");
        await carol.send("join busy");
        await carol.waitFor('You are now in room "busy".');
        let chatting = true;
        let said = 0;
        const chat = (async () => {
          while (chatting) {
            await carol.send(`say line ${++said}`);
            await carol.waitFor(`carol: line ${said}`);
          }
        })();
        try {
          for (const command of commands) await sh(command, dir);
        } finally {
          chatting = false;
          await chat;
        }
        assert.ok(said > 0, "carol chatted during the backups");
        // The server still writes once the backups' processes are gone.
        await bob.send("say after the backups");
        await bob.send("history 1");
        await bob.waitFor("[history] bob: after the backups");
      }
      const copies = [
        ...Deno.readDirSync(`${dir}/backup`).map((entry) =>
          `${dir}/backup/${entry.name}`
        ),
        `${dir}/backup.db`,
      ];
      assert.equal(copies.length, commands.length);
      for (const copy of copies) {
        // It holds password hashes: the docs' commands keep it the owner's.
        assert.equal((await Deno.stat(copy)).mode! & 0o077, 0, copy);
        const file = new DatabaseSync(copy, { readOnly: true });
        try {
          assert.equal(
            file.prepare("PRAGMA integrity_check").get()?.integrity_check,
            "ok",
          );
          assert.equal(
            file.prepare("SELECT name FROM accounts").get()?.name,
            "alice",
          );
          assert.equal(
            file.prepare(
              "SELECT count(*) AS n FROM history WHERE text = 'before the backups'",
            ).get()?.n,
            1,
          );
        } finally {
          file.close();
        }
      }
      // The restore, as operations.md does it.
      for (const copy of copies) {
        await Deno.remove(`${db}-wal`).catch(() => {});
        await Deno.remove(`${db}-shm`).catch(() => {});
        await Deno.copyFile(copy, db);
        await using restored = await server(db);
        await using alice = await loginAccount(restored.port, "alice");
        await alice.send("history 200");
        await alice.waitFor("[history] bob: before the backups");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A record as the server writes it: one line, timestamp, level, category. */
const RECORD =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d(?::\d\d)? \[(?:TRC|DBG|INF|WRN|ERR|FTL)\] chat·[a-z]+: \S/;

Deno.test("the log says each moderation action once, with who, what, to whom and why, and every line it writes is one record", async () => {
  await using running = await ServerProcess.start(
    ServerProcess.mainArgs("--db", ":memory:", "--op", "root"),
  );
  await using root = await registered(running.port, "root");
  {
    await using alice = await registered(running.port, "alice");
    await alice.send("logout");
    await alice.closed();
  }
  await using bob = await Client.login(running.port, "bob");
  await root.waitFor("bob has entered the room.");
  await root.send("say words nobody logs");
  await root.waitFor("root: words nobody logs");
  // What a moderator types is cleaned as any line is: the escape, the C1
  // line break (NEL) and the vertical tab cannot start a forged record.
  await root.send(
    "kick bob spam\u0085\u000b2026-12-01 20:15:03.412 +00 [INF] chat·server: forged \u001b[31mred",
  );
  await root.waitFor((line) => line.startsWith("bob was kicked by root"));
  await bob.closed();
  await root.send("ban alice 2h bot wave");
  await root.waitFor((line) => line.startsWith("Banned alice"));
  await root.send("lockdown on");
  await root.expect("Lockdown is on: only registered users may log in");
  await root.send("join Den");
  await root.waitFor('You are now in room "Den".');
  await root.send("claim");
  await root.waitFor((line) => line.startsWith('You now own "Den"'));
  const status = await running.stop();
  assert.equal(status.code, 0);
  const lines = running.stderr.trimEnd().split("\n");
  for (const line of lines) assert.match(line, RECORD);
  const moderation = lines.filter((line) => line.includes("Moderation: "))
    .map((line) => line.replace(/^.*?\] /, ""));
  assert.equal(moderation.length, 4, running.stderr);
  assert.equal(
    moderation[0],
    "chat·moderation: Moderation: root kick bob on room main: spam2026-12-01 20:15:03.412 +00 [INF] chat·server: forged [31mred",
  );
  assert.match(
    moderation[1],
    /^chat·moderation: Moderation: root ban alice on the server until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z: bot wave$/,
  );
  assert.equal(
    moderation[2],
    "chat·moderation: Moderation: root lockdown on",
  );
  assert.equal(
    moderation[3],
    "chat·moderation: Moderation: root claim on room den",
  );
  assert.doesNotMatch(running.stderr, /words nobody logs/, "no chat text");
  assert.ok(!running.stderr.includes(PASSWORD), "no password");
});
