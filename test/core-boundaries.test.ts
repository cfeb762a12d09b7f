/**
 * The core (src/) stays portable and small: it imports no Node built-in, no
 * ws or zeromq, no transport and no protocol (Python recipe, pickle,
 * XML-RPC, Pyro4); those are reached through their own subpath exports.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

// import/export ... from "x", import("x"), bare import "x"
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

describe("the core's imports", () => {
  it("src/ reaches no node:*, ws, zeromq, transports/ or protocols/", () => {
    const bad: string[] = [];
    for (const file of sources(join(root, "src"))) {
      for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
        const spec = m[1] ?? "";
        if (/^node:|^(ws|zeromq)$|transports\/|protocols\/|^wirecall\/(python|xmlrpc|pyro4)/.test(spec)) bad.push(`${relative(root, file)}: ${spec}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  it("the main entry exports no Python or XML-RPC names", async () => {
    const main = (await import("../src/index.js")) as Record<string, unknown>;
    for (const name of ["decodePickle", "encodePickle", "PyTuple", "pythonRecipeProtocol", "RecipeCaller", "encodeMethodCall"]) {
      assert.equal(name in main, false, `wirecall exports ${name}`);
    }
  });

  it("profile \"python\" before wirecall/python is imported says what to import", async () => {
    const { connect, RpcError } = await import("../src/index.js");
    await assert.rejects(
      connect("mem://nowhere?profile=python"),
      (e: unknown) => e instanceof RpcError && e.code === "INVALID_URL" && /import "wirecall\/python"/.test(e.message),
    );
  });

  it("the Python recipe is found through wirecall/python only", async () => {
    const py = (await import("wirecall/python")) as Record<string, unknown>;
    for (const name of ["decodePickle", "encodePickle", "PyTuple", "pythonRecipeProtocol", "RecipeCaller"]) assert.ok(name in py, name);
    const transportTcp = readFileSync(join(root, "transports/tcp/index.ts"), "utf8");
    assert.doesNotMatch(transportTcp, /protocols\/python|wirecall\/python/);
  });
});
