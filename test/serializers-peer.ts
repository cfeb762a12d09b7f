/** A raw TCP peer for the serializer tests: wirecall's framing by hand (no authkey), so it can send any bytes. */
import assert from "node:assert/strict";
import * as net from "node:net";

function header(n: number): Buffer {
  const h = Buffer.alloc(4);
  h.writeInt32BE(n);
  return h;
}

/** A raw TCP peer speaking wirecall's framing by hand (no authkey), so it can send anything. */
export class RawPeer {
  readonly #socket: net.Socket;
  #buf = Buffer.alloc(0);
  #frames: Buffer[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      while (this.#buf.length >= 4) {
        const n = this.#buf.readInt32BE(0);
        if (this.#buf.length < 4 + n) break;
        this.#frames.push(this.#buf.subarray(4, 4 + n));
        this.#buf = this.#buf.subarray(4 + n);
      }
      this.#wake?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#wake?.();
    });
  }

  static async open(url: string, serializer: string): Promise<RawPeer> {
    const { hostname, port } = new URL(url);
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: hostname, port: Number(port) }, () => resolve(s));
      s.once("error", reject);
    });
    const peer = new RawPeer(socket);
    peer.send(Buffer.from(JSON.stringify({ wirecall: 1, serializer })));
    const hello = JSON.parse((await peer.next(10_000)).toString()) as { serializer?: string };
    assert.equal(hello.serializer, serializer);
    return peer;
  }

  send(payload: Uint8Array): void {
    this.#socket.write(header(payload.length));
    this.#socket.write(payload);
  }

  /** The next frame, within `ms`. */
  async next(ms: number): Promise<Buffer> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.#frames.shift();
      if (f) return f;
      if (this.#closed) throw new Error("the server closed the connection");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}
