/**
 * Decoder killers against a real TCP server in its own process, while an
 * honest client keeps calling: the frames that took wirecall's decoders to
 * gigabytes or minutes (63 MiB of empty msgpack maps, 32 MiB of `{}` in
 * JSON, a 103-byte superjson typed array of length 2^27, shared-reference
 * DAGs that explode when echoed, msgpackr extensions). The server must
 * refuse each with a coded error, keep serving, and stay small: its peak
 * RSS (VmHWM) is read from /proc.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Packr } from "msgpackr";
import { connect, json, msgpack, superjson, type Serializer } from "../src/index.js";
import { RawPeer } from "./serializers-peer.js";

const fixture = fileURLToPath(new URL("../../test/fixtures/serializers/server.mjs", import.meta.url));
const root = fileURLToPath(new URL("../..", import.meta.url));

/** Peak resident memory (VmHWM) of a process, in bytes. */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(m?.[1], "VmHWM in /proc/<pid>/status");
  return Number(m[1]) * 1024;
}

/** Send one hostile frame and expect an error envelope with `code` (a refusal, not a crash, not a hang). */
async function expectRefusal(peer: RawPeer, s: Serializer, frame: Uint8Array, code: string): Promise<string> {
  peer.send(frame);
  const reply = s.decode(await peer.next(30_000)) as unknown[];
  assert.equal(reply[0], 2, `an error envelope, got ${JSON.stringify(reply).slice(0, 200)}`);
  const err = reply[2] as { code: string; message: string };
  assert.equal(err.code, code, err.message);
  return err.message;
}

// 63 MiB of empty maps in one msgpack array: ~66 million objects.
function emptyMaps(bytes: number): Buffer {
  const n = bytes - 32;
  const head = Buffer.from([0x94, 0x00, 0x01, 0xa4, ...Buffer.from("echo"), 0x91, 0xdd, 0, 0, 0, 0]);
  head.writeUInt32BE(n, head.length - 4);
  return Buffer.concat([head, Buffer.alloc(n, 0x80)]);
}

// `[0,1,"echo",[[{},{},...]]]` of about `bytes` bytes.
function emptyObjects(bytes: number): Buffer {
  const n = Math.floor((bytes - 32) / 3);
  return Buffer.from(`[0,1,"echo",[[${"{},".repeat(n)}{}]]]`);
}

// Nested pairs of one shared object: 2^depth values once written out.
function dag(depth: number): unknown {
  let v: unknown = { x: 1 };
  for (let i = 0; i < depth; i++) v = { l: v, r: v };
  return v;
}

// superjson's own referential equalities, written by hand: each level's
// "r" is the same object as its "l".
function superjsonDag(depth: number): Buffer {
  let v: unknown = null;
  for (let i = 0; i < depth; i++) v = { l: v, r: null };
  const refs: Record<string, string[]> = {};
  let p = "3.0";
  for (let i = 0; i < depth; i++) {
    refs[`${p}.l`] = [`${p}.r`];
    p += ".l";
  }
  return Buffer.from(JSON.stringify({ json: [0, 1, "echo", [v]], meta: { referentialEqualities: refs, v: 1 } }));
}

