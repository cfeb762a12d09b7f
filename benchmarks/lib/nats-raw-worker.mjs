/**
 * The raw NATS floor's worker: a queue-group subscriber written with the
 * same client (@nats-io/transport-node) that answers `[op, a, b, id]`
 * MessagePack requests with `[id, result]` (`add`: a + b; `echo`: b;
 * `who`: its label). Prints `ready`; exits when stdin closes.
 *
 *   node nats-raw-worker.mjs <natsUrl> <subject> <label>
 */
import { connect } from "@nats-io/transport-node";
import { codecs } from "./codecs.mjs";

const [url, subject, label] = process.argv.slice(2);
const { encode, decode } = codecs.msgpack;
const nc = await connect({ servers: url });
nc.subscribe(subject, {
  queue: "raw",
  callback: (err, msg) => {
    if (err) return;
    const [op, a, b, id] = decode(msg.data);
    msg.respond(encode([id, op === "echo" ? b : op === "who" ? label : a + b]));
  },
});
await nc.flush();
process.stdout.write("ready\n");
process.stdin.resume();
process.stdin.on("end", () => void nc.close().then(() => process.exit(0)));
