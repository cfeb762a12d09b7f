/**
 * The XML-RPC codec on its own: the value mapping (fixed cases and a
 * round-trip property), Python's exact documents, faults, hostile and
 * random input (fast-check), limits. No sockets here.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { RPCHandler, RemoteError, RpcError, connect, registerError, registerSerializer, serve, unregisterError } from "../src/index.js";
import {
  decodeBase64,
  decodeMethodCall,
  decodeMethodResponse,
  decodeXmlBytes,
  encodeBase64,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  encodeValue,
  errorToFault,
  faultToError,
  formatDateTime,
  parseDateTime,
  parseFaultString,
  xmlrpcSerializer,
  type Fault,
} from "../protocols/xmlrpc/index.js";
import { isXmlText } from "../protocols/xmlrpc/xml-text.js";

const call = (value: string): string =>
  `<?xml version="1.0"?><methodCall><methodName>m</methodName><params><param>${value}</param></params></methodCall>`;
const decode1 = (value: string): unknown => decodeMethodCall(call(value)).params[0];
const roundTrip = (v: unknown): unknown => {
  const r = decodeMethodResponse(encodeMethodResponse(v));
  assert.equal(r.kind, "result");
  return (r as { value: unknown }).value;
};

function codeOf(fn: () => unknown): { code: string; faultCode?: number } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof RpcError, `not an RpcError: ${String(err)}`);
    return { code: err.code, faultCode: (err as { faultCode?: number }).faultCode };
  }
  assert.fail("no error thrown");
}

describe("value mapping", () => {
  it("encodes each JavaScript type as the documented XML-RPC type", () => {
    assert.equal(encodeValue(42), "<value><int>42</int></value>");
    assert.equal(encodeValue(-(2 ** 31)), "<value><int>-2147483648</int></value>");
    assert.equal(encodeValue(2 ** 31), "<value><double>2147483648</double></value>");
    assert.equal(encodeValue(1.5), "<value><double>1.5</double></value>");
    assert.equal(encodeValue(-0), "<value><double>-0.0</double></value>");
    assert.equal(encodeValue(NaN), "<value><double>nan</double></value>");
    assert.equal(encodeValue(-Infinity), "<value><double>-inf</double></value>");
    assert.equal(encodeValue(2n ** 40n), "<value><i8>1099511627776</i8></value>");
    assert.equal(encodeValue(true), "<value><boolean>1</boolean></value>");
    assert.equal(encodeValue("a<b&c>\r"), "<value><string>a&lt;b&amp;c&gt;&#13;</string></value>");
    assert.equal(encodeValue(new Date(Date.UTC(2024, 1, 29, 13, 14, 15, 999))), "<value><dateTime.iso8601>20240229T13:14:15</dateTime.iso8601></value>");
    assert.equal(encodeValue(new Uint8Array([0, 1, 2, 255])), "<value><base64>AAEC/w==</base64></value>");
    assert.equal(encodeValue([1, "x"]), "<value><array><data><value><int>1</int></value><value><string>x</string></value></data></array></value>");
    assert.equal(encodeValue({ a: 1, skip: undefined }), "<value><struct><member><name>a</name><value><int>1</int></value></member></struct></value>");
    assert.equal(encodeValue(new Map([["k", null]])), "<value><struct><member><name>k</name><value><nil/></value></member></struct></value>");
    assert.equal(encodeValue(null), "<value><nil/></value>");
    assert.equal(encodeValue(undefined), "<value><nil/></value>");
    assert.equal(encodeValue(new URL("http://x/")), "<value><string>http://x/</string></value>");
  });

  it("refuses what XML-RPC cannot carry with SERIALIZE_ERROR", () => {
    for (const bad of [
      () => encodeValue(2n ** 63n),
      () => encodeValue("nul\u0000"),
      () => encodeValue("lone \uD800 surrogate"),
      () => encodeValue(() => 1),
      () => encodeValue(Symbol("s")),
      () => encodeValue(new Date(NaN)),
      () => encodeValue(new Date(Date.UTC(10000, 0, 1))),
      () => encodeValue(null, { allowNone: false }),
      () => encodeValue(new Map([[1, 2]])),
      () => encodeMethodCall("", []),
    ]) {
      assert.equal(codeOf(bad).code, "SERIALIZE_ERROR");
    }
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    assert.equal(codeOf(() => encodeValue(cyclic)).code, "SERIALIZE_ERROR");
    let deep: unknown = 1;
    for (let i = 0; i < 10; i++) deep = [deep];
    assert.equal(codeOf(() => encodeValue(deep, { maxDepth: 5 })).code, "SERIALIZE_ERROR");
    assert.doesNotThrow(() => encodeValue(deep, { maxDepth: 10 }));
  });

  it("decodes every XML-RPC type, including the extension and lenient forms", () => {
    assert.equal(decode1("<value><i4> 7 </i4></value>"), 7);
    assert.equal(decode1("<value><int>-12</int></value>"), -12);
    assert.equal(decode1("<value><i8>9223372036854775807</i8></value>"), 2n ** 63n - 1n);
    assert.equal(decode1("<value><ex:i8>-5</ex:i8></value>"), -5n);
    assert.equal(decode1("<value><biginteger>123456789012345678901234567890</biginteger></value>"), 123456789012345678901234567890n);
    assert.equal(decode1("<value><boolean>0</boolean></value>"), false);
    assert.equal(decode1("<value><double>-1.25e3</double></value>"), -1250);
    assert.equal(decode1("<value><double>inf</double></value>"), Infinity);
    assert.equal(decode1("<value>untyped &amp; text</value>"), "untyped & text");
    assert.equal(decode1("<value></value>"), "");
    assert.equal(decode1("<value><string/></value>"), "");
    assert.equal(decode1("<value><string>  keep  </string></value>"), "  keep  ");
    assert.equal(decode1("<value><string>a<![CDATA[<&>]]>b<!-- c -->&#x1F600;&#65;</string></value>"), "a<&>b😀A");
    assert.equal(decode1("<value><string>line\r\nend</string></value>"), "line\nend"); // XML line-end normalisation
    assert.equal(decode1("<value><string>cr&#13;kept</string></value>"), "cr\rkept");
    assert.deepEqual(decode1("<value><base64>\nAAEC\n/w==\n</base64></value>"), new Uint8Array([0, 1, 2, 255]));
    assert.equal((decode1("<value><dateTime.iso8601>19991231T23:59:58</dateTime.iso8601></value>") as Date).toISOString(), "1999-12-31T23:59:58.000Z");
    assert.equal(decode1("<value><nil/></value>"), null);
    assert.equal(decode1("<value><ex:nil/></value>"), null);
    assert.deepEqual(decode1("<value><array><data/></array></value>"), []);
    const s = decode1("<value><struct><member><name>__proto__</name><value>x</value></member><member><name>a</name><value><int>1</int></value></member></struct></value>") as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(s), Object.prototype, "a member named __proto__ must not change the prototype");
    assert.deepEqual(Object.keys(s), ["__proto__", "a"]);
    assert.equal(s.a, 1);
  });

  it("reads Python's own documents (indentation, <string>, Binary line breaks)", () => {
    const py = `<?xml version='1.0'?>
<methodCall>
<methodName>upload</methodName>
<params>
<param>
<value><base64>
AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4
OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx
</base64></value>
</param>
<param>
<value><dateTime.iso8601>20240102T03:04:05</dateTime.iso8601></value>
</param>
<param>
<value><struct>
<member>
<name>k</name>
<value><array><data>
<value><int>1</int></value>
<value><nil/></value></data></array></value>
</member>
</struct></value>
</param>
</params>
</methodCall>
`;
    const c = decodeMethodCall(py);
    assert.equal(c.methodName, "upload");
    assert.deepEqual(c.params[0], Uint8Array.from({ length: 114 }, (_, i) => i));
    assert.equal((c.params[1] as Date).toISOString(), "2024-01-02T03:04:05.000Z");
    assert.deepEqual(c.params[2], { k: [1, null] });
  });

  it("refuses values off the spec with PROTOCOL_ERROR and fault -32600", () => {
    for (const v of [
      "<value><int>1.5</int></value>",
      "<value><int>99999999999999999999999999999999999</int></value>",
      "<value><i8>9223372036854775808</i8></value>",
      "<value><boolean>yes</boolean></value>",
      "<value><double>1,5</double></value>",
      "<value><dateTime.iso8601>20240230T00:00:00</dateTime.iso8601></value>",
      "<value><base64>AA=A</base64></value>",
      "<value><base64>A</base64></value>",
      "<value><base64>A*==</base64></value>",
      "<value><unknown>1</unknown></value>",
      "<value><int>1</int><int>2</int></value>",
      "<value>text<int>1</int></value>",
      "<value><struct><member><value>1</value></member></struct></value>",
      "<value><struct><foo/></struct></value>",
      "<value><array><value>1</value></array></value>",
      "<value><string><b>x</b></string></value>",
      "<value><nil>x</nil></value>",
    ]) {
      assert.deepEqual(codeOf(() => decode1(v)), { code: "PROTOCOL_ERROR", faultCode: -32600 }, v);
    }
    assert.deepEqual(codeOf(() => decodeMethodCall("<methodResponse/>")), { code: "PROTOCOL_ERROR", faultCode: -32600 });
    assert.deepEqual(codeOf(() => decodeMethodCall("<methodCall><params/></methodCall>")), { code: "PROTOCOL_ERROR", faultCode: -32600 });
  });

  it("round-trips every mapped value (property)", () => {
    const text = fc.string({ unit: "binary", maxLength: 24 }).filter(isXmlText);
    const scalar = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.boolean(),
      text,
      fc.date({ min: new Date("0000-01-01T00:00:00.000Z"), max: new Date("9999-12-31T23:59:59.999Z"), noInvalidDate: true }).map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000)),
      fc.uint8Array({ maxLength: 40 }),
      fc.constant(null),
    );
    const { value } = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: "small", withCrossShrink: true }, scalar, tie("array"), tie("struct")),
      array: fc.array(tie("value"), { maxLength: 5 }),
      struct: fc.dictionary(text, tie("value"), { maxKeys: 5, noNullPrototype: true }),
    }));
    fc.assert(
      fc.property(value, (v) => {
        assert.deepStrictEqual(roundTrip(v), v);
        assert.deepStrictEqual(decodeMethodCall(encodeMethodCall("x.y", [v, v])).params, [v, v]);
      }),
      { numRuns: 300 },
    );
  });
});

describe("dates, base64, text encodings", () => {
  it("parses the ISO 8601 forms peers send; writes Python's", () => {
    const want = "2024-01-02T03:04:05.000Z";
    for (const s of ["20240102T03:04:05", "2024-01-02T03:04:05", "20240102T030405", "20240102T03:04:05Z", "20240102T04:04:05+01:00", "20240102T00:04:05-0300"]) {
      assert.equal(parseDateTime(s).toISOString(), want, s);
    }
    assert.equal(parseDateTime("20240102T03:04:05.250").toISOString(), "2024-01-02T03:04:05.250Z");
    assert.equal(parseDateTime("00010101T00:00:00").toISOString(), "0001-01-01T00:00:00.000Z");
    assert.equal(formatDateTime(new Date("0099-03-04T05:06:07Z")), "00990304T05:06:07");
    for (const bad of ["2024-01-02", "20241302T00:00:00", "20240102T24:00:00", "x"]) assert.equal(codeOf(() => parseDateTime(bad)).code, "PROTOCOL_ERROR", bad);
  });

  it("base64 matches Node's and skips whitespace", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        const s = encodeBase64(b);
        assert.equal(s, Buffer.from(b).toString("base64"));
        assert.deepEqual(decodeBase64(s.replace(/(.{7})/g, "$1\n ")), b);
        assert.deepEqual(decodeBase64(s.replace(/=+$/, "")), b);
      }),
    );
  });

  it("follows the XML declaration's encoding and refuses bad bytes", () => {
    const latin1 = Uint8Array.from(Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>m</methodName><params><param><value>caf\xe9</value></param></params></methodCall>`, "latin1"));
    assert.deepEqual(decodeMethodCall(latin1).params, ["café"]);
    const utf16 = Uint8Array.from([0xff, 0xfe, ...Buffer.from("<methodCall><methodName>m\u00e9</methodName></methodCall>", "utf16le")]);
    assert.equal(decodeMethodCall(utf16).methodName, "mé");
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, ...Buffer.from("<methodCall><methodName>m</methodName></methodCall>")]);
    assert.equal(decodeMethodCall(bom).methodName, "m");
    assert.deepEqual(codeOf(() => decodeXmlBytes(Uint8Array.from([0x3c, 0x61, 0xff, 0x3e]))), { code: "PROTOCOL_ERROR", faultCode: -32702 });
    assert.deepEqual(codeOf(() => decodeXmlBytes(Buffer.from('<?xml version="1.0" encoding="x-klingon"?><a/>'))), { code: "PROTOCOL_ERROR", faultCode: -32701 });
  });
});

describe("hostile documents", () => {
  const wellFormedFault = { code: "PROTOCOL_ERROR", faultCode: -32700 };

  it("refuses DOCTYPE: billion laughs, external entities, parameter entities", () => {
    const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<methodCall><methodName>&lol9;</methodName></methodCall>`;
    const xxe = `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><methodCall><methodName>m</methodName><params><param><value>&e;</value></param></params></methodCall>`;
    const pe = `<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><methodCall><methodName>m</methodName></methodCall>`;
    for (const doc of [laughs, xxe, pe]) assert.deepEqual(codeOf(() => decodeMethodCall(doc)), wellFormedFault);
    // An entity reference without a DOCTYPE is not expanded either.
    assert.deepEqual(codeOf(() => decodeMethodCall(call("<value>&lol;</value>"))), wellFormedFault);
    assert.deepEqual(codeOf(() => decodeMethodCall(call("<value>bare & amp</value>"))), wellFormedFault);
    assert.deepEqual(codeOf(() => decodeMethodCall(call("<value>&#0;</value>"))), { code: "PROTOCOL_ERROR", faultCode: -32702 });
    assert.deepEqual(codeOf(() => decodeMethodCall(call("<value>raw \u0001 control</value>"))), { code: "PROTOCOL_ERROR", faultCode: -32702 });
  });

  it("refuses malformed XML", () => {
    for (const doc of ["", "garbage", "<methodCall>", "<methodCall><methodName>m</methodCall>", "<a/><b/>", "<methodCall><methodName>m</methodName></methodCall><extra/>"]) {
      assert.deepEqual(codeOf(() => decodeMethodCall(doc)), wellFormedFault, JSON.stringify(doc));
    }
    // Well-formed, but not a methodCall.
    assert.deepEqual(codeOf(() => decodeMethodCall("<__proto__/>")), { code: "PROTOCOL_ERROR", faultCode: -32600 });
  });

  it("bounds nesting depth (maxDepth), however deep the document", () => {
    const nest = (n: number): string => "<value><array><data>".repeat(n) + "<value>x</value>" + "</data></array></value>".repeat(n);
    assert.doesNotThrow(() => decodeMethodCall(call(nest(60))));
    assert.equal(codeOf(() => decodeMethodCall(call(nest(70)))).code, "PROTOCOL_ERROR");
    assert.doesNotThrow(() => decodeMethodCall(call(nest(70)), { maxDepth: 80 }));
    const started = Date.now();
    assert.equal(codeOf(() => decodeMethodCall(call("<value>".repeat(200_000) + "</value>".repeat(200_000)))).code, "PROTOCOL_ERROR");
    assert.ok(Date.now() - started < 5000, "deep input is refused quickly");
  });

  it("fuzz: arbitrary text and bytes never crash the decoder, only coded errors", () => {
    const check = (input: string | Uint8Array): void => {
      for (const decode of [decodeMethodCall, decodeMethodResponse]) {
        try {
          decode(input);
        } catch (err) {
          assert.ok(err instanceof RpcError, `uncoded ${String((err as Error)?.stack ?? err)}`);
          assert.equal(err.code, "PROTOCOL_ERROR");
          assert.equal(typeof (err as { faultCode?: unknown }).faultCode, "number");
        }
      }
    };
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 200 }), check), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 300 });
    // Token soup: random sequences of XML-RPC markup reach the structural checks.
    const tokens = [
      "<methodCall>", "</methodCall>", "<methodResponse>", "</methodResponse>", "<methodName>", "</methodName>", "<params>", "</params>",
      "<param>", "</param>", "<value>", "</value>", "<struct>", "</struct>", "<member>", "</member>", "<name>", "</name>", "<array>",
      "</array>", "<data>", "</data>", "<fault>", "</fault>", "<int>", "</int>", "<i8>", "</i8>", "<string>", "</string>", "<base64>",
      "</base64>", "<boolean>", "</boolean>", "<double>", "</double>", "<dateTime.iso8601>", "</dateTime.iso8601>", "<nil/>", "<![CDATA[",
      "]]>", "<!--", "-->", "&amp;", "&#0;", "&x;", "<!DOCTYPE a>", "<?xml version='1.0'?>", "1", "-7", "abc", "AA==", "20240101T00:00:00",
      " ", "\n", "<", ">", "&", "faultCode", "faultString",
    ];
    fc.assert(fc.property(fc.array(fc.constantFrom(...tokens), { maxLength: 60 }), (ts) => check(ts.join(""))), { numRuns: 1000 });
    // Mutations of valid documents.
    const doc = encodeMethodCall("m.n", [1, "two", [3n, { four: new Uint8Array([4]) }], new Date(0), null, true, 2.5]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(doc.length), fc.nat(3), fc.string({ unit: "binary-ascii", maxLength: 3 })), { minLength: 1, maxLength: 4 }), (edits) => {
        let d = doc;
        for (const [at, del, ins] of edits) d = d.slice(0, at) + ins + d.slice(at + del);
        check(d);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("faults", () => {
  it("maps wirecall codes to fault codes and back", () => {
    const cases: [string, number][] = [
      ["METHOD_NOT_FOUND", -32601],
      ["INVALID_PARAMS", -32602],
      ["PROTOCOL_ERROR", -32600],
      ["SERIALIZE_ERROR", -32603],
      ["INTERNAL_ERROR", -32603],
      ["SHUTTING_DOWN", -32400],
      ["E_APP", -32500],
    ];
    for (const [code, faultCode] of cases) {
      const f = errorToFault(new RpcError(code, "m"));
      assert.equal(f.faultCode, faultCode, code);
      const back = faultToError(f) as RpcError & { faultCode: number };
      assert.equal(back.code, code);
      assert.equal(back.faultCode, faultCode);
    }
    const thrown = Object.assign(new Error("quota"), { faultCode: 4 });
    assert.equal(errorToFault(thrown).faultCode, 4, "an error's own integer faultCode wins");
    assert.equal(errorToFault("plain string").faultCode, -32500);
  });

  it("keeps name, message, code and data through the wirecall member", () => {
    class QuotaError extends Error {
      override name = "QuotaError";
    }
    registerError(QuotaError);
    try {
      const err = Object.assign(new QuotaError("too many"), { code: "E_QUOTA", data: { limit: 3 } });
      const doc = encodeFault(errorToFault(err));
      const r = decodeMethodResponse(doc);
      assert.equal(r.kind, "fault");
      const back = faultToError((r as { fault: Fault }).fault) as QuotaError & { code: string; data: unknown; faultCode: number; faultString: string };
      assert.ok(back instanceof QuotaError);
      assert.equal(back.message, "too many");
      assert.equal(back.code, "E_QUOTA");
      assert.deepEqual(back.data, { limit: 3 });
      assert.equal(back.faultCode, -32500);
      assert.equal(back.faultString, "QuotaError: too many");
    } finally {
      unregisterError("QuotaError");
    }
  });

  it("parses Python's faultString forms", () => {
    assert.deepEqual(parseFaultString("<class 'ValueError'>:boom"), { name: "ValueError", message: "boom" });
    assert.deepEqual(parseFaultString("<class '__main__.MyError'>:a: b"), { name: "MyError", message: "a: b" });
    assert.deepEqual(parseFaultString("<type 'exceptions.ZeroDivisionError'>:integer division or modulo by zero"), { name: "ZeroDivisionError", message: "integer division or modulo by zero" });
    assert.deepEqual(parseFaultString("TypeError: x"), { name: "TypeError", message: "x" });
    assert.deepEqual(parseFaultString("server error. requested method not found"), { name: "Fault", message: "server error. requested method not found" });
    const e = faultToError({ faultCode: -32601, faultString: "server error. requested method not found" });
    assert.ok(e instanceof RemoteError);
    assert.equal((e as RemoteError).code, "METHOD_NOT_FOUND");
  });

  it("a fault that cannot carry its data still encodes", () => {
    const err = Object.assign(new Error("bad \u0000 message"), { data: { f: () => 1 } });
    const r = decodeMethodResponse(encodeFault(errorToFault(err)));
    assert.equal(r.kind, "fault");
    assert.equal((r as { fault: Fault }).fault.faultCode, -32500);
  });
});

describe("the xmlrpc serializer", () => {
  it("carries envelopes as <value> documents over a frame transport", async () => {
    registerSerializer(xmlrpcSerializer);
    const h = new RPCHandler();
    h.register("echo", (v: unknown) => v);
    h.register("fail", () => {
      throw new RangeError("no");
    });
    const server = await serve(h, "mem://xmlrpc-serializer");
    const proxy = await connect(server.url, { serializer: "xmlrpc" });
    try {
      const v = { when: new Date("2020-01-01T00:00:00Z"), big: 5n, bytes: new Uint8Array([1, 2]), list: [null, "x"] };
      assert.deepStrictEqual(await proxy.echo(v), v);
      await assert.rejects(proxy.fail(), (e: RemoteError) => e.name === "RangeError" && e.code === "REMOTE_ERROR");
      assert.equal(codeOf(() => xmlrpcSerializer.decode(new TextEncoder().encode("<methodCall/>"))).code, "PROTOCOL_ERROR");
    } finally {
      await proxy.$close();
      await server.close();
    }
  });
});
