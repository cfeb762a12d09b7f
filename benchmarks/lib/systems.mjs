/**
 * What can be measured: wirecall over each transport x serializer, and the
 * peers. A spec is plain data (it crosses into the child processes as JSON);
 * `module` is resolved relative to benchmarks/.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const TRANSPORTS = ["mem", "tcp", "tls", "ws", "zmq"];
/** Also measurable on request (`--transports wss`), not in the default matrix. */
export const EXTRA_TRANSPORTS = ["wss"];
export const SERIALIZERS = ["json", "superjson", "msgpack"];

// transport name -> folder under dist/transports
const DIST = { mem: "memory", tcp: "tcp", tls: "tcp", ws: "ws", wss: "ws", zmq: "zmq" };

/** True when the transport has been built into dist/ (transports land one by one). */
export function transportBuilt(transport) {
  return existsSync(fileURLToPath(new URL(`../../dist/transports/${DIST[transport]}/index.js`, import.meta.url)));
}

/** `options`: extra serve()/connect() options (from `--option`), shown in the label. */
export function wirecallSpec(transport, serializer, options = {}) {
  const extra = Object.entries(options).map(([k, v]) => `${k}=${v}`).join(",");
  return {
    system: "wirecall",
    label: `wirecall ${transport}+${serializer}${extra ? ` [${extra}]` : ""}`,
    options,
    module: "./systems/wirecall.mjs",
    transport,
    serializer,
    inProcess: transport === "mem",
    needsDeps: false,
  };
}

/**
 * Peers: the same workload through other stacks. `needsDeps` peers import
 * benchmarks/node_modules; the others use only the root package's deps.
 */
export const PEERS = {
  floor: { label: "floor net+json", module: "./systems/floor-net.mjs", transport: "tcp", serializer: "json", needsDeps: false },
  "floor-msgpack": { label: "floor net+msgpack", module: "./systems/floor-net.mjs", transport: "tcp", serializer: "msgpack", needsDeps: false },
  "raw-ws": { label: "raw ws+msgpack", module: "./systems/raw-ws.mjs", transport: "ws", serializer: "msgpack", needsDeps: false },
  "raw-zmq": { label: "raw zeromq+msgpack", module: "./systems/raw-zmq.mjs", transport: "zmq", serializer: "msgpack", needsDeps: false },
  // jayson's TCP client opens one connection per request (its design), so a
  // call budget keeps it from exhausting ephemeral ports in TIME_WAIT.
  jayson: { label: "jayson tcp+json", module: "./systems/jayson.mjs", transport: "tcp", serializer: "json", needsDeps: true, maxCallsPerPhase: 4000 },
  grpc: { label: "grpc-js h2+msgpack", module: "./systems/grpc.mjs", transport: "h2", serializer: "msgpack", needsDeps: true },
  capnweb: { label: "capnweb ws+json", module: "./systems/capnweb.mjs", transport: "ws", serializer: "capnweb", needsDeps: true },
  birpc: { label: "birpc ws+msgpack", module: "./systems/birpc.mjs", transport: "ws", serializer: "msgpack", needsDeps: true },
};

export function peerSpec(name) {
  const p = PEERS[name];
  return { system: name, inProcess: false, ...p };
}

// The wirecall transport a peer is compared with: the run puts each peer
// right after that transport's cells, so that the ratios compare cells
// measured close together in time on a machine whose load drifts.
const PEER_GROUP = { floor: "tcp", "floor-msgpack": "tcp", jayson: "tcp", grpc: "tcp", "raw-ws": "ws", birpc: "ws", capnweb: "ws", "raw-zmq": "zmq" };

/** Wirecall specs in transport order, each transport followed by its peers; peers without a selected transport last. */
export function orderSpecs(wirecall, peers) {
  const out = [];
  const placed = new Set();
  const transports = [...new Set(wirecall.map((s) => s.transport))];
  for (const t of transports) {
    out.push(...wirecall.filter((s) => s.transport === t));
    for (const p of peers) {
      if (PEER_GROUP[p.system] === t) {
        out.push(p);
        placed.add(p);
      }
    }
  }
  out.push(...peers.filter((p) => !placed.has(p)));
  return out;
}
