import assert from "node:assert/strict";
import { relative } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { Client, ServerProcess, TIMEOUT_MS } from "./helpers.ts";
import { makeCertificate, openssl } from "./tls_helpers.ts";
import { redisMissing, RedisServer } from "./redis_helpers.ts";

/**
 * Runs main.ts with `args` to its end: for flags it refuses, so it is
 * killed after a minute rather than left to hang the suite if it does not.
 */
async function runMain(...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    signal: AbortSignal.timeout(60_000),
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "main.ts",
      ...args,
    ],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
  }).output();
}

Deno.test("main: SIGTERM says goodbye to every session and exits 0", async () => {
  await using server = await ServerProcess.start();
  await using alice = await Client.login(server.port, "alice");
  await alice.send("say before the end");
  await alice.expect("alice: before the end");
  const status = await server.stop("SIGTERM");
  await alice.expect("Server is shutting down.");
  assert.deepEqual(await alice.closed(), []);
  assert.equal(status.code, 0);
  assert.match(server.stderr, /Connected 127\.0\.0\.1:\d+/);
  assert.match(server.stderr, /Stopped/);
  assert.doesNotMatch(server.stderr, /before the end/, "no chat text in logs");
  // Which version this start ran, once it was up.
  assert.equal(
    server.stderr.split("\n").filter((line) =>
      line.endsWith(
        `[INF] chat·server: Started chat-server ${denoJson.version} on Deno ${Deno.version.deno}`,
      )
    ).length,
    1,
    server.stderr,
  );
});

Deno.test("main: SIGINT stops it the same way", async () => {
  await using server = await ServerProcess.start();
  await using guest = await Client.connect(server.port);
  await guest.expect("Welcome to TestChat");
  const status = await server.stop("SIGINT");
  await guest.expect("Server is shutting down.");
  assert.equal(status.code, 0);
});

Deno.test("main: SIGHUP (its terminal gone) stops it the same way", async () => {
  await using server = await ServerProcess.start();
  await using alice = await Client.login(server.port, "alice");
  const status = await server.stop("SIGHUP");
  await alice.expect("Server is shutting down.");
  assert.deepEqual(await alice.closed(), []);
  assert.equal(status.code, 0);
});

Deno.test("main: deno task start passes flags through", async () => {
  await using server = await ServerProcess.start([
    "task",
    "start",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--name",
    "FlagChat",
    "--db",
    ":memory:",
    "--no-http",
  ]);
  await using client = await Client.connect(server.port);
  await client.expect("Welcome to FlagChat");
  assert.equal((await server.stop("SIGTERM")).code, 0);
});

Deno.test("main: the log names the database file, a relative --db made absolute", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const project = fileURLToPath(new URL("..", import.meta.url));
    const db = relative(project, `${dir}/here.db`);
    await using server = await ServerProcess.start(
      ServerProcess.mainArgs("--db", db),
    );
    assert.equal((await server.stop()).code, 0);
    assert.match(server.stderr, /Using the database (.*)\n/);
    assert.equal(
      server.stderr.match(/Using the database (.*)\n/)![1],
      `${dir}/here.db`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a flag it refuses is one line on stderr, exit code 2", async () => {
  // One line: `systemctl status` shows a unit's last lines, and the usage
  // after the error would push the error out of them.
  for (
    const [args, error] of [
      [["--bogus"], /^error: Unknown option '--bogus'/],
      [["--port", "eighty"], /^error: Invalid value "eighty" for --port/],
      // node:util's parseArgs says this one in three lines.
      [["--flood-rate", "-1"], /^error: Option '--flood-rate' argument/],
    ] as const
  ) {
    const { code, stderr, stdout } = await runMain(...args);
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 2, args.join(" "));
    assert.equal(text.split("\n").length, 2, `one line: ${text}`);
    assert.match(text, error);
    assert.match(text, /\(--help lists the flags\)\n$/);
    assert.equal(stdout.length, 0);
  }
});

