import assert from "node:assert/strict";
import {
  DEFAULTS,
  OPTIONS,
  parseFlags,
  usage,
  UsageError,
} from "../src/config.ts";

Deno.test("parseFlags() gives the defaults without flags", () => {
  assert.deepEqual(parseFlags([]), { action: "serve", config: DEFAULTS });
  assert.equal(DEFAULTS.port, 5005);
  assert.equal(DEFAULTS.host, "0.0.0.0");
  assert.equal(DEFAULTS.name, "TestChat");
  assert.equal(DEFAULTS.maxLineBytes, 1024);
  assert.equal(DEFAULTS.maxQueueBytes, 1024 * 1024);
  assert.equal(DEFAULTS.floodBurst, 10);
  assert.equal(DEFAULTS.floodRate, 2);
  assert.equal(DEFAULTS.floodMaxWaiting, 100);
  assert.equal(DEFAULTS.maxLinesBeforeLogin, 20);
  assert.equal(DEFAULTS.loginTimeout, 60);
  assert.equal(DEFAULTS.idleTimeout, 0);
  assert.equal(DEFAULTS.maxConnsPerIp, 16);
  assert.equal(DEFAULTS.maxConns, 10_000);
  assert.equal(DEFAULTS.maxNewConnsPerIp, 30);
  assert.equal(DEFAULTS.limitLoopback, false);
  assert.equal(DEFAULTS.softQueueBytes, 256 * 1024);
  assert.equal(DEFAULTS.softQueueSeconds, 10);
  assert.equal(DEFAULTS.historyLines, 20);
  assert.equal(DEFAULTS.motd, "");
});

Deno.test("parseFlags() reads every option", () => {
  const result = parseFlags([
    "--host=127.0.0.1",
    "--port",
    "6000",
    "--name",
    "MyChat",
    "--tls-port",
    "6001",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
    "--max-line-bytes",
    "512",
    "--max-queue-bytes=65536",
    "--soft-queue-bytes=32768",
    "--soft-queue-seconds=2.5",
    "--flood-burst=5",
    "--flood-rate=0.5",
    "--flood-max-waiting=50",
    "--max-lines-before-login=7",
    "--login-timeout=30",
    "--idle-timeout=600",
    "--max-conns=100",
    "--max-conns-per-ip=4",
    "--max-new-conns-per-ip=9",
    "--limit-loopback",
    "--max-subneg-bytes=512",
    "--history-lines=5",
    "--history-keep=50",
    "--db=/var/lib/chat/chat.db",
    "--max-password-hashes=4",
    "--max-registrations-per-ip=3",
    "--max-new-rooms-per-ip=7",
    "--max-claimed-rooms=500",
    "--offline-max=10",
    "--offline-per-sender=4",
    "--offline-days=7",
    "--room-keep-days=30",
    "--op",
    "root",
    "--op=Alice",
    "--http-port=8081",
    "--http-host=127.0.0.2",
    "--https-port=8443",
    "--hsts-seconds=31536000",
    "--trusted-proxy=10.0.0.0/8",
    "--trusted-proxy=::1",
    "--allowed-origin=https://chat.example.org",
    "--resume-seconds=30",
    "--redis=redis://127.0.0.1:6379",
    "--redis-password-file=/run/credentials/chat.service/redis",
    "--node-id=east-1",
    "--motd=motd.txt",
    "--log-level",
    "debug",
  ]);
  assert.deepEqual(result, {
    action: "serve",
    config: {
      host: "127.0.0.1",
      port: 6000,
      name: "MyChat",
      tlsPort: 6001,
      cert: "c.pem",
      key: "k.pem",
      maxLineBytes: 512,
      maxQueueBytes: 65536,
      softQueueBytes: 32768,
      softQueueSeconds: 2.5,
      floodBurst: 5,
      floodRate: 0.5,
      floodMaxWaiting: 50,
      maxLinesBeforeLogin: 7,
      loginTimeout: 30,
      idleTimeout: 600,
      maxConns: 100,
      maxConnsPerIp: 4,
      maxNewConnsPerIp: 9,
      limitLoopback: true,
      maxSubnegotiationBytes: 512,
      historyLines: 5,
      historyKeep: 50,
      db: "/var/lib/chat/chat.db",
      maxPasswordHashes: 4,
      maxRegistrationsPerIp: 3,
      maxNewRoomsPerIp: 7,
      maxClaimedRooms: 500,
      offlineMax: 10,
      offlinePerSender: 4,
      offlineDays: 7,
      roomKeepDays: 30,
      ops: ["root", "Alice"],
      httpPort: 8081,
      httpHost: "127.0.0.2",
      noHttp: false,
      httpsPort: 8443,
      hstsSeconds: 31536000,
      trustedProxies: ["10.0.0.0/8", "::1"],
      allowedOrigins: ["https://chat.example.org"],
      resumeSeconds: 30,
      redis: "redis://127.0.0.1:6379",
      redisPasswordFile: "/run/credentials/chat.service/redis",
      nodeId: "east-1",
      motd: "motd.txt",
      logLevel: "debug",
    },
  });
});

