/** Command-line options of `npm run bench` (see `npm run bench -- --help`). */
import { PAYLOAD_NAMES } from "./workloads.mjs";
import { EXTRA_TRANSPORTS, PEERS, SERIALIZERS, TRANSPORTS } from "./systems.mjs";

export const HELP = `npm run bench -- [options]

  --quick                 short phases (0.3 s) for a fast look; the default is 2 s
  --transports LIST       wirecall transports: ${[...TRANSPORTS, ...EXTRA_TRANSPORTS].join(",")} or none (default: ${TRANSPORTS.join(",")})
  --serializers LIST      ${SERIALIZERS.join(",")} (default: all)
  --payloads LIST         ${PAYLOAD_NAMES.join(",")} (default: all)
  --peers LIST            ${Object.keys(PEERS).join(",")}, all or none (default: all)
  --seconds N             seconds per timed phase
  --warmup N              minimum seconds of sequential warm-up per cell (default 0.5, --quick 0.1)
  --warmup-calls N        minimum warm-up calls per cell, the same for every system, so
                          that each one's call path is JIT-compiled before timing
                          (default 5000; capped by --warmup-max)
  --warmup-max N          seconds after which the warm-up stops even short of
                          --warmup-calls (slow payloads; default 5)
  --repeat N              run the whole cell list N times in rounds and report
                          each figure's median over the N repetitions (default 1)
  --pin same|split        pin server and client to CPU 0 (same) or CPUs 0 and 1
                          (split) with taskset, for steadier latencies (Linux)
  --depth N               calls in flight in the pipelined phase (default 128)
  --out FILE.json         results file; the SVG chart is written next to it
                          (default: benchmarks/results/bench-<time>.json)
  --option KEY=VALUE      pass an option to wirecall's serve() and connect() in every
                          wirecall cell (repeatable), e.g. captureStack=false,
                          highWaterMark=1048576, coalesce=cork; labels show it
  --no-streams            skip the stream workload (a server stream of small items and of
                          64 KiB chunks, wirecall tcp/ws against raw TCP and raw ws floors;
                          benchmarks/streams.mjs), which runs after the matrix for the
                          selected tcp/ws transports
  --streams               run it with --quick too (--quick skips it by default)
  --stream-items N,M      small items and 64 KiB chunks per stream (default 50000,400;
                          --quick 5000,50)
  --profile               run the children under node --cpu-prof (profiles in benchmarks/results/profiles)
  --no-install            never install benchmarks/node_modules; peers that need it are skipped
  --micro                 run the microbenchmarks (benchmarks/micro.mjs) instead;
                          they take --time MS (per task) and --filter TEXT
  --help
`;

function list(v, all, name) {
  if (v === "all") return all;
  if (v === "none" || v === "") return [];
  const items = v.split(",").map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!all.includes(i)) throw new Error(`unknown ${name} '${i}' (known: ${all.join(", ")})`);
  return items;
}

export function parseOptions(argv) {
  const o = {
    quick: false,
    transports: TRANSPORTS,
    serializers: SERIALIZERS,
    payloads: PAYLOAD_NAMES,
    peers: Object.keys(PEERS),
    seconds: undefined,
    warmup: undefined,
    warmupCalls: 5000,
    warmupMax: 5,
    depth: 128,
    repeat: 1,
    pin: undefined,
    out: undefined,
    wirecallOptions: {},
    profile: false,
    streams: undefined,
    streamItems: undefined,
    install: true,
    micro: false,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=") ? a.split(/=(.*)/s) : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick": o.quick = true; break;
      case "--transports": o.transports = list(value(), [...TRANSPORTS, ...EXTRA_TRANSPORTS], "transport"); break;
      case "--serializers": o.serializers = list(value(), SERIALIZERS, "serializer"); break;
      case "--payloads": o.payloads = list(value(), PAYLOAD_NAMES, "payload"); break;
      case "--peers": o.peers = list(value(), Object.keys(PEERS), "peer"); break;
      case "--seconds": o.seconds = Number(value()); break;
      case "--warmup": o.warmup = Number(value()); break;
      case "--warmup-calls": o.warmupCalls = Number(value()); break;
      case "--warmup-max": o.warmupMax = Number(value()); break;
      case "--depth": o.depth = Number(value()); break;
      case "--repeat": o.repeat = Number(value()); break;
      case "--pin": o.pin = value(); if (o.pin !== "same" && o.pin !== "split") throw new Error("--pin takes same or split"); break;
      case "--out": o.out = value(); break;
      case "--option": {
        const [k, v] = value().split(/=(.*)/s);
        if (!k || v === undefined) throw new Error("--option needs KEY=VALUE");
        o.wirecallOptions[k] = v === "true" ? true : v === "false" ? false : v !== "" && Number.isFinite(Number(v)) ? Number(v) : v;
        break;
      }
      case "--profile": o.profile = true; break;
      case "--no-streams": o.streams = false; break;
      case "--streams": o.streams = true; break;
      case "--stream-items": {
        const [small, chunks] = value().split(",").map(Number);
        if (!(small > 0) || !(chunks > 0)) throw new Error("--stream-items needs two positive numbers: N,M");
        o.streamItems = [small, chunks];
        break;
      }
      case "--no-install": o.install = false; break;
      case "--micro": o.micro = true; break;
      case "--help": case "-h": o.help = true; break;
      default: throw new Error(`unknown option '${a}' (see --help)`);
    }
  }
  o.seconds ??= o.quick ? 0.3 : 2;
  o.warmup ??= o.quick ? 0.1 : 0.5;
  o.streamItems ??= o.quick ? [5000, 50] : [50_000, 400];
  // A quick look is the RPC matrix; the stream workload's child processes would double its time.
  o.streams ??= !o.quick;
  for (const [k, flag] of [["seconds", "seconds"], ["warmup", "warmup"], ["warmupCalls", "warmup-calls"], ["warmupMax", "warmup-max"], ["depth", "depth"]]) if (!(o[k] >= 0)) throw new Error(`--${flag} must be a non-negative number`);
  if (!Number.isInteger(o.repeat) || o.repeat < 1) throw new Error("--repeat must be a positive integer");
  return o;
}
