/** Options every command that connects takes: --serializer, and where the connection goes. */
import { connect, type AnyRemote } from "../src/index.js";

export const CONNECT_HELP = `  --serializer NAME      json (default), superjson or msgpack; or ?serializer= in the URL
  -v, --verbose          errors with stacks and causes
  -h, --help

Environment: WIRECALL_AUTHKEY (the shared secret for tcp, tls, ws, zmq,
pyro), WIRECALL_NS (the name server of PYRONAME:name without @host:port).`;

export const CONNECT_OPTIONS = {
  serializer: { type: "string" },
} as const;

/** connect() with the command line's options; failures carry the URL for the one-line message. */
export async function open(url: string, values: { serializer?: string | undefined }): Promise<AnyRemote> {
  const options: Record<string, unknown> = {};
  if (values.serializer !== undefined) options.serializer = values.serializer;
  try {
    return (await connect(url, options)) as AnyRemote;
  } catch (err) {
    if (err !== null && typeof err === "object") (err as { wirecallTarget?: string }).wirecallTarget = url;
    throw err;
  }
}
