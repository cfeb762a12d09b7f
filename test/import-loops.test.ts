/**
 * No import loop in src/ (issue 12). Two graphs are checked: the compiled
 * JavaScript under dist/src (what runs: static imports, `export ... from`
 * and `import("literal")`; type-only imports are gone there), and the
 * TypeScript under src with `import type` included, since a loop of types
 * is a loop in the layering too. An `import()` of a computed specifier
 * cannot be followed; the few in src/ load packages by name (transports,
 * `wirecall/naming`, OpenTelemetry) or telemetry/otel.js.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("../../", import.meta.url));

function files(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return files(p, ext);
    return e.name.endsWith(ext) && !e.name.endsWith(".d.ts") ? [p] : [];
  });
}

/**
 * The file a relative specifier names, or undefined when it leaves `base`
 * or names a package. TypeScript sources name their imports by the `.js`
 * they compile to.
 */
function target(from: string, spec: string, base: string, ext: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  let p = resolve(dirname(from), spec);
  if (ext === ".ts") p = p.replace(/\.js$/, ".ts");
  if (existsSync(p) && statSync(p).isDirectory()) p = join(p, `index${ext}`);
  if (!existsSync(p)) return undefined;
  const rel = relative(base, p);
  return rel.startsWith("..") ? undefined : p;
}

/** Every file under `base` mapped to the files under `base` it imports (statically, by type, or by a literal import()). */
function graph(base: string, ext: string): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const file of files(base, ext)) {
    // TypeScript's own scanner: comments and strings that merely look like imports are skipped.
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const out = new Set<string>();
    for (const ref of info.importedFiles) {
      const to = target(file, ref.fileName, base, ext);
      if (to !== undefined) out.add(to);
    }
    edges.set(file, out);
  }
  return edges;
}

/** One loop per strongly connected component (Tarjan), each as a path that ends where it began. */
function loops(edges: Map<string, Set<string>>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = new Set<string>();
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.add(w);
    } while (w !== v);
    if (scc.size > 1 || edges.get(v)?.has(v)) found.push(cycleThrough(v, scc, edges));
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** The shortest path from `start` back to itself inside its component (breadth first). */
function cycleThrough(start: string, scc: Set<string>, edges: Map<string, Set<string>>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of edges.get(v) ?? []) {
      if (!scc.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) path.unshift(u);
        path.unshift(start);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function describeLoops(found: string[][]): string {
  return found.map((path) => path.map((p) => relative(root, p)).join(" -> ")).join("\n");
}

describe("import loops", () => {
  it("the checker finds a loop, by static, type and dynamic edges alike", () => {
    const a = join(root, "a.ts");
    const b = join(root, "b.ts");
    const c = join(root, "c.ts");
    const found = loops(new Map([[a, new Set([b])], [b, new Set([c])], [c, new Set([a])]]));
    assert.deepEqual(found.map((p) => p.length), [4]);
    const scanned = ts.preProcessFile('import type { X } from "./x.js";\nexport { y } from "./y.js";\nconst z = () => import("./z.js");\n// import("./not-me.js")\n', true, true);
    assert.deepEqual(scanned.importedFiles.map((f) => f.fileName), ["./x.js", "./y.js", "./z.js"]);
  });

  it("dist/src (the JavaScript that runs) has no import loop", () => {
    const base = join(root, "dist", "src");
    const edges = graph(base, ".js");
    assert.ok(edges.size > 20, `expected the compiled core under ${base}`);
    const found = loops(edges);
    assert.equal(found.length, 0, `import loops in dist/src:\n${describeLoops(found)}`);
  });

  it("src/ (TypeScript, `import type` included) has no import loop", () => {
    const base = join(root, "src");
    const found = loops(graph(base, ".ts"));
    assert.equal(found.length, 0, `import loops in src/ (type imports count):\n${describeLoops(found)}`);
  });
});