Deno.test("parseFlags() keeps the store's defaults and refuses a replay longer than what is kept", () => {
  assert.equal(DEFAULTS.db, "chat.db");
  assert.equal(DEFAULTS.historyKeep, 1000);
  assert.equal(DEFAULTS.maxPasswordHashes, 2);
  assert.equal(DEFAULTS.offlineMax, 50);
  assert.equal(DEFAULTS.offlinePerSender, 10);
  assert.equal(DEFAULTS.offlineDays, 30);
  assert.throws(
    () => parseFlags(["--history-lines", "30", "--history-keep", "20"]),
    (error: Error) =>
      error instanceof UsageError &&
      /--history-lines cannot be more/.test(error.message),
  );
});

Deno.test("parseFlags(): --room-keep-days is 90 by default, 0 keeps rooms for good, and a negative or fraction is refused", () => {
  assert.equal(DEFAULTS.roomKeepDays, 90);
  const kept = parseFlags(["--room-keep-days", "0"]);
  assert.equal(kept.action === "serve" && kept.config.roomKeepDays, 0);
  for (const bad of ["-1", "1.5", "forever"]) {
    assert.throws(
      () => parseFlags([`--room-keep-days=${bad}`]),
      (error: Error) =>
        error instanceof UsageError && /--room-keep-days/.test(error.message),
      bad,
    );
  }
  assert.match(usage(), /--room-keep-days DAYS .*\(default 90\)/);
});

Deno.test("parseFlags(): --no-http serves no HTTP; proxies and origins are checked", () => {
  const parsed = parseFlags(["--no-http"]);
  assert.equal(parsed.action === "serve" && parsed.config.httpPort, null);
  assert.equal(DEFAULTS.httpPort, 8080);
  assert.equal(DEFAULTS.resumeSeconds, 60);
  assert.throws(
    () => parseFlags(["--trusted-proxy", "proxy.example.org"]),
    /Invalid value "proxy\.example\.org" for --trusted-proxy/,
  );
  assert.throws(
    () => parseFlags(["--allowed-origin", "https://example.org/path"]),
    /expected an origin such as https:\/\/example\.org/,
  );
  assert.throws(
    () => parseFlags(["--https-port", "8443"]),
    /--https-port needs/,
  );
  assert.throws(
    () => parseFlags(["--hsts-seconds", "600"]),
    /--hsts-seconds needs --https-port/,
  );
  assert.throws(
    () => parseFlags(["--redis", "http://example.org"]),
    /expected a redis:\/\/ or rediss:\/\/ URL/,
  );
  assert.throws(() => parseFlags(["--node-id", "a b"]), /--node-id/);
});

