/**
 * nats:// through the shared conformance suite (calls, errors, cancel,
 * callbacks, streams, references, drain), every serializer, against a real
 * nats-server on 127.0.0.1. The served URL has no subject, so every serve()
 * gets a fresh one (as port 0 gets a fresh port).
 */
import { after } from "node:test";
import "../transports/nats/index.js";
import { conformance } from "./conformance.js";
import { startNatsServer } from "./support/nats-server.js";

const nats = await startNatsServer();
after(() => nats.kill());

conformance({
  name: "nats",
  listenUrl: `${nats.url}/`,
  // A raw frame needs a raw NATS client, not a framed connection: test/nats-hostile.test.ts sends garbage that way.
  skipGarbage: true,
  serverOptions: { heartbeat: 200 },
  clientOptions: { heartbeat: 200 },
});
