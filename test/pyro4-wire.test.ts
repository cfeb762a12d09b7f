/**
 * Message-level exchange with a real Python Pyro4 4.82 daemon
 * (test/fixtures/pyro4/greeting_daemon.py, HMAC key set) over node:net,
 * using only the codecs of protocols/pyro4: the connect handshake with
 * metadata, calls with args and kwargs, results, exception results, a
 * one-way call, a batch, an item stream, a ping; with each serializer
 * (serpent, json, marshal); and a wrong or missing HMAC key refused.
 */
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { RpcError } from "../src/index.js";
import {
  Flags,
  MessageDecoder,
  MsgType,
  PyTuple,
  Pyro4ExceptionWrapper,
  Pyro4RemoteError,
  decompress,
  encodeMessage,
  exceptionDict,
  serializerById,
  SerializerId,
  type PyroMessage,
  type Pyro4Serializer,
} from "../protocols/pyro4/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, runPython, startPython, type Started } from "./python-procs.js";

const skip = pyro4Skip();
const KEY = "wire s\u00e9cret";
/** Every wait in this file is bounded by this. */
const WAIT = 10_000;

/** A minimal Pyro4 client on the codecs: one socket, one call at a time, as Pyro4's own proxy. */
class WireClient {
  readonly #socket: Socket;
  readonly #decoder: MessageDecoder;
  readonly #key: string | undefined;
  readonly ser: Pyro4Serializer;
  readonly #inbox: PyroMessage[] = [];
  #waiter: ((m: PyroMessage | Error) => void) | undefined;
  #error: Error | undefined;
  seq = 0;

