/**
 * The mutual HMAC challenge (src/auth) on an in-memory message pipe: both
 * roles, Python's known answers, the legacy MD5 form, hostile messages.
 * Real Python peers over TCP are in test/tcp-python.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RpcError } from "../src/index.js";
import { CHALLENGE, FAILURE, WELCOME, answerChallenge, clientHandshake, constantTimeEqual, createResponse, deliverChallenge, isChallenge, resolveAuthkey, serverHandshake, verifyResponse, webCryptoHmac, type ChallengeIO, type ChallengeOptions } from "../src/transport-sdk.js";
import { nodeHmac } from "../transports/node-hmac.js";

const opts: ChallengeOptions = { hmac: nodeHmac };
const enc = (s: string) => new TextEncoder().encode(s);
const hex = (h: string) => Uint8Array.from(Buffer.from(h, "hex"));
const cat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
/** Plain bytes, so Buffer and Uint8Array compare equal. */
const u8 = (b: Uint8Array | undefined) => new Uint8Array(b ?? []);

/** One direction of a message pipe; `recv` enforces maxLength like a framed transport. */
class Mailbox {
  readonly queue: Uint8Array[] = [];
  waiter: { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void; max: number } | undefined;
  closed: Error | undefined;
  put(m: Uint8Array): void {
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      if (m.length > w.max) w.reject(new RpcError("PAYLOAD_TOO_LARGE", "too long"));
      else w.resolve(m);
    } else this.queue.push(m);
  }
  take(max: number): Promise<Uint8Array> {
    const m = this.queue.shift();
    if (m) return m.length > max ? Promise.reject(new RpcError("PAYLOAD_TOO_LARGE", "too long")) : Promise.resolve(m);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject, max }));
  }
  close(err: Error): void {
    this.closed = err;
    this.waiter?.reject(err);
    this.waiter = undefined;
  }
}

/** A connected pair of ChallengeIOs; `sent` records what each side sent. */
function pair(): { a: ChallengeIO; b: ChallengeIO; toA: Mailbox; toB: Mailbox; sentByA: Uint8Array[]; sentByB: Uint8Array[] } {
  const toA = new Mailbox();
  const toB = new Mailbox();
  const sentByA: Uint8Array[] = [];
  const sentByB: Uint8Array[] = [];
  return {
    a: { send: (m) => (sentByA.push(m), toB.put(m)), recv: (max) => toA.take(max) },
    b: { send: (m) => (sentByB.push(m), toA.put(m)), recv: (max) => toB.take(max) },
    toA,
    toB,
    sentByA,
    sentByB,
  };
}

/** A scripted peer: messages we feed it, and what it received. */
function scripted(replies: Uint8Array[]): { io: ChallengeIO; got: Uint8Array[] } {
  const got: Uint8Array[] = [];
  const box = new Mailbox();
  for (const r of replies) box.put(r);
  box.close(new RpcError("CONNECTION_CLOSED", "the peer closed the connection"));
  return { io: { send: (m) => got.push(m), recv: (max) => box.take(max) }, got };
}

const isAuthFailed = (e: unknown) => e instanceof RpcError && e.code === "AUTH_FAILED";

