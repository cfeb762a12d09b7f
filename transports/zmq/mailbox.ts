/**
 * Adapts one ZeroMQ peer's messages to the authkey challenge's
 * `ChallengeIO` (src/auth): messages pushed in, `recv()` takes them one at a
 * time. Bounded: the challenge is four messages long, so a peer that sends
 * more before being answered is failing it, and no handshake message is
 * longer than MAX_HANDSHAKE_MESSAGE, so a longer one fails it on arrival
 * instead of waiting here: an unauthenticated peer makes a mailbox hold at
 * most four short messages.
 */
import { MAX_HANDSHAKE_MESSAGE, RpcError, type ChallengeIO } from "../../src/transport-sdk.js";

const MAX_WAITING = 4;

export class Mailbox implements ChallengeIO {
  readonly #send: (msg: Uint8Array) => void;
  readonly #maxLength: number;
  #waiting: Uint8Array[] = [];
  #reader: { resolve: (m: Uint8Array) => void; reject: (e: unknown) => void; maxLength: number } | undefined;
  #error: Error | undefined;

  /** `maxLength`: the longest message taken in; a longer one fails the exchange when it arrives. */
  constructor(send: (msg: Uint8Array) => void, maxLength: number = MAX_HANDSHAKE_MESSAGE) {
    this.#send = send;
    this.#maxLength = maxLength;
  }

  /** The exchange failed (a message too long or too many): nothing more is taken in. */
  get failed(): boolean {
    return this.#error !== undefined;
  }

  send(msg: Uint8Array): void {
    if (this.#error) throw this.#error;
    this.#send(msg);
  }

  recv(maxLength: number): Promise<Uint8Array> {
    if (this.#error) return Promise.reject(this.#error);
    const next = this.#waiting.shift();
    if (next) return next.length > maxLength ? Promise.reject(tooLong(next.length, maxLength)) : Promise.resolve(next);
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject, maxLength }));
  }

  /** A message from the peer. */
  push(msg: Uint8Array): void {
    if (this.#error) return;
    if (msg.length > this.#maxLength) {
      this.fail(tooLong(msg.length, this.#maxLength));
      return;
    }
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      if (msg.length > reader.maxLength) reader.reject(tooLong(msg.length, reader.maxLength));
      else reader.resolve(msg);
      return;
    }
    if (this.#waiting.length >= MAX_WAITING) {
      this.fail(new RpcError("AUTH_FAILED", "the peer sent too many messages during the authkey challenge"));
      return;
    }
    this.#waiting.push(msg);
  }

  /** The peer is gone or misbehaved: the pending and every later `recv` rejects. */
  fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#waiting = [];
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.reject(err);
  }
}

function tooLong(length: number, max: number): RpcError {
  return new RpcError("AUTH_FAILED", `handshake message of ${length} bytes exceeds ${max}`);
}
