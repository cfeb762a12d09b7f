/**
 * The XML-RPC server under attack, in its own process (test/support/hostile.ts
 * starts test/fixtures/hostile/server.ts with an xmlrpc+http URL), while an
 * honest wirecall client keeps calling: every documented limit is hit at its
 * largest (a wide array at the body limit, 200,000 declarations after a
 * comment, a 60,000-entry multicall, deep nesting, a long <double>, a gzip
 * bomb) by several peers at once, with slow uploads held open throughout.
 * Asserts the honest client's service (every call answered, none held for
 * long), the server's survival, its memory (RSS sampled from /proc), and
 * that each attack got its coded refusal.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { connect, type AnyRemote } from "../src/index.js";
import { XMLRPC_LIMITS } from "../protocols/xmlrpc/index.js";
import { ServerProcess, honestCaller, within } from "./support/hostile.js";

const MiB = 1024 * 1024;
const LIMITS = XMLRPC_LIMITS.server;

interface Answer {
  status: number;
  body: string;
}

/** One POST on its own connection; a connection the server closes early counts as status 0. */
function post(port: number, body: string | Buffer, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/RPC2", headers: { "Content-Type": "text/xml", ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on("error", () => resolve({ status: 0, body: "" }));
    });
    req.on("error", () => resolve({ status: 0, body: "" }));
    req.end(body);
  });
}

/** Start a request declaring `declared` bytes, send `sent` of them, and hold it open until `release()`. */
function slowUpload(port: number, declared: number, sent: number): { release(): void } {
  const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/RPC2", headers: { "Content-Type": "text/xml", "Content-Length": String(declared) }, agent: false });
  req.on("error", () => {});
  req.on("response", (res) => res.resume());
  req.write(`<?xml version="1.0"?><methodCall><methodName>echo</methodName><params><param><value><string>${"z".repeat(sent)}`);
  return { release: () => req.destroy() };
}

const call = (params: string): string => `<?xml version="1.0"?><methodCall><methodName>echo</methodName><params><param>${params}</param></params></methodCall>`;

function codeOf(a: Answer): string {
  if (a.status !== 200) return `HTTP ${a.status}`;
  const code = /<name>code<\/name>\s*<value><string>([A-Z_]+)<\/string>/.exec(a.body);
  const fault = /<name>faultCode<\/name>\s*<value><int>(-?\d+)<\/int>/.exec(a.body);
  return fault ? `${fault[1]} ${code?.[1] ?? ""}`.trim() : "result";
}

/** Each attack: its body (built once), and the answer it must get. */
function attacks(): { name: string; body: string | Buffer; headers?: Record<string, string>; expect: RegExp }[] {
  const entry = "<value><struct><member><name>methodName</name><value>echo</value></member><member><name>params</name><value><array><data><value>x</value></data></array></value></member></struct></value>";
  const empties = Math.floor((LIMITS.maxFrameSize - 200) / 8);
  const decls = Array.from({ length: 200_000 }, (_, i) => `<!ENTITY e${i} "x">`).join("");
  return [
    { name: "wide array at the body limit", body: call(`<value><array><data>${"<value/>".repeat(empties)}</data></array></value>`), expect: /^-32600 PAYLOAD_TOO_LARGE$/ },
    { name: "200,000 declarations after a comment", body: `<!--<methodCall>--><!DOCTYPE x [${decls}]>${call("<value>1</value>")}`, expect: /^-32700 PROTOCOL_ERROR$/ },
    // Refused by its Content-Length before the body is read; the server then closes, so a
    // client still writing may see the connection reset before it reads the 413 (HTTP 0).
    { name: "60,000-entry multicall", body: `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>${entry.repeat(60_000)}</data></array></value></param></params></methodCall>`, expect: /^HTTP (413|0)$/ },
    { name: "multicall at its limit", body: `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>${entry.repeat(LIMITS.maxMulticallCalls)}</data></array></value></param></params></methodCall>`, expect: /^result$/ },
    { name: "multicall one over its limit", body: `<?xml version="1.0"?><methodCall><methodName>system.multicall</methodName><params><param><value><array><data>${entry.repeat(LIMITS.maxMulticallCalls + 1)}</data></array></value></param></params></methodCall>`, expect: /^-32600 PAYLOAD_TOO_LARGE$/ },
    { name: "deep nesting", body: call("<value><array><data>".repeat(150_000)), expect: /^-32700 PROTOCOL_ERROR$/ },
    { name: "a megabyte of digits in <double>", body: call(`<value><double>${"1".repeat(MiB)}x</double></value>`), expect: /^-32600 PROTOCOL_ERROR$/ },
    { name: "a string over maxStringLength", body: call(`<value>${"s".repeat(LIMITS.maxStringLength + 1)}</value>`), expect: /^-32600 PAYLOAD_TOO_LARGE$/ },
    { name: "gzip bomb", body: gzipSync(Buffer.from(call(`<value>${" ".repeat(64 * MiB)}</value>`))), headers: { "Content-Encoding": "gzip" }, expect: /^HTTP 413$/ },
  ];
}

