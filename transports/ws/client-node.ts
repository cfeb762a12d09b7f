/**
 * The Node client: opens a `ws` WebSocket, runs the HMAC challenge when an
 * authkey is set, and hands the core a ready connection. One deadline
 * (`handshakeTimeout`) covers the TCP/TLS connect, the upgrade and the challenge.
 */
import type { IncomingMessage } from "node:http";
import { WebSocket, type ClientOptions } from "ws";
import { RpcError, isChallenge, resolveAuthkey, type Connection } from "../../src/transport-sdk.js";
import { nodeHmac } from "../node-hmac.js";
import { authenticate } from "./auth.js";
import { DEFAULT_KEEPALIVE, handshakeTimeoutOf, maxPayloadOf, numberOption, type WsClientOptions } from "./options.js";
import { NodeWsSocket } from "./node-socket.js";
import { WsConnection } from "./ws-connection.js";

/** Response header of the upgrade: "hmac" when the server runs the challenge, "none" when it does not. */
export const AUTH_HEADER = "x-wirecall-auth";

export async function connectNode(url: URL, options: WsClientOptions): Promise<Connection> {
  const authkey = resolveAuthkey(options.authkey);
  const limit = handshakeTimeoutOf(options);
  const deadline = Date.now() + limit;
  const target = new URL(url.href);
  target.hash = "";
  const wsOptions: ClientOptions = {
    perMessageDeflate: false,
    maxPayload: maxPayloadOf(options),
    handshakeTimeout: limit,
    // ws >= 8.18 takes this (not yet in @types/ws): how long a close waits for the peer's close frame.
    ...{ closeTimeout: 5_000 },
  };
  for (const k of ["ca", "cert", "key", "passphrase", "rejectUnauthorized", "servername", "headers", "origin"] as const) {
    if (options[k] !== undefined) (wsOptions as Record<string, unknown>)[k] = options[k];
  }
  const hwm = options.highWaterMark === undefined ? undefined : numberOption(options.highWaterMark, 0) || undefined;
  const ws = new WebSocket(target, wsOptions);
  // The server says in its 101 answer whether it runs the challenge: a client with an authkey
  // against a server without one fails now instead of waiting for a challenge that never comes.
  let serverAuth: string | undefined;
  ws.once("upgrade", (res: IncomingMessage) => {
    const h = res.headers[AUTH_HEADER];
    serverAuth = typeof h === "string" ? h : undefined;
  });
  // Built inside the 'open' event: the server's first message may follow it within the same tick.
  const conn = await opened(ws, target, limit, () =>
    new WsConnection(new NodeWsSocket(ws, numberOption(options.keepAlive, DEFAULT_KEEPALIVE), true), {
      transport: target.protocol === "wss:" ? "wss" : "ws",
      remoteAddress: `${target.hostname}:${target.port || (target.protocol === "wss:" ? 443 : 80)}`,
      ...(hwm === undefined ? {} : { highWaterMark: hwm }),
      ...(authkey ? {} : { isChallenge }),
    }),
  );
  if (authkey && serverAuth === "none") {
    const err = new RpcError("AUTH_FAILED", `the server at ${target.protocol}//${target.host}${target.pathname} does not use an authkey (it said so in its upgrade answer): connect without one, or serve with the same authkey`);
    conn.close(err);
    throw err;
  }
  if (authkey) {
    try {
      await authenticate(conn, "client", authkey, nodeHmac, deadline - Date.now());
    } catch (err) {
      conn.close(err as Error);
      throw err;
    }
  }
  return conn;
}

/**
 * Resolves with `wrap(ws)`, called synchronously in the 'open' event; rejects
 * with CONNECT_FAILED (HTTP status in `data` when the upgrade was refused).
 */
function opened(ws: WebSocket, url: URL, limit: number, wrap: () => WsConnection): Promise<WsConnection> {
  return new Promise((resolve, reject) => {
    const where = `${url.protocol}//${url.host}${url.pathname}`;
    const fail = (message: string, opts: { cause?: unknown; data?: unknown }): void => {
      cleanup();
      ws.on("error", () => {});
      ws.terminate();
      reject(new RpcError("CONNECT_FAILED", message, opts));
    };
    const onOpen = (): void => {
      cleanup();
      resolve(wrap());
    };
    const onError = (err: Error): void => fail(`cannot connect to ${where}: ${err.message}`, { cause: err });
    const onResponse = (_req: unknown, res: IncomingMessage): void => {
      res.resume();
      const reason = res.statusMessage ? ` ${res.statusMessage}` : "";
      fail(`the server refused the WebSocket upgrade at ${where} with HTTP ${res.statusCode}${reason}`, { data: { status: res.statusCode } });
    };
    const onClose = (code: number): void => fail(`the connection to ${where} closed during the upgrade (code ${code})`, {});
    // ws's own handshakeTimeout covers the upgrade; this covers a TCP connect that never completes.
    const timer = setTimeout(() => fail(`no WebSocket connection to ${where} within ${limit} ms`, {}), limit);
    function cleanup(): void {
      clearTimeout(timer);
      ws.off("open", onOpen);
      ws.off("error", onError);
      ws.off("unexpected-response", onResponse);
      ws.off("close", onClose);
    }
    ws.on("open", onOpen);
    ws.on("error", onError);
    ws.on("unexpected-response", onResponse);
    ws.on("close", onClose);
  });
}
