/**
 * `tcp://host:port` and `tls://host:port`: frames and the mutual HMAC
 * challenge of Python's `multiprocessing.connection`, over node:net or
 * node:tls. See docs/tcp.md.
 *
 * This file dials, listens and authenticates; frames move in
 * tcp-connection.ts, the challenge itself lives in src/auth.
 */
import * as net from "node:net";
import * as tls from "node:tls";
import { RpcError, clientHandshake, registerFrameProtocol, resolveAuthkey, serverHandshake, type Connection, type Listener, type Transport } from "../../src/transport-sdk.js";
import { isLoopback } from "../net-address.js";
import { nodeHmac } from "../node-hmac.js";
import { ReadBudget } from "../read-budget.js";
import { TCP_OPTIONS, hostPort, settings, tlsOptions, urlHost, type Settings, type TcpOptions } from "./options.js";
import { TcpConnection } from "./tcp-connection.js";

type Scheme = "tcp" | "tls";

function schemeOf(url: URL): Scheme {
  const s = url.protocol.replace(/:$/, "");
  if (s !== "tcp" && s !== "tls") throw new RpcError("INVALID_URL", `the tcp transport serves tcp:// and tls://, not ${s}:`);
  return s;
}

// Certificate verification failures are authentication failures, not unreachable hosts.
const CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/;

function dialError(err: unknown, where: string): RpcError {
  const code = (err as { code?: unknown })?.code;
  const auth = typeof code === "string" && CERT_ERROR.test(code);
  return new RpcError(auth ? "AUTH_FAILED" : "CONNECT_FAILED", `cannot connect to ${where}: ${(err as Error)?.message ?? err}`, { cause: err });
}

