/**
 * The two codecs peers use: JSON text (binary as base64, as a JSON RPC user
 * would send it) and MessagePack through the same msgpackr build and
 * options as wirecall's msgpack serializer, so serializer cost is equal.
 */
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });

function replacer(key, value) {
  const raw = this[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") : value;
}

export const codecs = {
  json: {
    encode: (v) => Buffer.from(JSON.stringify(v, replacer)),
    decode: (b) => JSON.parse(b.toString("utf8")),
    text: true,
  },
  msgpack: {
    encode: (v) => packr.pack(v),
    decode: (b) => packr.unpack(b),
    text: false,
  },
};
