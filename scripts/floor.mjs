#!/usr/bin/env node
// The CPU floor of a route (docs/adr/0021): the project's Worker against Workers that do only that
// route's I/O and nothing else (bench/floor: one in JavaScript, and for `GET /api/v1/me` one in Rust
// through workers-rs), all under `wrangler dev` on the running dev stack, in alternating rounds.
// CPU = utime+stime of the workerd processes of each `wrangler dev`, per request.
//
//   npm run bench:floor          (FLOOR_ROUNDS 3, FLOOR_N16 800, FLOOR_N1 300, FLOOR_PORT 8810..8813)
//   FLOOR_ALSO=<url> npm run bench:floor    also measures another Worker serving the route under wrangler dev
//   FLOOR_ROUTE=webhook npm run bench:floor  `POST /api/v1/billing/webhooks` (signed events, each recorded by
//                                            the Worker's queue consumer) instead of `GET /api/v1/me`
//
// Needs `npm run dev` running as the README's Benchmarks section says for CPU comparisons (plan limits
// off, or the bursts meet the per-IP limiter's 429s; no local-only scheduled middleware):
//   STACK_WORKER_VARS='{"FF_RATE_LIMITS_ENABLED":"false"}' DEV_TEST_SCHEDULED=0 npm run dev
import fs from "node:fs";
import path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const rounds = Number(process.env.FLOOR_ROUNDS ?? 3);
const n16 = Number(process.env.FLOOR_N16 ?? 800);
const n1 = Number(process.env.FLOOR_N1 ?? 300);
const die = (msg) => { console.error(`bench:floor: ${msg}`); process.exit(1); };
const route = process.env.FLOOR_ROUTE ?? "me";
if (!["me", "webhook"].includes(route)) die(`FLOOR_ROUTE must be me or webhook, not ${route}`);
const routeName = route === "me" ? "GET /api/v1/me" : "POST /api/v1/billing/webhooks";
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
const webhookSecret = stack.stripe_webhook_secret || dotenv.STRIPE_WEBHOOK_SECRET;
if (route === "webhook" && !webhookSecret) die("the dev stack has no Stripe webhook secret");

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
if (route === "me") { // floor-rs serves `GET /api/v1/me` only
  console.log("building bench/floor/rs (workers-rs, the project's versions and release profile) ...");
  const built = spawnSync("bash", ["-c", `source "${root}/scripts/env.sh" && "$WORKER_BUILD_BIN" --release`], { cwd: rsDir, encoding: "utf8" });
  if (built.status !== 0) die(`building bench/floor/rs failed:\n${built.stdout}${built.stderr}`);
}

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
  // The webhook route's queue, batched as the project's `stripe-webhooks` consumer is (wrangler.toml).
  const queue = route === "webhook"
    ? `\n[[queues.producers]]\nbinding = "STRIPE_WEBHOOKS_QUEUE"\nqueue = "${name}-webhooks"\n` +
      `\n[[queues.consumers]]\nqueue = "${name}-webhooks"\nmax_batch_size = 10\nmax_batch_timeout = 1\nmax_retries = 10\n`
    : "";
  fs.writeFileSync(path.join(dir, "wrangler.toml"),
    `name = "${name}"\nmain = ${JSON.stringify(script)}\ncompatibility_date = "2026-11-01"\nworkers_dev = false\n${queue}`);
  // Keys as wrangler dev reads secrets (.dev.vars beside the config), not on a command line.
  fs.writeFileSync(path.join(dir, ".dev.vars"), [
    `SUPABASE_ANON_KEY=${JSON.stringify(dotenv.SUPABASE_ANON_KEY ?? "")}`,
    `SUPABASE_SERVICE_ROLE_KEY=${JSON.stringify(dotenv.SUPABASE_SERVICE_ROLE_KEY ?? "")}`,
    `STRIPE_WEBHOOK_SECRET=${JSON.stringify(webhookSecret ?? "")}`,
  ].join("\n") + "\n", { mode: 0o600 });
  const args = [wrangler, "dev", "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--show-interactive-dev-session=false", "--var", `POSTGREST_URL:${stack.postgrest_url}`];
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
  ...(route === "me" ? [startFloor("floor-rs", path.join(rsDir, "build/index.js"), basePort, basePort + 1)] : []),
  startFloor("floor-js", path.join(root, "bench/floor/js/index.js"), basePort + 2, basePort + 3),
];
// Another Worker serving the same route under `wrangler dev` on this stack, e.g. a reference
// implementation: FLOOR_ALSO=http://127.0.0.1:8797
if (process.env.FLOOR_ALSO) {
  const url = process.env.FLOOR_ALSO.replace(/\/$/, "");
  sides.push({ name: url, url, pid: wranglerServing(new URL(url).port) });
}
for (const side of sides) if (!side.pid) die(`no wrangler dev serves ${side.url}`);

