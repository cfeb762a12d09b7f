/**
 * The recipe protocol's server session and the recipe caller, over mem://
 * with raw frames: idiom detection per message, replies in the request's
 * idiom, Python 2 vs 3 replies, hostile and malformed frames, serial
 * execution, shutdown draining, and the caller's timeouts and refusals.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { RPCHandler, RemoteError, RpcError, connect, serve, type Server } from "../src/index.js";
import { type Connection, type ConnectionSink } from "../src/transport-sdk.js";
import { decodeReply, encodeRequest, isRecipeFrame, type Idiom } from "../protocols/python/idioms.js";
import { decodePickle } from "../protocols/python/pickle-decoder.js";
import { encodePickle, PyTuple } from "../protocols/python/pickle-encoder.js";
import { PythonError } from "../protocols/python/python-exceptions.js";
import { pythonRecipeProtocol } from "../protocols/python/recipe-protocol.js";
import { memoryTransport } from "../transports/memory/index.js";
// Registers the Python recipe: tcp:// servers answer recipe clients, `profile: "python"` calls recipe servers.
import "../protocols/python/index.js";
import { addEchoHandler } from "./support/handlers.js";

/** A raw client connection: frames in arrival order, and how it closed. */
class Raw implements ConnectionSink {
  readonly frames: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  closed: { err: Error | undefined } | undefined;

  constructor(readonly conn: Connection) {
    conn.open(this);
  }

  static async open(name: string): Promise<Raw> {
    return new Raw(await memoryTransport.connect(new URL(`mem://${name}`), {}));
  }

  frame(f: Uint8Array): void {
    this.frames.push(Uint8Array.from(f));
    this.#wake();
  }
  drain(): void {}
  close(err?: Error): void {
    this.closed = { err };
    this.#wake();
  }
  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  send(f: Uint8Array): void {
    this.conn.send(f);
  }

