/**
 * The client side of one connection: sends the hello, waits for the
 * server's answer, then turns reply and error envelopes into settlements.
 * Pending-call bookkeeping lives in RPCProxy, which outlives links when it reconnects.
 */
import { RpcError, fromWireError, isWireError, type WireError } from "./errors.js";
import { Kind, PROTOCOL_VERSION, decodeHello, encodeHello, validateEnvelope, type CallId } from "./protocol.js";
import type { Serializer } from "./serializers/index.js";
import type { Connection, ConnectionSink } from "./transport.js";

export interface LinkOwner {
  /** The hello was accepted: the link can carry calls. */
  linkReady(link: ClientLink): void;
  linkReply(id: CallId, result: unknown): void;
  linkError(id: CallId | null, err: WireError): void;
  linkClosed(link: ClientLink, err: Error | undefined): void;
}

export class ClientLink implements ConnectionSink {
  readonly conn: Connection;
  readonly serializer: Serializer;
  readonly #owner: LinkOwner;
  readonly #text: boolean;
  #ready = false;
  #closed = false;
  #closeError: Error | undefined;
  /** Why this side gave up on the link; wins over whatever the transport reports next. */
  #failure: Error | undefined;
  #closedWaiters: (() => void)[] = [];

  constructor(conn: Connection, serializer: Serializer, owner: LinkOwner) {
    this.conn = conn;
    this.serializer = serializer;
    this.#owner = owner;
    this.#text = serializer.binary === false;
  }

  get ready(): boolean {
    return this.#ready && !this.#closed;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** Why the link closed (undefined for an orderly close or while open). */
  get closeError(): Error | undefined {
    return this.#closeError;
  }

  start(): void {
    this.conn.open(this);
    this.conn.send(encodeHello({ wirecall: PROTOCOL_VERSION, serializer: this.serializer.name }), true);
  }

  /** Send one encoded envelope. */
  send(frame: Uint8Array): boolean {
    return this.conn.send(frame, this.#text);
  }

  frame(frame: Uint8Array): void {
    if (!this.#ready) return this.#hello(frame);
    let msg;
    try {
      msg = validateEnvelope(this.serializer.decode(frame));
    } catch (err) {
      const e = err instanceof RpcError ? err : new RpcError("PROTOCOL_ERROR", `undecodable frame from the server: ${(err as Error)?.message ?? err}`);
      this.#fail(e);
      return;
    }
    switch (msg[0]) {
      case Kind.Reply:
        return this.#owner.linkReply(msg[1], msg[2]);
      case Kind.Error:
        return this.#owner.linkError(msg[1], msg[2]);
      case Kind.Call:
      case Kind.Notify:
      case Kind.Cancel:
        this.#fail(new RpcError("PROTOCOL_ERROR", "the server sent a call; wirecall clients do not serve calls"));
        return;
    }
  }

  drain(): void {
    // Callers produce calls; nothing is paused on the client side.
  }

  close(err?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = this.#failure ?? err;
    err = this.#closeError;
    this.#owner.linkClosed(this, err);
    for (const w of this.#closedWaiters) w();
    this.#closedWaiters = [];
  }

  /** Resolves once the transport reported the connection closed. */
  whenClosed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.conn.close(err);
  }

  #hello(frame: Uint8Array): void {
    const hello = decodeHello(frame);
    if (!hello) {
      this.#fail(new RpcError("PROTOCOL_ERROR", "the server did not answer the hello (is it a wirecall server?)"));
    } else if (hello.error) {
      const cause = isWireError(hello.error) ? fromWireError(hello.error) : undefined;
      this.#fail(new RpcError(hello.error.code, `the server refused the connection: ${hello.error.message}`, { cause }));
    } else if (hello.wirecall !== PROTOCOL_VERSION || hello.serializer !== this.serializer.name) {
      this.#fail(new RpcError("PROTOCOL_ERROR", `the server answered version ${hello.wirecall} with serializer '${hello.serializer}'`));
    } else {
      this.#ready = true;
      this.#owner.linkReady(this);
    }
  }
}
