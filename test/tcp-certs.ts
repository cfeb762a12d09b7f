/**
 * Self-signed certificates made at test time with the openssl CLI; the
 * temporary directory is removed before returning.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertPair {
  cert: string;
  key: string;
}

export interface TestCerts {
  /** For 127.0.0.1 and localhost. */
  server: CertPair;
  /** A client certificate (CN=wirecall-client). */
  client: CertPair;
  /** Another self-signed one nobody trusts. */
  stranger: CertPair;
}

function makePair(dir: string, name: string, subject: string, san?: string): CertPair {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", subject, "-keyout", key, "-out", cert];
  if (san) args.push("-addext", `subjectAltName=${san}`);
  execFileSync("openssl", args, { stdio: "ignore", timeout: 20_000 });
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8") };
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "wirecall-tls-"));
  try {
    return {
      server: makePair(dir, "server", "/CN=localhost", "IP:127.0.0.1,DNS:localhost"),
      client: makePair(dir, "client", "/CN=wirecall-client"),
      stranger: makePair(dir, "stranger", "/CN=localhost", "IP:127.0.0.1,DNS:localhost"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
