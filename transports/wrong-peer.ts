/**
 * The first bytes of a peer that speaks another protocol than the one a
 * URL asked for, recognised so the user hears "this looks like an HTTP
 * server; did you mean ws://?" instead of a frame length read from "HTTP".
 * Node-only by use, dependency-free, shared by the transports.
 */

const ascii = (bytes: Uint8Array, n: number): string => {
  let s = "";
  for (let i = 0; i < n && i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
};

/** What kind of server sent `bytes` first, when it is a well-known one; a phrase to put after "this looks like". */
export function recognisePeer(bytes: Uint8Array): { what: string; hint: string } | undefined {
  const head = ascii(bytes, 8);
  if (head.startsWith("HTTP/")) return { what: "an HTTP server", hint: "a WebSocket server is ws://host:port/path, an XML-RPC one xmlrpc+http://host:port/path" };
  if ((bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03 && (bytes[2] as number) <= 0x04) {
    return { what: "a TLS server", hint: "use tls://host:port (wss:// for a WebSocket, xmlrpc+https:// for XML-RPC) and trust its certificate with the ca option" };
  }
  if (head.startsWith("PYRO")) return { what: "a Pyro daemon", hint: "call it as PYRO:objectid@host:port" };
  // ZMTP 3 signature: 0xff, 8 bytes of padding (the low byte usually 1), 0x7f.
  if (bytes[0] === 0xff && bytes.length >= 2 && bytes[1] === 0 && (bytes.length < 10 || bytes[9] === 0x7f)) {
    return { what: "a ZeroMQ socket", hint: "use zmq+tcp://host:port" };
  }
  if (head.startsWith("INFO {")) return { what: "a NATS server", hint: "use nats://host:port/subject" };
  if (head.startsWith("SSH-")) return { what: "an SSH server", hint: "check the port" };
  return undefined;
}

/** "this looks like ...; ..." for a peer of the wrong kind, or undefined. */
export function wrongPeerMessage(bytes: Uint8Array, url: string): string | undefined {
  const p = recognisePeer(bytes);
  return p && `${url} answered with ${JSON.stringify(ascii(bytes, 12).replace(/[^\x20-\x7e]/g, "."))}...: this looks like ${p.what}, not a wirecall ${url.split(":")[0]}:// server; ${p.hint}`;
}
