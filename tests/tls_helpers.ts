/**
 * Test certificates made by the real openssl: a throwaway authority and a
 * certificate it signed for 127.0.0.1 and localhost.
 *
 * @module
 */

import assert from "node:assert/strict";
import { missingProgram } from "./required.ts";

/** Whether a command runs here. */
async function has(command: string, ...args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args }).output()).success;
  } catch {
    return false;
  }
}

export const opensslMissing =
  "openssl is not installed (apt-get install openssl; .ci/run does)";
/** Whether openssl runs here. */
export const openssl = await has("openssl", "version");
missingProgram(openssl ? null : opensslMissing, "TLS tests");

/** Runs openssl with `args`; fails the test if it fails. */
async function run(...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

/**
 * A throwaway certificate authority and a certificate it signed for
 * 127.0.0.1 and localhost, valid for `days` (30 unless told), made by
 * openssl in a temporary folder. (rustls refuses a self-signed CA
 * certificate used as the server's own.)
 */
export async function makeCertificate(days = 30): Promise<
  { dir: string; ca: string; cert: string; key: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "chat-tls-" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await run(
    "req",
    "-x509",
    ...ec,
    "-nodes",
    "-subj",
    "/CN=chat test CA",
    "-days",
    String(days),
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  );
  await run(
    "req",
    ...ec,
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/cert.csr`,
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await run(
    "x509",
    "-req",
    "-in",
    `${dir}/cert.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    String(days),
    "-extfile",
    `${dir}/ext.cnf`,
    "-out",
    `${dir}/cert.pem`,
  );
  return {
    dir,
    ca: `${dir}/ca.pem`,
    cert: `${dir}/cert.pem`,
    key: `${dir}/key.pem`,
  };
}
