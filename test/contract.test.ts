/**
 * An outsider's acceptance test of the design contract (DESIGN.md): every
 * "must" exercised black-box, through the public package API only
 * (`wirecall`, `wirecall/tcp`, `wirecall/ws`, `wirecall/zmq`,
 * `wirecall/xmlrpc`) and what README.md and docs/protocol.md say. The raw
 * clients and servers below are written from docs/protocol.md alone.
 *
 * Real sockets on 127.0.0.1 port 0. No sleeps: every wait is on a promise or
 * an event and is bounded (`within`), so a broken behaviour fails instead of
 * hanging.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { after, before, describe, it } from "node:test";
import { skipInterop } from "./support/interop.js";
import WebSocket from "ws";
import { Dealer } from "zeromq";
import {
  RPCHandler,
  RemoteError,
  RpcError,
  connect,
  kw,
  listSerializers,
  registerError,
  registerSerializer,
  serve,
  unregisterError,
  type AnyRemote,
  type CallContext,
  type Remote,
  type Serializer,
  type Server,
} from "wirecall";
import { makeTestCerts, type TestCerts } from "./tcp-certs.js";
import { findPython } from "./python-procs.js";

// ---------------------------------------------------------------- helpers

/** Upper bound of every wait: a test fails rather than hangs. */
const BOUND = 5000;

class Deferred<T = void> {
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  readonly promise = new Promise<T>((res, rej) => {
    this.resolve = res;
    this.reject = rej;
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** assert.rejects validator: an RpcError with this code. */
function code(expected: string) {
  return (err: unknown): true => {
    assert.ok(err instanceof RpcError, `expected an RpcError ${expected}, got ${inspect(err)}`);
    assert.equal(err.code, expected, inspect(err));
    return true;
  };
}

/** assert.rejects validator: INVALID_PARAMS whose message names the parameter. */
function invalidParam(param: string) {
  return (err: unknown): true => {
    code("INVALID_PARAMS")(err);
    const escaped = param.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match((err as Error).message, new RegExp(`(^|[^A-Za-z0-9_])${escaped}([^A-Za-z0-9_]|$)`), `the message must name '${param}'`);
    return true;
  };
}

/** Handler-side events the tests wait on (a handler runs in this process). */
class Probe {
  #map = new Map<string, Deferred<unknown>>();
  #get(key: string): Deferred<unknown> {
    let d = this.#map.get(key);
    if (!d) {
      d = new Deferred<unknown>();
      this.#map.set(key, d);
    }
    return d;
  }
  hit(key: string, value: unknown = true): void {
    this.#get(key).resolve(value);
  }
  wait(key: string): Promise<unknown> {
    return within(this.#get(key).promise, BOUND, key);
  }
  /** Unbounded: for handlers waiting on the test. */
  gate(key: string): Promise<unknown> {
    return this.#get(key).promise;
  }
}

let tokens = 0;
const token = (): string => `t${++tokens}`;

/** Names on Object.prototype, Function.prototype and Array.prototype: compared before and after. */
function prototypeSnapshot(): string {
  return [Object.prototype, Function.prototype, Array.prototype]
    .map((p) => Object.getOwnPropertyNames(p).sort().join(","))
    .join("|");
}
const PRISTINE = prototypeSnapshot();
function assertNoPollution(): void {
  assert.equal(prototypeSnapshot(), PRISTINE, "a prototype was modified");
  const probe = {} as Record<string, unknown>;
  for (const k of ["polluted", "x", "yes"]) assert.equal(probe[k], undefined, `Object.prototype.${k} appeared`);
}

// ---------------------------------------------------------------- the service

/** The API of the DESIGN.md snippet, for `connect<Api>`. */
interface Api {
  add(x: number, y: number): number;
  get_power(n: number, m: number): number;
  describe(a: number, b: number, z?: number): { a: number; b: number; z: number };
  greeter: { welcome(name: string, punctuation?: string): string; inherited(): string; own(): string };
  system: { listMethods(): string[]; methodHelp(name: string): string; methodSignature(name: string): unknown };
  slow(tok: string): string;
  /** Type-only: a method returning a Promise gives a Promise of its awaited value, not a nested one. */
  later(x: number): Promise<number>;
}

class Base {
  inherited(): string {
    return "inherited";
  }
  _baseSecret(): string {
    return "base secret";
  }
}

class Greeter extends Base {
  own = (): string => "own";
  count = 3;
  welcome(name: string, punctuation = "!"): string {
    return `Welcome, ${name}${punctuation}`;
  }
  _secret(): string {
    return "hidden";
  }
}

class QuotaError extends Error {
  override name = "QuotaError";
}
/** No `name` of its own: its instances are named "Error" unless wirecall uses the class name. */
class BareError extends Error {}

const SECRET = "s3cret-authkey-NEVER-IN-LOGS";
const KEY = "peekaboo";

function makeHandler(probe: Probe, options?: ConstructorParameters<typeof RPCHandler>[0]): RPCHandler {
  const handler = new RPCHandler(options);
  // The DESIGN.md snippet.
  handler.register(function add(x: number, y: number) {
    return x + y;
  });
  handler.register("get_power", (n: number, m: number) => n ** m);
  handler.registerInstance(new Greeter(), "greeter");
  handler.register("describe", (a: number, b: number, z = 0) => ({ a, b, z }));
  // kwargs
  handler.register("bind_check", (first: unknown, second: unknown, third: unknown = "default") => [first, second, third]);
  handler.register("declared", (...args: unknown[]) => args, { params: ["p1", "p2?"] });
  handler.register("weird", (a: unknown, b: unknown) => [typeof a, typeof b], { params: ["toString", "constructor"] });
  handler.register("gather", (head: unknown, ...rest: unknown[]) => [head, rest]);
  handler.registerInstance({ hello: () => "hi" }, "lit");
  handler.register("math.square", (x: number) => x * x);
  handler.register("power", (n: number, m = 2) => n ** m, { doc: "n to the m-th power" });
  // values
  handler.register("echo", (v: unknown) => v);
  handler.register("bytes", (n: number) => Uint8Array.from({ length: n }, (_, i) => i & 0xff));
  handler.register("records", () => Array.from({ length: 8 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"] })));
  handler.register("when", () => new Date(1_700_000_000_123));
  handler.register("big", () => 2n ** 70n);
  handler.register("then", () => "then-called");
  // calls the tests hold open
  handler.register(
    "slow",
    (ctx: CallContext, tok: string) => {
      probe.hit(`start:${tok}`, ctx.signal instanceof AbortSignal && !ctx.signal.aborted);
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          probe.hit(`abort:${tok}`, ctx.signal.aborted);
          reject(ctx.signal.reason);
        };
        if (ctx.signal.aborted) onAbort();
        else ctx.signal.addEventListener("abort", onAbort, { once: true });
        void probe.gate(`release:${tok}`).then(() => resolve("released"));
      });
    },
    { context: true },
  );
  handler.register("log", (tok: string, value: unknown) => {
    probe.hit(`log:${tok}`, value);
  });
  handler.register("log_kw", (tok: string, value: unknown = "default") => {
    probe.hit(`log:${tok}`, value);
  });
  // errors
  handler.register("fail_code", () => {
    throw Object.assign(new RangeError("division by zero"), { code: "EDIVZERO", data: { a: 1, list: [1, 2] }, errno: 28 });
  });
  handler.register("fail_plain", () => {
    throw new TypeError("not a number");
  });
  handler.register("fail_zde", () => {
    throw Object.assign(new Error("division by zero"), { name: "ZeroDivisionError" });
  });
  handler.register("fail_cause", () => {
    throw new Error("outer", { cause: Object.assign(new TypeError("inner"), { code: "EINNER" }) });
  });
  handler.register("fail_quota", () => {
    throw new QuotaError("quota exceeded", { cause: new Error("disk 97% full") });
  });
  handler.register("fail_bare", () => {
    throw new BareError("bare");
  });
  handler.register("fail_named", (name: string) => {
    throw Object.assign(new Error("hostile"), { name });
  });
  handler.register("fail_rpc", () => {
    throw new RpcError("CUSTOM_CODE", "custom", { data: { x: 1 } });
  });
  handler.register("fail_string", () => {
    throw "just a string";
  });
  return handler;
}

// ---------------------------------------------------------------- serializers of our own

const customCalls = { encode: 0, decode: 0 };
const MAGIC = 0xb7;
/** A binary serializer that is not JSON on the wire (a magic byte first). */
const contractBin: Serializer = {
  name: "contract-bin",
  binary: true,
  encode(value: unknown): Uint8Array {
    customCalls.encode++;
    const body = new TextEncoder().encode(JSON.stringify(value));
    const out = new Uint8Array(body.length + 1);
    out[0] = MAGIC;
    out.set(body, 1);
    return out;
  },
  decode(frame: Uint8Array): unknown {
    customCalls.decode++;
    if (frame[0] !== MAGIC) throw new Error("not a contract-bin frame");
    return JSON.parse(new TextDecoder().decode(frame.subarray(1)));
  },
};
/** The shape DESIGN.md names: "an object with a name, encode and decode". */
const contractText = {
  name: "contract-text",
  encode: (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ wrapped: value })),
  decode: (frame: Uint8Array): unknown => (JSON.parse(new TextDecoder().decode(frame)) as { wrapped: unknown }).wrapped,
};
/** The same shape with frames that are not UTF-8 (a 0xff byte first), still without `binary`. */
const contractBytes = {
  name: "contract-bytes",
  encode: (value: unknown): Uint8Array => Uint8Array.from([0xff, ...new TextEncoder().encode(JSON.stringify(value))]),
  decode: (frame: Uint8Array): unknown => {
    if (frame[0] !== 0xff) throw new Error("not a contract-bytes frame");
    return JSON.parse(new TextDecoder().decode(frame.subarray(1)));
  },
};
registerSerializer(contractBin);
registerSerializer(contractText);
registerSerializer(contractBytes);

// ---------------------------------------------------------------- plain MessagePack, from the spec

/** A strict MessagePack decoder: only the spec's types and the timestamp extension (-1). */
function mpDecode(input: Uint8Array): unknown {
  const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let pos = 0;
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  const take = (n: number): Buffer => {
    if (pos + n > buf.length) throw new Error("msgpack: truncated");
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const ext = (n: number): Date => {
    const type = take(1).readInt8(0);
    const data = take(n);
    if (type !== -1) throw new Error(`msgpack: extension type ${type} is not plain MessagePack`);
    if (n === 4) return new Date(data.readUInt32BE(0) * 1000);
    if (n === 8) {
      const hi = data.readUInt32BE(0);
      const lo = data.readUInt32BE(4);
      return new Date(((hi & 3) * 2 ** 32 + lo) * 1000 + (hi >>> 2) / 1e6);
    }
    if (n === 12) return new Date(Number(data.readBigInt64BE(4)) * 1000 + data.readUInt32BE(0) / 1e6);
    throw new Error("msgpack: bad timestamp length");
  };
  const big = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v);
  const array = (n: number): unknown[] => Array.from({ length: n }, () => read());
  const map = (n: number): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = read();
      if (typeof k !== "string") throw new Error(`msgpack: map key of type ${typeof k}`);
      Object.defineProperty(o, k, { value: read(), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  const read = (): unknown => {
    const b = take(1)[0] as number;
    if (b <= 0x7f) return b;
    if (b >= 0xe0) return b - 0x100;
    if (b >= 0xa0 && b <= 0xbf) return utf8.decode(take(b & 0x1f));
    if (b >= 0x90 && b <= 0x9f) return array(b & 0x0f);
    if (b >= 0x80 && b <= 0x8f) return map(b & 0x0f);
    switch (b) {
      case 0xc0: return null;
      case 0xc2: return false;
      case 0xc3: return true;
      case 0xc4: return new Uint8Array(take(take(1).readUInt8(0)));
      case 0xc5: return new Uint8Array(take(take(2).readUInt16BE(0)));
      case 0xc6: return new Uint8Array(take(take(4).readUInt32BE(0)));
      case 0xc7: return ext(take(1).readUInt8(0));
      case 0xc8: return ext(take(2).readUInt16BE(0));
      case 0xc9: return ext(take(4).readUInt32BE(0));
      case 0xca: return take(4).readFloatBE(0);
      case 0xcb: return take(8).readDoubleBE(0);
      case 0xcc: return take(1).readUInt8(0);
      case 0xcd: return take(2).readUInt16BE(0);
      case 0xce: return take(4).readUInt32BE(0);
      case 0xcf: return big(take(8).readBigUInt64BE(0));
      case 0xd0: return take(1).readInt8(0);
      case 0xd1: return take(2).readInt16BE(0);
      case 0xd2: return take(4).readInt32BE(0);
      case 0xd3: return big(take(8).readBigInt64BE(0));
      case 0xd4: return ext(1);
      case 0xd5: return ext(2);
      case 0xd6: return ext(4);
      case 0xd7: return ext(8);
      case 0xd8: return ext(16);
      case 0xd9: return utf8.decode(take(take(1).readUInt8(0)));
      case 0xda: return utf8.decode(take(take(2).readUInt16BE(0)));
      case 0xdb: return utf8.decode(take(take(4).readUInt32BE(0)));
      case 0xdc: return array(take(2).readUInt16BE(0));
      case 0xdd: return array(take(4).readUInt32BE(0));
      case 0xde: return map(take(2).readUInt16BE(0));
      case 0xdf: return map(take(4).readUInt32BE(0));
      default: throw new Error(`msgpack: 0x${b.toString(16)} is not a MessagePack type byte`);
    }
  };
  const value = read();
  if (pos !== buf.length) throw new Error("msgpack: trailing bytes");
  return value;
}

/** A minimal MessagePack encoder (nil, bool, int, float64, str, bin, array, map). */
function mpEncode(value: unknown): Buffer {
  const out: number[] = [];
  const u16 = (n: number): void => void out.push((n >>> 8) & 0xff, n & 0xff);
  const u32 = (n: number): void => void out.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const raw = (b: Uint8Array): void => {
    for (const x of b) out.push(x);
  };
  const enc = (v: unknown): void => {
    if (v === null || v === undefined) out.push(0xc0);
    else if (v === false) out.push(0xc2);
    else if (v === true) out.push(0xc3);
    else if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 128) out.push(v);
    else if (typeof v === "number" && Number.isInteger(v) && v < 0 && v >= -32) out.push(0x100 + v);
    else if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) {
      out.push(0xce);
      u32(v);
    } else if (typeof v === "number" && Number.isInteger(v) && v < 0 && v >= -0x80000000) {
      out.push(0xd2);
      u32(v >>> 0);
    } else if (typeof v === "number") {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v);
      out.push(0xcb);
      raw(b);
    } else if (typeof v === "string") {
      const b = Buffer.from(v, "utf8");
      if (b.length < 32) out.push(0xa0 | b.length);
      else if (b.length < 256) out.push(0xd9, b.length);
      else {
        out.push(0xda);
        u16(b.length);
      }
      raw(b);
    } else if (v instanceof Uint8Array) {
      if (v.length < 256) out.push(0xc4, v.length);
      else {
        out.push(0xc5);
        u16(v.length);
      }
      raw(v);
    } else if (Array.isArray(v)) {
      if (v.length < 16) out.push(0x90 | v.length);
      else {
        out.push(0xdc);
        u16(v.length);
      }
      v.forEach(enc);
    } else if (typeof v === "object") {
      const keys = Object.keys(v);
      if (keys.length < 16) out.push(0x80 | keys.length);
      else {
        out.push(0xde);
        u16(keys.length);
      }
      for (const k of keys) {
        enc(k);
        enc((v as Record<string, unknown>)[k]);
      }
    } else throw new Error(`mpEncode: ${typeof v}`);
  };
  enc(value);
  return Buffer.from(out);
}

