/**
 * Python's Pyro4 4.82 (Debian's python3-pyro4) against `serve(handler,
 * "pyro://...")`: the seed GreetingMaker client with its URI typed in, and
 * a client exercising values both ways, exceptions, one-way, batch, item
 * streams and HMAC, with each serializer.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, RpcError, serve, type ObjectServer } from "../src/index.js";
import { PYRO4_FIXTURES, PYTHON, pyro4Skip } from "./fixtures/pyro4/pyro4-python.js";
import { killAll, runPython } from "./python-procs.js";

const skip = pyro4Skip();
const KEY = "pyro s\u00e9cret";

/** The seed's GreetingMaker, as a wirecall object. */
class GreetingMaker {
  readonly notes: string[] = [];
  get_fortune(name: string): string {
    return `Hello, ${name}. Here is your fortune message:\nTomorrow's lucky number is 12345678.`;
  }
  describe(a: unknown, b: unknown = 2, c: unknown = 3): unknown[] {
    return [a, b, c];
  }
  divide(a: number, b: number): number {
    if (b === 0) throw Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
    return a / b;
  }
  echo(v: unknown): unknown {
    return v;
  }
  note(text: string): void {
    this.notes.push(text);
  }
  notes_so_far(): string[] {
    return [...this.notes];
  }
}

class InsufficientFunds extends Error {
  override name = "InsufficientFunds";
  readonly code = "NO_MONEY";
}

/** What the checks client (daemon_checks.py) calls. */
class Checks extends GreetingMaker {
  #release: (() => void) | undefined;
  #released = new Promise<void>((resolve) => (this.#release = resolve));
  #closed = 0;

  typeof(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "Array";
    if (typeof v === "object") return (v as object).constructor?.name ?? "Object";
    return typeof v;
  }
  make_values(serializer: string): Record<string, unknown> {
    return {
      // JSON in JavaScript has no ints beyond 2^53: the json serializer refuses them (tested below).
      ...(serializer === "json" ? {} : { bigint: 2n ** 80n + 7n }),
      bytes: new Uint8Array([0, 0x77, 0x69, 0x72, 0x65, 0xff]),
      set: new Set([1, 2]),
      date: new Date(Date.UTC(2024, 4, 17, 13, 45, 30, 123)),
      nested: { a: [1, { b: null }], t: true },
      float: 0.1,
    };
  }
  fail(kind: string): never {
    switch (kind) {
      case "zero":
        throw Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
      case "value":
        throw new RangeError("out of range");
      case "key":
        throw Object.assign(new Error("missing"), { name: "KeyError" });
      case "type":
        throw new TypeError("not a number");
      case "custom":
        throw new InsufficientFunds("balance 3, needed 5");
      default:
        throw new RpcError("METHOD_NOT_FOUND", `no such thing: ${kind}`);
    }
  }
  /** One-way by the daemon's metadata: waits for release(), which a later call makes. */
  override async note(text: string): Promise<void> {
    await this.#released;
    this.notes.push(text);
  }
  release(): void {
    this.#release?.();
  }
  *count(n: number): Generator<number> {
    try {
      for (let i = 0; i < n; i++) yield i;
    } finally {
      this.#closed++;
    }
  }
  async *acount(n: number): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) yield i * 10;
  }
  streams_closed(): number {
    return this.#closed;
  }
}

function steps(stdout: string): Record<string, unknown> {
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((l) => {
        const { step, value } = JSON.parse(l) as { step: string; value: unknown };
        return [step, value];
      }),
  );
}

describe("Python's Pyro4 clients against a wirecall Pyro4 daemon", { skip }, () => {
  let server: ObjectServer;
  let greeter: GreetingMaker;
  const errors: unknown[] = [];

  before(async () => {
    const handler = new RPCHandler();
    greeter = new GreetingMaker();
    handler.registerInstance(greeter, "example.greeting");
    handler.registerInstance(new Checks(), "checks");
    server = await serve(handler, "pyro://127.0.0.1:0", {
      authkey: KEY,
      oneway: ["example.greeting.note", "checks.note"],
      onError: (e: unknown) => errors.push(e),
    } as Record<string, unknown>);
  });
  after(async () => {
    await server?.close();
    killAll();
  });

  it("server.url is pyro://host:port and urlOf(id) is the object's Pyro4 URI", () => {
    assert.match(server.url, /^pyro:\/\/127\.0\.0\.1:\d+$/);
    const port = new URL(server.url).port;
    assert.equal(server.urlOf("example.greeting"), `PYRO:example.greeting@127.0.0.1:${port}`);
  });

  for (const serializer of ["serpent", "json", "marshal"]) {
    it(`the seed client, URI typed in, with ${serializer}`, async () => {
      const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, [server.urlOf("example.greeting"), KEY, serializer]);
      assert.equal(r.code, 0, r.stderr);
      const s = steps(r.stdout);
      assert.equal(s.fortune, "Hello, Ada. Here is your fortune message:\nTomorrow's lucky number is 12345678.");
      assert.deepEqual(s.kwargs, [1, 2, 5]);
      const [cls, message, traceback] = s.exception as string[];
      assert.equal(cls, "ZeroDivisionError");
      assert.equal(message, "division by zero");
      assert.match(traceback ?? "", /Remote traceback:[\s\S]*wirecall Pyro4 daemon, in example\.greeting\.divide[\s\S]*ZeroDivisionError: division by zero/);
      assert.ok((s.oneway as string[]).includes("sent one-way"));
      // serpent and marshal carry Python's big ints exactly; JSON in JavaScript cannot (documented).
      assert.equal(s.wide, serializer !== "json");
      assert.equal(s.done, true);
    });
  }
  for (const [label, key] of [["a wrong", "not the key"], ["no", ""]] as const) {
    it(`a Pyro4.Proxy with ${label} HMAC key is refused, and nothing it sent runs`, async () => {
      const before = greeter.notes.length;
      const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, [server.urlOf("example.greeting"), key, "serpent"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /CommunicationError|SecurityError|ConnectionClosedError/);
      assert.match(r.stderr, /hmac/i);
      assert.equal(greeter.notes.length, before);
    });
  }

  it("an unknown object is refused at the handshake, as Pyro4 refuses it", async () => {
    const r = await runPython(PYTHON, `${PYRO4_FIXTURES}greeting_client.py`, [server.urlOf("nobody.here"), KEY, "serpent"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /CommunicationError: connection to .* rejected: unknown object/);
  });
});

