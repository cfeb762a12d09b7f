/**
 * A ZeroMQ server's sessions live exactly as long as the ZeroMQ connection
 * they arrived on (issue 11, item 3): a newcomer that reuses a departed
 * peer's routing id inherits nothing, and a killed client's calls are
 * aborted at once instead of running until `peerIdleTimeout`.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { RPCHandler, serve, type CallContext, type Server } from "../src/index.js";
import { FIXTURES, ask, rawAuthenticate, rawDealer, startDaemon, within } from "./zmq-fixtures.js";

/** A handler whose `hang` calls run until aborted, counting starts and aborts. */
function hanging(): { handler: RPCHandler; counts: { started: number; aborted: number }; changed: EventEmitter } {
  const handler = new RPCHandler();
  const counts = { started: 0, aborted: 0 };
  const changed = new EventEmitter();
  handler.register(function add(x: number, y: number) {
    return x + y;
  });
  handler.register(
    "hang",
    (ctx: CallContext, _n: number) =>
      new Promise((_, reject) => {
        counts.started++;
        changed.emit("change");
        ctx.signal.addEventListener("abort", () => {
          counts.aborted++;
          changed.emit("change");
          reject(ctx.signal.reason);
        });
      }),
    { context: true },
  );
  return { handler, counts, changed };
}

/** Wait, within `ms`, until `test()` holds; re-checked on every `change`. */
function until(changed: EventEmitter, test: () => boolean, ms: number, what: string): Promise<void> {
  let check: (() => void) | undefined;
  const reached = new Promise<void>((resolve) => {
    check = () => {
      if (test()) resolve();
    };
    changed.on("change", check);
    check();
  });
  return within(reached, ms, what).finally(() => changed.off("change", check as () => void));
}

describe("zmq: a session is bound to its ZeroMQ connection", () => {
  it("does not serve a peer without the key that reuses a departed authenticated peer's routing id", async (t) => {
    // peerIdleTimeout stays at its default (10 min): the departed session must not wait for it.
    const server: Server = await serve(hanging().handler, "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo" });
    t.after(() => server.close());
    const victim = rawDealer(server.url, "victim");
    await rawAuthenticate(victim, "peekaboo");
    assert.deepEqual(JSON.parse((await ask(victim, '[0,1,"add",[1,2]]')).toString()), [1, 1, 3]);
    victim.close(); // gone without a goodbye, as a killed process goes
    // libzmq ignores a second connection under a routing id still in use, so
    // an intruder that comes too early hears nothing: it tries again, as an attacker would.
    let answered = 0;
    for (let attempt = 0; attempt < 20 && answered < 3; attempt++) {
      const intruder = rawDealer(server.url, "victim", 1000);
      try {
        const answer = (await ask(intruder, `[0,${2 + attempt},"add",[20,22]]`)).toString("latin1");
        answered++;
        // The call is taken as a knock: the intruder is asked for the key, never answered.
        assert.match(answer, /^#CHALLENGE#/, `the intruder was served: ${answer}`);
      } catch (err) {
        if ((err as { code?: string }).code !== "EAGAIN") throw err;
      } finally {
        intruder.close();
      }
    }
    assert.ok(answered > 0, "no intruder got an answer at all");
  });

  it("aborts the calls in flight of a client killed mid-call, long before peerIdleTimeout", async (t) => {
    const { handler, counts, changed } = hanging();
    const server = await serve(handler, "zmq+tcp://127.0.0.1:0");
    t.after(() => server.close());
    const caller = await startDaemon(process.execPath, [`${FIXTURES}caller.mjs`, server.url, "hang", "100"]);
    t.after(() => caller.stop(0));
    assert.equal(caller.firstLine, "sent");
    await until(changed, () => counts.started === 100, 10_000, "the server never ran the 100 calls");
    assert.equal(counts.aborted, 0);
    caller.child.kill("SIGKILL");
    await caller.exited;
    await until(changed, () => counts.aborted === 100, 5000, `only ${counts.aborted} of 100 calls were aborted`);
  });

  it("aborts the calls of a killed client that had authenticated", async (t) => {
    const { handler, counts, changed } = hanging();
    const server = await serve(handler, "zmq+tcp://127.0.0.1:0", { authkey: "peekaboo" });
    t.after(() => server.close());
    const caller = await startDaemon(process.execPath, [`${FIXTURES}caller.mjs`, server.url, "hang", "20"], { WIRECALL_AUTHKEY: "peekaboo" });
    t.after(() => caller.stop(0));
    await until(changed, () => counts.started === 20, 10_000, "the server never ran the 20 calls");
    caller.child.kill("SIGKILL");
    await caller.exited;
    await until(changed, () => counts.aborted === 20, 5000, `only ${counts.aborted} of 20 calls were aborted`);
  });
});
