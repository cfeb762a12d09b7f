/**
 * A name server's storage file (Node): the registry as JSON, replaced
 * atomically (write a temporary file beside it, fsync it, rename it over the
 * old one, fsync the directory), so a crash at any moment leaves either the
 * old table or the new one, never a torn file. Loading removes temporary
 * files a crashed writer left behind.
 */
import { open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { RpcError } from "../src/errors.js";
import type { NameStore } from "../src/naming/start.js";
import type { RegistrySnapshot } from "../src/naming/registry.js";

/** Largest storage file read (bytes): ten thousand names at their size bounds fit well below it. */
export const MAX_STORAGE_BYTES = 256 * 1024 * 1024;

let seq = 0;

/** A {@link NameStore} kept in the JSON file at `path` (created on first save). */
export function fileStore(path: string): NameStore {
  return {
    async load(): Promise<unknown> {
      // Temporary files a crashed writer left beside the file: never the table, safe to drop.
      const prefix = `.${basename(path)}.`;
      const stale = await readdir(dirname(path)).catch(() => [] as string[]);
      await Promise.all(stale.filter((f) => f.startsWith(prefix) && f.endsWith(".tmp")).map((f) => unlink(join(dirname(path), f)).catch(() => undefined)));
      let text: string;
      try {
        const fh = await open(path, "r");
        try {
          const { size } = await fh.stat();
          if (size > MAX_STORAGE_BYTES) throw new RpcError("NAMING_STORAGE_FAILED", `the storage file ${path} is ${size} bytes, more than ${MAX_STORAGE_BYTES}`);
          text = await fh.readFile("utf8");
        } finally {
          await fh.close();
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        if (err instanceof RpcError) throw err;
        throw new RpcError("NAMING_STORAGE_FAILED", `cannot read the storage file ${path}: ${(err as Error).message}`, { cause: err });
      }
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new RpcError("NAMING_STORAGE_FAILED", `the storage file ${path} is not JSON (${(err as Error).message}); move it away to start empty`, { cause: err });
      }
    },

    async save(snapshot: RegistrySnapshot): Promise<void> {
      const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++seq}.tmp`);
      try {
        const fh = await open(tmp, "w", 0o600);
        try {
          await fh.writeFile(JSON.stringify(snapshot));
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
      } catch (err) {
        await unlink(tmp).catch(() => undefined);
        throw new RpcError("NAMING_STORAGE_FAILED", `cannot write the storage file ${path}: ${(err as Error).message}`, { cause: err });
      }
      // The rename is durable once the directory is synced (not possible on every platform).
      try {
        const dir = await open(dirname(path), "r");
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      } catch {
        // Windows cannot open a directory; the rename is still atomic there.
      }
    },
  };
}
