// Writes every Zod schema a module exports to OUT_DIR/<name>.json as JSON Schema 2020-12,
// for palisade's `body`, `query` and `params` route keys.
//
//   node export-schemas.mjs ./path/to/schemas.mjs ./schemas
//
// Two adjustments keep the output what palisade enforces:
// - `io: "input"` describes what a client may send (before defaults and transforms).
// - A `pattern` that sits beside a `format` palisade checks itself (email, uuid, date-time)
//   is dropped: Zod's email pattern uses look-ahead, which palisade's linear-time regex
//   engine refuses by design (no catastrophic backtracking on request data).
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";

const CHECKED_FORMATS = new Set(["email", "uuid", "date-time", "date", "time", "ipv4", "ipv6", "uri"]);

function dropShadowedPatterns(node) {
  if (Array.isArray(node)) return node.forEach(dropShadowedPatterns);
  if (node === null || typeof node !== "object") return;
  if (typeof node.pattern === "string" && CHECKED_FORMATS.has(node.format)) delete node.pattern;
  Object.values(node).forEach(dropShadowedPatterns);
}

const [source, outDir] = process.argv.slice(2);
if (!source || !outDir) {
  console.error("usage: node export-schemas.mjs <schemas module> <output folder>");
  process.exit(2);
}
const module = await import(pathToFileURL(resolve(source)).href);
await mkdir(outDir, { recursive: true });
let written = 0;
for (const [name, schema] of Object.entries(module)) {
  if (!(schema instanceof z.ZodType)) continue;
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io: "input" });
  dropShadowedPatterns(json);
  await writeFile(join(outDir, `${name}.json`), JSON.stringify(json, null, 2) + "\n");
  console.log(`wrote ${join(outDir, `${name}.json`)}`);
  written += 1;
}
if (written === 0) {
  console.error(`no Zod schemas exported by ${source}`);
  process.exit(1);
}
