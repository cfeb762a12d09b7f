/**
 * Helpers for the ZeroMQ tests: locating fixtures and running child
 * processes (Python peers, worker processes) that are always reaped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { Dealer } from "zeromq";
import type { RpcError } from "../src/index.js";
import { within } from "./support/async.js";
import { runToEnd, type Result } from "./support/run.js";
export { within };

/** The repository root (tests run from dist/test/). */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const FIXTURES = `${ROOT}test/fixtures/zmq/`;
export const PYTHON = "/usr/bin/python3";

/** Run a program to completion within `timeoutMs`; resolves with its output, rejects on failure or timeout (and kills it). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Result> {
  return runToEnd(cmd, args, { env: { ...process.env, ...env }, timeoutMs });
}

/** A long-running child that printed a first line (its address, or "ready"). */
export interface Daemon {
  readonly child: ChildProcess;
  /** The first line the child printed. */
  readonly firstLine: string;
  /** Lines printed after the first one, as they come. */
  readonly lines: string[];
  /** Resolves with the first later line matching `re` (bounded by `timeoutMs`). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** Close stdin, then SIGKILL if it has not exited within `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Start a child and wait (up to `timeoutMs`) for its first stdout line. */
export function startDaemon(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<Daemon> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const lines: string[] = [];
  const watchers: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buffer = "";
  return new Promise<Daemon>((resolve, reject) => {
    let first: string | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} printed nothing within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    void exited.then((code) => {
      if (first === undefined) {
        clearTimeout(timer);
        reject(new Error(`${cmd} ${args.join(" ")} exited (${code}) before printing\n${stderr}`));
      }
    });
    child.stdout?.on("data", (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (first === undefined) {
          first = line;
          clearTimeout(timer);
          resolve(daemon(line));
          continue;
        }
        lines.push(line);
        for (const w of [...watchers]) {
          if (w.re.test(line)) {
            watchers.splice(watchers.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    });
  });

  function daemon(firstLine: string): Daemon {
    return {
      child,
      firstLine,
      lines,
      exited,
      waitForLine(re, ms = 10_000) {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
          const w = {
            re,
            resolve: (l: string) => {
              clearTimeout(t);
              resolve(l);
            },
          };
          const t = setTimeout(() => {
            watchers.splice(watchers.indexOf(w), 1);
            reject(new Error(`no line matching ${re} within ${ms} ms`));
          }, ms);
          watchers.push(w);
        });
      },
      async stop(graceMs = 3000) {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.stdin?.end();
        const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(t);
      },
    };
  }
}

/** `promise`, or a failure naming `what` if it has not settled within `ms`: a broken behaviour fails fast instead of hanging the run. */
/** A server's `onHandshakeError` reports, as events a test can wait for. */
export class HandshakeReports {
  readonly #events = new EventEmitter();
  /** Pass as the server's `onHandshakeError` option. */
  readonly hook = (err: RpcError, remoteAddress: string | undefined): void => {
    this.#events.emit("report", err, remoteAddress);
  };

  /** The next report about `remoteAddress` (call before provoking it), or a failure after `ms`. */
  next(remoteAddress: string | undefined, ms = 5000): Promise<RpcError> {
    let listener: ((err: RpcError, remote: string | undefined) => void) | undefined;
    const reported = new Promise<RpcError>((resolve) => {
      listener = (err, remote) => {
        if (remote === remoteAddress) resolve(err);
      };
      this.#events.on("report", listener);
    });
    return within(reported, ms, `no handshake error reported for ${remoteAddress ?? "an unnamed peer"}`).finally(() => this.#events.off("report", listener as never));
  }
}

/** A raw DEALER connected to `url` (a wirecall zmq+ URL), with routing identity `id` if given. */
export function rawDealer(url: string, id?: string, receiveTimeout = 5000): Dealer {
  const sock = new Dealer({ linger: 0, receiveTimeout, ...(id === undefined ? {} : { routingId: id }) });
  sock.connect(url.replace(/^zmq\+/, ""));
  return sock;
}

/** Send one single-frame body on a raw DEALER and return the single-frame answer. */
export async function ask(sock: Dealer, frame: string | Buffer): Promise<Buffer> {
  await sock.send(["", frame]);
  const msg = await sock.receive();
  if (msg.length !== 2 || (msg[0] as Buffer).length !== 0) throw new Error(`expected ["", payload], got ${msg.length} frames`);
  return msg[1] as Buffer;
}

/**
 * The client side of the authkey challenge on a raw DEALER, written from
 * docs/protocol.md (section 5.4) with node:crypto, as a peer in another
 * language would: knock, answer, challenge the server, confirm.
 */
export async function rawAuthenticate(sock: Dealer, authkey: string): Promise<void> {
  const tag = Buffer.from("{sha256}");
  const challenge = await ask(sock, "#AUTH#");
  if (!challenge.subarray(0, 19).equals(Buffer.from("#CHALLENGE#{sha256}"))) throw new Error(`no challenge: ${challenge.toString("latin1")}`);
  const message = challenge.subarray("#CHALLENGE#".length);
  const verdict = await ask(sock, Buffer.concat([tag, createHmac("sha256", authkey).update(message).digest()]));
  if (verdict.toString() !== "#WELCOME#") throw new Error(`the server refused our answer: ${verdict.toString("latin1")}`);
  const mine = Buffer.concat([tag, randomBytes(40)]);
  const answer = await ask(sock, Buffer.concat([Buffer.from("#CHALLENGE#"), mine]));
  const expected = Buffer.concat([tag, createHmac("sha256", authkey).update(mine).digest()]);
  const ok = answer.length === expected.length && timingSafeEqual(answer, expected);
  const ready = await ask(sock, ok ? "#WELCOME#" : "#FAILURE#");
  if (!ok || ready.toString() !== "#WELCOME#") throw new Error("the server did not prove the key");
}
