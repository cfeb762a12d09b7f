/**
 * The shared conformance suite over ZeroMQ: zmq+tcp under every serializer,
 * and a smaller run over zmq+ipc on a temporary path.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { conformance } from "./conformance.js";

conformance({ name: "zmq+tcp", listenUrl: "zmq+tcp://127.0.0.1:0", clientOptions: { handshakeTimeout: 5000 } });

const dir = mkdtempSync(join(tmpdir(), "wirecall-zmq-"));
after(() => rmSync(dir, { recursive: true, force: true }));
// Each server in the suite binds its own path: the suite serves several at once.
let n = 0;
conformance({
  name: "zmq+ipc",
  get listenUrl() {
    return `zmq+ipc://${join(dir, `s${++n}.sock`)}`;
  },
  serializers: ["msgpack"],
  clientOptions: { handshakeTimeout: 5000 },
});
