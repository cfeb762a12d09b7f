/**
 * The design contract: Python's own multiprocessing.connection Client and
 * Listener complete the handshake with wirecall's tcp:// (pyenv Pythons).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, describe, it } from "node:test";
import { skipInterop } from "./support/interop.js";
import { connect, serve } from "wirecall";
import { findPython } from "./python-procs.js";
import {
  Deferred,
  within,
  code,
  Probe,
  KEY,
  makeHandler,
  portOf,
} from "./support/contract.js";

// ================================================================ Python's multiprocessing.connection

const PY_CLIENT = `
import json, sys
from multiprocessing.connection import Client
c = Client(("127.0.0.1", int(sys.argv[1])), authkey=sys.argv[2].encode())
c.send_bytes(b'{"wirecall":1,"serializer":"json"}')
hello = json.loads(c.recv_bytes())
c.send_bytes(b'[0,1,"add",[2,3]]')
reply = json.loads(c.recv_bytes())
c.close()
print(json.dumps({"hello": hello, "reply": reply}))
`;

const PY_LISTENER = `
import json, sys
from multiprocessing.connection import Listener
with Listener(("127.0.0.1", 0), authkey=sys.argv[1].encode()) as l:
    print(l.address[1], flush=True)
    with l.accept() as c:
        hello = json.loads(c.recv_bytes())
        c.send_bytes(json.dumps({"wirecall": 1, "serializer": hello.get("serializer", "json")}).encode())
        call = json.loads(c.recv_bytes())
        c.send_bytes(json.dumps([1, call[1], call[3][0] + call[3][1]]).encode())
        try:
            c.recv_bytes()
        except EOFError:
            pass
`;

describe("contract: Python's multiprocessing.connection completes the handshake", () => {
  const children = new Set<ChildProcess>();
  after(() => {
    for (const c of children) c.kill("SIGKILL");
  });
  const py = (bin: string, code: string, args: string[]): { child: ChildProcess; firstLine: Promise<string>; done: Promise<{ code: number | null; stdout: string; stderr: string }> } => {
    const child = spawn(bin, ["-c", code, ...args], { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000, killSignal: "SIGKILL" });
    children.add(child);
    let stdout = "";
    let stderr = "";
    const line = new Deferred<string>();
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      const nl = stdout.indexOf("\n");
      if (nl >= 0) line.resolve(stdout.slice(0, nl).trim());
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (c) => {
        children.delete(child);
        line.reject(new Error(`python exited (${c}): ${stderr}`));
        resolve({ code: c, stdout, stderr });
      });
    });
    return { child, firstLine: within(line.promise, 15_000, "python's first line"), done };
  };

  for (const version of ["3.12", "3.11"]) {
    it(`a Python ${version} Client calls a wirecall tcp:// server`, async (t) => {
      const bin = findPython(version);
      if (!bin) return void skipInterop(t, "the multiprocessing.connection interop tests", `no Python ${version}`);
      const s = await serve(makeHandler(new Probe()), "tcp://127.0.0.1:0", { authkey: KEY });
      try {
        const { done } = py(bin, PY_CLIENT, [String(portOf(s.url)), KEY]);
        const r = await within(done, 15_000, "python");
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), { hello: { wirecall: 1, serializer: "json" }, reply: [1, 1, 5] });
      } finally {
        await s.close();
      }
    });
  }

  for (const version of ["3.12", "3.11"]) it(`a wirecall client completes the handshake with a Python ${version} Listener`, async (t) => {
    const bin = findPython(version);
    if (!bin) return void skipInterop(t, "the multiprocessing.connection interop tests", `no Python ${version}`);
    const { firstLine, done } = py(bin, PY_LISTENER, [KEY]);
    const port = Number(await firstLine);
    const proxy = await connect(`tcp://127.0.0.1:${port}`, { authkey: KEY });
    assert.equal(await proxy.add(2, 3), 5);
    await proxy.$close();
    const r = await within(done, 15_000, "python");
    assert.equal(r.code, 0, r.stderr);
  });
});
