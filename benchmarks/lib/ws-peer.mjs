/**
 * The WebSocket plumbing every ws-based peer shares (raw ws, birpc,
 * capnweb), so they differ only in the RPC layer they put on top.
 */
import { WebSocket, WebSocketServer } from "ws";

const MAX_PAYLOAD = 64 * 1024 * 1024;

/** Listen on 127.0.0.1, port 0; `onConnection(ws)` for every client. */
export async function listenWs(onConnection) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: MAX_PAYLOAD });
  wss.on("connection", onConnection);
  await new Promise((resolve) => wss.once("listening", resolve));
  return {
    url: `ws://127.0.0.1:${wss.address().port}/`,
    close: () =>
      new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** An open client socket. */
export async function openWs(url) {
  const ws = new WebSocket(url, { maxPayload: MAX_PAYLOAD });
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  return ws;
}
