/**
 * A Pyro4 serializer by the name users give in options ("serpent", "json",
 * "marshal"), with the bytes form serpent writes. wirecall's daemon and
 * client write bytes as serpent literals (`b'...'`) by default, so Python
 * receives real bytes; Pyro4's own base64 dict is one option away, and
 * `serpent.tobytes()` on the Python side reads either.
 */
import { RpcError } from "../../src/transport-sdk.js";
import { jsonSerializer, marshalSerializer, serpentSerializer, type Pyro4Serializer } from "./serializers.js";

/** "literal": `b'...'` (default); "dict": `{'data': base64, 'encoding': 'base64'}` as Pyro4 sends. */
export type SerpentBytes = "literal" | "dict";

const literalSerpent = serpentSerializer({ bytes: "literal" });
const dictSerpent = serpentSerializer();
const json = jsonSerializer();
const marshal = marshalSerializer();

/** The serializer named `name`; `INVALID_OPTION` for one wirecall does not speak. */
export function pyroSerializer(name: unknown, serpentBytes: SerpentBytes = "literal"): Pyro4Serializer {
  if (serpentBytes !== "literal" && serpentBytes !== "dict") throw new RpcError("INVALID_OPTION", `serpentBytes must be "literal" or "dict", got ${JSON.stringify(serpentBytes)}`);
  switch (name) {
    case "serpent":
      return serpentBytes === "dict" ? dictSerpent : literalSerpent;
    case "json":
      return json;
    case "marshal":
      return marshal;
    default:
      throw new RpcError("INVALID_OPTION", `'${String(name)}' is not a Pyro4 serializer wirecall speaks (serpent, json, marshal; pickle, dill and cloudpickle run code and are refused)`);
  }
}
