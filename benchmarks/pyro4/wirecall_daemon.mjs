// wirecall's Pyro4 daemon for `npm run bench:pyro4`: object "bench" with add
// and echo, as py_daemon.py; prints its URI, closes when stdin ends.
import { RPCHandler, serve } from "../../dist/src/index.js";

const handler = new RPCHandler();
handler.registerInstance({ add: (x, y) => x + y, echo: (v) => v }, "bench");
const server = await serve(handler, "pyro://127.0.0.1:0");
process.stdout.write(`${server.urlOf("bench")}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await server.close();
  process.exit(0);
});
