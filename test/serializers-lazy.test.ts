/**
 * msgpack and superjson load on first use (src/serializers/index.ts): a
 * process that never served and never named them has not loaded them, and
 * a client in a fresh process that names one gets it at connect time. The
 * client runs in a child process so that this file's own servers (which
 * load every serializer) cannot load it for the client.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { RPCHandler, serve } from "../src/index.js";
import "../transports/tcp/index.js";

const CLIENT = `
const { connect, getSerializer, listSerializers } = await import(process.argv[1]);
await import(process.argv[2]);
const before = [getSerializer("msgpack") !== undefined, getSerializer("superjson") !== undefined, listSerializers().sort().join(",")];
const out = { before };
for (const serializer of ["msgpack", "superjson"]) {
  const p = await connect(process.argv[3], { serializer, timeout: 20000 });
  const d = new Date(1_700_000_000_000);
  const back = await p.echo(d);
  out[serializer] = { date: back instanceof Date && back.getTime() === d.getTime(), loaded: getSerializer(serializer) !== undefined };
  await p.$close();
}
console.log(JSON.stringify(out));
`;

function runClient(url: string): Promise<string> {
  const index = new URL("../src/index.js", import.meta.url).href;
  const tcp = new URL("../transports/tcp/index.js", import.meta.url).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", CLIENT, index, tcp, url], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`client exited with ${code}: ${err}`));
    });
  });
}

describe("serializers load on first use", () => {
  it("a fresh client process loads msgpack and superjson when it names them", async () => {
    const h = new RPCHandler().register("echo", (v: unknown) => v);
    const server = await serve(h, "tcp://127.0.0.1:0");
    try {
      const got = JSON.parse(await runClient(server.url)) as Record<string, unknown>;
      assert.deepEqual(got, {
        before: [false, false, "json,msgpack,superjson"],
        msgpack: { date: true, loaded: true },
        superjson: { date: true, loaded: true },
      });
    } finally {
      await server.close();
    }
  });
});
