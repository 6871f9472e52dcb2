/**
 * The committed src/generated/openapi.ts must be what `npm run gen:types` makes from the
 * document engramd serves now: the client's request bodies cannot drift from the server's.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";

import { GENERATED_FILE, generate } from "../scripts/gen-types.js";

test("src/generated/openapi.ts matches the server's /openapi.json", async () => {
  const fresh = await generate();
  const file = path.join(mkdtempSync(path.join(tmpdir(), "engram-openapi-")), "openapi.ts");
  writeFileSync(file, fresh);
  const committed = readFileSync(GENERATED_FILE, "utf8");
  if (fresh !== committed) {
    const a = committed.split("\n");
    const b = fresh.split("\n");
    const line = a.findIndex((l, i) => l !== b[i]);
    assert.fail(
      `src/generated/openapi.ts differs from what engramd serves (first at line ${line + 1}:\n` +
        `  committed: ${a[line] ?? "<end>"}\n  server:    ${b[line] ?? "<end>"})\n` +
        `regenerated file: ${file}\nrun \`npm run gen:types\` and commit the result`,
    );
  }
});
