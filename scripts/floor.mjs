#!/usr/bin/env node
// The CPU floor of `GET /api/v1/me` (docs/adr/0021): the project's Worker against two Workers that do
// only that route's I/O (one PostgREST call with the caller's token, the envelope, the security headers,
// one log line) and nothing else, one in JavaScript (bench/floor/js) and one in Rust through workers-rs
// (bench/floor/rs), all under `wrangler dev` on the running dev stack, in alternating rounds.
// CPU = utime+stime of the workerd processes of each `wrangler dev`, per request.
//
//   npm run bench:floor          (FLOOR_ROUNDS 3, FLOOR_N16 800, FLOOR_N1 300, FLOOR_PORT 8810..8813)
//   FLOOR_ALSO=<url> npm run bench:floor    also measures another Worker serving the route under wrangler dev
//
// Needs `npm run dev` running as the README's Benchmarks section says for CPU comparisons (plan limits
// off, or the bursts meet the per-IP limiter's 429s; no local-only scheduled middleware):
//   STACK_WORKER_VARS='{"FF_RATE_LIMITS_ENABLED":"false"}' DEV_TEST_SCHEDULED=0 npm run dev
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const rounds = Number(process.env.FLOOR_ROUNDS ?? 3);
const n16 = Number(process.env.FLOOR_N16 ?? 800);
const n1 = Number(process.env.FLOOR_N1 ?? 300);
const die = (msg) => { console.error(`bench:floor: ${msg}`); process.exit(1); };
const clkTck = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

const stackFile = path.join(root, ".local/dev/stack.json");
if (!fs.existsSync(stackFile)) die("the dev stack is not running: start it with `npm run dev` (see the header of this script)");
const stack = JSON.parse(fs.readFileSync(stackFile, "utf8"));
const workerEnv = path.join(root, ".local/dev/worker.env");
if (!fs.existsSync(workerEnv)) die(`${workerEnv} is missing: start the dev stack with \`npm run dev\``);
const dotenv = Object.fromEntries(fs.readFileSync(workerEnv, "utf8").split("\n")
  .map((l) => l.match(/^([A-Z0-9_]+)=(.*)$/)).filter(Boolean).map((m) => [m[1], m[2].replace(/^"(.*)"$/, "$1")]));
const tokenResp = await fetch(`${stack.supabase_url}/_dev/token`, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "bench-floor@example.com" }),
}).catch((e) => die(`the dev stack's auth server is not reachable: ${e.message}`));
const { access_token: token } = await tokenResp.json();
if (!token) die("no token from the dev stack's auth server");

// ---- processes ---------------------------------------------------------------------------------------
const stat = (pid) => {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) };
  } catch { return undefined; }
};
const comm = (pid) => { try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return ""; } };
const cmdline = (pid) => { try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "); } catch { return ""; } };
function workerdsUnder(top) {
  const children = new Map();
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const s = stat(e);
    if (s) children.set(s.ppid, [...(children.get(s.ppid) ?? []), Number(e)]);
  }
  const out = [];
  const walk = (p) => { if (comm(p) === "workerd") out.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(top);
  return out;
}
function wranglerServing(port) {
  const ss = spawnSync("ss", ["-Hltnp", `sport = :${port}`], { encoding: "utf8" }).stdout;
  let pid = Number(ss.match(/pid=(\d+)/)?.[1]);
  while (pid > 1) {
    if (/wrangler/.test(cmdline(pid))) return pid;
    pid = stat(pid)?.ppid;
  }
  return undefined;
}
const cpuTicks = (pids) => pids.reduce((sum, p) => sum + (stat(p)?.ticks ?? 0), 0);

// ---- the floor Workers -------------------------------------------------------------------------------
const rsDir = path.join(root, "bench/floor/rs");
console.log("building bench/floor/rs (workers-rs, the project's versions and release profile) ...");
const built = spawnSync("bash", ["-c", `source "${root}/scripts/env.sh" && "$WORKER_BUILD_BIN" --release`], { cwd: rsDir, encoding: "utf8" });
if (built.status !== 0) die(`building bench/floor/rs failed:\n${built.stdout}${built.stderr}`);

const node = path.join(root, "node_modules/.bin/node");
const wrangler = path.join(root, "node_modules/.bin/wrangler");
const state = path.join(root, ".local/bench-floor");
fs.mkdirSync(state, { recursive: true });
const started = [];
function startFloor(name, script, port, inspectorPort) {
  for (const p of [port, inspectorPort]) {
    if (spawnSync("ss", ["-Hltn", `sport = :${p}`], { encoding: "utf8" }).stdout.trim()) die(`port ${p} is in use: set FLOOR_PORT`);
  }
  // Its own wrangler.toml: without one, wrangler would find the project's (and its build command) upwards.
  const dir = path.join(state, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "wrangler.toml"),
    `name = "${name}"\nmain = ${JSON.stringify(script)}\ncompatibility_date = "2026-11-01"\nworkers_dev = false\n`);
  const args = [wrangler, "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--show-interactive-dev-session=false",
    "--var", `POSTGREST_URL:${stack.postgrest_url}`, "--var", `SUPABASE_ANON_KEY:${dotenv.SUPABASE_ANON_KEY}`];
  const log = fs.openSync(path.join(state, `${name}.log`), "w");
  const child = spawn(node, args, {
    cwd: dir, detached: true, stdio: ["ignore", log, log],
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_UPDATE_NOTIFIER: "1" },
  });
  started.push(child);
  return { name, url: `http://127.0.0.1:${port}`, pid: child.pid };
}
const stopAll = () => { for (const c of started) { try { process.kill(-c.pid, "SIGTERM"); } catch { /* gone */ } } };
process.on("exit", stopAll);
process.on("SIGINT", () => process.exit(130));