  /** The next frame, or undefined once closed. */
  async next(): Promise<Uint8Array | undefined> {
    while (this.frames.length === 0 && !this.closed) await new Promise<void>((r) => this.#waiters.push(r));
    return this.frames.shift();
  }

  async waitClosed(): Promise<Error | undefined> {
    while (!this.closed) await new Promise<void>((r) => this.#waiters.push(r));
    return this.closed.err;
  }
}

let seq = 0;
const servers: Server[] = [];

async function start(handler: RPCHandler): Promise<string> {
  const server = await serve(handler, `mem://python-session-${++seq}`, { protocols: [pythonRecipeProtocol] });
  servers.push(server);
  return new URL(server.url).host;
}

function handler(): RPCHandler {
  const h = addEchoHandler();
  h.register(function boom(name: string) {
    throw Object.assign(new Error("boom"), { name });
  });
  return h;
}

async function call(raw: Raw, idiom: Idiom, name: string, args: unknown[], kwargs?: Record<string, unknown>): Promise<unknown> {
  raw.send(encodeRequest(idiom, name, args, kwargs));
  const f = await raw.next();
  assert.ok(f, "connection closed instead of replying");
  const r = decodeReply(idiom, f);
  if (!r.ok) throw r.error;
  return r.value;
}

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe("recipe frame detection", () => {
  it("tells recipe frames from wirecall frames", () => {
    const text = (s: string) => new TextEncoder().encode(s);
    assert.equal(isRecipeFrame(text('{"wirecall":1,"serializer":"json"}')), false);
    assert.equal(isRecipeFrame(text('[0,1,"add",[1,2]]')), false);
    assert.equal(isRecipeFrame(text('[3,"log",["x"]]')), false);
    assert.equal(isRecipeFrame(text('["add", [1, 2], {}]')), true);
    assert.equal(isRecipeFrame(text(' [ "add",[1,2],{}]')), true);
    for (const proto of [2, 3, 4, 5]) assert.equal(isRecipeFrame(Uint8Array.of(0x80, proto, 0x4e, 0x2e)), true);
    assert.equal(isRecipeFrame(Uint8Array.of(0x80, 1, 0x4e, 0x2e)), false);
    assert.equal(isRecipeFrame(new Uint8Array(0)), false);
    for (const idiom of [1, 2, 3, 4] as const) assert.equal(isRecipeFrame(encodeRequest(idiom, "add", [1], {})), true);
  });
});

describe("recipe server session", () => {
  it("answers each message in its own idiom, on one connection", async () => {
    const raw = await Raw.open(await start(handler()));
    for (const idiom of [3, 1, 4, 2, 3, 4] as const) {
      assert.equal(await call(raw, idiom, "add", [2, 3]), 5, `idiom ${idiom}`);
    }
    assert.deepEqual(await call(raw, 3, "echo", [new Set([1])]), new Set([1]));
    raw.conn.close();
  });

  it("serves the same server's wirecall clients as before", async () => {
    const name = await start(handler());
    const proxy = await connect(`mem://${name}`);
    assert.equal(await proxy.add(1, 2), 3);
    await proxy.$close();
    // A client without a hello: its first frame is a JSON envelope, not a recipe frame.
    const raw = await Raw.open(name);
    raw.send(new TextEncoder().encode('[0,7,"add",[4,5]]'));
    assert.equal(new TextDecoder().decode(await raw.next()), "[1,7,9]");
    raw.conn.close();
  });

  it("maps JavaScript and wirecall errors to builtin Python exceptions", async () => {
    const raw = await Raw.open(await start(handler()));
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => call(raw, 3, "boom", ["KeyError"]), "KeyError", "REMOTE_ERROR"],
      [() => call(raw, 2, "boom", ["TypeError"]), "TypeError", "REMOTE_ERROR"],
      [() => call(raw, 3, "boom", ["RangeError"]), "ValueError", "REMOTE_ERROR"],
      [() => call(raw, 3, "boom", ["MyAppError"]), "RuntimeError", "REMOTE_ERROR"],
      [() => call(raw, 2, "nope", []), "AttributeError", "METHOD_NOT_FOUND"],
      [() => call(raw, 3, "add", [1], { q: 1 }), "TypeError", "INVALID_PARAMS"],
      [() => call(raw, 1, "nope", []), "AttributeError", "METHOD_NOT_FOUND"],
      [() => call(raw, 4, "boom", ["ZeroDivisionError"]), "ZeroDivisionError", "REMOTE_ERROR"],
    ];
    for (const [f, name, code] of cases) {
      await assert.rejects(f(), (e: unknown) => e instanceof PythonError && e.name === name && e.code === code, name);
    }
    raw.conn.close();
  });

  it("writes the documented JSON error object in the JSON idioms", async () => {
    const raw = await Raw.open(await start(handler()));
    raw.send(new TextEncoder().encode('["boom", ["ValueError"], {}]'));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(await raw.next())), { __error__: { name: "ValueError", message: "boom", code: "REMOTE_ERROR" } });
    raw.conn.close();
  });

  it("replies to Python 2 (protocol 2) in a form Python 2 reads", async () => {
    const raw = await Raw.open(await start(handler()));
    // Python 2's Connection.send: protocol 2, names as byte strings (SHORT_BINSTRING).
    const py2 = Buffer.from("80025504626f6f6d71005d7101550a56616c75654572726f727102617d71038771042e", "hex");
    assert.deepEqual(decodePickle(py2), ["boom", ["ValueError"], {}]);
    raw.send(py2);
    const reply = Buffer.from((await raw.next()) as Uint8Array);
    assert.equal(reply[1], 2, "protocol 2");
    assert.ok(reply.includes("exceptions\nValueError\n"), "Python 2 module name");
    raw.send(encodePickle(new PyTuple(["echo", new PyTuple([new Uint8Array([0xff])]), {}]), { python: 2 }));
    const bytesReply = Buffer.from((await raw.next()) as Uint8Array);
    assert.ok(bytesReply.includes("_codecs\nencode\n"), "bytes as _codecs.encode, a str on Python 2");
    raw.conn.close();
  });

  it("answers a well-formed message of the wrong shape and keeps the connection", async () => {
    const raw = await Raw.open(await start(handler()));
    for (const [idiom, frame] of [
      [3, encodePickle(42)],
      [3, encodePickle(new PyTuple([1, [], {}]))],
      [3, encodePickle(new PyTuple(["add", 5, {}]))],
      [3, encodePickle(new PyTuple(["add", [], new Map([[1, 2]])]))],
      [1, encodePickle("not json")],
      [4, new TextEncoder().encode('["add", [1, 2], {}')],
    ] as [Idiom, Uint8Array][]) {
      raw.send(frame);
      const r = decodeReply(idiom, (await raw.next()) as Uint8Array);
      assert.ok(!r.ok && r.error instanceof RpcError && r.error.code === "PROTOCOL_ERROR", `idiom ${idiom}`);
    }
    assert.equal(await call(raw, 3, "add", [1, 1]), 2);
    raw.conn.close();
  });

  it("closes the connection on a refused pickle, without calling anything, and keeps serving others", async () => {
    const h = handler();
    let calls = 0;
    h.use((_ctx, next) => {
      calls++;
      return next();
    });
    const name = await start(h);
    const other = await Raw.open(name);
    assert.equal(await call(other, 3, "add", [1, 2]), 3);
    const evil = [
      // Python's pickle.dumps of an object whose __reduce__ returns (os.system, ("echo pwned",))
      Buffer.from("80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e", "hex"),
      Uint8Array.of(0x80, 2, 0x5d, 0x2e, 0x4e), // a byte after STOP
      encodePickle(new PyTuple(["add", [1], {}])).subarray(0, 10), // truncated
      Uint8Array.of(0x80, 2, 0x63, ...Buffer.from("__builtin__\neval\n"), 0x2e),
    ];
    const refusedWith = async (raw: Raw, idiom: Idiom): Promise<void> => {
      // One error reply (what a Python client raises instead of a bare EOFError), then the close.
      const r = decodeReply(idiom, (await raw.next()) as Uint8Array);
      assert.ok(!r.ok && r.error instanceof PythonError && r.error.name === "ValueError" && r.error.code === "PROTOCOL_ERROR");
      await raw.waitClosed();
      assert.equal(raw.frames.length, 0);
    };
    for (const frame of evil) {
      const raw = await Raw.open(name);
      raw.send(frame);
      raw.send(encodeRequest(3, "add", [1, 2], undefined)); // never read
      await refusedWith(raw, 3);
    }
    // Idiom 2 with a refused inner pickle: the refusal comes in idiom 2, after the earlier call's reply.
    const raw = await Raw.open(name);
    raw.send(encodeRequest(2, "add", [5, 5], undefined));
    raw.send(encodePickle(evil[0] as Uint8Array, { python: 3 }));
    assert.deepEqual(decodeReply(2, (await raw.next()) as Uint8Array), { ok: true, value: 10 });
    await refusedWith(raw, 2);
    // Not a recipe message at all once the connection is a recipe one: closed without a reply.
    const junk = await Raw.open(name);
    junk.send(encodeRequest(4, "add", [1, 1], undefined));
    junk.send(Uint8Array.of(1, 2, 3));
    assert.deepEqual(decodeReply(4, (await junk.next()) as Uint8Array), { ok: true, value: 2 });
    await junk.waitClosed();
    assert.equal(junk.frames.length, 0);
    assert.equal(calls, 3);
    assert.equal(await call(other, 3, "add", [2, 2]), 4);
    other.conn.close();
  });

  it("runs one call at a time per connection and answers pipelined requests in order", async () => {
    const h = new RPCHandler();
    let running = 0;
    let most = 0;
    h.register(async function slow(i: number) {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((r) => setImmediate(r));
      running--;
      return i;
    });
    const raw = await Raw.open(await start(h));
    const n = 50; // more than the read-ahead queue, so reading pauses and resumes
    for (let i = 0; i < n; i++) raw.send(encodeRequest((1 + (i % 4)) as Idiom, "slow", [i], undefined));
    for (let i = 0; i < n; i++) {
      const r = decodeReply((1 + (i % 4)) as Idiom, (await raw.next()) as Uint8Array);
      assert.deepEqual(r, { ok: true, value: i });
    }
    assert.equal(most, 1);
    raw.conn.close();
  });

  it("lets server.close() finish the running call, then refuses the rest", async () => {
    const h = new RPCHandler();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const started = new Promise<void>((r) => (entered = r));
    h.register(async function wait() {
      entered();
      await gate;
      return "done";
    });
    const name = `python-session-${++seq}`;
    const server = await serve(h, `mem://${name}`, { protocols: [pythonRecipeProtocol], closeTimeout: 10_000 });
    const raw = await Raw.open(name);
    raw.send(encodeRequest(3, "wait", [], undefined));
    raw.send(encodeRequest(3, "wait", [], undefined));
    await started;
    const closing = server.close();
    release();
    assert.deepEqual(decodeReply(3, (await raw.next()) as Uint8Array), { ok: true, value: "done" });
    const second = decodeReply(3, (await raw.next()) as Uint8Array);
    assert.ok(!second.ok && (second.error as RpcError).code === "SHUTTING_DOWN");
    await closing;
    await raw.waitClosed();
  });

  it("aborts the running call's signal when the caller disconnects", async () => {
    const h = new RPCHandler();
    let aborted!: (reason: unknown) => void;
    const seen = new Promise<unknown>((r) => (aborted = r));
    h.register(
      function hang(ctx: { signal: AbortSignal }) {
        return new Promise((_, reject) => ctx.signal.addEventListener("abort", () => (aborted(ctx.signal.reason), reject(ctx.signal.reason))));
      },
      { context: true },
    );
    const raw = await Raw.open(await start(h));
    raw.send(encodeRequest(3, "hang", [], undefined));
    await new Promise<void>((r) => setImmediate(r));
    raw.conn.close();
    const reason = await seen;
    assert.ok(reason instanceof RpcError && reason.code === "CONNECTION_CLOSED");
  });
});

