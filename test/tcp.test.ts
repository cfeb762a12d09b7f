import { conformance } from "./conformance.js";

const authkey = "conformance-secret";
conformance({ name: "tcp", listenUrl: "tcp://127.0.0.1:0", serverOptions: { authkey }, clientOptions: { authkey } });
// Without an authkey (loopback only): no challenge, the first frame is the hello.
conformance({ name: "tcp (no authkey)", listenUrl: "tcp://127.0.0.1:0", serializers: ["json"] });
