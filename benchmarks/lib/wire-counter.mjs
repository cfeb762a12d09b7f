/**
 * Bytes on the wire, counted by a TCP proxy that the runner puts between
 * client and server for a separate, untimed phase (so the extra hop never
 * touches the latency figures). It counts TCP payload bytes in both
 * directions: frames, headers and protocol overhead, but not TCP/IP headers.
 * Works the same for every system that speaks TCP (tcp, tls, ws, zmq, HTTP/2).
 */
import net from "node:net";

export async function startWireCounter(targetPort, host = "127.0.0.1") {
  const counts = { up: 0, down: 0 };
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: targetPort, noDelay: true });
    client.setNoDelay(true);
    sockets.add(client).add(upstream);
    client.on("data", (d) => {
      counts.up += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      counts.down += d.length;
      client.write(d);
    });
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", done).on("error", done);
    upstream.on("close", done).on("error", done);
  });
  await new Promise((resolve) => server.listen(0, host, resolve));
  return {
    port: server.address().port,
    snapshot: () => ({ ...counts }),
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
