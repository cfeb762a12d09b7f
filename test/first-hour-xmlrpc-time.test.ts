/**
 * Issue 19, "the first hour": XML-RPC's dateTime has no zone. A Python
 * server in Asia/Shanghai answering a naive local datetime, and a Python
 * server reading the hour a wirecall client sent: by default wirecall reads
 * and writes UTC (8 hours off there); `localTime: true` reads and writes this
 * process's local time, as Python's naive datetimes mean. This process runs
 * in the same zone (TZ is set before any Date is made).
 */
process.env.TZ = "Asia/Shanghai";

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { connect } from "../src/index.js";
import { formatDateTime, parseDateTime } from "../protocols/xmlrpc/index.js";

const SERVER = `
import datetime, sys
from xmlrpc.server import SimpleXMLRPCServer
s = SimpleXMLRPCServer(("127.0.0.1", 0), logRequests=False, allow_none=True, use_builtin_types=True)
s.register_function(lambda: datetime.datetime(2024, 1, 2, 3, 4, 5), "fixed")
s.register_function(lambda d: [d.hour, d.minute], "hour_of")
print(s.server_address[1], flush=True)
s.serve_forever()
`;

describe("first hour: xmlrpc dateTime and local time", () => {
  let child: ChildProcess;
  let url: string;
  before(async () => {
    child = spawn("python3", ["-c", SERVER], { env: { ...process.env, TZ: "Asia/Shanghai" }, stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the Python server did not start within 20 s")), 20_000);
      let out = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        const nl = out.indexOf("\n");
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, nl).trim());
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`python3 exited (${code})`));
      });
    });
    url = `xmlrpc+http://127.0.0.1:${port}/`;
  });
  after(() => {
    child?.kill("SIGKILL");
  });

  it("the process really is in Asia/Shanghai (UTC+8)", () => {
    assert.equal(new Date(Date.UTC(2024, 0, 2)).getTimezoneOffset(), -480);
  });

  it("by default a naive time is UTC: 03:04:05 from Python is 03:04:05Z", async () => {
    const c = await connect(url);
    try {
      const d = (await c.fixed()) as Date;
      assert.equal(d.toISOString(), "2024-01-02T03:04:05.000Z");
      // and a local 03:04 reaches Python as 19:04 (UTC), which is the documented rule
      assert.deepEqual(await c.hour_of(new Date(2024, 0, 2, 3, 4, 5)), [19, 4]);
    } finally {
      await c.$close();
    }
  });

  it("localTime: true reads and writes local wall-clock time, as Python's naive datetimes", async () => {
    const c = await connect(url, { localTime: true });
    try {
      const d = (await c.fixed()) as Date;
      assert.equal(d.getTime(), new Date(2024, 0, 2, 3, 4, 5).getTime());
      assert.equal(d.toISOString(), "2024-01-01T19:04:05.000Z");
      assert.deepEqual(await c.hour_of(new Date(2024, 0, 2, 3, 4, 5)), [3, 4]);
    } finally {
      await c.$close();
    }
  });

  it("?localTime=true in the URL, and the codec functions", async () => {
    const c = await connect(`${url}?localTime=true`);
    try {
      assert.deepEqual(await c.hour_of(new Date(2024, 6, 1, 23, 30)), [23, 30]);
    } finally {
      await c.$close();
    }
    assert.equal(formatDateTime(new Date(2024, 0, 2, 3, 4, 5), true), "20240102T03:04:05");
    assert.equal(formatDateTime(new Date(2024, 0, 2, 3, 4, 5)), "20240101T19:04:05");
    assert.equal(parseDateTime("20240102T03:04:05", true).getTime(), new Date(2024, 0, 2, 3, 4, 5).getTime());
    // A value with a zone is that instant whatever localTime says.
    assert.equal(parseDateTime("20240102T03:04:05Z", true).toISOString(), "2024-01-02T03:04:05.000Z");
  });
});