Deno.test("main: --help and --version", async () => {
  const help = await runMain("--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /--max-queue-bytes N/);
  const version = await runMain("--version");
  assert.equal(version.code, 0);
  assert.equal(
    new TextDecoder().decode(version.stdout).trim(),
    `chat-server ${denoJson.version}`,
  );
});

Deno.test("main: a --motd that cannot be read is one line naming the flag and the file, exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const path of [`${dir}/missing.txt`, dir]) {
      const { code, stderr } = await runMain(
        ...["--host", "127.0.0.1", "--port", "0", "--db", ":memory:"],
        ...["--no-http", "--motd", path],
      );
      const text = new TextDecoder().decode(stderr);
      assert.equal(code, 1);
      assert.equal(text.trimEnd().split("\n").length, 1, text);
      assert.match(
        text,
        new RegExp(
          `Cannot read the message of the day \\(--motd\\) "${path}": `,
        ),
      );
      assert.doesNotMatch(text, /Cannot start|\n\s+at /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a port in use is a clear error, exit code 1", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stderr } = await runMain(
    "--host",
    "127.0.0.1",
    "--port",
    String(taken.addr.port),
    "--db",
    ":memory:",
    "--no-http",
  );
  assert.equal(code, 1);
  assert.match(
    new TextDecoder().decode(stderr),
    /Cannot listen on 127\.0\.0\.1:\d+/,
  );
});

Deno.test("main: a busy --http-port is named as the port that failed", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { code, stderr } = await runMain(
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http-port",
    String(taken.addr.port),
    "--db",
    ":memory:",
  );
  assert.equal(code, 1);
  assert.match(
    new TextDecoder().decode(stderr),
    new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${taken.addr.port}: `),
  );
});

Deno.test("main: a database it cannot use is one clear line and exit code 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const expectRefusal = (
      output: Deno.CommandOutput,
      why: RegExp,
    ) => {
      const text = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 1, text);
      assert.match(text, why);
      assert.equal(text.trim().split("\n").length, 1, text);
      assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
    };
    const newer = `${dir}/newer.db`;
    const db = new DatabaseSync(newer);
    db.exec("PRAGMA user_version = 999");
    db.close();
    expectRefusal(
      await runMain(
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-http",
        "--db",
        newer,
      ),
      /Cannot open the database ".*newer\.db": it was written by a newer chat-server/,
    );

    await Deno.writeTextFile(`${dir}/notes.txt`, "not a database ".repeat(300));
    expectRefusal(
      await runMain(
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-http",
        "--db",
        `${dir}/notes.txt`,
      ),
      /it is not a chat-server database/,
    );

    const shared = `${dir}/chat.db`;
    await using first = await ServerProcess.start(
      ServerProcess.mainArgs("--db", shared),
    );
    expectRefusal(
      await runMain(
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-http",
        "--db",
        shared,
      ),
      /Cannot open the database ".*chat\.db": another chat-server is using it/,
    );
    assert.equal((await first.stop()).code, 0);

    const readOnly = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "main.ts",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--no-http",
        "--db",
        `${dir}/other.db`,
      ],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      signal: AbortSignal.timeout(60_000),
    }).output();
    expectRefusal(
      readOnly,
      /was not given --allow-read and --allow-write/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main: a Redis it cannot reach at start is one clear line, exit code 1, no password", async () => {
  const start = async (url: string) => {
    // Killed if it waits instead (as it did, for good and unlogged), so
    // that the test fails.
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-net", "--allow-read", "--allow-write", "main.ts"],
        ...["--host", "127.0.0.1", "--port", "0", "--no-http"],
        ...["--redis", url],
      ],
      cwd: new URL("..", import.meta.url),
      stdin: "null",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    }).output();
    const text = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 1, text);
    assert.equal(text.trim().split("\n").length, 1, text);
    assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
    assert.doesNotMatch(text, /hunter2/, "no password in the log");
    return text;
  };
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = closed.addr.port;
  closed.close();
  assert.match(
    await start(`redis://chat:hunter2@127.0.0.1:${free}`),
    new RegExp(
      `Cannot reach Redis at redis://chat:\\*\\*\\*@127\\.0\\.0\\.1:${free}: .*ECONNREFUSED`,
    ),
  );

  // A Redis that takes the connection and never answers (a stopped
  // process: the kernel still accepts for it).
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  try {
    assert.match(
      await start(`redis://:hunter2@127.0.0.1:${silent.addr.port}`),
      /Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: Redis did not answer/,
    );
  } finally {
    silent.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

/** Runs main.ts to its end, with a timeout; its exit code and stderr. */
async function runToEnd(...flags: string[]): Promise<[number, string]> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ServerProcess.mainArgs(...flags),
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  return [output.code, new TextDecoder().decode(output.stderr)];
}

Deno.test({
  name:
    "main: the log names the Redis (its password hidden) and this server's node id, a random one when not given",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start({ password: "s3cret-right" });
    const url = `redis://:s3cret-right@127.0.0.1:${redis.port}`;
    for (
      const [args, node] of [[[], /node-[0-9a-f]{8}/], [
        ["--node-id", "east-1"],
        /east-1/,
      ]] as const
    ) {
      await using server = await ServerProcess.start(
        ServerProcess.mainArgs("--redis", url, ...args),
      );
      assert.equal((await server.stop("SIGTERM")).code, 0);
      assert.match(
        server.stderr,
        new RegExp(
          `Using Redis at redis://:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port} as node ${node.source}\n`,
        ),
      );
      assert.doesNotMatch(server.stderr, /s3cret/, "no password in the log");
    }
  },
});

