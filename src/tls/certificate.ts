/**
 * The TLS certificate and key from `--cert` and `--key`: read and checked
 * once at start, and the warning about one near its end.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";

/**
 * `--cert` and `--key` that TLS cannot use: the start ends with its one
 * line and exit code 1.
 */
export class CertificateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CertificateError";
  }
}

/**
 * Reads `--cert` and `--key` and checks that the first is a certificate and
 * the second its private key. In Deno 2.9 `node:tls`'s `createSecureContext`
 * takes anything (the two files swapped, the key of another certificate),
 * and the TLS port then resets every handshake with nothing in the log.
 */
export function readCertificate(
  certPath: string,
  keyPath: string,
): Certificate {
  const fail = (why: string, cause?: unknown): never => {
    throw new CertificateError(
      `Cannot use the TLS certificate "${certPath}" and key "${keyPath}": ${why}`,
      { cause },
    );
  };
  let cert = "";
  let key = "";
  try {
    cert = Deno.readTextFileSync(certPath);
    key = Deno.readTextFileSync(keyPath);
  } catch (error) {
    fail((error as Error).message, error);
  }
  let certificate: X509Certificate | undefined;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    fail(
      `the certificate file holds no PEM certificate (${
        (error as Error).message
      })`,
      error,
    );
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    // PKCS #8's BEGIN ENCRYPTED PRIVATE KEY, or OpenSSL's Proc-Type header.
    if (/ENCRYPTED/.test(key)) {
      fail(
        "the key is encrypted with a passphrase, which the server cannot ask " +
          `for: decrypt it first (openssl pkey -in ${keyPath} -out plain.pem)`,
        error,
      );
    }
    fail(
      `the key file holds no PEM private key (${(error as Error).message})`,
      error,
    );
  }
  if (!certificate!.checkPrivateKey(privateKey!)) {
    fail("the key is not the certificate's");
  }
  return { cert, key, validTo: new Date(certificate!.validTo) };
}

/** A certificate and its key, as {@linkcode readCertificate} checked them. */
export interface Certificate {
  /** PEM. */
  cert: string;
  /** PEM. */
  key: string;
  /** The end of the certificate's validity. */
  validTo: Date;
}

/** A certificate this close to its end is warned about at start, in ms. */
const CERTIFICATE_WARN_MS = 14 * 24 * 60 * 60 * 1000;

/**
 * What to warn about a certificate that has ended or ends within two weeks
 * at `now`, or null: browsers and `openssl s_client` refuse an ended one,
 * and the server reads its files only at start (a renewal needs a restart).
 */
export function certificateWarning(
  certificate: Certificate,
  now: number,
): string | null {
  const end = certificate.validTo.getTime();
  if (Number.isNaN(end) || end - now > CERTIFICATE_WARN_MS) return null;
  const when = certificate.validTo.toISOString();
  return end <= now
    ? `expired on ${when}: clients will refuse it`
    : `expires on ${when}: renew it, then restart the server`;
}