describe("xmlrpc: hostile peers against a server in its own process", { timeout: 115_000 }, () => {
  let server: ServerProcess;
  let port: number;
  let honest: AnyRemote;
  before(async () => {
    server = await ServerProcess.start([{ url: "xmlrpc+http://127.0.0.1:0" }]);
    port = Number(new URL(server.urls[0] as string).port);
    honest = await connect(server.urls[0] as string, { timeout: 30_000 });
  });
  after(async () => {
    await honest?.$close();
    await server?.kill();
  });

  it("every attack gets its coded refusal while an honest client is served, and memory stays bounded", async () => {
    const list = attacks();
    assert.equal(await honest.add(1, 2), 3);
    const baseline = server.rss();
    const rss = server.sampleRss(20);
    const caller = honestCaller(honest);
    // Slow uploads held open for the whole attack: each holds what it sent, nothing more.
    const slow = Array.from({ length: 16 }, () => slowUpload(port, 3 * MiB, MiB));
    const wrong: string[] = [];
    const attacker = async (rounds: number): Promise<void> => {
      for (let r = 0; r < rounds; r++) {
        for (const a of list) {
          const answer = await post(port, a.body, a.headers);
          const got = codeOf(answer);
          if (!a.expect.test(got)) wrong.push(`${a.name}: ${got}`);
        }
      }
    };
    const started = performance.now();
    try {
      await within(Promise.all([attacker(3), attacker(3), attacker(3)]), 100_000, "the attacks");
    } finally {
      for (const s of slow) s.release();
    }
    const elapsed = performance.now() - started;
    const service = await caller.stop();
    const peak = rss.stop();

    assert.ok(server.alive, "the server process died");
    assert.deepEqual(wrong, [], "attacks answered otherwise than documented");
    assert.deepEqual(service.failures, [], "honest calls failed");
    assert.ok(service.calls >= 20, `only ${service.calls} honest calls in ${elapsed.toFixed(0)} ms`);
    // The longest an honest call waited: behind a few refusals at most, never behind a whole decode of a
    // huge document (a few hundred ms when measured; the bound leaves room for a loaded machine).
    assert.ok(service.slowest < 5000, `an honest call took ${service.slowest.toFixed(0)} ms (attacks ran ${elapsed.toFixed(0)} ms)`);
    const grown = peak - baseline;
    assert.ok(grown < 250 * MiB, `RSS grew ${(grown / MiB).toFixed(0)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB, peak ${(peak / MiB).toFixed(0)} MiB)`);
    assert.equal(await honest.add(40, 2), 42, "still serving after the attack");
    process.stdout.write(
      `# xmlrpc hostile: ${service.calls} honest calls, slowest ${service.slowest.toFixed(0)} ms, attacks ${elapsed.toFixed(0)} ms, RSS ${(baseline / MiB).toFixed(0)} -> peak ${(peak / MiB).toFixed(0)} MiB\n`,
    );
  });
});
