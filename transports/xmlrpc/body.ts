/**
 * HTTP bodies with a size limit, and gzip/deflate content encoding decoded
 * with the same limit (so a small compressed bomb cannot grow past it).
 */
import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { RpcError } from "../../src/transport-sdk.js";

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const gzip = promisify(zlib.gzip);

/** Thrown (as `PAYLOAD_TOO_LARGE`) when a body passes the limit; the message says which. */
export function tooLarge(what: string, limit: number): RpcError {
  return new RpcError("PAYLOAD_TOO_LARGE", `${what} is larger than the ${limit}-byte limit (option maxFrameSize)`);
}

/**
 * Read a whole body. Rejects with `PAYLOAD_TOO_LARGE` as soon as more than
 * `limit` bytes arrived (the stream is then left paused: the caller answers
 * and closes the connection), or with the stream's own error.
 */
export function readBody(msg: IncomingMessage, limit: number, what: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err: Error | undefined): void => {
      if (done) return;
      done = true;
      msg.off("data", onData);
      msg.off("end", onEnd);
      msg.off("error", onError);
      msg.off("aborted", onAborted);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        msg.pause();
        finish(tooLarge(what, limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined);
    const onError = (err: Error): void => finish(new RpcError("CONNECTION_CLOSED", `${what} could not be read: ${err.message}`, { cause: err }));
    const onAborted = (): void => finish(new RpcError("CONNECTION_CLOSED", `the peer went away while sending the ${what}`));
    msg.on("data", onData);
    msg.on("end", onEnd);
    msg.on("error", onError);
    msg.on("aborted", onAborted);
  });
}

/**
 * Undo a Content-Encoding. `identity` and none pass through; gzip and
 * deflate are inflated to at most `limit` bytes; anything else is refused
 * (`PROTOCOL_ERROR` with `data.status` 415).
 */
export async function decodeContent(body: Uint8Array, encoding: string | undefined, limit: number, what: string): Promise<Uint8Array> {
  const enc = (encoding ?? "identity").trim().toLowerCase();
  if (enc === "" || enc === "identity") return body;
  if (enc !== "gzip" && enc !== "x-gzip" && enc !== "deflate") {
    throw new RpcError("PROTOCOL_ERROR", `unsupported Content-Encoding '${enc.slice(0, 40)}'`, { data: { status: 415 } });
  }
  try {
    return enc === "deflate" ? await inflate(body, { maxOutputLength: limit }) : await gunzip(body, { maxOutputLength: limit });
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw tooLarge(`the decompressed ${what}`, limit);
    throw new RpcError("PROTOCOL_ERROR", `the ${what} is not valid ${enc} data`, { cause: err, data: { status: 400 } });
  }
}

/** gzip at level 1, as Python's xmlrpc does: the point is fewer bytes on the wire, not the best ratio. */
export function gzipBody(body: string | Uint8Array): Promise<Buffer> {
  return gzip(body, { level: 1 });
}

/** True when an Accept-Encoding header allows gzip (q > 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(",")) {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    if (coding !== "gzip" && coding !== "x-gzip" && coding !== "*") continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}