// ---------------------------------------------------------------- a raw TCP peer, from docs/protocol.md 5.2

function frameOf(payload: string | Uint8Array): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const header = Buffer.alloc(4);
  header.writeInt32BE(body.length);
  return Buffer.concat([header, body]);
}

class RawTcp {
  #buf = Buffer.alloc(0);
  #frames: Buffer[] = [];
  #waiters: Deferred<Buffer>[] = [];
  #closed = new Deferred<void>();
  #isClosed = false;

  static open(port: number): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => resolve(new RawTcp(socket)));
      socket.once("error", reject);
    });
  }

  constructor(readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#drain();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#isClosed = true;
      this.#closed.resolve();
      for (const w of this.#waiters.splice(0)) w.reject(new Error("connection closed"));
    });
  }

  #drain(): void {
    for (;;) {
      if (this.#buf.length < 4) return;
      let len = this.#buf.readInt32BE(0);
      let header = 4;
      if (len === -1) {
        if (this.#buf.length < 12) return;
        len = Number(this.#buf.readBigUInt64BE(4));
        header = 12;
      } else if (len < 0) {
        this.socket.destroy();
        return;
      }
      if (this.#buf.length < header + len) return;
      const frame = Buffer.from(this.#buf.subarray(header, header + len));
      this.#buf = this.#buf.subarray(header + len);
      const w = this.#waiters.shift();
      if (w) w.resolve(frame);
      else this.#frames.push(frame);
    }
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }
  /** Resolves when the peer has closed the connection. */
  closed(): Promise<void> {
    return within(this.#closed.promise, BOUND, "the peer to close the connection");
  }
  next(): Promise<Buffer> {
    const f = this.#frames.shift();
    if (f) return Promise.resolve(f);
    if (this.#isClosed) return Promise.reject(new Error("connection closed"));
    const d = new Deferred<Buffer>();
    this.#waiters.push(d);
    return within(d.promise, BOUND, "a frame");
  }
  async nextText(): Promise<string> {
    return (await this.next()).toString("utf8");
  }
  async nextJson(): Promise<unknown> {
    return JSON.parse(await this.nextText());
  }
  send(payload: string | Uint8Array): void {
    this.socket.write(frameOf(payload));
  }
  sendJson(value: unknown): void {
    this.send(JSON.stringify(value));
  }
  writeRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
  destroy(): void {
    this.socket.destroy();
  }
}

const CHALLENGE = Buffer.from("#CHALLENGE#");
const SHA256 = Buffer.from("{sha256}");
const hmac = (alg: string, key: string, msg: Uint8Array): Buffer => createHmac(alg, key).update(msg).digest();

/** Steps 1-3 with the server delivering: answer its `#CHALLENGE#`. */
async function answerChallenge(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, key: string, legacy = false): Promise<string> {
  const msg = await raw.next();
  assert.ok(msg.length <= 256, "handshake frames are at most 256 bytes");
  assert.ok(msg.subarray(0, CHALLENGE.length).equals(CHALLENGE), `expected #CHALLENGE#, got ${msg.toString("latin1")}`);
  const m = msg.subarray(CHALLENGE.length);
  assert.ok(m.subarray(0, SHA256.length).equals(SHA256), "the challenge is in the {sha256} form");
  assert.equal(m.length, SHA256.length + 40);
  raw.send(legacy ? hmac("md5", key, m) : Buffer.concat([SHA256, hmac("sha256", key, m)]));
  return (await raw.next()).toString("latin1");
}

/** Steps 1-3 with us delivering: send our `#CHALLENGE#`, check the answer. */
async function deliverChallenge(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, key: string, legacy = false): Promise<void> {
  if (legacy) {
    const m = randomBytes(20);
    raw.send(Buffer.concat([CHALLENGE, m]));
    assert.deepEqual(await raw.next(), hmac("md5", key, m));
  } else {
    const m = Buffer.concat([SHA256, randomBytes(40)]);
    raw.send(Buffer.concat([CHALLENGE, m]));
    assert.deepEqual(await raw.next(), Buffer.concat([SHA256, hmac("sha256", key, m)]));
  }
  raw.send("#WELCOME#");
}

async function rawTcpClient(port: number, key?: string): Promise<RawTcp> {
  const raw = await RawTcp.open(port);
  if (key !== undefined) {
    assert.equal(await answerChallenge(raw, key), "#WELCOME#");
    await deliverChallenge(raw, key);
  }
  return raw;
}

async function rawHello(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, serializer: string): Promise<void> {
  raw.send(JSON.stringify({ wirecall: 1, serializer }));
  const answer = JSON.parse((await raw.next()).toString("utf8")) as { wirecall: number; serializer: string };
  assert.equal(answer.wirecall, 1);
  assert.equal(answer.serializer, serializer);
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

// ---------------------------------------------------------------- transports

let certs: TestCerts | undefined;
const tls = (): TestCerts => (certs ??= makeTestCerts());

interface Target {
  name: string;
  listen: string;
  auth: boolean;
  server(): Record<string, unknown>;
  client(): Record<string, unknown>;
}

const TARGETS: Target[] = [
  { name: "mem", listen: "mem://0", auth: false, server: () => ({}), client: () => ({}) },
  { name: "tcp", listen: "tcp://127.0.0.1:0", auth: true, server: () => ({ authkey: KEY }), client: () => ({ authkey: KEY }) },
  {
    name: "tls",
    listen: "tls://127.0.0.1:0",
    auth: true,
    server: () => ({ authkey: KEY, cert: tls().server.cert, key: tls().server.key }),
    client: () => ({ authkey: KEY, ca: tls().server.cert }),
  },
  { name: "ws", listen: "ws://127.0.0.1:0/rpc", auth: true, server: () => ({ authkey: KEY }), client: () => ({ authkey: KEY }) },
  { name: "zmq", listen: "zmq+tcp://127.0.0.1:0", auth: true, server: () => ({ authkey: KEY }), client: () => ({ authkey: KEY }) },
];

function withoutKey(o: Record<string, unknown>): Record<string, unknown> {
  const { authkey: _, ...rest } = o;
  return rest;
}

// The environment must not supply a key behind the tests' back.
const savedEnvKey = process.env.WIRECALL_AUTHKEY;
delete process.env.WIRECALL_AUTHKEY;
after(() => {
  if (savedEnvKey !== undefined) process.env.WIRECALL_AUTHKEY = savedEnvKey;
});

// ---------------------------------------------------------------- typing (compile time only)

/** Never run: `tsc` checks that `connect<Api>` accepts the DESIGN.md calls and rejects wrong ones. */
async function typeChecks(url: string): Promise<void> {
  const proxy: Remote<Api> = await connect<Api>(url, { authkey: "peekaboo", serializer: "msgpack" });
  const five: number = await proxy.add(2, 3);
  const d: { a: number; b: number; z: number } = await proxy.describe(1, 2, kw({ z: 3 }));
  const names: string[] = await proxy.system.listMethods();
  const w: string = await proxy.greeter.welcome("Ada");
  const r: unknown = await proxy.$call("add", [1, 2], { x: 1 }, { timeout: 1, signal: AbortSignal.abort() });
  const later: Promise<number> = proxy.later(1);
  const laterKw: number = await proxy.later(kw({ x: 1 }));
  void [later, laterKw];
  await proxy.$notify("add", 1, 2);
  // @ts-expect-error: add takes numbers
  await proxy.add("2", 3);
  // @ts-expect-error: not part of Api
  await proxy.nope();
  // @ts-expect-error: add resolves to a number
  const s: string = await proxy.add(1, 2);
  await proxy[Symbol.asyncDispose]();
  await proxy.$close();
  const loose: AnyRemote = await connect(url);
  await loose.anything.goes(1, kw({ a: 1 }));
  void [five, d, names, w, r, s];
}
void typeChecks;

// ================================================================ per transport

for (const t of TARGETS) {
  describe(`contract over ${t.name}`, () => {
    const probe = new Probe();
    let server: Server;
    const opened: { $close(): Promise<void> }[] = [];
    const open = async (extra: Record<string, unknown> = {}, url?: string): Promise<AnyRemote> => {
      const p = await connect(url ?? server.url, { ...t.client(), ...extra });
      opened.push(p);
      return p;
    };

    before(async () => {
      server = await serve(makeHandler(probe), t.listen, t.server());
    });
    after(async () => {
      for (const p of opened) await p.$close().catch(() => {});
      await server?.close();
      assertNoPollution();
    });

    it("runs the DESIGN.md Public API snippet; server.url has the real port", async () => {
      const url = new URL(server.url);
      assert.equal(url.protocol, new URL(t.listen).protocol);
      if (t.name !== "mem") assert.ok(Number(url.port) > 0, `server.url ${server.url} has no real port`);
      if (t.name === "ws") assert.equal(url.pathname, "/rpc");
      const proxy = await connect<Api>(server.url, { ...t.client(), serializer: "msgpack" });
      opened.push(proxy);
      assert.equal(await proxy.add(2, 3), 5);
      assert.equal(await proxy.get_power(2, 10), 1024);
      assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
      assert.equal(await proxy.greeter.welcome("Ada"), "Welcome, Ada!");
      const names = await proxy.system.listMethods();
      for (const n of ["add", "get_power", "describe", "greeter.welcome", "math.square"]) assert.ok(names.includes(n), `${n} in listMethods`);
      const loose = proxy as unknown as AnyRemote;
      assert.equal(await loose.math.square(7), 49);
      await proxy.$close();
    });

    it("$call, $notify, `then` not forwarded, Symbol.asyncDispose, $close", async () => {
      const proxy = await open();
      assert.equal(await proxy.$call("add", [2, 3]), 5);
      assert.deepEqual(await proxy.$call("describe", [1], { b: 2, z: 3 }), { a: 1, b: 2, z: 3 });
      assert.equal(await proxy.$call("add", [1, 1], undefined, { timeout: BOUND }), 2);

      const tok = token();
      await proxy.$notify("log", tok, "one-way");
      assert.equal(await probe.wait(`log:${tok}`), "one-way");
      const tokKw = token();
      await proxy.$notify("log_kw", tokKw, kw({ value: "by name" }));
      assert.equal(await probe.wait(`log:${tokKw}`), "by name");

      assert.equal(Reflect.get(proxy, "then"), undefined);
      const awaited = await within((async () => await proxy)(), BOUND, "await proxy");
      assert.equal(awaited, proxy);
      assert.equal(await proxy.$call("then"), "then-called", "a method named then is still reachable with $call");

      let disposed: AnyRemote | undefined;
      {
        await using p = await connect(server.url, t.client());
        disposed = p;
        assert.equal(await p.add(1, 2), 3);
      }
      await assert.rejects(disposed.add(1, 1), code("CONNECTION_CLOSED"));

      const held = token();
      const pending = proxy.$call("slow", [held]);
      await probe.wait(`start:${held}`);
      await proxy.$close();
      await assert.rejects(within(pending, BOUND, "the pending call"), code("CONNECTION_CLOSED"));
      probe.hit(`release:${held}`);
      await assert.rejects(proxy.add(1, 2), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.$call("add", [1, 2]), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.greeter.welcome("x"), code("CONNECTION_CLOSED"));
      await assert.rejects(proxy.$notify("log", token(), 1), code("CONNECTION_CLOSED"));
      await proxy.$close(); // idempotent

      if (t.name !== "mem") {
        const reconnecting = await open({ reconnect: true });
        assert.equal(await reconnecting.add(1, 1), 2);
        await reconnecting.$close();
        await assert.rejects(within(reconnecting.add(1, 2), BOUND, "a call after $close with reconnect on"), code("CONNECTION_CLOSED"));
      }
    });

    it("per-call and per-proxy timeout and signal: clear RpcErrors; the handler sees its AbortSignal abort", async () => {
      const proxy = await open();
      let tok = token();
      await assert.rejects(within(proxy.$call("slow", [tok], undefined, { timeout: 250 }), BOUND, "a timeout"), code("TIMEOUT"));
      assert.equal(await probe.wait(`start:${tok}`), true, "the handler got an AbortSignal");
      assert.equal(await probe.wait(`abort:${tok}`), true, "the server was told to cancel");

      tok = token();
      await assert.rejects(within(proxy.$with({ timeout: 250 }).slow(tok), BOUND, "a timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);

      const timed = await open({ timeout: 250 });
      tok = token();
      await assert.rejects(within(timed.slow(tok), BOUND, "a timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
      assert.equal(await timed.$call("add", [1, 2], undefined, { timeout: BOUND }), 3);

      const ac = new AbortController();
      tok = token();
      const cancelled = proxy.$call("slow", [tok], undefined, { signal: ac.signal });
      await probe.wait(`start:${tok}`);
      ac.abort();
      await assert.rejects(within(cancelled, BOUND, "a cancel"), code("CANCELLED"));
      assert.equal(await probe.wait(`abort:${tok}`), true);

      await assert.rejects(proxy.$call("add", [1, 2], undefined, { signal: AbortSignal.abort() }), code("CANCELLED"));

      const pac = new AbortController();
      const guarded = await open({ signal: pac.signal });
      tok = token();
      const viaProxy = guarded.slow(tok);
      await probe.wait(`start:${tok}`);
      pac.abort();
      await assert.rejects(within(viaProxy, BOUND, "a cancel"), code("CANCELLED"));
      await probe.wait(`abort:${tok}`);

      // Per-call options override only what they name; the defaults stay.
      const unused = new AbortController();
      tok = token();
      await assert.rejects(within(timed.$call("slow", [tok], undefined, { signal: unused.signal }), BOUND, "the proxy's default timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
      tok = token();
      await assert.rejects(within(proxy.$with({ timeout: 250 }).$call("slow", [tok], undefined, { signal: unused.signal }), BOUND, "$with's default timeout"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);

      assert.equal(await proxy.add(20, 22), 42, "the connection survives timeouts and cancels");
    });

    it("kwargs bind like Python; unknown, duplicated and missing names are INVALID_PARAMS naming the parameter", async () => {
      for (const serializer of ["json", "msgpack"]) {
        const proxy = await open({ serializer });
        assert.deepEqual(await proxy.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
        assert.deepEqual(await proxy.$call("describe", [], { b: 2, a: 1 }), { a: 1, b: 2, z: 0 });
        assert.deepEqual(await proxy.bind_check(1, kw({ third: 3, second: 2 })), [1, 2, 3]);
        await assert.rejects(proxy.bind_check(1, kw({ unknown_kw: 1, second: 2 })), invalidParam("unknown_kw"));
        await assert.rejects(proxy.bind_check(1, 2, kw({ first: 1 })), invalidParam("first"));
        await assert.rejects(proxy.bind_check(1), invalidParam("second"));
        await assert.rejects(proxy.bind_check(kw({ second: 2 })), invalidParam("first"));
        await assert.rejects(proxy.bind_check(1, 2, 3, 4), code("INVALID_PARAMS"));
        // names declared at registration
        assert.deepEqual(await proxy.declared(kw({ p2: "b", p1: "a" })), ["a", "b"]);
        await assert.rejects(proxy.declared(kw({ p1: 1, p3: 1 })), invalidParam("p3"));
        await assert.rejects(proxy.declared(kw({ p2: 1 })), invalidParam("p1"));
        // instance methods and rest parameters
        assert.equal(await proxy.greeter.welcome(kw({ punctuation: "?", name: "Ada" })), "Welcome, Ada?");
        assert.deepEqual(await proxy.gather(1, 2, 3), [1, [2, 3]]);
        // parameters named like Object.prototype members bind only from the call
        await assert.rejects(proxy.weird(), invalidParam("toString"));
        assert.deepEqual(await proxy.weird(kw({ toString: 1, constructor: 2 })), ["number", "number"]);
        // kwargs named like Object.prototype members are unknown names, and pollute nothing
        for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "prototype"]) {
          const kwargs = JSON.parse(`{"a": 1, "b": 2, ${JSON.stringify(name)}: {"polluted": "yes"}}`) as Record<string, unknown>;
          await assert.rejects(proxy.$call("describe", [], kwargs), code("INVALID_PARAMS"), `kwarg ${name}`);
        }
        assertNoPollution();
      }
    });

    it("registerInstance exposes own and inherited methods, never Object.prototype's; `_` names are private", async () => {
      const proxy = await open();
      const names = (await proxy.system.listMethods()) as string[];
      for (const n of ["greeter.welcome", "greeter.inherited", "greeter.own", "lit.hello"]) assert.ok(names.includes(n), `${n} listed`);
      const objectNames = new Set([...Object.getOwnPropertyNames(Object.prototype), "prototype"]);
      for (const n of names) {
        for (const part of n.split(".")) {
          assert.ok(!part.startsWith("_"), `${n} is private`);
          assert.ok(!objectNames.has(part), `${n} comes from Object.prototype`);
        }
      }
      assert.equal(await proxy.greeter.inherited(), "inherited");
      assert.equal(await proxy.greeter.own(), "own");
      assert.equal(await proxy.lit.hello(), "hi");
      for (const n of ["greeter._secret", "greeter._baseSecret", "_secret", "greeter.__secret", "greeter.count"]) {
        await assert.rejects(proxy.$call(n, []), code("METHOD_NOT_FOUND"), n);
      }
    });

    it("nothing reachable from a request touches __proto__, constructor or prototype", async () => {
      const hostile = [
        "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf",
        "__defineGetter__", "__lookupGetter__", "constructor.constructor", "__proto__.toString",
        "greeter.constructor", "greeter.__proto__", "greeter.__proto__.x", "greeter.__proto__.welcome",
        "greeter.prototype", "greeter.constructor.name", "greeter.toString", "greeter.hasOwnProperty",
        "greeter.welcome.constructor", "greeter.welcome.call", "greeter.welcome.apply", "greeter.welcome.bind",
        "greeter.inherited.constructor", "add.call", "add.constructor", "add.prototype", "add.__proto__",
        "lit.toString", "lit.constructor", "lit.__proto__", "lit.hello.constructor",
        "system.constructor", "system.__proto__", "system.listMethods.constructor", "math.constructor", "math.__proto__",
      ];
      for (const serializer of ["json", "msgpack", "superjson"]) {
        const proxy = await open({ serializer });
        for (const name of hostile) {
          await assert.rejects(proxy.$call(name, ["return globalThis"]), code("METHOD_NOT_FOUND"), `${name} (${serializer})`);
        }
        for (const name of ["", ".", "greeter.", ".add", "greeter..welcome"]) {
          await assert.rejects(proxy.$call(name, []), (e: unknown) => e instanceof RpcError && ["METHOD_NOT_FOUND", "PROTOCOL_ERROR"].includes(e.code), `name ${JSON.stringify(name)}`);
        }
        // Hostile data is only data: echoed or refused, never merged into a prototype.
        const hostileValue = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"x": 1}}, "ok": 1}') as unknown;
        await proxy.echo(hostileValue).catch((e: unknown) => assert.ok(e instanceof RpcError, inspect(e)));
        await proxy.$call("echo", [], JSON.parse('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>).catch((e: unknown) => assert.ok(e instanceof RpcError));
        assert.equal(await proxy.add(1, 1), 2);
        assertNoPollution();
      }
      assert.deepEqual(
        Object.getOwnPropertyNames(Greeter.prototype).sort(),
        ["_secret", "constructor", "welcome"],
        "Greeter.prototype untouched",
      );
    });

    it("introspection is on by default (methodHelp from doc) and off by option", async () => {
      const proxy = await open();
      assert.equal(await proxy.system.methodHelp("power"), "n to the m-th power");
      await proxy.system.methodSignature("power");
      assert.ok(((await proxy.system.listMethods()) as string[]).includes("power"));
      const quiet = await serve(makeHandler(probe, { introspection: false }), t.listen, t.server());
      try {
        const q = await connect(quiet.url, t.client());
        try {
          for (const m of ["system.listMethods", "system.methodHelp", "system.methodSignature"]) {
            await assert.rejects(q.$call(m, m === "system.listMethods" ? [] : ["power"]), code("METHOD_NOT_FOUND"), m);
          }
          assert.equal(await q.add(1, 2), 3);
        } finally {
          await q.$close();
        }
      } finally {
        await quiet.close();
      }
    });

    it("remote errors: RemoteError with the remote name, message, own code, data and cause; registerError gives instanceof", async () => {
      registerError(QuotaError);
      try {
        for (const serializer of ["json", "msgpack", "superjson"]) {
          const proxy = await open({ serializer });
          const e1 = (await proxy.fail_code().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e1 instanceof RemoteError && e1 instanceof RpcError && e1 instanceof Error, inspect(e1));
          assert.equal(e1.name, "RangeError");
          assert.equal(e1.message, "division by zero");
          assert.equal(e1.code, "EDIVZERO");
          assert.deepEqual(e1.data, { a: 1, list: [1, 2] });
          assert.equal((e1 as RemoteError & { errno?: number }).errno, 28, "other own properties kept (README)");

          const e2 = (await proxy.fail_plain().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e2 instanceof RemoteError);
          assert.equal(e2.name, "TypeError");
          assert.equal(e2.message, "not a number");
          assert.equal(e2.code, "REMOTE_ERROR");

          const e3 = (await proxy.fail_zde().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e3 instanceof RemoteError);
          assert.equal(e3.name, "ZeroDivisionError");

          const e4 = (await proxy.fail_cause().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e4 instanceof RemoteError);
          assert.equal(e4.message, "outer");
          const cause = e4.cause as { name: string; message: string; code: string };
          assert.ok(cause, "cause kept");
          assert.equal(cause.name, "TypeError");
          assert.equal(cause.message, "inner");
          assert.equal(cause.code, "EINNER");

          const e5 = await proxy.fail_quota().catch((e: unknown) => e);
          assert.ok(e5 instanceof QuotaError, inspect(e5));
          assert.equal(e5.message, "quota exceeded");
          assert.equal((e5.cause as Error).message, "disk 97% full");

          const e6 = (await proxy.fail_rpc().catch((e: unknown) => e)) as RemoteError;
          assert.ok(e6 instanceof RemoteError, "a handler's RpcError comes back as a RemoteError");
          assert.equal(e6.code, "CUSTOM_CODE");
          assert.deepEqual(e6.data, { x: 1 });

          for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty", "prototype", "valueOf", "Object", "Function"]) {
            const e = (await proxy.fail_named(name).catch((x: unknown) => x)) as RemoteError;
            assert.ok(e instanceof RemoteError, `error named ${name}: ${inspect(e)}`);
            assert.equal(e.name, name);
            assert.equal(e.message, "hostile");
          }
          await assert.rejects(proxy.nope(), code("METHOD_NOT_FOUND"));
          assertNoPollution();
        }
      } finally {
        unregisterError("QuotaError");
      }
    });

    it("remote errors: registerError(MyError) works for a plain `class MyError extends Error {}`; a thrown non-Error is a RemoteError", async () => {
      const proxy = await open();
      const unregistered = (await proxy.fail_bare().catch((e: unknown) => e)) as RemoteError;
      assert.ok(unregistered instanceof RemoteError && !(unregistered instanceof BareError));
      assert.equal(unregistered.name, "BareError", "the remote class name");
      registerError(BareError);
      try {
        const bare = await proxy.fail_bare().catch((e: unknown) => e);
        assert.ok(bare instanceof BareError, `registerError(BareError) -> instanceof: ${inspect(bare)}`);
        assert.equal(bare.message, "bare");
      } finally {
        unregisterError("BareError");
      }
      const str = await proxy.fail_string().catch((e: unknown) => e);
      assert.ok(str instanceof RemoteError, inspect(str));
      assert.equal(str.code, "REMOTE_ERROR");
    });

    it("serializers: the server accepts every registered one; json default; superjson and msgpack values; custom ones", async () => {
      const names = listSerializers();
      for (const n of ["json", "superjson", "msgpack", "contract-bin", "contract-text", "contract-bytes"]) assert.ok(names.includes(n), `${n} registered`);
      for (const serializer of names) {
        const p = await open({ serializer });
        assert.deepEqual(await p.echo({ a: [1, "x", null, true], b: { c: 1.5 } }), { a: [1, "x", null, true], b: { c: 1.5 } }, serializer);
        assert.equal(await p.add(2, 3), 5);
        await p.$close();
      }

      // json is the default: bytes travel as base64 text, dates as ISO strings.
      const plain = await open();
      assert.equal(await plain.echo(new Uint8Array([1, 2, 3])), "AQID");
      assert.equal(await plain.echo(new Date(0)), "1970-01-01T00:00:00.000Z");
      await assert.rejects(plain.echo(10n), code("SERIALIZE_ERROR"));
      await assert.rejects(plain.big(), code("SERIALIZE_ERROR"));
      assert.equal(await plain.add(1, 1), 2, "the connection survives serialize errors");

      const sj = await open({ serializer: "superjson" });
      const v = (await sj.echo({
        date: new Date(1234),
        big: 2n ** 64n,
        map: new Map<string, number>([["k", 1]]),
        set: new Set(["a"]),
        re: /a+b/gi,
        undef: undefined,
        url: new URL("https://example.com/x?y=1"),
        list: [undefined, 1],
      })) as Record<string, unknown>;
      assert.ok(v.date instanceof Date && v.date.getTime() === 1234);
      assert.equal(v.big, 2n ** 64n);
      assert.ok(v.map instanceof Map && v.map.get("k") === 1);
      assert.ok(v.set instanceof Set && v.set.has("a"));
      assert.ok(v.re instanceof RegExp && v.re.source === "a+b" && v.re.flags === "gi");
      assert.ok("undef" in v && v.undef === undefined);
      assert.ok(v.url instanceof URL && v.url.href === "https://example.com/x?y=1");
      assert.deepEqual(v.list, [undefined, 1]);

      const mp = await open({ serializer: "msgpack" });
      const b = (await mp.echo(new Uint8Array([0, 255, 1]))) as Uint8Array;
      assert.ok(b instanceof Uint8Array, "msgpack keeps Uint8Array");
      assert.deepEqual([...b], [0, 255, 1]);
      const large = (await mp.bytes(70_000)) as Uint8Array;
      assert.ok(large instanceof Uint8Array && large.length === 70_000 && large[69_999] === 69_999 % 256);

      const before = { ...customCalls };
      const cb = await open({ serializer: "contract-bin" });
      assert.deepEqual(await cb.describe(1, 2, kw({ z: 3 })), { a: 1, b: 2, z: 3 });
      await assert.rejects(cb.fail_zde(), (e: unknown) => e instanceof RemoteError && e.name === "ZeroDivisionError");
      assert.ok(customCalls.encode >= before.encode + 4 && customCalls.decode >= before.decode + 4, "the custom serializer was used on both ends");

      // registered after the server started
      registerSerializer({ ...contractBin, name: `contract-late-${t.name}` });
      const late = await open({ serializer: `contract-late-${t.name}` });
      assert.equal(await late.add(40, 2), 42);
    });

    it("query-string options (?serializer=msgpack&timeout=5000); explicit options win", async () => {
      const u = new URL(server.url);
      u.searchParams.set("serializer", "msgpack");
      u.searchParams.set("timeout", "5000");
      const q = await open({}, u.href);
      assert.ok((await q.echo(new Uint8Array([1, 2]))) instanceof Uint8Array, "serializer=msgpack from the query");
      const explicit = await open({ serializer: "json" }, u.href);
      assert.equal(await explicit.echo(new Uint8Array([1, 2, 3])), "AQID", "the explicit option wins");

      const tu = new URL(server.url);
      tu.searchParams.set("timeout", "200");
      const timed = await open({}, tu.href);
      const tok = token();
      await assert.rejects(within(timed.slow(tok), BOUND, "a timeout from the query"), code("TIMEOUT"));
      await probe.wait(`abort:${tok}`);
    });

    it("server.close() stops accepting, drains in-flight calls, then closes", async () => {
      const s = await serve(makeHandler(probe), t.listen, t.server());
      const p = await connect(s.url, t.client());
      try {
        const tok = token();
        const call = p.$call("slow", [tok]);
        await probe.wait(`start:${tok}`);
        const closing = s.close();
        await assert.rejects(connect(s.url, { ...t.client(), handshakeTimeout: 1000 }), (e: unknown) => e instanceof RpcError, "no new connections");
        probe.hit(`release:${tok}`);
        assert.equal(await within(call, BOUND, "the in-flight call"), "released", "the in-flight call finished");
        await within(closing, BOUND, "server.close()");
      } finally {
        await p.$close();
        await s.close();
      }
    });

    if (t.auth) {
      it("bad input: wrong or missing authkey is AUTH_FAILED; unknown and private names; everyone else keeps being served", async () => {
        const good = await open();
        const tok = token();
        const inflight = good.$call("slow", [tok]);
        await probe.wait(`start:${tok}`);
        await assert.rejects(connect(server.url, { ...t.client(), authkey: "wrong" }), code("AUTH_FAILED"));
        await assert.rejects(connect(server.url, withoutKey(t.client())), code("AUTH_FAILED"));
        await assert.rejects(good.$call("nope", []), code("METHOD_NOT_FOUND"));
        await assert.rejects(good.$call("greeter._secret", []), code("METHOD_NOT_FOUND"));
        probe.hit(`release:${tok}`);
        assert.equal(await within(inflight, BOUND, "the in-flight call"), "released", "nothing the server held was lost");
        const again = await open();
        assert.equal(await again.add(1, 1), 2);
      });

      it("the authkey may come from WIRECALL_AUTHKEY", async () => {
        const saved = process.env.WIRECALL_AUTHKEY;
        process.env.WIRECALL_AUTHKEY = SECRET;
        try {
          const s = await serve(makeHandler(probe), t.listen, withoutKey(t.server()));
          try {
            const p = await connect(s.url, withoutKey(t.client()));
            assert.equal(await p.add(1, 2), 3, "both keys from the environment");
            await p.$close();
            const explicit = await connect(s.url, { ...withoutKey(t.client()), authkey: SECRET });
            assert.equal(await explicit.add(1, 2), 3);
            await explicit.$close();
            await assert.rejects(connect(s.url, { ...withoutKey(t.client()), authkey: "not-the-env-key" }), code("AUTH_FAILED"));
            delete process.env.WIRECALL_AUTHKEY;
            await assert.rejects(connect(s.url, { ...withoutKey(t.client()), handshakeTimeout: 2000 }), code("AUTH_FAILED"), "the server really uses the env key");
          } finally {
            await s.close();
          }
        } finally {
          if (saved === undefined) delete process.env.WIRECALL_AUTHKEY;
          else process.env.WIRECALL_AUTHKEY = saved;
        }
      });

      it("secrets: an authkey in the URL is refused (INVALID_URL); keys never appear in logs or errors", async () => {
        const output: string[] = [];
        const restore: (() => void)[] = [];
        for (const stream of [process.stdout, process.stderr]) {
          const original = stream.write;
          stream.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
            output.push(String(chunk));
            return (original as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
          } as typeof stream.write;
          restore.push(() => (stream.write = original));
        }
        for (const m of ["log", "error", "warn", "info", "debug", "trace"] as const) {
          const original = console[m];
          console[m] = (...args: unknown[]) => {
            output.push(args.map((a) => inspect(a, { depth: 10 })).join(" "));
            original(...args);
          };
          restore.push(() => (console[m] = original));
        }
        const reported: unknown[] = [];
        const errors: unknown[] = [];
        const WRONG = "wrong-client-key-ALSO-SECRET";
        try {
          const u = new URL(server.url);
          u.searchParams.set("authkey", SECRET);
          errors.push(await connect(u.href, t.client()).then(() => assert.fail("connected with a key in the URL"), (e: unknown) => e));
          const listen = new URL(t.listen);
          listen.searchParams.set("authkey", SECRET);
          errors.push(await serve(makeHandler(probe), listen.href, t.server()).then(() => assert.fail("served with a key in the URL"), (e: unknown) => e));
          for (const e of errors) code("INVALID_URL")(e);

          const s = await serve(makeHandler(probe), t.listen, { ...t.server(), authkey: SECRET, onHandshakeError: (err: unknown) => reported.push(err) });
          try {
            errors.push(await connect(s.url, { ...t.client(), authkey: WRONG }).then(() => assert.fail("wrong key accepted"), (e: unknown) => e));
            code("AUTH_FAILED")(errors[errors.length - 1]);
          } finally {
            await s.close();
          }
        } finally {
          for (const r of restore) r();
        }
        for (const e of [...errors, ...reported]) {
          const text = `${inspect(e, { depth: 20, showHidden: true })} ${JSON.stringify(e)} ${String(e)}`;
          assert.ok(!text.includes(SECRET) && !text.includes(WRONG), `a key leaked into an error: ${text}`);
        }
        const logged = output.join("");
        assert.ok(!logged.includes(SECRET) && !logged.includes(WRONG), "a key was logged");
      });
    }
  });
}

// ================================================================ URLs

describe("contract: URLs select the transport", () => {
  const h = makeHandler(new Probe());
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "wirecall-contract-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("every scheme of the table serves on port 0 and server.url has the real port", async () => {
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ["mem://contract-named", {}, {}],
      ["mem://0", {}, {}],
      ["tcp://127.0.0.1:0", { authkey: KEY }, { authkey: KEY }],
      ["tls://127.0.0.1:0", { cert: tls().server.cert, key: tls().server.key }, { ca: tls().server.cert }],
      ["ws://127.0.0.1:0/rpc", {}, {}],
      ["wss://127.0.0.1:0/rpc", { cert: tls().server.cert, key: tls().server.key }, { ca: tls().server.cert }],
      ["zmq+tcp://127.0.0.1:0", {}, {}],
      [`zmq+ipc://${dir}/contract.sock`, {}, {}],
    ];
    for (const [listen, sopts, copts] of cases) {
      const s = await serve(h, listen, sopts);
      try {
        const url = new URL(s.url);
        const asked = new URL(listen);
        assert.equal(url.protocol, asked.protocol, listen);
        if (["tcp:", "tls:", "ws:", "wss:", "zmq+tcp:"].includes(asked.protocol)) {
          assert.ok(Number(url.port) > 0, `${listen} -> ${s.url}`);
          assert.equal(url.hostname, "127.0.0.1");
        }
        if (asked.protocol.startsWith("ws")) assert.equal(url.pathname, "/rpc");
        if (listen.startsWith("zmq+ipc:")) assert.equal(s.url, listen);
        if (listen === "mem://contract-named") assert.equal(s.url, listen);
        if (listen === "mem://0") assert.notEqual(s.url, listen);
        const p = await connect(s.url, copts);
        assert.equal(await p.add(2, 3), 5, listen);
        await p.$close();
      } finally {
        await s.close();
      }
    }
    const a = await serve(h, "mem://0");
    const b = await serve(h, "mem://0");
    assert.notEqual(a.url, b.url, "mem://0 picks a fresh name each time");
    await a.close();
    await b.close();
  });

  it("bad URLs are INVALID_URL; an unreachable endpoint is CONNECT_FAILED", async () => {
    await assert.rejects(connect("nosuch://127.0.0.1:1"), code("INVALID_URL"));
    await assert.rejects(connect("not a url"), code("INVALID_URL"));
    await assert.rejects(serve(h, "nosuch://127.0.0.1:0"), code("INVALID_URL"));
    const free = net.createServer();
    await new Promise<void>((resolve) => free.listen(0, "127.0.0.1", resolve));
    const port = (free.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    await assert.rejects(connect(`tcp://127.0.0.1:${port}`), code("CONNECT_FAILED"));
    await assert.rejects(connect(`ws://127.0.0.1:${port}/rpc`), code("CONNECT_FAILED"));
    await assert.rejects(connect("mem://contract-nobody-serves-this"), (e: unknown) => e instanceof RpcError && ["CONNECT_FAILED", "INVALID_URL"].includes(e.code));
  });

  // DESIGN.md/README: an authkey in the URL is refused. A password in the
  // userinfo is a secret in a URL as well (only XML-RPC uses it, for HTTP Basic auth, as Python's ServerProxy does).
  it("a password in the URL's userinfo is refused too", async () => {
    const s = await serve(h, "tcp://127.0.0.1:0", { authkey: KEY });
    try {
      const u = new URL(s.url);
      u.username = "user";
      u.password = SECRET;
      const err = await connect(u.href, { authkey: KEY }).then(
        async (p) => {
          await p.$close();
          return undefined;
        },
        (e: unknown) => e,
      );
      code("INVALID_URL")(err);
      assert.ok(!inspect(err, { depth: 20 }).includes(SECRET), "the refusal does not repeat the secret");
    } finally {
      await s.close();
    }
  });

  it("every transport has its subpath export", async () => {
    const subpaths: [string, string][] = [
      ["wirecall/tcp", "tcp"],
      ["wirecall/ws", "ws"],
      ["wirecall/zmq", "zmq+tcp"],
      ["wirecall/xmlrpc", "xmlrpc+http"],
    ];
    for (const [spec, scheme] of subpaths) {
      const mod = (await import(spec)) as { transport?: { schemes: readonly string[] } };
      assert.ok(mod.transport?.schemes.includes(scheme), `${spec} exports a transport for ${scheme}`);
    }
  });

  it("xmlrpc+http:// serves the same handler (README)", async () => {
    const s = await serve(h, "xmlrpc+http://127.0.0.1:0");
    try {
      assert.ok(portOf(s.url.replace(/^xmlrpc\+/, "")) > 0);
      const p = await connect(s.url);
      assert.equal(await p.add(2, 3), 5);
      assert.equal(await p.system.methodHelp("power"), "n to the m-th power");
      await assert.rejects(p.fail_zde(), (e: unknown) => e instanceof RemoteError && e.name === "ZeroDivisionError");
      await p.$close();
    } finally {
      await s.close();
    }
  });

  it("a zmq+ URL without the zeromq package is MISSING_DEPENDENCY naming the package", async () => {
    const fixture = fileURLToPath(new URL("../../test/fixtures/zmq/without-zeromq.mjs", import.meta.url));
    const { code: exit, stdout, stderr } = await runNode(fixture);
    assert.equal(exit, 0, stderr);
    const out = JSON.parse(stdout) as Record<string, { code: string; message: string }>;
    for (const name of ["connect", "serve"]) {
      assert.equal(out[name]?.code, "MISSING_DEPENDENCY");
      assert.match(out[name]?.message ?? "", /\bzeromq\b/);
    }
  });
});

function runNode(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { stdio: ["ignore", "pipe", "pipe"], timeout: 20_000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c, stdout, stderr }));
  });
}

// ================================================================ docs/protocol.md over TCP, by hand

describe("contract: docs/protocol.md is enough for a raw TCP client (node:net + node:crypto)", () => {
  const probe = new Probe();
  let server: Server;
  let port: number;
  const raws: RawTcp[] = [];
  /** `key` null: a server without an authkey. */
  const rawClient = async (key: string | null = KEY, p = port): Promise<RawTcp> => {
    const raw = await rawTcpClient(p, key ?? undefined);
    raws.push(raw);
    return raw;
  };
  before(async () => {
    server = await serve(makeHandler(probe), "tcp://127.0.0.1:0", { authkey: KEY });
    port = portOf(server.url);
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await server?.close();
  });

  it("the doc's handshake example is self-consistent", () => {
    const serverM = Buffer.concat([SHA256, Buffer.from(Array.from({ length: 40 }, (_, i) => i))]);
    const clientM = Buffer.concat([SHA256, Buffer.from(Array.from({ length: 40 }, (_, i) => 0x40 + i))]);
    assert.equal(hmac("sha256", "peekaboo", serverM).toString("hex"), "eda328927ea5867e57357e92ff7a849cdfe50b5fecbe9282ff9d63f0fe76b0b6");
    assert.equal(hmac("sha256", "peekaboo", clientM).toString("hex"), "c3223e44e7c1980c81ea84d00a396f0abfba06abd22af25644314e28422136e7");
    assert.equal(CHALLENGE.length + serverM.length, 0x3b);
    assert.equal(SHA256.length + 32, 0x28);
    assert.equal(Buffer.byteLength('{"wirecall":1,"serializer":"json"}'), 0x22);
    assert.equal(Buffer.byteLength('[0,1,"add",[2,3]]'), 0x11);
  });

  it("handshake, hello, calls with kwargs, and the error form", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    raw.sendJson([0, 1, "add", [2, 3]]);
    raw.sendJson([0, 2, "describe", [1, 2], { z: 3 }]);
    const replies = [await raw.nextJson(), await raw.nextJson()] as unknown[][];
    replies.sort((x, y) => (x[1] as number) - (y[1] as number));
    assert.deepEqual(replies, [[1, 1, 5], [1, 2, { a: 1, b: 2, z: 3 }]]);
    raw.sendJson([0, 3, "nope", []]);
    const [kind, id, error] = (await raw.nextJson()) as [number, number, Record<string, unknown>];
    assert.equal(kind, 2);
    assert.equal(id, 3);
    assert.equal(error.code, "METHOD_NOT_FOUND");
    assert.equal(typeof error.name, "string");
    assert.equal(typeof error.message, "string");
    raw.sendJson([0, 4, "fail_code", []]);
    const remote = (await raw.nextJson()) as [number, number, Record<string, unknown>];
    assert.deepEqual(remote.slice(0, 2), [2, 4]);
    assert.equal(remote[2].name, "RangeError");
    assert.equal(remote[2].message, "division by zero");
    assert.equal(remote[2].code, "EDIVZERO");
    assert.deepEqual(remote[2].data, { a: 1, list: [1, 2] });
    assert.equal(remote[2].stack, undefined, "no stack unless the server allows it");
    raw.sendJson([0, 5, "fail_cause", [], null]);
    const chained = (await raw.nextJson()) as [number, number, { cause: Record<string, unknown> }];
    assert.equal(chained[2].cause.name, "TypeError");
    assert.equal(chained[2].cause.code, "EINNER");
  });

  it("a client may skip the hello (version 1, json)", async () => {
    const raw = await rawClient();
    raw.sendJson([0, 1, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("a one-way call and a cancelled call get no reply; the handler is cancelled", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    const tok = token();
    raw.sendJson([3, "log", [tok, "one-way"]]);
    assert.equal(await probe.wait(`log:${tok}`), "one-way");
    raw.sendJson([0, 5, "add", [1, 1]]);
    assert.deepEqual(await raw.nextJson(), [1, 5, 2], "no reply to the one-way call");
    const slow = token();
    raw.sendJson([0, 6, "slow", [slow]]);
    await probe.wait(`start:${slow}`);
    raw.sendJson([4, 6]);
    assert.equal(await probe.wait(`abort:${slow}`), true);
    raw.sendJson([0, 7, "add", [2, 2]]);
    assert.deepEqual(await raw.nextJson(), [1, 7, 4], "no reply to the cancelled call");
  });

  it("the legacy HMAC-MD5 form of Python 3.11 and older, both directions", async () => {
    const raw = await RawTcp.open(port);
    raws.push(raw);
    assert.equal(await answerChallenge(raw, KEY, true), "#WELCOME#");
    await deliverChallenge(raw, KEY, true);
    await rawHello(raw, "json");
    raw.sendJson([0, 1, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("the 8-byte length form (-1 then the length) is accepted", async () => {
    const raw = await rawClient();
    const body = Buffer.from('[0,1,"add",[2,3]]');
    const header = Buffer.alloc(12);
    header.writeInt32BE(-1, 0);
    header.writeBigUInt64BE(BigInt(body.length), 4);
    raw.writeRaw(Buffer.concat([header, body]));
    assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
  });

  it("bad input: malformed frames, invalid envelopes and unknown kinds get PROTOCOL_ERROR; the connection stays open", async () => {
    const raw = await rawClient();
    await rawHello(raw, "json");
    raw.send(Buffer.from([0x00, 0xff, 0x7b, 0x22, 0x6e]));
    let reply = (await raw.nextJson()) as [number, unknown, { code: string }];
    assert.deepEqual([reply[0], reply[1], reply[2].code], [2, null, "PROTOCOL_ERROR"]);
    raw.sendJson([9, 7, "add", [1, 2]]);
    reply = (await raw.nextJson()) as [number, unknown, { code: string }];
    assert.equal(reply[0], 2);
    assert.ok(reply[1] === 7 || reply[1] === null);
    assert.equal(reply[2].code, "PROTOCOL_ERROR");
    for (const bad of [[0, "x", "add", [1, 2]], [0, 8, 42, [1, 2]], [0, 9, "add", "not-args"], { a: 1 }, "text", [], [4]]) {
      raw.sendJson(bad);
      reply = (await raw.nextJson()) as [number, unknown, { code: string }];
      assert.equal(reply[0], 2, JSON.stringify(bad));
      assert.equal(reply[2].code, "PROTOCOL_ERROR", JSON.stringify(bad));
    }
    raw.sendJson([0, 10, "add", [2, 3]]);
    assert.deepEqual(await raw.nextJson(), [1, 10, 5]);
  });

  it("bad input: an unknown serializer in the hello is refused with PROTOCOL_ERROR and closed", async () => {
    const raw = await rawClient();
    raw.send(JSON.stringify({ wirecall: 1, serializer: "no-such-serializer" }));
    const answer = (await raw.nextJson()) as { wirecall: number; error: { code: string; name: string; message: string } };
    assert.equal(answer.error.code, "PROTOCOL_ERROR");
    assert.equal(typeof answer.error.message, "string");
    await raw.closed();
  });

  it("bad input: wrong HMAC gets #FAILURE# and a close; oversized and negative lengths close before any body; others keep being served", async () => {
    const proxy = await connect(server.url, { authkey: KEY });
    try {
      const tok = token();
      const inflight = proxy.slow(tok);
      await probe.wait(`start:${tok}`);

      const wrong = await RawTcp.open(port);
      raws.push(wrong);
      const challenge = await wrong.next();
      assert.ok(challenge.subarray(0, CHALLENGE.length).equals(CHALLENGE));
      wrong.send(Buffer.concat([SHA256, Buffer.alloc(32)]));
      assert.equal((await wrong.next()).toString("latin1"), "#FAILURE#");
      await wrong.closed();

      const early = await RawTcp.open(port);
      raws.push(early);
      early.send('{"wirecall":1,"serializer":"json"}'); // no answer to the challenge
      await early.closed();

      const oversized = await rawClient();
      const header = Buffer.alloc(4);
      header.writeInt32BE(0x7fffffff);
      oversized.writeRaw(header); // 2 GiB announced, nothing sent: refused from the prefix alone
      await oversized.closed();

      const huge = await rawClient();
      const long = Buffer.alloc(12);
      long.writeInt32BE(-1, 0);
      long.writeBigUInt64BE(2n ** 40n, 4);
      huge.writeRaw(long);
      await huge.closed();

      const negative = await rawClient();
      const neg = Buffer.alloc(4);
      neg.writeInt32BE(-2);
      negative.writeRaw(neg);
      await negative.closed();

      const bigHandshake = await RawTcp.open(port);
      raws.push(bigHandshake);
      await bigHandshake.next();
      bigHandshake.send(Buffer.alloc(300)); // handshake frames are at most 256 bytes
      await bigHandshake.closed();

      probe.hit(`release:${tok}`);
      assert.equal(await within(inflight, BOUND, "the in-flight call"), "released", "the in-flight call on another connection survived");
      assert.equal(await proxy.add(1, 2), 3);
      const fresh = await rawClient();
      fresh.sendJson([0, 1, "add", [2, 3]]);
      assert.deepEqual(await fresh.nextJson(), [1, 1, 5]);
    } finally {
      await proxy.$close();
    }
  });

  it("maxFrameSize (here from the query string) closes that connection only; a silent peer is dropped at the handshake limit", async () => {
    const small = await serve(makeHandler(probe), "tcp://127.0.0.1:0?maxFrameSize=1024", { handshakeTimeout: 300 });
    try {
      const p = portOf(small.url);
      const raw = await rawClient(null, p);
      raw.sendJson([0, 1, "add", [2, 3]]);
      assert.deepEqual(await raw.nextJson(), [1, 1, 5]);
      const header = Buffer.alloc(4);
      header.writeInt32BE(2048);
      raw.writeRaw(header);
      await raw.closed();

      // TCP framing cannot say why: the sender just sees its connection closed.
      const client = await connect(small.url);
      await assert.rejects(client.echo("x".repeat(4096)), (e: unknown) => e instanceof RpcError && ["PAYLOAD_TOO_LARGE", "CONNECTION_CLOSED"].includes(e.code));
      await client.$close();

      const silent = await rawClient(null, p);
      await silent.closed();

      const other = await connect(small.url);
      assert.equal(await other.add(1, 1), 2);
      await other.$close();
    } finally {
      await small.close();
    }
  });

  it("a client with maxFrameSize refuses an oversized reply with a clear error", async () => {
    const client = await connect(server.url, { authkey: KEY, maxFrameSize: 1024 });
    try {
      await assert.rejects(client.echo("x".repeat(4096)), (e: unknown) => {
        assert.ok(e instanceof RpcError, inspect(e));
        const cause = (e as { cause?: { code?: string } }).cause;
        assert.ok(e.code === "PAYLOAD_TOO_LARGE" || (e.code === "CONNECTION_CLOSED" && cause?.code === "PAYLOAD_TOO_LARGE"), inspect(e));
        return true;
      });
    } finally {
      await client.$close();
    }
  });

  it("msgpack replies are plain MessagePack (bin for bytes, no msgpackr extensions)", async () => {
    const raw = await rawClient();
    await rawHello(raw, "msgpack");
    raw.send(mpEncode([0, 1, "echo", [new Uint8Array([1, 2, 3])]]));
    const echoed = mpDecode(await raw.next()) as unknown[];
    assert.deepEqual(echoed.slice(0, 2), [1, 1]);
    assert.ok(echoed[2] instanceof Uint8Array, "bytes come back as bin, not base64 text");
    assert.deepEqual([...(echoed[2] as Uint8Array)], [1, 2, 3]);
    raw.send(mpEncode([0, 2, "records", []]));
    assert.deepEqual(mpDecode(await raw.next()), [1, 2, Array.from({ length: 8 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"] }))]);
    raw.send(mpEncode([0, 3, "bytes", [300]]));
    const bytes = mpDecode(await raw.next()) as [number, number, Uint8Array];
    assert.ok(bytes[2] instanceof Uint8Array && bytes[2].length === 300);
    raw.send(mpEncode([0, 4, "when", []]));
    const when = mpDecode(await raw.next()) as [number, number, Date];
    assert.ok(when[2] instanceof Date && when[2].getTime() === 1_700_000_000_123);
    raw.send(mpEncode([0, 5, "describe", [1, 2], { z: 3 }]));
    assert.deepEqual(mpDecode(await raw.next()), [1, 5, { a: 1, b: 2, z: 3 }]);
    raw.send(mpEncode([0, 6, "nope", []]));
    const err = mpDecode(await raw.next()) as [number, number, { code: string; name: string; message: string }];
    assert.deepEqual([err[0], err[1], err[2].code], [2, 6, "METHOD_NOT_FOUND"]);
    raw.send(Buffer.from([0xc1, 0xc1]));
    const garbage = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.deepEqual([garbage[0], garbage[1], garbage[2].code], [2, null, "PROTOCOL_ERROR"]);
    // kwargs maps with hostile keys pollute nothing
    raw.send(Buffer.concat([Buffer.from([0x95, 0x00, 0x07, 0xa8]), Buffer.from("describe"), Buffer.from([0x92, 0x01, 0x02, 0x81, 0xa9]), Buffer.from("__proto__"), Buffer.from([0x81, 0xa8]), Buffer.from("polluted"), Buffer.from([0xc3])]));
    const hostile = mpDecode(await raw.next()) as [number, number, { code: string }];
    assert.deepEqual([hostile[0], hostile[1], hostile[2].code], [2, 7, "INVALID_PARAMS"]);
    assertNoPollution();
  });

  it("superjson frames whose meta names __proto__ pollute nothing", async () => {
    const raw = await rawClient();
    await rawHello(raw, "superjson");
    const frames = [
      { json: [0, 1, "echo", [{ a: "x" }]], meta: { values: { "3.0.__proto__.polluted": ["Date"] } } },
      { json: [0, 2, "echo", [{ a: 1 }]], meta: { referentialEqualities: { "3.0.a": ["__proto__.polluted"] } } },
      { json: [0, 3, "echo", [{ __proto__: { polluted: "yes" } }]], meta: { values: { "3.0.__proto__.polluted": ["undefined"] } } },
      { json: [0, 4, "echo", [{ constructor: { prototype: { polluted: 1 } } }]], meta: { values: { "3.0.constructor.prototype.polluted": ["bigint"] } } },
    ];
    for (const f of frames) {
      raw.send(JSON.stringify(f));
      const reply = JSON.parse(await raw.nextText()) as { json: unknown[] };
      assert.ok(Array.isArray(reply.json) && (reply.json[0] === 1 || reply.json[0] === 2), JSON.stringify(reply));
    }
    raw.send(JSON.stringify({ json: [0, 9, "add", [1, 2]] }));
    assert.deepEqual((JSON.parse(await raw.nextText()) as { json: unknown }).json, [1, 9, 3]);
    assertNoPollution();
  });

  it("a server written from the doc serves a wirecall client (json default, plain msgpack frames, a call from the server is answered)", async () => {
    const peers: RawTcp[] = [];
    const accepted: Deferred<RawTcp>[] = [new Deferred<RawTcp>(), new Deferred<RawTcp>()];
    let n = 0;
    const srv = net.createServer((socket) => {
      const peer = new RawTcp(socket);
      peers.push(peer);
      accepted[n++]?.resolve(peer);
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    const rawPort = (srv.address() as net.AddressInfo).port;
    try {
      // default serializer
      const c1 = connect(`tcp://127.0.0.1:${rawPort}`);
      const p1 = await within(accepted[0]!.promise, BOUND, "a connection");
      const first = await p1.nextText();
      if (first.startsWith("{")) {
        const hello = JSON.parse(first) as { wirecall: number; serializer?: string };
        assert.equal(hello.wirecall, 1);
        assert.ok(hello.serializer === undefined || hello.serializer === "json", "json is the default");
        p1.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
      } else assert.match(first, /^\[0,/);
      const client1 = await c1;
      const sum = client1.add(2, 3);
      const call = (first.startsWith("{") ? await p1.nextJson() : JSON.parse(first)) as unknown[];
      assert.equal(call[0], 0);
      assert.equal(call[2], "add");
      assert.deepEqual(call[3], [2, 3]);
      p1.sendJson([1, call[1], 5]);
      assert.equal(await within(sum, BOUND, "the reply"), 5);
      await client1.$close();

      // msgpack: the client's frames are plain MessagePack
      const c2 = connect(`tcp://127.0.0.1:${rawPort}`, { serializer: "msgpack" });
      const p2 = await within(accepted[1]!.promise, BOUND, "a connection");
      const hello2 = JSON.parse(await p2.nextText()) as { wirecall: number; serializer: string };
      assert.deepEqual([hello2.wirecall, hello2.serializer], [1, "msgpack"]);
      p2.send(JSON.stringify({ wirecall: 1, serializer: "msgpack" }));
      const client2 = await c2;
      const records = Array.from({ length: 8 }, (_, i) => ({ id: i, name: `n${i}` }));
      const echoed = client2.echo(new Uint8Array([9, 8, 7]), records, kw({ flag: true }));
      const call2 = mpDecode(await p2.next()) as [number, number, string, unknown[], Record<string, unknown>];
      assert.equal(call2[0], 0);
      assert.equal(call2[2], "echo");
      assert.ok(call2[3][0] instanceof Uint8Array, "bytes sent as bin");
      assert.deepEqual([...(call2[3][0] as Uint8Array)], [9, 8, 7]);
      assert.deepEqual(call2[3][1], records);
      assert.deepEqual(call2[4], { flag: true });
      p2.send(mpEncode([1, call2[1], new Uint8Array([1, 2])]));
      const res = (await within(echoed, BOUND, "the reply")) as Uint8Array;
      assert.ok(res instanceof Uint8Array);
      assert.deepEqual([...res], [1, 2]);

      const failing = client2.boom();
      const call3 = mpDecode(await p2.next()) as [number, number];
      p2.send(mpEncode([2, call3[1], { name: "ValueError", message: "bad value", code: "EBAD", data: { n: 1 } }]));
      const err = await within(failing, BOUND, "the error reply").catch((e: unknown) => e);
      assert.ok(err instanceof RemoteError);
      assert.equal(err.name, "ValueError");
      assert.equal(err.message, "bad value");
      assert.equal(err.code, "EBAD");
      assert.deepEqual(err.data, { n: 1 });

      const pending = client2.add(1, 2);
      const call4 = mpDecode(await p2.next()) as [number, number];
      // A server may call the client (docs/protocol.md, "Calls from the server"); this client serves no handler.
      p2.send(mpEncode([0, 99, "add", [1, 2]]));
      const answer = mpDecode(await p2.next()) as [number, number, { code: string }];
      assert.deepEqual([answer[0], answer[1], answer[2].code], [2, 99, "METHOD_NOT_FOUND"]);
      p2.send(mpEncode([1, call4[1], 3]));
      assert.equal(await within(pending, BOUND, "the pending call"), 3);
      await client2.$close();
      await p2.closed();
    } finally {
      for (const p of peers) p.destroy();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    }
  });
});

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

// ================================================================ WebSocket, by hand

class RawWs {
  #queue: { data: Buffer; binary: boolean }[] = [];
  #waiters: Deferred<{ data: Buffer; binary: boolean }>[] = [];
  #closed = new Deferred<{ code: number; reason: string }>();
  #isClosed = false;

  static open(url: string): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const raw = new RawWs(ws);
      ws.once("open", () => resolve(raw));
      ws.once("error", reject);
    });
  }

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: WebSocket.RawData, binary: boolean) => {
      const buf = Buffer.isBuffer(data) ? Buffer.from(data) : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const m = { data: buf, binary };
      const w = this.#waiters.shift();
      if (w) w.resolve(m);
      else this.#queue.push(m);
    });
    ws.on("close", (c: number, reason: Buffer) => {
      this.#isClosed = true;
      this.#closed.resolve({ code: c, reason: reason.toString() });
      for (const w of this.#waiters.splice(0)) w.reject(new Error(`closed ${c}`));
    });
    ws.on("error", () => {});
  }

  message(): Promise<{ data: Buffer; binary: boolean }> {
    const m = this.#queue.shift();
    if (m) return Promise.resolve(m);
    if (this.#isClosed) return Promise.reject(new Error("closed"));
    const d = new Deferred<{ data: Buffer; binary: boolean }>();
    this.#waiters.push(d);
    return within(d.promise, BOUND, "a WebSocket message");
  }
  async next(): Promise<Buffer> {
    return (await this.message()).data;
  }
  /** Handshake messages are binary. */
  send(p: Uint8Array | string): void {
    this.ws.send(typeof p === "string" ? Buffer.from(p) : p, { binary: true });
  }
  closed(): Promise<{ code: number; reason: string }> {
    return within(this.#closed.promise, BOUND, "the WebSocket to close");
  }
  destroy(): void {
    this.ws.terminate();
  }
}

describe("contract: docs/protocol.md 5.3 for a raw WebSocket client", () => {
  const probe = new Probe();
  let server: Server;
  const raws: RawWs[] = [];
  const open = async (): Promise<RawWs> => {
    const r = await RawWs.open(server.url);
    raws.push(r);
    return r;
  };
  before(async () => {
    server = await serve(makeHandler(probe), "ws://127.0.0.1:0/rpc", { authkey: KEY, maxFrameSize: 4096 });
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await server?.close();
  });

  it("handshake in binary messages, a text hello, msgpack in binary messages, bad frames answered", async () => {
    const raw = await open();
    assert.equal(await answerChallenge(raw, KEY), "#WELCOME#");
    await deliverChallenge(raw, KEY);
    raw.ws.send(JSON.stringify({ wirecall: 1, serializer: "msgpack" }));
    const hello = await raw.message();
    assert.equal(hello.binary, false, "the hello answer is a text message");
    assert.deepEqual(JSON.parse(hello.data.toString()), { wirecall: 1, serializer: "msgpack" });
    raw.ws.send(Buffer.from([0x94, 0x00, 0x01, 0xa3, 0x61, 0x64, 0x64, 0x92, 0x02, 0x03]), { binary: true });
    const reply = await raw.message();
    assert.equal(reply.binary, true);
    assert.deepEqual([...reply.data], [0x93, 0x01, 0x01, 0x05], "the doc's exact bytes");
    raw.ws.send(mpEncode([0, 2, "echo", [new Uint8Array([5, 6])]]), { binary: true });
    const echoed = mpDecode(await raw.next()) as [number, number, Uint8Array];
    assert.ok(echoed[2] instanceof Uint8Array && echoed[2][1] === 6);
    raw.ws.send(Buffer.from([0xc1]), { binary: true });
    const garbage = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.deepEqual([garbage[0], garbage[1], garbage[2].code], [2, null, "PROTOCOL_ERROR"]);
    raw.ws.send(mpEncode([9, 3]), { binary: true });
    const unknown = mpDecode(await raw.next()) as [number, unknown, { code: string }];
    assert.equal(unknown[0], 2);
    assert.equal(unknown[2].code, "PROTOCOL_ERROR");
    raw.ws.send(mpEncode([0, 4, "nope", []]), { binary: true });
    const nope = mpDecode(await raw.next()) as [number, number, { code: string }];
    assert.deepEqual([nope[0], nope[1], nope[2].code], [2, 4, "METHOD_NOT_FOUND"]);
  });

  it("bad input: a wrong answer closes with 4000 AUTH_FAILED; an oversized message with 1009; a wrong path is CONNECT_FAILED; others keep being served", async () => {
    const proxy = await connect(server.url, { authkey: KEY });
    try {
      const tok = token();
      const inflight = proxy.slow(tok);
      await probe.wait(`start:${tok}`);

      const wrong = await open();
      await wrong.next();
      wrong.send(Buffer.concat([SHA256, Buffer.alloc(32)]));
      const closed = await wrong.closed();
      assert.equal(closed.code, 4000);
      assert.match(closed.reason, /^AUTH_FAILED/);

      const big = await open();
      assert.equal(await answerChallenge(big, KEY), "#WELCOME#");
      await deliverChallenge(big, KEY);
      big.ws.send(JSON.stringify({ wirecall: 1, serializer: "json" }));
      await big.next();
      big.ws.send(Buffer.alloc(8192), { binary: true });
      assert.equal((await big.closed()).code, 1009);

      const u = new URL(server.url);
      u.pathname = "/nope";
      await assert.rejects(connect(u.href, { authkey: KEY }), code("CONNECT_FAILED"));

      probe.hit(`release:${tok}`);
      assert.equal(await within(inflight, BOUND, "the in-flight call"), "released");
      assert.equal(await proxy.add(1, 2), 3);
    } finally {
      await proxy.$close();
    }
  });
});

// ================================================================ ZeroMQ, by hand

describe("contract: docs/protocol.md 5.4 for a raw ZeroMQ DEALER", () => {
  const probe = new Probe();
  let server: Server;
  let endpoint: string;
  const dealers: Dealer[] = [];
  const dealer = (): Dealer => {
    const d = new Dealer({ linger: 0, receiveTimeout: BOUND });
    d.connect(endpoint);
    dealers.push(d);
    return d;
  };
  const ask = async (d: Dealer, ...frames: (string | Buffer)[]): Promise<string> => {
    await d.send(frames);
    const reply = await d.receive();
    assert.equal(reply.length, 2);
    assert.equal(reply[0]!.length, 0, "the empty delimiter comes first");
    return reply[1]!.toString();
  };
  before(async () => {
    server = await serve(makeHandler(probe), "zmq+tcp://127.0.0.1:0", { maxFrameSize: 4096 });
    endpoint = server.url.replace(/^zmq\+/, "");
  });
  after(async () => {
    for (const d of dealers) d.close();
    await server?.close();
  });

  it("a hello-less call, malformed and unknown frames, a message without the delimiter", async () => {
    const d = dealer();
    assert.deepEqual(JSON.parse(await ask(d, "", '[0,1,"add",[2,3]]')), [1, 1, 5]);
    let r = JSON.parse(await ask(d, "", "{not json")) as [number, unknown, { code: string }];
    assert.deepEqual([r[0], r[1], r[2].code], [2, null, "PROTOCOL_ERROR"]);
    r = JSON.parse(await ask(d, "", "[9,2]")) as [number, unknown, { code: string }];
    assert.equal(r[0], 2);
    assert.equal(r[2].code, "PROTOCOL_ERROR");
    r = JSON.parse(await ask(d, '[0,3,"add",[1,1]]')) as [number, unknown, { code: string }];
    assert.deepEqual([r[0], r[1], r[2].code], [2, null, "PROTOCOL_ERROR"]);
    const hello = '{"wirecall":1,"serializer":"json"}';
    assert.deepEqual(JSON.parse(await ask(d, "", hello)), { wirecall: 1, serializer: "json" });
    assert.deepEqual(JSON.parse(await ask(d, "", hello, '[0,4,"add",[2,2]]')), [1, 4, 4]);
    const nope = JSON.parse(await ask(d, "", hello, '[0,5,"nope",[]]')) as [number, number, { code: string }];
    assert.deepEqual([nope[0], nope[1], nope[2].code], [2, 5, "METHOD_NOT_FOUND"]);
  });

  it("an oversized frame is dropped; the server keeps serving others", async () => {
    const big = dealer();
    await big.send(["", Buffer.alloc(8192)]);
    const d = dealer();
    assert.deepEqual(JSON.parse(await ask(d, "", '[0,1,"add",[20,22]]')), [1, 1, 42]);
    const proxy = await connect(server.url);
    assert.equal(await proxy.add(1, 1), 2);
    await proxy.$close();
  });
});

after(() => assertNoPollution());
