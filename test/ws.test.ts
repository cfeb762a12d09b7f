/**
 * The shared conformance suite over ws:// and wss:// (self-signed
 * certificate trusted through `ca`), with and without an authkey, under every
 * serializer.
 */
import { after } from "node:test";
import { conformance } from "./conformance.js";
import { makeSelfSignedCert } from "./ws-tls-fixture.js";
import "../transports/ws/index.js";

const tls = makeSelfSignedCert();
after(() => tls.remove());

conformance({ name: "ws", listenUrl: "ws://127.0.0.1:0/rpc" });
conformance({
  name: "ws+authkey",
  listenUrl: "ws://127.0.0.1:0/rpc",
  serverOptions: { authkey: "peekaboo" },
  clientOptions: { authkey: "peekaboo" },
});
conformance({
  name: "wss",
  listenUrl: "wss://127.0.0.1:0/rpc",
  serverOptions: { cert: tls.cert, key: tls.key },
  clientOptions: { ca: tls.cert },
});
conformance({
  name: "wss+authkey",
  listenUrl: "wss://127.0.0.1:0/",
  serverOptions: { cert: tls.cert, key: tls.key, authkey: new TextEncoder().encode("s3cr3t bytes") },
  clientOptions: { ca: tls.cert, authkey: new TextEncoder().encode("s3cr3t bytes") },
});
