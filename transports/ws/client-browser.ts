/**
 * The browser client: the global `WebSocket`, HMAC-SHA256 through WebCrypto
 * (which needs a secure context: https pages, or http on localhost/127.0.0.1).
 * No import here may reach `ws`, `node:*` or zeromq: browser.ts bundles this.
 */
import { isChallenge, resolveAuthkey } from "../../src/auth/authkey.js";
import { RpcError } from "../../src/errors.js";
import { Lazy } from "../../src/lazy.js";
import type { Connection, Transport } from "../../src/transport.js";
import { BrowserWsSocket, type BrowserWebSocket } from "./browser-socket.js";
import { WS_CLIENT_OPTIONS, handshakeTimeoutOf, maxPayloadOf, numberOption, type WsClientOptions } from "./options.js";
import { WsConnection } from "./ws-connection.js";

type WebSocketCtor = new (url: string) => BrowserWebSocket;

// The challenge and WebCrypto's HMAC load with the first authkey: a page without one never fetches them.
const challenge = new Lazy("HMAC challenge", () => import("./browser-auth.js"));

export async function connectBrowser(url: URL, options: WsClientOptions): Promise<Connection> {
  const Ctor = (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  if (!Ctor) throw new RpcError("MISSING_DEPENDENCY", "no global WebSocket in this runtime");
  const authkey = resolveAuthkey(options.authkey);
  const limit = handshakeTimeoutOf(options);
  const deadline = Date.now() + limit;
  const target = new URL(url.href);
  target.hash = "";
  const hwm = options.highWaterMark === undefined ? undefined : numberOption(options.highWaterMark, 0) || undefined;
  let ws: BrowserWebSocket;
  try {
    ws = new Ctor(target.href);
  } catch (err) {
    throw new RpcError("CONNECT_FAILED", `cannot open ${target.href}: ${(err as Error)?.message ?? err}`, { cause: err });
  }
  const conn = await new Promise<WsConnection>((resolve, reject) => {
    const where = `${target.protocol}//${target.host}${target.pathname}`;
    const timer = setTimeout(() => {
      ws.onopen = ws.onclose = null;
      ws.close();
      reject(new RpcError("CONNECT_FAILED", `no WebSocket connection to ${where} within ${limit} ms`));
    }, limit);
    ws.onerror = () => {};
    ws.onopen = () => {
      clearTimeout(timer);
      ws.onopen = ws.onclose = null;
      // Built inside 'open' so that no message can slip past before the listeners exist.
      resolve(
        new WsConnection(new BrowserWsSocket(ws, maxPayloadOf(options)), {
          transport: target.protocol === "wss:" ? "wss" : "ws",
          remoteAddress: target.host,
          ...(hwm === undefined ? {} : { highWaterMark: hwm }),
          ...(authkey ? {} : { isChallenge }),
        }),
      );
    };
    ws.onclose = (ev) => {
      clearTimeout(timer);
      // Browsers do not expose why (refused, 403, 404, TLS): only that it failed.
      reject(new RpcError("CONNECT_FAILED", `cannot connect to ${where} (WebSocket closed with code ${ev.code})`, { data: { closeCode: ev.code } }));
    };
  });
  if (authkey) {
    try {
      await (await challenge.load()).authenticateBrowser(conn, authkey, deadline - Date.now());
    } catch (err) {
      conn.close(err as Error);
      throw err;
    }
  }
  return conn;
}

/** The browser's WebSocket transport: connect only. */
export const browserWsTransport: Transport = {
  name: "ws",
  schemes: ["ws", "wss"],
  options: { connect: WS_CLIENT_OPTIONS },
  connect: (url, options) => connectBrowser(url, options),
  async listen() {
    throw new RpcError("INVALID_URL", "a browser cannot serve ws:// (serve from Node with wirecall/ws); browsers can only connect");
  },
};
