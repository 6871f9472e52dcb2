import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package's folder (found from this file, which runs compiled from .test-build/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "@engram/client") {
      return dir;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package.json of @engram/client not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** clients/conformance: the scenario shared by every client. */
export const CONFORMANCE_DIR = path.resolve(packageRoot(), "..", "conformance");
