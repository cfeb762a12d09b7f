/**
 * ZeroMQ connects in the background and retries forever; a wirecall
 * `connect()` must instead succeed or fail within the handshake time limit.
 * The socket monitor's handshake events say when ZMTP (and CURVE) finished.
 */
import type { Socket } from "zeromq";
import { RpcError } from "../../src/transport-sdk.js";

/** Resolves when ZeroMQ completed its handshake with a peer; rejects on a security failure or after `limit` ms. */
export function waitForHandshake(sock: Socket, endpoint: string, limit: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const events = sock.events;
    const done = (err?: RpcError): void => {
      clearTimeout(timer);
      events.off("handshake", ok);
      events.off("handshake:error:auth", authFailed);
      events.off("handshake:error:protocol", protoFailed);
      events.off("handshake:error:other", protoFailed);
      if (err) reject(err);
      else resolve();
    };
    const ok = (): void => done();
    const authFailed = (e: { error: Error }): void =>
      done(
        new RpcError(
          "AUTH_FAILED",
          `the peer refused us in the ZeroMQ handshake (a CURVE key it does not accept, or a server without an authkey that serves loopback peers only): ${e.error?.message ?? "no detail"}`,
        ),
      );
    const protoFailed = (e: { error: Error }): void =>
      done(
        new RpcError(
          "AUTH_FAILED",
          `the ZeroMQ handshake with ${endpoint} failed (${e.error?.message ?? "no detail"}): CURVE on one side only or a wrong server key, or the peer is not a ZeroMQ socket (a wirecall tcp:// or ws:// server closes a ZMTP greeting: connect with its own scheme)`,
        ),
      );
    const timer = setTimeout(
      () => done(new RpcError("CONNECT_FAILED", `no ZeroMQ handshake with ${endpoint} within ${limit} ms, the handshakeTimeout (nothing listening, or a CURVE key mismatch; the timeout option bounds calls, handshakeTimeout the connect)`)),
      limit,
    );
    events.on("handshake", ok);
    events.on("handshake:error:auth", authFailed);
    events.on("handshake:error:protocol", protoFailed);
    events.on("handshake:error:other", protoFailed);
  });
}

/**
 * Report each peer that fails the ZeroMQ security handshake (CURVE, ZAP) of
 * the bound socket `sock`. ZeroMQ names only the local endpoint, not the
 * peer. The monitor is set up only when someone listens, and ends with `sock`.
 * `zapReports`: the socket's ZAP handler reports its own refusals (with the
 * peer's address), so the monitor leaves authentication failures to it.
 */
export function reportSecurityFailures(sock: Socket, report: (err: RpcError) => void, zapReports: boolean): void {
  const events = sock.events;
  const failed = (e: { error?: Error }): void =>
    report(new RpcError("AUTH_FAILED", `a peer failed the ZeroMQ security handshake (CURVE on one side only, or a wrong server key?): ${e.error?.message ?? "no detail"}`));
  if (!zapReports) events.on("handshake:error:auth", failed);
  events.on("handshake:error:protocol", failed);
  events.on("handshake:error:other", failed);
}
