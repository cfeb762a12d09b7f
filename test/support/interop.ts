/**
 * Interop suites (real Pythons, pyzmq, Pyro4, Chromium) skip when their
 * peer is missing on a developer's machine, and say so loudly on stderr.
 * Under CI (`CI` set: .ci/run exports CI=1 and installs every peer) a
 * missing peer fails instead: a CI run that silently skipped interop
 * would prove nothing about it.
 */
import assert from "node:assert/strict";

const said = new Set<string>();

function loudly(suite: string, reason: string): void {
  const line = `*** SKIPPED ${suite}: ${reason} ***`;
  if (said.has(line)) return;
  said.add(line);
  process.stderr.write(`\n${line}\n\n`);
}

/**
 * For `describe`/`it`'s `skip` option: false when `missing` is false (the
 * peer is there), else `missing` after saying it loudly. Under CI it throws,
 * failing the test file.
 */
export function interopSkip(suite: string, missing: string | false | undefined): string | false {
  if (!missing) return false;
  if (process.env.CI) throw new Error(`CI must run ${suite}, but ${missing}; install it on the CI machine (.ci/run installs the Debian packages)`);
  loudly(suite, missing);
  return missing;
}

/** Inside a test: skip it loudly when `missing`, or fail it under CI. Returns true when the test must stop. */
export function skipInterop(t: { skip(message?: string): void }, suite: string, missing: string | false | undefined): boolean {
  if (!missing) return false;
  if (process.env.CI) assert.fail(`CI must run ${suite}, but ${missing}; install it on the CI machine (.ci/run installs the Debian packages)`);
  loudly(suite, missing);
  t.skip(missing);
  return true;
}
