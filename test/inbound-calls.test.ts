import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CallSet, CallTable, InboundCall } from "../src/inbound-queue.js";
import type { PeerInfo } from "../src/call-context.js";

const origin: PeerInfo = { transport: "test", remoteAddress: undefined };
const call = (id: number) => new InboundCall(id, "m", [], undefined, origin, 10);

describe("CallTable", () => {
  it("finds, removes and lists calls by id, the first one in a field and the others in a Map", () => {
    const t = new CallTable();
    const a = call(1);
    const b = call(2);
    const c = call(2 ** 40);
    t.add(a);
    t.add(b);
    t.add(c);
    assert.equal(t.get(1), a);
    assert.equal(t.get(2), b);
    assert.equal(t.get(2 ** 40), c);
    assert.equal(t.get(3), undefined);
    assert.deepEqual([...t].sort((x, y) => (x.id as number) - (y.id as number)), [a, b, c]);
    t.delete(1);
    assert.equal(t.get(1), undefined);
    assert.equal(t.get(2 ** 40), c);
    // The field is free again: the next call takes it, the others stay findable.
    const d = call(1);
    t.add(d);
    assert.equal(t.get(1), d);
    assert.equal(t.get(2), b);
    t.delete(2);
    t.delete(2 ** 40);
    t.delete(99);
    assert.deepEqual([...t], [d]);
    t.clear();
    assert.deepEqual([...t], []);
    assert.equal(t.get(1), undefined);
  });

  it("agrees with a Map over random adds and deletes", () => {
    const t = new CallTable();
    const m = new Map<number, InboundCall>();
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let i = 0; i < 5000; i++) {
      const id = rnd(8);
      if (m.has(id)) {
        t.delete(id);
        m.delete(id);
      } else {
        const c = call(id);
        t.add(c);
        m.set(id, c);
      }
      for (let k = 0; k < 8; k++) assert.equal(t.get(k), m.get(k));
      assert.equal([...t].length, m.size);
    }
  });
});

describe("CallSet", () => {
  it("agrees with a Set over random adds and deletes", () => {
    const calls = Array.from({ length: 6 }, () => new InboundCall(null, "m", [], undefined, origin, 10));
    const t = new CallSet();
    const m = new Set<InboundCall>();
    let seed = 11;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let i = 0; i < 5000; i++) {
      const c = calls[rnd(calls.length)] as InboundCall;
      if (rnd(2) === 0 && !m.has(c)) {
        t.add(c);
        m.add(c);
      } else {
        assert.equal(t.delete(c), m.delete(c));
      }
      assert.deepEqual(new Set(t), m);
    }
    t.clear();
    assert.deepEqual([...t], []);
  });
});