describe("serializers: decoder killers against a server in a child process", () => {
  let child: ChildProcess;
  let url: string;
  let pid: number;

  before(async () => {
    child = spawn(process.execPath, [fixture], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error("the server fixture did not start within 20 s")), 20_000);
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (chunk: string) => {
        out += chunk;
        const nl = out.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the server fixture exited with code ${code}`));
      });
    });
    ({ url, pid } = JSON.parse(line) as { url: string; pid: number });
  });

  after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  });

  it("refuses every killer with a coded error, keeps serving an honest client, and stays under 600 MB", async (t) => {
    const honest = await connect<{ add(x: number, y: number): number }>(url, { serializer: "msgpack", timeout: 20_000 });
    let stop = false;
    let served = 0;
    let worst = 0;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const t = performance.now();
        assert.equal(await honest.add(i, 1), i + 1);
        worst = Math.max(worst, performance.now() - t);
        served++;
      }
    })();
    const peers: RawPeer[] = [];
    try {
      const mp = await RawPeer.open(url, "msgpack");
      const js = await RawPeer.open(url, "json");
      const sj = await RawPeer.open(url, "superjson");
      peers.push(mp, js, sj);
      const before = served;

      // msgpack: 63 MiB of empty maps (today: ~6 GB, V8 out of memory, SIGABRT).
      assert.match(await expectRefusal(mp, msgpack, emptyMaps(63 * 1024 * 1024), "PROTOCOL_ERROR"), /maxContainers/);
      // msgpackr's own extensions: shared structures (0x69/0x70) of a DAG, a Float64Array (0x74), a Set (0x73).
      const structured = new Packr({ structuredClone: true, useRecords: false });
      const shared = structured.pack([0, 2, "echo", [dag(60)]]);
      assert.ok(shared.includes(0x70), "the frame uses msgpackr's shared-reference extension");
      assert.match(await expectRefusal(mp, msgpack, shared, "PROTOCOL_ERROR"), /extension type/);
      const typed = new Packr({ moreTypes: true, useRecords: false }).pack([0, 3, "echo", [new Float64Array([1.5, 2.5])]]);
      assert.match(await expectRefusal(mp, msgpack, typed, "PROTOCOL_ERROR"), /extension type 116/);
      // A declared length far beyond the frame, and nesting 1 MiB deep.
      assert.match(await expectRefusal(mp, msgpack, Uint8Array.from([0x94, 0x00, 0x04, 0xa4, 0x65, 0x63, 0x68, 0x6f, 0xdd, 0xff, 0xff, 0xff, 0xff]), "PROTOCOL_ERROR"), /declares 4294967295/);
      assert.match(await expectRefusal(mp, msgpack, Buffer.concat([Buffer.from([0x94, 0x00, 0x05, 0xa4, 0x65, 0x63, 0x68, 0x6f]), Buffer.alloc(1 << 20, 0x91)]), "PROTOCOL_ERROR"), /maxDepth/);

      // json: 32 MiB of `{}` (today: tens of seconds, gigabytes).
      assert.match(await expectRefusal(js, json, emptyObjects(32 * 1024 * 1024), "PROTOCOL_ERROR"), /maxContainers/);

      // superjson: 103 bytes declaring a Float64Array of length 2^27 (today: 9 s, 3.1 GB).
      const huge = Buffer.from(JSON.stringify({ json: [0, 6, "echo", [134217728]], meta: { values: { "3.0": [["typed-array", "Float64Array"]] }, v: 1 } }));
      assert.ok(huge.length < 120);
      assert.match(await expectRefusal(sj, superjson, huge, "PROTOCOL_ERROR"), /must be an array/);
      // A shared-reference DAG of 2^60 values that an echo would write out (today: hung).
      assert.match(await expectRefusal(sj, superjson, superjsonDag(60), "PROTOCOL_ERROR"), /maxExpandedElements/);

      // Still a working server for the hostile peer itself, and for everyone else.
      mp.send(msgpack.encode([0, 9, "add", [2, 3]]));
      assert.deepEqual(msgpack.decode(await mp.next(10_000)), [1, 9, 5]);
      assert.ok(served > before, "the honest client was served during the attack");
    } finally {
      stop = true;
      for (const p of peers) p.close();
      await loop.catch((err: unknown) => assert.fail(`the honest client failed: ${(err as Error)?.message}`));
    }
    assert.equal(await honest.add(40, 2), 42);
    assert.ok(worst < 10_000, `the honest client's slowest call took ${worst.toFixed(0)} ms`);
    const peak = peakRss(pid);
    t.diagnostic(`honest calls served: ${served}, slowest ${worst.toFixed(0)} ms, server peak RSS ${(peak / 1048576).toFixed(0)} MiB`);
    await honest.$close();
    assert.ok(peak < 600 * 1024 * 1024, `server peak RSS ${(peak / 1048576).toFixed(0)} MiB`);
    assert.equal(child.exitCode, null, "the server is still running");
  });
});
