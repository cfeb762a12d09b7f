/**
 * One 'upgrade' listener per HTTP server, routing by path, so several
 * wirecall endpoints (and other WebSocket users) can share one port.
 *
 * An upgrade for a path nobody serves is refused with 404 when wirecall owns
 * the server or is its only 'upgrade' listener; otherwise it is left alone
 * for the application's own listeners.
 */
import type { IncomingMessage, Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

const routers = new WeakMap<HttpServer, UpgradeRouter>();

class UpgradeRouter {
  readonly #server: HttpServer;
  readonly #routes = new Map<string, UpgradeHandler>();
  readonly #owned: boolean;
  readonly #listener = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.#route(req, socket, head);

  constructor(server: HttpServer, owned: boolean) {
    this.#server = server;
    this.#owned = owned;
    server.on("upgrade", this.#listener);
  }

  add(path: string, handler: UpgradeHandler): void {
    if (this.#routes.has(path)) throw new Error(`a wirecall WebSocket endpoint already serves '${path}' on this server`);
    this.#routes.set(path, handler);
  }

  /** Remove a route; the last one removes the listener. */
  remove(path: string): void {
    this.#routes.delete(path);
    if (this.#routes.size === 0) {
      this.#server.off("upgrade", this.#listener);
      routers.delete(this.#server);
    }
  }

  #route(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const handler = this.#routes.get(pathOf(req.url));
    if (handler) return handler(req, socket, head);
    if (this.#owned || this.#server.listenerCount("upgrade") === 1) refuseUpgrade(socket, 404, "Not Found");
  }
}

/** The router of `server`, created on first use. */
export function routerFor(server: HttpServer, owned: boolean): UpgradeRouter {
  let r = routers.get(server);
  if (!r) {
    r = new UpgradeRouter(server, owned);
    routers.set(server, r);
  }
  return r;
}

/** The path of a request target, without its query string. */
export function pathOf(target: string | undefined): string {
  if (!target) return "/";
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

/** Answer an upgrade request with a plain HTTP error before any WebSocket exists. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.on("error", () => {});
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.once("finish", () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}