describe("auth: the HMAC challenge", () => {
  it("authenticates both ways with the same key, sending the {sha256} form", async () => {
    const p = pair();
    const key = enc("peekaboo");
    await Promise.all([serverHandshake(p.a, key, opts), clientHandshake(p.b, key, opts)]);
    const challenge = p.sentByA[0] as Uint8Array;
    assert.ok(isChallenge(challenge));
    assert.equal(Buffer.from(challenge.subarray(CHALLENGE.length, CHALLENGE.length + 8)).toString(), "{sha256}");
    assert.equal(challenge.length, CHALLENGE.length + 8 + 40);
    assert.equal(Buffer.from(p.sentByB[0] as Uint8Array).subarray(0, 8).toString(), "{sha256}");
    assert.deepEqual(p.sentByA[1], WELCOME);
    assert.deepEqual(p.sentByB[2], WELCOME);
  });

  it("fails on both sides with AUTH_FAILED on a wrong key, and the deliverer says #FAILURE#", async () => {
    const p = pair();
    const [server, client] = await Promise.allSettled([serverHandshake(p.a, enc("one"), opts), clientHandshake(p.b, enc("two"), opts)]);
    assert.equal(server.status, "rejected");
    assert.equal(client.status, "rejected");
    assert.ok(isAuthFailed((server as PromiseRejectedResult).reason));
    assert.ok(isAuthFailed((client as PromiseRejectedResult).reason));
    assert.deepEqual(p.sentByA[1], FAILURE);
  });

  it("answers exactly as CPython 3.13's _create_response (modern and legacy forms)", async () => {
    const key = enc("peekaboo");
    const modern = cat(enc("{sha256}"), Uint8Array.from({ length: 40 }, (_, i) => i));
    assert.deepEqual(u8(await createResponse(key, modern, opts)), hex("7b7368613235367deda328927ea5867e57357e92ff7a849cdfe50b5fecbe9282ff9d63f0fe76b0b6"));
    const legacy = Uint8Array.from({ length: 20 }, (_, i) => i);
    assert.deepEqual(u8(await createResponse(key, legacy, opts)), hex("e0bc5ff5981c5742feca0faaf7408f99"));
    await assert.rejects(createResponse(key, legacy, { ...opts, refuseLegacyMd5: true }), isAuthFailed);
  });

  it("talks to a legacy (Python <= 3.11) deliverer and answerer unless refuseLegacyMd5", async () => {
    const key = enc("k");
    // A legacy server: a bare 20-byte challenge; it expects a bare HMAC-MD5.
    const msg = new Uint8Array(20).fill(7);
    const legacyServer = scripted([cat(CHALLENGE, msg), WELCOME]);
    await answerChallenge(legacyServer.io, key, opts);
    assert.deepEqual(u8(legacyServer.got[0]), u8(nodeHmac("md5", key, msg) as Uint8Array));
    await assert.rejects(answerChallenge(scripted([cat(CHALLENGE, msg), WELCOME]).io, key, { ...opts, refuseLegacyMd5: true }), isAuthFailed);

    // A legacy client answers our prefixed challenge with a bare HMAC-MD5 of all of it.
    const message = cat(enc("{sha256}"), new Uint8Array(40).fill(1));
    await verifyResponse(key, message, nodeHmac("md5", key, message) as Uint8Array, opts);
    await assert.rejects(verifyResponse(key, message, nodeHmac("md5", key, message) as Uint8Array, { ...opts, refuseLegacyMd5: true }), isAuthFailed);
    await assert.rejects(verifyResponse(key, message, nodeHmac("md5", enc("other"), message) as Uint8Array, opts), isAuthFailed);
  });

  it("turns hostile or broken challenge messages into AUTH_FAILED", async () => {
    const key = enc("k");
    const cases: Uint8Array[][] = [
      [enc("#CHALLENGE#short")], // under 20 bytes
      [enc("hello there, this is not a challenge at all")], // no prefix
      [cat(CHALLENGE, enc("{sha384}"), new Uint8Array(40))], // digest we do not speak
      [cat(CHALLENGE, enc("{sha256"), new Uint8Array(40))], // unterminated prefix
      [cat(CHALLENGE, enc("{verylongdigestname}"), new Uint8Array(40))],
      [cat(CHALLENGE, new Uint8Array(300))], // oversized
      [cat(CHALLENGE, enc("{sha256}"), new Uint8Array(40)), enc("#WELCOME")], // truncated verdict
      [cat(CHALLENGE, enc("{sha256}"), new Uint8Array(40)), new Uint8Array(200)], // garbage verdict
      [cat(CHALLENGE, enc("{sha256}"), new Uint8Array(40)), FAILURE],
      [], // the peer closes at once
    ];
    for (const replies of cases) {
      await assert.rejects(answerChallenge(scripted(replies).io, key, opts), isAuthFailed, `replies ${replies.map((r) => r.length)}`);
    }
    // Deliverer side: empty, oversized, garbage and truncated answers; each gets #FAILURE#.
    for (const answer of [new Uint8Array(0), new Uint8Array(257), enc("{sha256}"), enc("{sha256}abc"), new Uint8Array(20), new Uint8Array(32)]) {
      const peer = scripted([answer]);
      await assert.rejects(deliverChallenge(peer.io, key, opts), isAuthFailed);
      if (answer.length <= 256) assert.deepEqual(peer.got[1], FAILURE);
    }
  });

  it("keeps the transport's reason as the cause when the peer goes away", async () => {
    const p = pair();
    const run = clientHandshake(p.b, enc("k"), opts);
    p.toB.close(new RpcError("CONNECTION_CLOSED", "gone"));
    await assert.rejects(run, (e: RpcError) => e.code === "AUTH_FAILED" && (e.cause as RpcError).code === "CONNECTION_CLOSED");
  });

  it("gives up on a silent peer at the time limit", async () => {
    const p = pair();
    const started = Date.now();
    await assert.rejects(serverHandshake(p.a, enc("k"), { ...opts, timeout: 50 }), isAuthFailed);
    assert.ok(Date.now() - started < 2000);
    p.toA.close(new Error("test over"));
  });

  it("compares in constant time, and only equal bytes are equal", () => {
    assert.ok(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
    assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
    assert.ok(!constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])));
    assert.ok(constantTimeEqual(new Uint8Array(0), new Uint8Array(0)));
  });

  it("property: the handshake succeeds exactly when the keys are equal as HMAC keys", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), fc.boolean(), async (k1, k2, same) => {
        const clientKey = same ? k1 : k2;
        const p = pair();
        const [s, c] = await Promise.allSettled([serverHandshake(p.a, k1, opts), clientHandshake(p.b, clientKey, opts)]);
        // HMAC zero-pads keys up to its block size (64 bytes for md5 and sha256, the generator's limit): keys that differ only
        // in trailing zero bytes are the same HMAC key, so the handshake rightly accepts them ([] and [0], for one).
        const equal = Buffer.from(withoutTrailingZeros(k1)).equals(Buffer.from(withoutTrailingZeros(clientKey)));
        assert.equal(s.status === "fulfilled", equal);
        assert.equal(c.status === "fulfilled", equal);
        if (!equal) assert.ok(isAuthFailed((s as PromiseRejectedResult).reason));
      }),
      { numRuns: 200 },
    );
  });

  it("property: no arbitrary answer passes verification, and every failure is AUTH_FAILED", async () => {
    const key = enc("secret");
    const message = cat(enc("{sha256}"), new Uint8Array(40).fill(9));
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }).map((b) => cat(enc("{sha256}"), b))), async (answer) => {
        await assert.rejects(verifyResponse(key, message, answer, opts), isAuthFailed);
      }),
      { numRuns: 300 },
    );
  });

  it("reads the authkey from the option or WIRECALL_AUTHKEY", () => {
    const saved = process.env.WIRECALL_AUTHKEY;
    try {
      delete process.env.WIRECALL_AUTHKEY;
      assert.equal(resolveAuthkey(undefined), undefined);
      assert.deepEqual(u8(resolveAuthkey("pw")), enc("pw"));
      const bytes = new Uint8Array([0, 255]);
      assert.equal(resolveAuthkey(bytes), bytes);
      process.env.WIRECALL_AUTHKEY = "from-env";
      assert.deepEqual(u8(resolveAuthkey(undefined)), enc("from-env"));
      assert.deepEqual(u8(resolveAuthkey("option-wins")), enc("option-wins"));
      process.env.WIRECALL_AUTHKEY = "";
      assert.equal(resolveAuthkey(undefined), undefined);
    } finally {
      if (saved === undefined) delete process.env.WIRECALL_AUTHKEY;
      else process.env.WIRECALL_AUTHKEY = saved;
    }
  });

  it("webCryptoHmac agrees with node:crypto for SHA-256 and has no MD5", async () => {
    const key = enc("k");
    const msg = enc("message");
    assert.deepEqual(await webCryptoHmac("sha256", key, msg), new Uint8Array(nodeHmac("sha256", key, msg) as Uint8Array));
    await assert.rejects(Promise.resolve().then(() => webCryptoHmac("md5", key, msg)));
    // A browser client against a legacy peer fails cleanly.
    await assert.rejects(answerChallenge(scripted([cat(CHALLENGE, new Uint8Array(20)), WELCOME]).io, key, { hmac: webCryptoHmac }), isAuthFailed);
    const p = pair();
    await Promise.all([serverHandshake(p.a, key, opts), clientHandshake(p.b, key, { hmac: webCryptoHmac })]);
  });
});

/** The key HMAC actually uses, for keys no longer than its block size: zero padding makes trailing zeros irrelevant. */
function withoutTrailingZeros(key: Uint8Array): Uint8Array {
  let end = key.length;
  while (end > 0 && key[end - 1] === 0) end--;
  return key.subarray(0, end);
}
