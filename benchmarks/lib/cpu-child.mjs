/**
 * The server child of the CPU-per-call benchmarks (tcp-cpu.mjs, ws-cpu.mjs):
 * sends its URL to the parent, then answers "mark" (start counting),
 * "cpu" (the CPU used since the mark, from process.cpuUsage) and "exit".
 */
export function reportCpu(server) {
  let c0 = process.cpuUsage();
  process.on("message", (m) => {
    if (m === "mark") c0 = process.cpuUsage();
    if (m === "cpu") process.send(process.cpuUsage(c0));
    if (m === "exit") void server.close().then(() => process.exit(0));
  });
  process.send(server.url);
}