  private constructor(socket: Socket, key: string | undefined, ser: Pyro4Serializer) {
    this.#socket = socket;
    this.#key = key;
    this.ser = ser;
    this.#decoder = new MessageDecoder(key === undefined ? {} : { hmacKey: key });
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const m of this.#decoder.push(chunk)) this.#deliver(m);
      } catch (err) {
        this.#fail(err as Error);
        socket.destroy();
      }
    });
    socket.on("close", () => this.#fail(new RpcError("CONNECTION_CLOSED", "daemon closed the connection")));
    socket.on("error", (err) => this.#fail(err));
  }

  static open(port: number, key: string | undefined, serializer: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(new WireClient(s, key, serializerById(serializer))));
      s.once("error", reject);
    });
  }

  #deliver(m: PyroMessage): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) w(m);
    else this.#inbox.push(m);
  }

  #fail(err: Error): void {
    this.#error ??= err;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(err);
  }

  /** The next message from the daemon, within WAIT. */
  next(): Promise<PyroMessage> {
    const m = this.#inbox.shift();
    if (m) return Promise.resolve(m);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error("no message from the daemon in time"));
      }, WAIT);
      this.#waiter = (x) => {
        clearTimeout(timer);
        if (x instanceof Error) reject(x);
        else resolve(x);
      };
    });
  }

  send(type: number, flags: number, data: Uint8Array, seq = this.seq): void {
    this.#socket.write(encodeMessage({ type, flags, seq, serializerId: this.ser.id, data, annotations: { CORR: new Uint8Array(16).fill(9) } }, this.#key === undefined ? {} : { hmacKey: this.#key }));
  }

  body(m: PyroMessage): unknown {
    return this.ser.loads(m.flags & Flags.COMPRESSED ? decompress(m.data) : m.data);
  }

  /** The connect handshake, asking for metadata as Pyro4 proxies do by default. */
  async handshake(objectId: string): Promise<unknown> {
    this.send(MsgType.CONNECT, Flags.META_ON_CONNECT, this.ser.dumps({ handshake: "hello", object: objectId }));
    const m = await this.next();
    if (m.type === MsgType.CONNECTFAIL) throw new RpcError("CONNECT_FAILED", `refused: ${String(this.body(m))}`);
    assert.equal(m.type, MsgType.CONNECTOK);
    assert.equal(m.seq, this.seq);
    return this.body(m);
  }

  /** One call; resolves with the result (or the RESULT message for item streams), rejects with the remote exception. */
  async invoke(objectId: string, method: string, args: unknown[], kwargs: Record<string, unknown> = {}, flags = 0): Promise<unknown> {
    this.seq = (this.seq + 1) & 0xffff;
    this.send(MsgType.INVOKE, flags, this.ser.dumpsCall(objectId, method, args, kwargs));
    if (flags & Flags.ONEWAY) return undefined;
    const m = await this.next();
    assert.equal(m.type, MsgType.RESULT);
    assert.equal(m.seq, this.seq, "reply sequence number");
    assert.equal(m.serializerId, this.ser.id);
    const v = this.body(m);
    if (m.flags & Flags.ITEMSTREAMRESULT) return m;
    if (m.flags & Flags.EXCEPTION) throw v;
    return v;
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe("Pyro4 on the wire against Python's Pyro4 daemon", { skip }, () => {
  let daemon: Started;
  let port = 0;
  let objectId = "";

  before(async () => {
    daemon = await startPython(PYTHON, `${PYRO4_FIXTURES}greeting_daemon.py`, [KEY]);
    const m = /^PYRO:([^@]+)@127\.0\.0\.1:(\d+)$/.exec(daemon.firstLine);
    assert.ok(m, `daemon printed ${daemon.firstLine}`);
    objectId = m[1] as string;
    port = Number(m[2]);
  });
  after(async () => {
    await daemon?.stop();
    killAll();
  });

  for (const [name, id] of Object.entries({ serpent: SerializerId.serpent, json: SerializerId.json, marshal: SerializerId.marshal })) {
    it(`${name}: handshake with metadata, calls, kwargs, exceptions, one-way, batch, item stream, ping`, async () => {
      const c = await WireClient.open(port, KEY, id);
      try {
        const hello = (await c.handshake(objectId)) as { handshake: string; meta: { methods: string[]; oneway: string[]; attrs: string[] } };
        assert.equal(hello.handshake, "hello");
        assert.ok(hello.meta.methods.includes("get_fortune"), JSON.stringify(hello.meta));
        assert.deepEqual(hello.meta.oneway, ["note"]);

        assert.match(String(await c.invoke(objectId, "get_fortune", ["Ada"])), /^Hello, Ada\. Here is your fortune message:\nBehold the warranty/);
        assert.deepEqual(await c.invoke(objectId, "describe", [1], { c: 5 }), [1, 2, 5]);

        await assert.rejects(c.invoke(objectId, "divide", [1, 0]), (e: unknown) => {
          assert.ok(e instanceof Pyro4RemoteError, String(e));
          assert.equal(e.name, "ZeroDivisionError");
          assert.equal(e.pythonClass, "builtins.ZeroDivisionError");
          assert.equal(e.message, "division by zero");
          assert.match(e.remoteTraceback ?? "", /Traceback[\s\S]*ZeroDivisionError/);
          return true;
        });
        await assert.rejects(c.invoke(objectId, "lookup", ["nope"]), { name: "KeyError", message: "nope" });
        await assert.rejects(c.invoke(objectId, "no_such_method", []), { name: "AttributeError" });

        // One-way: no reply is sent; the next call's reply is the next message, and it sees the note.
        const note = `note via ${name}`;
        await c.invoke(objectId, "note", [note], {}, Flags.ONEWAY);
        const notes = (await c.invoke(objectId, "notes_so_far", [])) as string[];
        assert.ok(notes.includes(note), JSON.stringify(notes));

        // Batch: the calls go as one message; the reply is the list of results.
        const batch = await c.invoke(
          objectId,
          "<batch>",
          [new PyTuple(["describe", new PyTuple([7]), {}]), new PyTuple(["echo", new PyTuple(["x"]), {}])],
          {},
          Flags.BATCH,
        );
        assert.deepEqual(batch, [[7, 2, 3], "x"]);
        // A failing call ends the batch with Pyro4's exception wrapper in its place.
        const failing = () =>
          c.invoke(
            objectId,
            "<batch>",
            [new PyTuple(["echo", new PyTuple([1]), {}]), new PyTuple(["divide", new PyTuple([1, 0]), {}]), new PyTuple(["echo", new PyTuple([2]), {}])],
            {},
            Flags.BATCH,
          );
        if (name === "marshal") {
          // Python's own marshal serializer cannot carry the wrapper inside the result list: Pyro4 answers with this.
          await assert.rejects(failing(), { name: "ValueError", message: "unmarshallable object" });
        } else {
          const failed = (await failing()) as unknown[];
          assert.equal(failed.length, 2);
          assert.equal(failed[0], 1);
          assert.ok(failed[1] instanceof Pyro4ExceptionWrapper);
          assert.ok(failed[1].exception instanceof Pyro4RemoteError);
          assert.equal(failed[1].exception.name, "ZeroDivisionError");
        }

        // An iterator result is an item stream, pulled from the daemon object by stream id.
        const stream = (await c.invoke(objectId, "count", [4])) as PyroMessage;
        assert.ok(stream.flags & Flags.ITEMSTREAMRESULT);
        const streamId = Buffer.from(stream.annotations.get("STRM") ?? []).toString();
        assert.ok(streamId.length > 0);
        const items: unknown[] = [];
        for (;;) {
          try {
            items.push(await c.invoke("Pyro.Daemon", "get_next_stream_item", [streamId]));
          } catch (e) {
            assert.equal((e as Error).name, "StopIteration");
            break;
          }
          assert.ok(items.length <= 4);
        }
        assert.deepEqual(items, [0, 1, 2, 3]);

        c.send(MsgType.PING, 0, Buffer.from("ping"), 4242);
        const pong = await c.next();
        assert.equal(pong.type, MsgType.PING);
        assert.equal(pong.seq, 4242);
      } finally {
        c.close();
      }
    });
  }

  it("serpent values make the round trip through Python's echo unchanged", async () => {
    const c = await WireClient.open(port, KEY, SerializerId.serpent);
    try {
      await c.handshake(objectId);
      const values: unknown[] = [
        null,
        true,
        2n ** 100n,
        -(2n ** 70n),
        1.5,
        -0,
        Infinity,
        "h\u00e9llo \u{1f600} 'quoted' \"double\" \\ \n",
        "\ud800",
        new Uint8Array([0, 1, 255]),
        [1, [2, [3]]],
        { a: 1, __proto__x: 2 },
        new Map<unknown, unknown>([
          [1, "one"],
          ["two", 2],
        ]),
        new Set([1, 2, 3]),
      ];
      for (const v of values) {
        const got = await c.invoke(objectId, "echo", [v]);
        if (typeof v === "number" && Object.is(v, -0)) assert.ok(Object.is(got, -0));
        else assert.deepStrictEqual(got, v);
      }
      const nan = await c.invoke(objectId, "echo", [NaN]);
      assert.ok(Number.isNaN(nan));
      // A tuple comes back as an array: JavaScript has one sequence type.
      assert.deepEqual(await c.invoke(objectId, "echo", [new PyTuple([1, "a"])]), [1, "a"]);
    } finally {
      c.close();
    }
  });

  it("a wrong HMAC key is refused: the daemon's reply fails our check, and it never serves the call", async () => {
    const c = await WireClient.open(port, "not the key", SerializerId.serpent);
    try {
      // The daemon answers CONNECTFAIL signed with its own key, which our check refuses.
      await assert.rejects(c.handshake(objectId), { code: "AUTH_FAILED", message: /HMAC mismatch/ });
    } finally {
      c.close();
    }
    // A peer that does not wait for the handshake's answer: CONNECT and a one-way call in one write.
    const ser = serializerById(SerializerId.serpent);
    const sign = { hmacKey: "not the key" };
    const intruder = connect({ host: "127.0.0.1", port });
    const closed = new Promise<void>((resolve) => intruder.on("close", () => resolve()));
    intruder.on("error", () => {});
    intruder.resume(); // read (and drop) the CONNECTFAIL, so that the daemon's hang-up is seen
    intruder.write(
      Buffer.concat([
        encodeMessage({ type: MsgType.CONNECT, seq: 0, serializerId: ser.id, data: ser.dumps({ handshake: "hello", object: objectId }) }, sign),
        encodeMessage({ type: MsgType.INVOKE, flags: Flags.ONEWAY, seq: 1, serializerId: ser.id, data: ser.dumpsCall(objectId, "note", ["intruder"], {}) }, sign),
      ]),
    );
    const timer = setTimeout(() => intruder.destroy(new Error("the daemon did not hang up")), WAIT);
    const t0 = performance.now();
    await closed; // the daemon hangs up after refusing the handshake
    clearTimeout(timer);
    assert.ok(performance.now() - t0 < WAIT, "the daemon kept the refused connection open");
    const honest = await WireClient.open(port, KEY, SerializerId.serpent);
    try {
      await honest.handshake(objectId);
      assert.ok(!((await honest.invoke(objectId, "notes_so_far", [])) as string[]).includes("intruder"));
    } finally {
      honest.close();
    }
  });

  it("no HMAC key against a daemon that has one is refused", async () => {
    const c = await WireClient.open(port, undefined, SerializerId.serpent);
    try {
      // The daemon's reply carries an HMAC this side has no key for.
      await assert.rejects(c.handshake(objectId), { code: "AUTH_FAILED", message: /no HMAC key is set here/ });
    } finally {
      c.close();
    }
  });
});

/**
 * A daemon written on the codecs alone, in a few lines, answering Python's
 * own Pyro4.Proxy: the shape a wirecall Pyro4 front-end will have.
 */
function miniDaemon(key: string): Promise<{ server: Server; port: number; notes: string[] }> {
  const notes: string[] = [];
  const methods: Record<string, (args: unknown[], kwargs: Record<string, unknown>) => unknown> = {
    get_fortune: ([name]) => `Hello, ${String(name)}. Here is your fortune message:\nTomorrow's lucky number is 12345678.`,
    describe: ([a, b = 2, c = 3], kw) => [a, kw.b ?? b, kw.c ?? c],
    divide: ([a, b]) => {
      if (b === 0) throw Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
      return (a as number) / (b as number);
    },
    echo: ([v]) => v,
    note: ([text]) => void notes.push(String(text)),
    notes_so_far: () => [...notes],
  };
  const server = createServer((sock) => {
    const decoder = new MessageDecoder({ hmacKey: key });
    const reply = (type: number, flags: number, seq: number, serializerId: number, data: Uint8Array) =>
      sock.write(encodeMessage({ type, flags, seq, serializerId, data }, { hmacKey: key }));
    sock.on("error", () => {});
    sock.on("data", (chunk: Buffer) => {
      let messages: PyroMessage[];
      try {
        messages = decoder.push(chunk);
      } catch {
        sock.destroy(); // a framing or HMAC error: the stream cannot be trusted any more
        return;
      }
      for (const m of messages) {
        const ser = serializerById(m.serializerId);
        const body = m.flags & Flags.COMPRESSED ? decompress(m.data) : m.data;
        if (m.type === MsgType.PING) reply(MsgType.PING, 0, m.seq, m.serializerId, Buffer.from("pong"));
        else if (m.type === MsgType.CONNECT) {
          ser.loads(body);
          const meta = { methods: Object.keys(methods), oneway: ["note"], attrs: [] };
          const answer = m.flags & Flags.META_ON_CONNECT ? { handshake: "hello", meta } : "hello";
          reply(MsgType.CONNECTOK, m.flags & Flags.META_ON_CONNECT, m.seq, ser.id, ser.dumps(answer));
        } else if (m.type === MsgType.INVOKE) {
          const call = ser.loadsCall(body);
          try {
            const fn = Object.hasOwn(methods, call.method) ? methods[call.method] : undefined;
            if (!fn) throw Object.assign(new Error(`remote object has no exposed attribute or method '${call.method}'`), { name: "AttributeError" });
            const result = fn(call.args, call.kwargs);
            if (!(m.flags & Flags.ONEWAY)) reply(MsgType.RESULT, 0, m.seq, ser.id, ser.dumps(result));
          } catch (err) {
            const e = err as Error;
            const tb = ["Traceback (most recent call last):\n", `  wirecall mini daemon, in ${call.method}\n`, `${e.name}: ${e.message}\n`];
            if (!(m.flags & Flags.ONEWAY)) reply(MsgType.RESULT, Flags.EXCEPTION, m.seq, ser.id, ser.dumps(exceptionDict(e, tb)));
          }
        }
      }
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port, notes })));
}

describe("Python's Pyro4.Proxy against a daemon built on these codecs", { skip }, () => {
  let daemon: { server: Server; port: number; notes: string[] };
  before(async () => {
    daemon = await miniDaemon(KEY);
  });
  after(async () => {
    await new Promise<void>((resolve) => daemon?.server.close(() => resolve()));
    killAll();
  });

  for (const serializer of ["serpent", "json", "marshal"]) {
    it(`the seed client, unchanged but for the URI, with ${serializer}`, async () => {
      const uri = `PYRO:example.greeting@127.0.0.1:${daemon.port}`;
      const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, [uri, KEY, serializer]);
      assert.equal(r.code, 0, r.stderr);
      const steps = Object.fromEntries(r.stdout.trim().split("\n").map((l) => {
        const { step, value } = JSON.parse(l) as { step: string; value: unknown };
        return [step, value];
      }));
      assert.equal(steps.fortune, "Hello, Ada. Here is your fortune message:\nTomorrow's lucky number is 12345678.");
      assert.deepEqual(steps.kwargs, [1, 2, 5]);
      const [cls, message, traceback] = steps.exception as string[];
      assert.equal(cls, "ZeroDivisionError");
      assert.equal(message, "division by zero");
      assert.match(traceback ?? "", /Remote traceback:[\s\S]*wirecall mini daemon, in divide/);
      assert.ok((steps.oneway as string[]).includes("sent one-way"));
      // serpent and marshal carry Python's big ints exactly; JSON in JavaScript cannot (documented).
      assert.equal(steps.wide, serializer !== "json");
      assert.equal(steps.done, true);
    });
  }

  it("a Pyro4.Proxy with the wrong HMAC key is cut off, and nothing it sent runs", async () => {
    const before = daemon.notes.length;
    const uri = `PYRO:example.greeting@127.0.0.1:${daemon.port}`;
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, [uri, "wrong key", "serpent"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CommunicationError|ConnectionClosedError/);
    assert.equal(daemon.notes.length, before);
  });
});
