/**
 * Connecting to NATS, once per `serve` or `connect`: the client's options,
 * coded errors for what can go wrong, and the {@link NatsPort} every
 * connection over that NATS client shares.
 */
import type { NatsConnection as NatsClient } from "@nats-io/transport-node";
import { RpcError } from "../../src/transport-sdk.js";
import type { NatsModule } from "./load-nats.js";
import type { NatsPort } from "./nats-connection.js";
import { clientOptions, type NatsOptions, type NatsSettings } from "./options.js";

/** Room left in each message for headers and protocol overhead when a frame is split. */
const HEADER_ROOM = 1024;

/** Connect to the NATS server(s); AUTH_FAILED or CONNECT_FAILED with the servers named. */
export async function connectNats(nats: NatsModule, s: NatsSettings, o: NatsOptions, role: "server" | "client"): Promise<NatsClient> {
  const opts = clientOptions(nats, s, o, role);
  try {
    return await nats.connect(opts);
  } catch (err) {
    const msg = (err as Error)?.message ?? String(err);
    if (err instanceof nats.AuthorizationError || /authorization|authentication/i.test(msg)) {
      throw new RpcError("AUTH_FAILED", `the NATS server refused the credentials (${msg}): check the token, user/pass, nkeySeed or credsFile options`, { cause: err });
    }
    throw new RpcError("CONNECT_FAILED", `cannot connect to NATS at ${s.servers.join(", ")}: ${msg}`, { cause: err });
  }
}

/** What the connections over `nc` share. */
export function natsPort(nats: NatsModule, nc: NatsClient, s: NatsSettings): NatsPort {
  return {
    nc,
    headers: () => nats.headers(),
    subject: s.subject,
    // Read on every large frame: a reconnect may land on a server with another max_payload.
    get chunk() {
      return Math.max(1024, (nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM);
    },
    maxFrameSize: s.maxFrameSize,
    maxHeldBytes: s.maxHeldBytes,
    buffered: { used: 0, max: s.maxBufferedBytes },
  };
}

/** Subjects derived from the served one (docs/nats.md, "Subjects"). */
export const subjects = {
  /** Every worker answers here with its own address (discovery). */
  who: (subject: string) => `${subject}._who`,
  /** A worker that starts or reconnects says so here. */
  up: (subject: string) => `${subject}._up`,
  /** Prefix of one worker's connection addresses. */
  worker: (subject: string, id: string) => `${subject}._w.${id}`,
};
