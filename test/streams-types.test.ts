/**
 * The typing of streams in `Remote<T>`, checked by the compiler: `tsc`
 * builds this file with the rest of the tests, so a mapping that drifts
 * fails the build (the `Equals` lines) and a wrong use that stops being an
 * error fails it too (an unused `@ts-expect-error` is itself an error). The
 * test then runs the same calls against a real server, so the types
 * describe what arrives.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RPCHandler, connect, serve, type Remote, type Server } from "../src/index.js";

/** True only when A and B are the same type (not merely assignable). */
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(): T | void {}

interface Api {
  count(n: number): AsyncGenerator<number>;
  lines(prefix: string): AsyncIterable<string>;
  /** An async handler that resolves to a stream. */
  later(n: number): Promise<AsyncIterable<{ i: number }>>;
  sum(items: AsyncIterable<number>): Promise<number>;
  join(items: AsyncIterable<string>, sep?: string): AsyncGenerator<string>;
  forEach(items: string[], onItem: (x: string) => Promise<void>): Promise<number>;
  plain(): number[];
  /** Every type argument of AsyncGenerator spelled out. */
  full(): AsyncGenerator<number, void, unknown>;
}

type R = Remote<Api>;
// A method returning AsyncIterable<X> or AsyncGenerator<X>, or a Promise of one, resolves to AsyncIterable<X>.
assertType<Equals<ReturnType<R["count"]>, Promise<AsyncIterable<number>>>>();
assertType<Equals<ReturnType<R["lines"]>, Promise<AsyncIterable<string>>>>();
assertType<Equals<ReturnType<R["later"]>, Promise<AsyncIterable<{ i: number }>>>>();
assertType<Equals<ReturnType<R["join"]>, Promise<AsyncIterable<string>>>>();
assertType<Equals<ReturnType<R["sum"]>, Promise<number>>>();
// Arrays are values, not streams.
assertType<Equals<ReturnType<R["plain"]>, Promise<number[]>>>();
type ItemOf<P> = P extends Promise<AsyncIterable<infer X>> ? X : "not a Promise of an AsyncIterable";
assertType<Equals<ItemOf<ReturnType<R["full"]>>, number>>();
// AsyncIterable parameters stay what they are: any async iterable of the right items is accepted (below).

async function* numbers(n: number): AsyncGenerator<number> {
  for (let i = 1; i <= n; i++) yield i;
}
async function* words(): AsyncGenerator<string> {
  yield "a";
  yield "b";
}

/** Wrong uses: each line below must stay a compile error. Never called. */
export async function wrongUses(proxy: R): Promise<void> {
  const items = await proxy.count(3);
  // @ts-expect-error: a remote stream is an AsyncIterable, not an iterator: read it with for await
  await items.next();
  // @ts-expect-error: a remote stream cannot be iterated synchronously
  for (const x of items) void x;
  // @ts-expect-error: a remote stream is not an array
  const arr: number[] = await proxy.count(3);
  // @ts-expect-error: nor has it array methods
  (await proxy.lines("x")).map((s: string) => s);
  for await (const x of items) {
    // @ts-expect-error: the items are numbers
    const s: string = x;
    void s;
  }
  // @ts-expect-error: an array is not an AsyncIterable parameter
  await proxy.sum([1, 2, 3]);
  // @ts-expect-error: a stream of the wrong items
  await proxy.sum(words());
  // @ts-expect-error: the result is not the stream itself before it is awaited
  for await (const x of proxy.count(3)) void x;
  // @ts-expect-error: the callback takes a string
  await proxy.forEach(["a"], async (x: number) => void x);
  void arr;
}

describe("Remote<T> stream typing matches what arrives", () => {
  let server: Server;
  let proxy: R;
  before(async () => {
    const h = new RPCHandler();
    h.register("count", async function* (n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    h.register("lines", async function* (prefix: string) {
      yield `${prefix}1`;
      yield `${prefix}2`;
    });
    h.register("later", async (n: number) =>
      (async function* () {
        for (let i = 0; i < n; i++) yield { i };
      })(),
    );
    h.register("sum", async (items: AsyncIterable<number>) => {
      let s = 0;
      for await (const x of items) s += x;
      return s;
    });
    h.register("join", async function* (items: AsyncIterable<string>, sep = "-") {
      for await (const x of items) yield `${x}${sep}`;
    });
    h.register("forEach", async (items: string[], onItem: (x: string) => Promise<void>) => {
      for (const x of items) await onItem(x);
      return items.length;
    });
    h.register("plain", () => [1, 2]);
    h.register("full", async function* () {
      yield 7;
    });
    server = await serve(h, "mem://streams-types");
    proxy = await connect<Api>(server.url, { serializer: "msgpack" });
  });
  after(async () => {
    await proxy?.$close();
    await server?.close();
  });

  it("streams typed as AsyncIterable<X> yield X; AsyncIterable and callback parameters are accepted", async () => {
    const got: number[] = [];
    for await (const x of await proxy.count(3)) got.push(x);
    assert.deepEqual(got, [0, 1, 2]);
    const lines: string[] = [];
    for await (const s of await proxy.lines("L")) lines.push(s.toLowerCase());
    assert.deepEqual(lines, ["l1", "l2"]);
    const objs: number[] = [];
    for await (const o of await proxy.later(2)) objs.push(o.i);
    assert.deepEqual(objs, [0, 1]);
    assert.equal(await proxy.sum(numbers(4)), 10);
    const joined: string[] = [];
    for await (const s of await proxy.join(words(), "+")) joined.push(s);
    assert.deepEqual(joined, ["a+", "b+"]);
    const seen: string[] = [];
    assert.equal(await proxy.forEach(["x", "y"], async (x) => void seen.push(x)), 2);
    assert.deepEqual(seen, ["x", "y"]);
    assert.deepEqual(await proxy.plain(), [1, 2]);
    for await (const x of await proxy.full()) assert.equal(x, 7);
  });
});
