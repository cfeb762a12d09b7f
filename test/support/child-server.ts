/**
 * The child-process side of the hostile fixtures (test/support/hostile.ts's
 * `ServerProcess` starts them): serve one handler at the URLs given on the
 * command line and speak the fixture protocol on stdout, so each fixture
 * holds only its handler.
 *
 * argv[2] is JSON: `{ "servers": [{ "url": "tcp://127.0.0.1:0", "options": {...} }] }`.
 * Prints one JSON line `{"urls": [...]}` once every server listens, then one line
 * `{"event": "handshakeError", "url": ..., "code": ..., "cause": ...}` per peer dropped
 * before the core saw it. Exits when its stdin closes (the test process went away)
 * or on SIGTERM, closing its servers (at most 3 s).
 */
import { serve, type RPCHandler, type Server } from "../../src/index.js";
import "../../transports/tcp/index.js";
import "../../transports/ws/index.js";

interface Config {
  servers: { url: string; options?: Record<string, unknown> }[];
}

function emit(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Serve `handler` as argv[2] says, until stdin closes or SIGTERM. */
export async function serveInChild(handler: RPCHandler): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as Config;
  const servers: Server[] = [];
  for (const { url, options } of config.servers) {
    const s = await serve(handler, url, {
      ...options,
      onHandshakeError: (err: Error & { code?: string }) =>
        emit({ event: "handshakeError", url, code: err.code, cause: (err.cause as { code?: string } | undefined)?.code }),
    });
    servers.push(s);
  }
  emit({ urls: servers.map((s) => s.url) });

  let stopping = false;
  async function stop(): Promise<void> {
    if (stopping) return;
    stopping = true;
    await Promise.race([Promise.all(servers.map((s) => s.close())), new Promise((r) => setTimeout(r, 3000).unref())]);
    process.exit(0);
  }
  process.stdin.on("end", () => void stop());
  process.stdin.on("error", () => void stop());
  process.stdin.resume();
  process.on("SIGTERM", () => void stop());
}