// Webhooks: a distinct event per request (as Stripe sends them), of a type the consumers record and do
// not act on, signed as Stripe signs (t=<unix>,v1=<HMAC-SHA256 of "t.body">).
const runId = Date.now().toString(36);
const sent = new Map(); // side name -> events accepted
let seq = 0;
async function call(side) {
  if (route === "me") {
    const r = await fetch(`${side.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    await r.arrayBuffer();
    return r.status;
  }
  const id = `evt_floor_${runId}_${side.tag}_${seq++}`;
  const body = JSON.stringify({ id, object: "event", type: "charge.succeeded", created: 1795500000, data: { object: { id: "ch_1" } } });
  const t = Math.floor(Date.now() / 1000);
  const signature = `t=${t},v1=${createHmac("sha256", webhookSecret).update(`${t}.${body}`).digest("hex")}`;
  const r = await fetch(`${side.url}/api/v1/billing/webhooks`, {
    method: "POST", body, headers: { "content-type": "application/json", "stripe-signature": signature },
  });
  await r.arrayBuffer();
  if (r.status === 200) sent.set(side.name, (sent.get(side.name) ?? 0) + 1);
  return r.status;
}
sides.forEach((side, i) => { side.tag = `s${i}`; });
for (const side of sides) {
  const until = Date.now() + 120_000;
  while ((await call(side).catch(() => 0)) !== 200) {
    if (Date.now() > until) die(`${side.name} at ${side.url} does not answer 200 (log: ${state})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  side.workerds = workerdsUnder(side.pid);
}

// A webhook's work ends in its queue consumer, after the answer: count the CPU until the side's processes
// have been idle for 1.5 s (longer than the consumers' 1 s batch timeout), at most 20 s.
async function settle(side) {
  const until = Date.now() + 20_000;
  let last = cpuTicks(side.workerds);
  let quietSince = Date.now();
  while (Date.now() - quietSince < 1500 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    const now = cpuTicks(side.workerds);
    if (now !== last) { last = now; quietSince = Date.now(); }
  }
}

async function burst(side, n, c) {
  const statuses = {};
  let next = 0;
  const before = cpuTicks(side.workerds);
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      next += 1;
      const s = await call(side).catch(() => 0);
      statuses[s] = (statuses[s] ?? 0) + 1;
    }
  }));
  if (route === "webhook") await settle(side);
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

// Every accepted event must have been recorded by its Worker's consumer: a floor that dropped work would
// be no floor.
if (route === "webhook") {
  for (const side of sides) {
    const prefix = `evt_floor_${runId}_${side.tag}_`;
    const until = Date.now() + 60_000;
    let recorded = -1;
    while (Date.now() < until) {
      const r = await fetch(`${stack.postgrest_url}/webhook_events?select=id&id=like.${prefix}*`, {
        headers: { apikey: dotenv.SUPABASE_SERVICE_ROLE_KEY, authorization: `Bearer ${dotenv.SUPABASE_SERVICE_ROLE_KEY}` },
      });
      recorded = r.ok ? (await r.json()).length : -1;
      if (recorded >= sent.get(side.name)) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    if (recorded !== sent.get(side.name)) die(`${side.name}: ${sent.get(side.name)} events accepted, ${recorded} recorded by its consumer`);
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const load = fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`\n${routeName}, CPU ms per request (all workerd processes of each wrangler dev), ${rounds} alternating rounds, load ${load}\n`);
const against = sides.filter((s) => s.name.startsWith("floor-") || s.name === process.env.FLOOR_ALSO?.replace(/\/$/, ""));
console.log(`| Worker | c | per round | median | ${against.map((a) => `/ ${a.name}`).join(" | ")} |`);
console.log(`|---|---|---|---|${against.map(() => "---").join("|")}|`);
for (const c of [16, 1]) {
  const med = Object.fromEntries(sides.map((s) => [s.name, median(results.filter((x) => x.side === s.name && x.c === c).map((x) => x.ms))]));
  for (const s of sides) {
    const per = results.filter((x) => x.side === s.name && x.c === c).map((x) => x.ms.toFixed(2)).join(" / ");
    console.log(`| ${s.name} | ${c} | ${per} | ${med[s.name].toFixed(2)} | ${against.map((a) => (med[s.name] / med[a.name]).toFixed(2)).join(" | ")} |`);
  }
}
process.exit(0);