Deno.test("parseFlags() takes --redis-password-file only for a --redis without a password", () => {
  const parsed = parseFlags([
    "--redis",
    "redis://chat@127.0.0.1:6379",
    "--redis-password-file",
    "redis.pass",
  ]);
  assert.equal(
    parsed.action === "serve" && parsed.config.redisPasswordFile,
    "redis.pass",
  );
  assert.equal(DEFAULTS.redisPasswordFile, "");
  assert.throws(
    () => parseFlags(["--redis-password-file", "redis.pass"]),
    (error: Error) =>
      error instanceof UsageError &&
      error.message === "--redis-password-file needs --redis",
  );
  for (const url of ["redis://:hunter2@db:6379", "redis://chat:hunter2@db"]) {
    assert.throws(
      () => parseFlags(["--redis", url, "--redis-password-file", "p"]),
      (error: Error) =>
        error instanceof UsageError &&
        error.message ===
          "--redis-password-file and a password in --redis cannot go together",
    );
  }
  assert.throws(
    () => parseFlags(["--redis", "redis://db", "--redis-password-file", ""]),
    /Invalid value "" for --redis-password-file: expected a value/,
  );
  assert.match(usage(), /--redis-password-file FILE +read Redis's password/);
});

Deno.test("parseFlags(): a --redis it refuses is shown without its password", () => {
  const cases = [
    ["redis://:hunter2@db:99999", "redis://***@db:99999"],
    ["http://chat:hunter2@db", "http://***@db"],
    ["redis://chat:hun@ter2@db:99999/0", "redis://***@db:99999/0"],
    ["redis://db:99999", "redis://db:99999"],
    // What parses as a URL's password in odd forms is hidden too.
    [" redis://:hunter2@db:99999", " redis://***@db:99999"],
    ["redis://us@er:hunter2@db:99999", "redis://***@db:99999"],
    ["redis:hunter2@db", "redis:***@db"],
  ];
  for (const [url, shown] of cases) {
    assert.throws(
      () => parseFlags(["--redis", url]),
      (error: Error) =>
        error instanceof UsageError &&
        error.message.startsWith(`Invalid value "${shown}" for --redis: `) &&
        !error.message.includes("hunter2") && !error.message.includes("ter2"),
    );
  }
});

Deno.test("parseFlags() refuses HTTP flags that --no-http would leave unused", () => {
  assert.throws(
    () => parseFlags(["--no-http", "--http-port", "8081"]),
    /--no-http and --http-port cannot go together/,
  );
  assert.throws(
    () => parseFlags(["--no-http", "--http-host", "127.0.0.1"]),
    /--http-host needs an HTTP or HTTPS port/,
  );
  const https = parseFlags([
    "--no-http",
    "--http-host",
    "127.0.0.1",
    "--https-port",
    "8443",
    "--cert",
    "c.pem",
    "--key",
    "k.pem",
  ]);
  assert.equal(https.action === "serve" && https.config.httpHost, "127.0.0.1");
  const plain = parseFlags(["--http-host", "127.0.0.1"]);
  assert.equal(plain.action === "serve" && plain.config.httpPort, 8080);
});

Deno.test("parseFlags() refuses --cert and --key with no port to use them", () => {
  assert.throws(
    () => parseFlags(["--cert", "c.pem", "--key", "k.pem"]),
    /--cert and --key need --tls-port or --https-port/,
  );
  assert.throws(
    () => parseFlags(["--key", "k.pem"]),
    /--cert and --key need --tls-port or --https-port/,
  );
  const https = parseFlags(
    ["--https-port", "8443", "--cert", "c.pem", "--key", "k.pem"],
  );
  assert.equal(https.action === "serve" && https.config.httpsPort, 8443);
});

Deno.test("parseFlags() wants a certificate and key with --tls-port", () => {
  assert.throws(
    () => parseFlags(["--tls-port", "6001"]),
    /--tls-port needs --cert and --key/,
  );
});

Deno.test("parseFlags() refuses unknown and malformed flags", () => {
  for (
    const args of [
      ["--nope"],
      ["--port", "http"],
      ["--port", "70000"],
      ["--port", "-1"],
      ["--port"],
      ["--max-line-bytes", "1e3"],
      ["--log-level", "loud"],
      ["stray"],
    ]
  ) {
    assert.throws(() => parseFlags(args), UsageError, args.join(" "));
  }
});

Deno.test("parseFlags() answers --help and --version first", () => {
  assert.deepEqual(parseFlags(["--port", "1", "--help"]), { action: "help" });
  assert.deepEqual(parseFlags(["-V"]), { action: "version" });
});

Deno.test("usage() lists every option with its default", () => {
  const text = usage();
  for (const option of OPTIONS) {
    const value = DEFAULTS[option.key];
    if (!option.value || value === null || value === "") {
      assert.match(text, new RegExp(`--${option.flag}\\b`));
    } else {
      assert.match(text, new RegExp(`--${option.flag} .*default ${value}`));
    }
  }
});

Deno.test("parseFlags() skips a leading -- (deno task start -- --port 6000)", () => {
  const result = parseFlags(["--", "--port", "6000", "--no-http"]);
  assert.equal(result.action, "serve");
  if (result.action !== "serve") return;
  assert.equal(result.config.port, 6000);
  assert.equal(result.config.httpPort, null);
  assert.deepEqual(parseFlags(["--", "--help"]), { action: "help" });
  // Anywhere else it is still an argument the server does not take.
  assert.throws(
    () => parseFlags(["--port", "6000", "--", "--name", "x"]),
    UsageError,
  );
});