describe("Python's Pyro4 exercising a wirecall daemon: values, exceptions, one-way, batch, streams", { skip }, () => {
  after(() => killAll());

  for (const serializer of ["serpent", "json", "marshal"]) {
    it(`with ${serializer}`, async () => {
      const handler = new RPCHandler();
      handler.registerInstance(new Checks(), "checks");
      const server = await serve(handler, "pyro://127.0.0.1:0", { authkey: KEY, oneway: ["checks.note"] } as Record<string, unknown>);
      let s: Record<string, unknown>;
      try {
        const r = await runPython(PYTHON, `${PYRO4_FIXTURES}daemon_checks.py`, [server.urlOf("checks"), KEY, serializer]);
        assert.equal(r.code, 0, r.stderr);
        s = steps(r.stdout);
      } finally {
        await server.close();
      }
      const [methods, oneway] = s.metadata as [string[], string[]];
      assert.ok(methods.includes("get_fortune") && methods.includes("count") && !methods.some((m) => m.startsWith("_")), methods.join());
      assert.deepEqual(oneway, ["note"]);

      // Python -> JavaScript -> Python: the type the handler saw, and the value back.
      const values = s.values as Record<string, [string, boolean, string]>;
      const seen = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v[0]]));
      const expectSeen: Record<string, string> = {
        str: "string", int: "number", float: "number", tuple: "Array", list: "Array", dict: "Object",
        set: serializer === "json" ? "Array" : "Set", none: "null", true: "boolean", false: "boolean",
      };
      if (serializer !== "json") Object.assign(expectSeen, { bytes: "Uint8Array", bigint: "bigint", negbig: "bigint" });
      if (serializer !== "marshal") Object.assign(expectSeen, { datetime: "string", decimal: "string" });
      assert.deepEqual(seen, expectSeen);
      for (const [name, [, same, back]] of Object.entries(values)) assert.ok(same, `${name} came back as ${back}`);

      // JavaScript values as Python receives them.
      const made = s.made as Record<string, unknown>;
      assert.equal(made.bigint, serializer !== "json");
      assert.equal(made.bytes, true);
      assert.equal(made.bytes_native, serializer !== "json"); // json: Pyro4's base64 dict (serpent.tobytes reads it)
      assert.equal(made.set, true);
      assert.equal(made.set_native, serializer !== "json");
      assert.equal(made.date, "2024-05-17T13:45:30.123Z");
      assert.deepEqual(made.nested, { a: [1, { b: null }], t: true });
      assert.equal(made.float, 0.1);

      // Exceptions: the matching builtin where there is one, else PyroError naming the class; Pyro's remote traceback.
      const errs = s.errors as Record<string, [string, string, string]>;
      const expectErr: Record<string, [string, string]> = {
        zero: ["builtins.ZeroDivisionError", "division by zero"],
        value: ["builtins.ValueError", "out of range"],
        key: ["builtins.KeyError", "'missing'"],
        type: ["builtins.TypeError", "not a number"],
        custom: ["Pyro4.errors.PyroError", "InsufficientFunds: balance 3, needed 5"],
        notfound: ["builtins.AttributeError", "no such thing: notfound"],
      };
      for (const [kind, [cls, msg]] of Object.entries(expectErr)) {
        const got = errs[kind];
        assert.ok(got, kind);
        assert.equal(got[0], cls, kind);
        assert.equal(got[1], msg, kind);
        assert.match(got[2], /Remote traceback:\n \| Traceback \(most recent call last\):\n \|   wirecall Pyro4 daemon, in checks\.fail\n/, kind);
      }
      assert.equal(s.except, "division by zero");
      assert.match(String(s.attributeerror), /no_such_method/);

      assert.deepEqual(s.oneway, ["first"]);
      if (serializer !== "marshal") {
        assert.deepEqual(s.batch, [1, [1, 2, 5], "three"]);
        assert.deepEqual(s.batchfail, [1, "ZeroDivisionError: division by zero"]);
      }
      assert.equal(s.stream, true);
      assert.deepEqual(s.astream, [0, 10, 20, 30, 40]);
      // Two streams read to their end and one closed after two items: each generator's finally ran.
      assert.deepEqual(s.closed, [[0, 1], 3]);
      assert.deepEqual(s.kwargs, [1, 2, 3]);
      assert.match(String(s.missing), /missing required argument 'a'/);
      assert.equal(s.done, true);
    });
  }
});
