/**
 * `connect("PYRONAME:name[@host:port]")` and `connect("PYROMETA:tag[@host:port]")`
 * through a real name server (tcp and ws) to objects on tcp, ws and zmq;
 * where the name server address comes from (URL, `nameserver` option,
 * WIRECALL_NS, default), and the errors when nothing is found.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, connect, locateNS, startNameServer, type NameServer, type ObjectServer } from "../src/index.js";
import { defaultNameServerUrl } from "../src/naming/locate.js";
import "../transports/tcp/index.js";
import "../transports/ws/index.js";
import "../transports/zmq/index.js";
import { coded } from "./support/errors.js";

const KEY = "naming-lookup-key";

class Greeter {
  constructor(readonly who: string) {}
  hello(name: string): string {
    return `${this.who} greets ${name}`;
  }
}

describe("PYRONAME: and PYROMETA:", () => {
  let nsTcp: NameServer;
  let nsWs: NameServer;
  const servers: ObjectServer[] = [];
  let hostPort: string;

  before(async () => {
    nsTcp = await startNameServer("tcp://127.0.0.1:0", { authkey: KEY });
    nsWs = await startNameServer("ws://127.0.0.1:0/ns", { authkey: KEY });
    hostPort = new URL(nsTcp.url).host;
    const handler = new RPCHandler();
    for (const who of ["tcp-a", "tcp-b", "ws-a", "zmq-a"]) handler.registerInstance(new Greeter(who), who);
    servers.push(await serve2(handler, "tcp://127.0.0.1:0"), await serve2(handler, "ws://127.0.0.1:0/rpc"), await serve2(handler, "zmq+tcp://127.0.0.1:0"));
    const [tcp, ws, zmq] = servers as [ObjectServer, ObjectServer, ObjectServer];
    for (const ns of [nsTcp, nsWs]) {
      const c = await locateNS(ns.url, { authkey: KEY });
      await c.register("greeter.tcp", tcp.urlOf("tcp-a"), { metadata: ["pool", "tcp"] });
      await c.register("greeter.tcp2", tcp.urlOf("tcp-b"), { metadata: ["pool", "tcp"] });
      await c.register("greeter.ws", ws.urlOf("ws-a"), { metadata: ["ws"] });
      await c.register("greeter.zmq", zmq.urlOf("zmq-a"), { metadata: ["zmq"] });
      await c.close();
    }
  });

  after(async () => {
    for (const s of servers) await s.close();
    await nsTcp?.close();
    await nsWs?.close();
  });

  async function serve2(handler: RPCHandler, url: string): Promise<ObjectServer> {
    const { serve } = await import("../src/index.js");
    return serve(handler, url, { authkey: KEY });
  }

  it("PYRONAME:name@host:port reaches the registered object on tcp, ws and zmq", async () => {
    for (const [name, who] of [["greeter.tcp", "tcp-a"], ["greeter.ws", "ws-a"], ["greeter.zmq", "zmq-a"]] as const) {
      const p = await connect(`PYRONAME:${name}@${hostPort}`, { authkey: KEY });
      try {
        assert.equal(await p.hello("Ada"), `${who} greets Ada`);
      } finally {
        await p.$close();
      }
    }
  });

  it("the name server comes from the URL, else the nameserver option, else WIRECALL_NS", async () => {
    // A full URL after '@' (here the ws name server).
    let p = await connect(`PYRONAME:greeter.ws@${nsWs.url}`, { authkey: KEY });
    assert.equal(await p.hello("Bo"), "ws-a greets Bo");
    await p.$close();
    // The option, as a URL and as a client.
    p = await connect("PYRONAME:greeter.tcp", { authkey: KEY, nameserver: nsWs.url });
    assert.equal(await p.hello("Bo"), "tcp-a greets Bo");
    await p.$close();
    const client = await locateNS(nsTcp.url, { authkey: KEY });
    p = await connect("PYRONAME:greeter.zmq", { authkey: KEY, nameserver: client });
    assert.equal(await p.hello("Bo"), "zmq-a greets Bo");
    await p.$close();
    assert.equal(await client.count(), 5, "a client passed in stays open");
    await client.close();
    // The URL's location wins over the option.
    await nsWs.registry.register("only.ws", servers[0]!.urlOf("tcp-b"));
    await assert.rejects(connect(`PYRONAME:only.ws@${hostPort}`, { authkey: KEY, nameserver: nsWs.url }), coded("NAME_NOT_FOUND", /only\.ws/));
    // The environment, when neither is given.
    const saved = process.env.WIRECALL_NS;
    process.env.WIRECALL_NS = nsWs.url;
    try {
      assert.equal(defaultNameServerUrl(), nsWs.url);
      p = await connect("PYRONAME:only.ws", { authkey: KEY });
      assert.equal(await p.hello("Cy"), "tcp-b greets Cy");
      await p.$close();
      delete process.env.WIRECALL_NS;
      assert.equal(defaultNameServerUrl(), "tcp://127.0.0.1:9090", "Pyro's default");
    } finally {
      if (saved === undefined) delete process.env.WIRECALL_NS;
      else process.env.WIRECALL_NS = saved;
    }
  });

  it("PYROMETA:tag picks among the objects with every tag, at random", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const p = await connect(`PYROMETA:pool@${hostPort}`, { authkey: KEY });
      seen.add(String(await p.hello("x")));
      await p.$close();
    }
    assert.deepEqual([...seen].sort(), ["tcp-a greets x", "tcp-b greets x"]);
    const p = await connect(`PYROMETA:pool,tcp@${nsWs.url}`, { authkey: KEY });
    assert.match(String(await p.hello("y")), /^tcp-[ab] greets y$/);
    await p.$close();
    await assert.rejects(connect(`PYROMETA:pool,ws@${hostPort}`, { authkey: KEY }), coded("NAME_NOT_FOUND", /metadata/));
  });

  it("unknown names, malformed URLs and a wrong key fail with codes", async () => {
    await assert.rejects(connect(`PYRONAME:nobody@${hostPort}`, { authkey: KEY }), coded("NAME_NOT_FOUND", /nobody/));
    await assert.rejects(connect(`PYRONAME:@${hostPort}`, { authkey: KEY }), coded("INVALID_URL"));
    await assert.rejects(connect("PYRONAME:x@", { authkey: KEY }), coded("INVALID_URL", /nothing after '@'/));
    await assert.rejects(connect(`PYRONAME:greeter.tcp@${hostPort}`, { authkey: "wrong" }), coded("AUTH_FAILED"));
    // Separate keys for the name server and the target.
    const other = await startNameServer("tcp://127.0.0.1:0", { authkey: "ns-only" });
    try {
      await other.registry.register("g", servers[0]!.urlOf("tcp-a"));
      const p = await connect(`PYRONAME:g@${new URL(other.url).host}`, { authkey: KEY, nameserverOptions: { authkey: "ns-only" } });
      assert.equal(await p.hello("z"), "tcp-a greets z");
      await p.$close();
    } finally {
      await other.close();
    }
  });
});