const basePort = Number(process.env.FLOOR_PORT ?? 8810);
const sides = [
  { name: "project Worker", url: stack.worker_url, pid: wranglerServing(new URL(stack.worker_url).port) },
  startFloor("floor-rs", path.join(rsDir, "build/index.js"), basePort, basePort + 1),
  startFloor("floor-js", path.join(root, "bench/floor/js/index.js"), basePort + 2, basePort + 3),
];
// Another Worker serving the same route under `wrangler dev` on this stack, e.g. a reference
// implementation: FLOOR_ALSO=http://127.0.0.1:8797
if (process.env.FLOOR_ALSO) {
  const url = process.env.FLOOR_ALSO.replace(/\/$/, "");
  sides.push({ name: url, url, pid: wranglerServing(new URL(url).port) });
}
for (const side of sides) if (!side.pid) die(`no wrangler dev serves ${side.url}`);

async function get(url) {
  const r = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
  await r.arrayBuffer();
  return r.status;
}
for (const side of sides) {
  const until = Date.now() + 120_000;
  while ((await get(side.url).catch(() => 0)) !== 200) {
    if (Date.now() > until) die(`${side.name} at ${side.url} does not answer 200 (log: ${state})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  side.workerds = workerdsUnder(side.pid);
}

async function burst(side, n, c) {
  const statuses = {};
  let next = 0;
  const before = cpuTicks(side.workerds);
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      next += 1;
      const s = await get(side.url).catch(() => 0);
      statuses[s] = (statuses[s] ?? 0) + 1;
    }
  }));
  const ms = ((cpuTicks(side.workerds) - before) * 1000) / clkTck / n;
  if (statuses[429]) die(`${side.name} answered 429: start the dev stack with the plan limits off (see the header of this script)`);
  if (Object.keys(statuses).some((s) => s !== "200")) die(`${side.name}: statuses ${JSON.stringify(statuses)}`);
  return ms;
}

// ---- the rounds --------------------------------------------------------------------------------------
for (const side of sides) await burst(side, 200, 16); // warm-up: JIT, connections, the JWKS
const results = [];
for (const [c, n] of [[16, n16], [1, n1]]) {
  for (let r = 0; r < rounds; r++) {
    for (const side of sides) results.push({ side: side.name, c, ms: await burst(side, n, c) });
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`\nGET /api/v1/me, CPU ms per request (all workerd processes of each wrangler dev), ${rounds} alternating rounds, load ${load}\n`);
console.log("| Worker | c | per round | median | / floor-js | / floor-rs |");
console.log("|---|---|---|---|---|---|");
for (const c of [16, 1]) {
  const med = Object.fromEntries(sides.map((s) => [s.name, median(results.filter((x) => x.side === s.name && x.c === c).map((x) => x.ms))]));
  for (const s of sides) {
    const per = results.filter((x) => x.side === s.name && x.c === c).map((x) => x.ms.toFixed(2)).join(" / ");
    console.log(`| ${s.name} | ${c} | ${per} | ${med[s.name].toFixed(2)} | ${(med[s.name] / med["floor-js"]).toFixed(2)} | ${(med[s.name] / med["floor-rs"]).toFixed(2)} |`);
  }
}
process.exit(0);
