#!/usr/bin/env node
// Cold-start measurement of the Worker's WebAssembly (docs/adr/0019): size, gzipped size, V8 compile time
// and instantiate time of the module as built (`build/index_bg.wasm`, wasm-opt -O as worker-build runs it)
// and of the same wasm-bindgen output optimised at other wasm-opt levels, measured side by side in one
// run, alternating variants. Node's V8 compiles WebAssembly like workerd's (Liftoff first, TurboFan
// tiering up in the background), so the ratios carry over; the absolute numbers are this machine's.
//
//   npm run coldstart            (COLDSTART_ROUNDS, default 15)
//
// Needs `npm run build` first (build/ and target/wasm32-unknown-unknown/release/edge_saas.wasm).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const rounds = Number(process.env.COLDSTART_ROUNDS ?? 15);
const env = (name) => {
  const r = spawnSync("bash", ["-c", `source scripts/env.sh >/dev/null && echo "$${name}"`], { cwd: root, encoding: "utf8" });
  return r.stdout.trim();
};
const built = path.join(root, "build/index_bg.wasm");
const raw = path.join(root, "target/wasm32-unknown-unknown/release/edge_saas.wasm");
for (const f of [built, raw]) if (!fs.existsSync(f)) { console.error(`${f} is missing: run npm run build`); process.exit(2); }

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "edge-saas-coldstart-"));
// The same wasm-bindgen step worker-build runs, without wasm-opt.
const bindgen = spawnSync(env("WASM_BINDGEN_BIN"), [raw, "--out-dir", tmp, "--target", "web", "--no-typescript"], { encoding: "utf8" });
if (bindgen.status !== 0) { console.error(bindgen.stderr); process.exit(1); }
const unopt = path.join(tmp, "edge_saas_bg.wasm");
const features = ["mutable-globals", "sign-ext", "nontrapping-float-to-int", "bulk-memory", "multivalue", "reference-types", "exception-handling"]
  .map((f) => `--enable-${f}`);
const variants = [{ name: "as built (wasm-opt -O, names kept)", file: built }, { name: "no wasm-opt", file: unopt }];
for (const [level, names] of [["-O", false], ["-O3", true], ["-Os", true], ["-Oz", true], ["-Oz", false]]) {
  const out = path.join(tmp, `v${level}${names ? "n" : ""}.wasm`);
  const r = spawnSync(env("WASM_OPT_BIN"), [unopt, level, ...features, ...(names ? ["--debuginfo"] : []), "-o", out], { encoding: "utf8" });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  variants.push({ name: `wasm-opt ${level}${names ? ", names kept" : ", names stripped"}`, file: out });
}

// Imports as functions that are never called: instantiation only links them.
function stubImports(module) {
  const imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    imports[i.module] ??= {};
    if (i.kind === "function") imports[i.module][i.name] = () => {};
    else if (i.kind === "table") imports[i.module][i.name] = new WebAssembly.Table({ initial: 1024, element: "anyfunc" });
    else if (i.kind === "memory") imports[i.module][i.name] = new WebAssembly.Memory({ initial: 17 });
    else if (i.kind === "global") imports[i.module][i.name] = new WebAssembly.Global({ value: "i32", mutable: true }, 0);
    // wasm-bindgen's catch wrappers import the JS exception tag (one externref).
    else if (i.kind === "tag") imports[i.module][i.name] = WebAssembly.JSTag ?? new WebAssembly.Tag({ parameters: ["externref"] });
  }
  return imports;
}

const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
for (const v of variants) {
  v.bytes = fs.readFileSync(v.file);
  v.gz = zlib.gzipSync(v.bytes, { level: 9 }).length;
  v.compile = [];
  v.instantiate = [];
}
for (let r = 0; r < rounds; r++) {
  for (const v of (r % 2 ? [...variants].reverse() : variants)) {
    let t = performance.now();
    const m = await WebAssembly.compile(v.bytes);
    v.compile.push(performance.now() - t);
    const imports = stubImports(m);
    t = performance.now();
    try {
      await WebAssembly.instantiate(m, imports);
      v.instantiate.push(performance.now() - t);
    } catch (e) {
      v.instantiateError = String(e.message ?? e).slice(0, 80);
    }
  }
}
const base = variants[0];
console.log(`\nWebAssembly cold start, ${rounds} rounds alternating, node ${process.version} (V8 ${process.versions.v8})\n`);
console.log("| variant | size KB | gzip KB | compile ms | instantiate ms | compile vs as built |");
console.log("|---|---|---|---|---|---|");
for (const v of variants) {
  const c = median(v.compile);
  const inst = v.instantiate.length ? median(v.instantiate).toFixed(2) : `n/a (${v.instantiateError})`;
  console.log(`| ${v.name} | ${(v.bytes.length / 1024).toFixed(0)} | ${(v.gz / 1024).toFixed(0)} | ${c.toFixed(1)} | ${inst} | ${(c / median(base.compile)).toFixed(2)}× |`);
}
fs.rmSync(tmp, { recursive: true, force: true });