Deno.test({
  name:
    "main: --redis-password-file logs in to a Redis with requirepass, the password in no log line",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start({ password: "s3cret-right" });
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/redis.pass`;
      // As echo and systemd-creds write it: with a line end.
      await Deno.writeTextFile(file, "s3cret-right\n");
      // The URL's user name, if any, goes with the password from the file.
      for (
        const url of [redis.url, `redis://default@127.0.0.1:${redis.port}`]
      ) {
        await using server = await ServerProcess.start(ServerProcess.mainArgs(
          ...["--redis", url, "--redis-password-file", file],
        ));
        await using alice = await Client.login(server.port, "alice");
        await alice.send("say through Redis");
        await alice.expect("alice: through Redis");
        assert.equal((await server.stop("SIGTERM")).code, 0);
        assert.doesNotMatch(server.stderr, /s3cret/, "no password in the log");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "main: a wrong, missing or empty --redis-password-file is one clear line, exit code 1, no password",
  ignore: redisMissing !== null,
  async fn() {
    await using redis = await RedisServer.start({ password: "s3cret-right" });
    const dir = await Deno.makeTempDir();
    try {
      const start = async (file: string) => {
        const [code, text] = await runToEnd(
          ...["--redis", redis.url, "--redis-password-file", file],
        );
        assert.equal(code, 1, text);
        assert.equal(text.trim().split("\n").length, 1, text);
        assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
        assert.doesNotMatch(text, /s3cret/, "no password in the log");
        return text;
      };
      const wrong = `${dir}/wrong.pass`;
      await Deno.writeTextFile(wrong, "s3cret-wrong\n");
      assert.match(
        await start(wrong),
        new RegExp(
          `Cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port}: WRONGPASS`,
        ),
      );
      const empty = `${dir}/empty.pass`;
      await Deno.writeTextFile(empty, "\n");
      assert.match(
        await start(empty),
        /The Redis password file ".*empty\.pass" is empty/,
      );
      assert.match(
        await start(`${dir}/missing.pass`),
        /Cannot read the Redis password file ".*missing\.pass": No such file/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A Redis that answers every command OK but writes, as a read-only replica
 * does: enough for a connection, not for a store.
 */
async function readOnlyRedis(conn: Deno.Conn): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of conn.readable) {
    text += decoder.decode(chunk, { stream: true });
    // Each command is an array of bulk strings: *N, then N $LEN and data.
    while (true) {
      const lines = text.split("\r\n");
      if (lines.length < 2 || !lines[0].startsWith("*")) break;
      const count = Number(lines[0].slice(1));
      if (lines.length < 1 + 2 * count + 1) break;
      const name = lines[2].toUpperCase();
      text = lines.slice(1 + 2 * count).join("\r\n");
      await conn.write(new TextEncoder().encode(
        name === "INCRBY"
          ? "-READONLY You can't write against a read only replica.\r\n"
          : "+OK\r\n",
      ));
    }
  }
}

Deno.test("main: a Redis that takes no writes is one clear line, no password", async () => {
  const replica = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    for await (const conn of replica) readOnlyRedis(conn).catch(() => {});
  })();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--allow-net", "--allow-read", "--allow-write", "main.ts"],
      ...["--host", "127.0.0.1", "--port", "0", "--no-http"],
      ...["--redis", `redis://:hunter2@127.0.0.1:${replica.addr.port}`],
    ],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, text);
  assert.equal(text.trim().split("\n").length, 1, text);
  assert.match(
    text,
    /Cannot use Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: READONLY/,
  );
  assert.doesNotMatch(text, /hunter2/, "no password in the log");
  replica.close();
  await serving.catch(() => {});
});

