// Builds the dashboard (dashboard/src, Preact + TypeScript) into dashboard/dist for Workers Static Assets:
// one minified, content-hashed script and stylesheet under /assets/, index.html naming them, the favicon,
// and a _headers file (hashed assets are immutable). Fails when the gzipped total passes the budget.
//   node scripts/build-dashboard.mjs [--quiet]
import * as esbuild from "esbuild";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "dashboard");
const dist = path.join(src, "dist");
const BUDGET_GZ_BYTES = 100 * 1024;

fs.rmSync(dist, { recursive: true, force: true });
fs.mkdirSync(path.join(dist, "assets"), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: path.join(src, "src/main.tsx") },
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: path.join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.basename(f));
const js = outputs.find((f) => f.endsWith(".js"));
const css = outputs.find((f) => f.endsWith(".css"));
if (!js || !css) throw new Error(`dashboard build: expected a .js and a .css output, got ${outputs.join(", ")}`);
const html = fs.readFileSync(path.join(src, "index.html"), "utf8").replace("{{app.js}}", js).replace("{{app.css}}", css);
fs.writeFileSync(path.join(dist, "index.html"), html);
fs.copyFileSync(path.join(src, "favicon.svg"), path.join(dist, "assets", "favicon.svg"));
fs.writeFileSync(path.join(dist, "_headers"), [
  "/assets/*",
  "  Cache-Control: public, max-age=31536000, immutable",
  "  X-Content-Type-Options: nosniff",
  "",
].join("\n"));

const files = ["index.html", `assets/${js}`, `assets/${css}`, "assets/favicon.svg"];
const sizes = files.map((f) => {
  const buf = fs.readFileSync(path.join(dist, f));
  return { f, raw: buf.length, gz: zlib.gzipSync(buf, { level: 9 }).length };
});
const total = sizes.reduce((s, x) => s + x.gz, 0);
if (!process.argv.includes("--quiet")) {
  for (const s of sizes) console.log(`dashboard: ${s.f.padEnd(28)} ${(s.raw / 1024).toFixed(1).padStart(7)} KB  ${(s.gz / 1024).toFixed(1).padStart(6)} KB gzip`);
}
console.log(`dashboard: total ${(total / 1024).toFixed(1)} KB gzip (budget ${BUDGET_GZ_BYTES / 1024} KB)`);
if (total > BUDGET_GZ_BYTES) {
  console.error(`dashboard: over the ${BUDGET_GZ_BYTES / 1024} KB gzip budget`);
  process.exit(1);
}
