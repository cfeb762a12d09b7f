/**
 * A hostile NATS client against a worker in its own process, while an
 * honest caller keeps calling: garbage on the queue subject, a flood of
 * hellos that never go further, and frames sent in parts that never finish.
 * The worker answers what it can, refuses past its limits, keeps serving the
 * honest caller, and its memory stays bounded.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connect as natsConnect, headers, type NatsConnection } from "@nats-io/transport-node";
import { connect, type AnyRemote } from "../src/index.js";
import "../transports/nats/index.js";
import { startNatsServer, type NatsServer } from "./support/nats-server.js";
import { startWorker, type WorkerProcess } from "./support/nats-workers.js";

const SUBJECT = "hostile.svc";
const LIMITS = { maxConnections: 60, maxBufferedBytes: 4 * 1024 * 1024, maxFrameSize: 1024 * 1024 };

describe("nats: a hostile client against a worker process, an honest caller calling throughout", () => {
  let ns: NatsServer;
  let worker: WorkerProcess;
  let honest: AnyRemote;
  let evil: NatsConnection;
  let stop = false;
  let honestCalls = 0;
  let honestErrors: unknown[] = [];
  let loop: Promise<void>;

  before(async () => {
    ns = await startNatsServer();
    worker = await startWorker(ns.url, SUBJECT, "w", LIMITS);
    honest = await connect(`${ns.url}/${SUBJECT}`, { heartbeat: 200 });
    evil = await natsConnect({ servers: ns.url });
    loop = (async () => {
      while (!stop) {
        try {
          assert.equal(await honest.$call("add", [honestCalls, 1], undefined, { timeout: 10_000 }), honestCalls + 1);
          honestCalls++;
        } catch (err) {
          honestErrors.push(err);
          return;
        }
      }
    })();
  });
  after(async () => {
    stop = true;
    await loop;
    await honest?.$close();
    await evil?.close();
    await worker?.kill();
    await ns?.kill();
  });

  async function honestStillServed(): Promise<void> {
    const before = honestCalls;
    assert.equal(await honest.add(20, 22), 42);
    assert.deepEqual(honestErrors, []);
    assert.ok(honestCalls >= before);
  }

  it("garbage on the queue subject is answered PROTOCOL_ERROR, each connection closed after its answer", async () => {
    const rss0 = (await honest.rss()) as number;
    const dec = new TextDecoder();
    // In batches of 40 at once: below maxConnections, so every one is served (past it they are refused: next test).
    const replies: [number, null, { code: string }][] = [];
    for (let b = 0; b < 50; b++) {
      replies.push(
        ...(await Promise.all(
          Array.from({ length: 40 }, (_, i) => evil.request(SUBJECT, new Uint8Array([0xff, i, 0x13, 0x37]), { timeout: 20_000 }).then((m) => JSON.parse(dec.decode(m.data)) as [number, null, { code: string }])),
        )),
      );
    }
    assert.equal(replies.length, 2000);
    assert.ok(replies.every((r) => r[0] === 2 && r[2].code === "PROTOCOL_ERROR"), JSON.stringify(replies.find((r) => r[2]?.code !== "PROTOCOL_ERROR")));
    await honestStillServed();
    const grew = ((await honest.rss()) as number) - rss0;
    console.log(`# 2000 garbage requests: worker RSS +${(grew / 1048576).toFixed(1)} MiB, honest calls so far ${honestCalls}`);
    assert.ok(grew < 64 * 1048576, `RSS grew ${grew} bytes`);
  });

  it("frames in parts that never finish: each capped by maxFrameSize, all together by maxBufferedBytes", async () => {
    const rss0 = (await honest.rss()) as number;
    const who = await evil.request(`${SUBJECT}._who`, "", { timeout: 5000 });
    const prefix = new TextDecoder().decode(who.data);
    const more = headers();
    more.set("Wirecall-More", "1");
    const part = new Uint8Array(256 * 1024).fill(0x41);
    const inbox = `_INBOX.parts.${Date.now()}`;
    const closes: string[] = [];
    let conns = 0;
    let opened!: () => void;
    const allOpened = new Promise<void>((r) => (opened = r));
    const addresses: string[] = [];
    evil.subscribe(`${inbox}.>`, {
      callback: (_err, msg) => {
        const c = msg.headers?.get("Wirecall-Close");
        if (c) closes.push(c);
        else if (msg.reply && !addresses.includes(msg.reply)) {
          addresses.push(msg.reply);
          if (++conns === 10) opened();
        }
      },
    });
    for (let i = 0; i < 10; i++) evil.publish(`${prefix}.0`, '{"wirecall":1,"serializer":"json"}', { reply: `${inbox}.${i}` });
    let limit: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([allOpened, new Promise((_, reject) => (limit = setTimeout(() => reject(new Error(`${conns} of 10 connections opened; closes: ${closes.join(" | ")}`)), 30_000)))]);
    clearTimeout(limit);
    // Each connection sends 3 parts (768 KiB, under maxFrameSize): 10 x 768 KiB passes maxBufferedBytes (4 MiB).
    for (const to of addresses) for (let k = 0; k < 3; k++) evil.publish(to, part, { headers: more });
    // One connection alone passes maxFrameSize.
    for (let k = 0; k < 5; k++) evil.publish(addresses[0] as string, part, { headers: more });
    await evil.flush();
    await honestStillServed();
    const grew = ((await honest.rss()) as number) - rss0;
    console.log(`# unfinished frames: ${closes.length} connections closed (${[...new Set(closes.map((c) => (/maxBufferedBytes|maxFrameSize/.exec(c) ?? ["?"])[0]))].join(", ")}), worker RSS +${(grew / 1048576).toFixed(1)} MiB`);
    assert.ok(closes.some((c) => /PAYLOAD_TOO_LARGE/.test(c) && /maxBufferedBytes 4194304/.test(c)), closes.join(" | "));
    assert.ok(grew < 64 * 1048576, `RSS grew ${grew} bytes`);
  });
  it("a flood of hellos that go no further: past maxConnections new ones are refused at once", async () => {
    const who = await evil.request(`${SUBJECT}._who`, "", { timeout: 5000 });
    const prefix = new TextDecoder().decode(who.data);
    const inbox = `_INBOX.evil.${Date.now()}`;
    let refused = 0;
    let answered = 0;
    let allDone!: () => void;
    const done = new Promise<void>((r) => (allDone = r));
    const N = 200;
    evil.subscribe(`${inbox}.>`, {
      callback: (_err, msg) => {
        if (msg.headers?.get("Wirecall-Close")) refused++;
        else answered++;
        if (refused + answered === N) allDone();
      },
    });
    for (let i = 0; i < N; i++) evil.publish(`${prefix}.0`, '{"wirecall":1,"serializer":"json"}', { reply: `${inbox}.${i}` });
    let limit: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise((_, reject) => (limit = setTimeout(() => reject(new Error(`only ${refused + answered} of ${N} hellos answered`)), 20_000)))]);
    clearTimeout(limit);
    console.log(`# ${N} hellos: ${answered} answered, ${refused} refused (maxConnections ${LIMITS.maxConnections}, the honest lane holds one)`);
    // Connections still open from the previous test (closed by PAYLOAD_TOO_LARGE or not) count too.
    assert.ok(answered <= LIMITS.maxConnections - 1 && answered > 0, `${answered} answered`);
    assert.equal(refused, N - answered);
    // A plain request past the cap gets an error envelope it can read.
    const r = JSON.parse(new TextDecoder().decode((await evil.request(SUBJECT, '[0, 1, "add", [1, 2]]', { timeout: 5000 })).data)) as [number, null, { code: string; message: string }];
    assert.equal(r[0], 2);
    assert.match(r[2].message, /maxConnections/);
    await honestStillServed();
  });

});