Deno.test({
  name:
    "main: a certificate and key TLS cannot use are one clear line and exit code 1",
  ignore: !openssl,
  async fn() {
    const one = await makeCertificate();
    const other = await makeCertificate();
    try {
      const refused = async (cert: string, key: string, why: RegExp) => {
        // Killed if it serves instead (as it did), so that the test fails.
        const output = await new Deno.Command(Deno.execPath(), {
          args: [
            ...["run", "--allow-net", "--allow-read", "main.ts"],
            ...["--host", "127.0.0.1", "--port", "0", "--no-http"],
            ...["--db", ":memory:", "--tls-port", "0"],
            ...["--cert", cert, "--key", key],
          ],
          cwd: new URL("..", import.meta.url),
          stdin: "null",
          signal: AbortSignal.timeout(TIMEOUT_MS),
        }).output();
        const text = new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 1, text);
        assert.match(text, why);
        assert.equal(text.trim().split("\n").length, 1, text);
        assert.doesNotMatch(text, /^\s+at /m, "no stack trace");
      };
      // Before, both started, and every TLS handshake was reset unlogged.
      await refused(
        one.key,
        one.cert,
        /Cannot use the TLS certificate ".*key\.pem" and key ".*cert\.pem": the certificate file holds no PEM certificate/,
      );
      await refused(one.cert, other.key, /the key is not the certificate's/);
      // Before, "the key file holds no PEM private key (... interrupted or
      // cancelled)", for a file that holds one, encrypted.
      const encrypted = `${one.dir}/encrypted.pem`;
      const made = await new Deno.Command("openssl", {
        args: ["pkey", "-in", one.key, "-aes256", "-passout", "pass:secret"],
        stdout: "piped",
        stderr: "null",
      }).output();
      assert.ok(made.success);
      await Deno.writeFile(encrypted, made.stdout);
      await refused(
        one.cert,
        encrypted,
        /the key is encrypted with a passphrase, which the server cannot ask for/,
      );
    } finally {
      await Deno.remove(one.dir, { recursive: true });
      await Deno.remove(other.dir, { recursive: true });
    }
  },
});

Deno.test("main: a bug no handler caught is logged with its stack, and the process goes on", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL("..", import.meta.url);
    const script = `${dir}/bug.ts`;
    await Deno.writeTextFile(
      script,
      `import { keepServing } from "${new URL("main.ts", root)}";
import { startLogging, stopLogging } from "${new URL("src/log.ts", root)}";
await startLogging("info");
{
  using _guard = keepServing();
  Promise.reject(new Error("rejected with nobody waiting"));
  await new Promise<void>((done) => {
    setTimeout(() => {
      throw new Error("thrown in a timer");
    }, 0);
    // Timers run in order: this one comes after the throw.
    setTimeout(done, 0);
  });
  console.log("still serving");
}
await stopLogging();
`,
    );
    const result = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("deno.json", root).pathname,
        "--allow-read",
        "--allow-env",
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(result.stdout);
    const stderr = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, stderr);
    assert.equal(stdout, "still serving\n");
    assert.match(stderr, /not handled anywhere: Error: rejected with nobody/);
    assert.match(stderr, /not handled anywhere: Error: thrown in a timer/);
    assert.match(stderr, /at .*bug\.ts:\d+/, "with its stack");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