describe("recipe caller (profile: python)", () => {
  it("calls a recipe server in every idiom, with kwargs, and rethrows its exceptions", async () => {
    const name = await start(handler());
    for (const idiom of [1, 2, 3, 4]) {
      const proxy = await connect(`mem://${name}?profile=python&idiom=${idiom}`);
      assert.equal(await proxy.add(2, 3), 5);
      assert.deepEqual(await proxy.echo({ a: [1, "x"] }), { a: [1, "x"] });
      await assert.rejects(proxy.boom("KeyError"), (e: unknown) => e instanceof RemoteError && e.name === "KeyError" && e.message === "boom");
      await proxy.$close();
    }
    const named = await connect(`mem://${name}`, { profile: "python", idiom: "json-bytes" });
    assert.equal(await named.add(1, 1), 2);
    await named.$close();
    await assert.rejects(connect(`mem://${name}`, { profile: "python", idiom: "yaml" }), (e: unknown) => e instanceof RpcError && e.code === "INVALID_URL");
  });

  it("drops the late reply of a timed-out call and keeps replies matched", async () => {
    const h = handler();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.register(async function slow() {
      await gate;
      return "late";
    });
    const proxy = await connect(`mem://${await start(h)}?profile=python&idiom=3`);
    const slow = proxy.$call("slow", [], undefined, { timeout: 20 });
    const next = proxy.add(20, 22); // queued behind the slow call
    await assert.rejects(slow, (e: unknown) => e instanceof RpcError && e.code === "TIMEOUT");
    release();
    assert.equal(await next, 42);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(proxy.$call("add", [1, 2], undefined, { signal: ac.signal }), (e: unknown) => e instanceof RpcError && e.code === "CANCELLED");
    await proxy.$close();
  });

  it("refuses a reply pickle it does not allow, and closes", async () => {
    const name = `python-fake-${++seq}`;
    const evil = Buffer.from("80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e", "hex");
    const listener = await memoryTransport.listen(new URL(`mem://${name}`), {}, (conn) => {
      conn.open({ frame: () => conn.send(evil), drain() {}, close() {} });
    });
    try {
      const proxy = await connect(`mem://${name}?profile=python&idiom=3`);
      await assert.rejects(proxy.add(1, 2), (e: unknown) => e instanceof RpcError && e.code === "PROTOCOL_ERROR");
      await assert.rejects(proxy.add(1, 2), (e: unknown) => e instanceof RpcError && e.code === "CONNECTION_CLOSED");
      await proxy.$close();
    } finally {
      await listener.close();
    }
  });
});