/** Open the socket (and finish TLS) within `timeout` ms. */
function dial(scheme: Scheme, host: string, port: number, o: TcpOptions, timeout: number): Promise<net.Socket> {
  const where = `${scheme}://${urlHost(host)}:${port}`;
  return new Promise((resolve, reject) => {
    const socket =
      scheme === "tls"
        ? // node:tls honours allowHalfOpen although its typings omit it.
          tls.connect({ servername: net.isIP(host) ? undefined : host, ...tlsOptions(o), host, port, allowHalfOpen: true } as tls.ConnectionOptions)
        : net.connect({ host, port, allowHalfOpen: true });
    const ready = scheme === "tls" ? "secureConnect" : "connect";
    const timer = timeout > 0 ? setTimeout(() => fail(new RpcError("CONNECT_FAILED", `cannot connect to ${where} within ${timeout} ms`)), timeout) : undefined;
    const onError = (err: Error) => fail(dialError(err, where));
    function fail(err: RpcError): void {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    }
    socket.once("error", onError);
    socket.once(ready, () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

/** `dialled`: a client's URL, to name a server of another protocol; `answerHttp`: a server that speaks no first word answers an HTTP request line. */
type Sniff = { dialled: string } | { answerHttp: boolean };

function connection(socket: net.Socket, scheme: Scheme, s: Settings, refuseChallenge: boolean, budget: ReadBudget | undefined, sniff: Sniff): TcpConnection {
  if (s.keepAlive > 0) socket.setKeepAlive(true, s.keepAlive);
  // Servers: unfinished frames draw on the listener's budget; a too slow one closes its connection.
  const conn = new TcpConnection(socket, {
    transport: scheme,
    maxFrameSize: s.maxFrameSize,
    ...(budget ? { budget } : {}),
    highWaterMark: s.highWaterMark,
    coalesce: s.coalesce,
    refuseChallenge,
    ...sniff,
  });
  return conn;
}

export const tcpTransport: Transport = {
  name: "tcp",
  schemes: ["tcp", "tls"],
  options: { connect: TCP_OPTIONS, serve: TCP_OPTIONS },

  async connect(url, options): Promise<Connection> {
    const o = options as TcpOptions;
    const scheme = schemeOf(url);
    const { host, port } = hostPort(url);
    const s = settings(o);
    const authkey = resolveAuthkey(o.authkey);
    const started = Date.now();
    const socket = await dial(scheme, host, port, o, s.handshakeTimeout);
    const conn = connection(socket, scheme, s, authkey === undefined, undefined, { dialled: `${scheme}://${urlHost(host)}:${port}` });
    if (authkey) {
      const left = s.handshakeTimeout > 0 ? Math.max(1, s.handshakeTimeout - (Date.now() - started)) : 0;
      try {
        await clientHandshake(conn.challengeIO, authkey, { hmac: nodeHmac, refuseLegacyMd5: o.refuseLegacyMd5 === true, timeout: left });
      } catch (err) {
        conn.close(err as Error);
        throw err;
      }
    }
    return conn;
  },

  async listen(url, options, accept): Promise<Listener> {
    const o = options as TcpOptions;
    const scheme = schemeOf(url);
    const { host, port } = hostPort(url);
    const s = settings(o);
    const authkey = resolveAuthkey(o.authkey);
    const t = tlsOptions(o);
    // Without a certificate node:tls listens anyway and every client then fails with "SSL alert number 40".
    if (scheme === "tls" && t.pfx === undefined && t.secureContext === undefined && t.SNICallback === undefined && (t.cert === undefined || t.key === undefined)) {
      throw new RpcError("INVALID_URL", "tls:// needs the cert and key options (PEM), or pfx; use tcp:// on loopback for no TLS");
    }
    // Verified client certificates authenticate a peer as well as an authkey does.
    const mutualTls = scheme === "tls" && t.requestCert === true && t.rejectUnauthorized !== false;
    const open = authkey !== undefined || o.allowRemote === true || mutualTls;
    const report = (err: RpcError, remote: string | undefined) => o.onHandshakeError?.(err, remote);
    const handshaking = new Set<TcpConnection>();
    const budget = new ReadBudget(s.read);
    let closed = false;

    const onSocket = (socket: net.Socket): void => {
      if (closed) return void socket.destroy();
      if (!open && !isLoopback(socket.remoteAddress)) {
        socket.destroy();
        report(new RpcError("AUTH_FAILED", "refused a remote peer: without an authkey only loopback peers are accepted (allowRemote: true to change that)"), socket.remoteAddress);
        return;
      }
      // With an authkey the challenge went out first: an HTTP client has already read garbage.
      const conn = connection(socket, scheme, s, false, budget, { answerHttp: !authkey });
      if (!authkey) return accept(conn);
      handshaking.add(conn);
      serverHandshake(conn.challengeIO, authkey, { hmac: nodeHmac, refuseLegacyMd5: o.refuseLegacyMd5 === true, timeout: s.handshakeTimeout }).then(
        () => {
          handshaking.delete(conn);
          if (closed) conn.close(new RpcError("SHUTTING_DOWN", "the server closed"));
          else accept(conn);
        },
        (err: unknown) => {
          handshaking.delete(conn);
          const e = err instanceof RpcError ? err : new RpcError("AUTH_FAILED", String(err), { cause: err });
          conn.close(e);
          report(e, conn.remoteAddress);
        },
      );
    };

    const server =
      scheme === "tls"
        ? tls.createServer({ ...t, allowHalfOpen: true, ...(s.handshakeTimeout > 0 ? { handshakeTimeout: s.handshakeTimeout } : {}) })
        : net.createServer({ allowHalfOpen: true });
    server.on(scheme === "tls" ? "secureConnection" : "connection", onSocket);
    if (scheme === "tls") {
      server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => report(new RpcError("AUTH_FAILED", `TLS handshake failed: ${err.message}`, { cause: err }), socket.remoteAddress));
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(new RpcError("CONNECT_FAILED", `cannot listen on ${url.href}: ${err.message}`, { cause: err }));
      server.once("error", onError);
      server.listen({ host, port }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    // A listening server has no error to report but per-connection ones; keep them from crashing the process.
    server.on("error", () => {});
    const bound = (server.address() as net.AddressInfo).port;
    return {
      url: `${scheme}://${urlHost(host)}:${bound}`,
      async close() {
        if (closed) return;
        closed = true;
        // Stop accepting now; accepted connections are the core's to drain and close.
        server.close();
        for (const c of handshaking) c.destroy(new RpcError("SHUTTING_DOWN", "the server closed"));
        handshaking.clear();
      },
    };
  },
};


/** The transport this module provides, found by `connect`/`serve` for `tcp://` and `tls://`. */
export const transport = tcpTransport;
export { TcpConnection } from "./tcp-connection.js";
export { FrameDecoder } from "./frame-decoder.js";
export { FrameWriter, encodeHeader } from "./frame-writer.js";
export type { CoalesceMode } from "./frame-writer.js";
export { nodeHmac } from "../node-hmac.js";
export type { TcpOptions } from "./options.js";
