/**
 * What the contract tests (test/contract-*.test.ts) share: bounded waits,
 * error validators, the DESIGN.md service and its handler, serializers of
 * our own, plain MessagePack and a raw TCP peer written from
 * docs/protocol.md, and the transports every "must" runs over. Importing
 * it hides WIRECALL_AUTHKEY from the tests and checks, after them, that no
 * prototype was polluted.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe } from "node:test";
import {
  RPCHandler,
  RpcError,
  connect,
  registerSerializer,
  type CallContext,
  type Serializer,
} from "wirecall";
import { makeTestCerts, type TestCerts } from "../tcp-certs.js";
import { interopSkip } from "./interop.js";
import { Deferred, within } from "./async.js";
import { coded } from "./errors.js";
export { Deferred, within };

// ---------------------------------------------------------------- helpers

/** Upper bound of every wait: a test fails rather than hangs. */
export const BOUND = 5000;

/** assert.rejects validator: an RpcError with this code. */
export const code = (expected: string): ((err: unknown) => true) => coded(expected);

/** assert.rejects validator: INVALID_PARAMS whose message names the parameter. */
export function invalidParam(param: string) {
  return (err: unknown): true => {
    code("INVALID_PARAMS")(err);
    const escaped = param.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    assert.match((err as Error).message, new RegExp(`(^|[^A-Za-z0-9_])${escaped}([^A-Za-z0-9_]|$)`), `the message must name '${param}'`);
    return true;
  };
}

/** Handler-side events the tests wait on (a handler runs in this process). */
export class Probe {
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
export const token = (): string => `t${++tokens}`;

/** Names on Object.prototype, Function.prototype and Array.prototype: compared before and after. */
export function prototypeSnapshot(): string {
  return [Object.prototype, Function.prototype, Array.prototype]
    .map((p) => Object.getOwnPropertyNames(p).sort().join(","))
    .join("|");
}
const PRISTINE = prototypeSnapshot();
export function assertNoPollution(): void {
  assert.equal(prototypeSnapshot(), PRISTINE, "a prototype was modified");
  const probe = {} as Record<string, unknown>;
  for (const k of ["polluted", "x", "yes"]) assert.equal(probe[k], undefined, `Object.prototype.${k} appeared`);
}

// ---------------------------------------------------------------- the service

/** The API of the DESIGN.md snippet, for `connect<Api>`. */
export interface Api {
  add(x: number, y: number): number;
  get_power(n: number, m: number): number;
  describe(a: number, b: number, z?: number): { a: number; b: number; z: number };
  greeter: { welcome(name: string, punctuation?: string): string; inherited(): string; own(): string };
  system: { listMethods(): string[]; methodHelp(name: string): string; methodSignature(name: string): unknown };
  slow(tok: string): string;
  /** Type-only: a method returning a Promise gives a Promise of its awaited value, not a nested one. */
  later(x: number): Promise<number>;
}

export class Base {
  inherited(): string {
    return "inherited";
  }
  _baseSecret(): string {
    return "base secret";
  }
}

export class Greeter extends Base {
  own = (): string => "own";
  count = 3;
  welcome(name: string, punctuation = "!"): string {
    return `Welcome, ${name}${punctuation}`;
  }
  _secret(): string {
    return "hidden";
  }
}

export class QuotaError extends Error {
  override name = "QuotaError";
}
/** No `name` of its own: its instances are named "Error" unless wirecall uses the class name. */
export class BareError extends Error {}

export const SECRET = "s3cret-authkey-NEVER-IN-LOGS";
export const KEY = "peekaboo";

export function makeHandler(probe: Probe, options?: ConstructorParameters<typeof RPCHandler>[0]): RPCHandler {
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

export const customCalls = { encode: 0, decode: 0 };
export const MAGIC = 0xb7;
/** A binary serializer that is not JSON on the wire (a magic byte first). */
export const contractBin: Serializer = {
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
export const contractText = {
  name: "contract-text",
  encode: (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ wrapped: value })),
  decode: (frame: Uint8Array): unknown => (JSON.parse(new TextDecoder().decode(frame)) as { wrapped: unknown }).wrapped,
};
/** The same shape with frames that are not UTF-8 (a 0xff byte first), still without `binary`. */
export const contractBytes = {
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
export function mpDecode(input: Uint8Array): unknown {
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
export function mpEncode(value: unknown): Buffer {
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

export function frameOf(payload: string | Uint8Array): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload);
  const header = Buffer.alloc(4);
  header.writeInt32BE(body.length);
  return Buffer.concat([header, body]);
}

export class RawTcp {
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

export const CHALLENGE = Buffer.from("#CHALLENGE#");
export const SHA256 = Buffer.from("{sha256}");
export const hmac = (alg: string, key: string, msg: Uint8Array): Buffer => createHmac(alg, key).update(msg).digest();

/** Steps 1-3 with the server delivering: answer its `#CHALLENGE#`. */
export async function answerChallenge(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, key: string, legacy = false): Promise<string> {
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
export async function deliverChallenge(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, key: string, legacy = false): Promise<void> {
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

export async function rawTcpClient(port: number, key?: string): Promise<RawTcp> {
  const raw = await RawTcp.open(port);
  if (key !== undefined) {
    assert.equal(await answerChallenge(raw, key), "#WELCOME#");
    await deliverChallenge(raw, key);
  }
  return raw;
}

export async function rawHello(raw: { next(): Promise<Buffer>; send(p: Uint8Array | string): void }, serializer: string): Promise<void> {
  raw.send(JSON.stringify({ wirecall: 1, serializer }));
  const answer = JSON.parse((await raw.next()).toString("utf8")) as { wirecall: number; serializer: string };
  assert.equal(answer.wirecall, 1);
  assert.equal(answer.serializer, serializer);
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

// ---------------------------------------------------------------- transports

let certs: TestCerts | undefined;
export const tls = (): TestCerts => (certs ??= makeTestCerts());

export interface Target {
  name: string;
  listen: string;
  auth: boolean;
  server(): Record<string, unknown>;
  client(): Record<string, unknown>;
}

export const TARGETS: Target[] = [
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
];

/**
 * False when the optional `zeromq` package loads, else why not: the zmq
 * contract then skips loudly (and fails under CI), and every other
 * transport's still runs.
 */
export const noZeromq: string | false = await import("zeromq").then(
  () => false,
  () => "the optional zeromq package is not installed",
);
if (!interopSkip("the zmq contract tests", noZeromq)) {
  TARGETS.push({ name: "zmq", listen: "zmq+tcp://127.0.0.1:0", auth: true, server: () => ({ authkey: KEY }), client: () => ({ authkey: KEY }) });
}

export function withoutKey(o: Record<string, unknown>): Record<string, unknown> {
  const { authkey: _, ...rest } = o;
  return rest;
}

// The environment must not supply a key behind the tests' back.
const savedEnvKey = process.env.WIRECALL_AUTHKEY;
delete process.env.WIRECALL_AUTHKEY;
after(() => {
  if (savedEnvKey !== undefined) process.env.WIRECALL_AUTHKEY = savedEnvKey;
});


after(() => assertNoPollution());
