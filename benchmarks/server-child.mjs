/**
 * Child process: serves one system for one cell. Tells the runner its URL,
 * then answers CPU/RSS snapshot requests until the runner disconnects.
 * argv[2]: the cell's system spec as JSON.
 */
const spec = JSON.parse(process.argv[2]);
const sys = await import(new URL(spec.module, import.meta.url).href);
const server = await sys.startServer(spec);

process.on("message", (msg) => {
  if (msg.type === "snap") {
    process.send({ type: "snap", tag: msg.tag, cpu: process.cpuUsage(), maxRSS: process.resourceUsage().maxRSS });
  }
});
// The runner going away (normal end or crash) ends the server too.
process.on("disconnect", () => {
  Promise.race([server.close(), new Promise((r) => setTimeout(r, 500))]).finally(() => process.exit(0));
});
process.send({ type: "ready", url: server.url });
