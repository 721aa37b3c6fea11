#!/usr/bin/env node
// CPU profile of the running Worker (`npm run dev`) under a burst of requests, through the V8 inspector
// wrangler dev exposes (the same profiler its DevTools use), summarised as self time per function.
// The release wasm keeps its names section, so Rust functions appear by name.
//
//   npm run profile -- [path] [requests] [concurrency]     (default /health 2000 8; Node 22: WebSocket)
//   PROFILE_TOKEN=<access token> npm run profile -- /api/v1/me
//   PROFILE_OUT=target/profile.cpuprofile   also writes the raw profile (open it in Chrome DevTools)
//   PROFILE_BY_LINE=1                        tells functions apart by source line (anonymous ones)
//
// Env: DEV_WORKER_PORT (8787), DEV_INSPECTOR_PORT (9229).
import fs from "node:fs";

if (typeof WebSocket === "undefined") {
  console.error("profile: this Node has no WebSocket (Node 22 or later needed); run it as `npm run profile`, which uses the project's Node 22");
  process.exit(2);
}
const [path = "/health", nReq = "2000", conc = "8"] = process.argv.slice(2);
const worker = `http://127.0.0.1:${process.env.DEV_WORKER_PORT ?? 8787}`;
const inspector = `http://127.0.0.1:${process.env.DEV_INSPECTOR_PORT ?? 9229}`;
const headers = process.env.PROFILE_TOKEN ? { authorization: `Bearer ${process.env.PROFILE_TOKEN}` } : {};

const targets = await (await fetch(`${inspector}/json/list`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl && !/browser-consumer/.test(t.title ?? "")) ?? targets[0];
if (!target) throw new Error(`no inspector target at ${inspector}`);
// The inspector proxy accepts DevTools clients only: it requires an Origin header.
const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { Origin: "https://devtools.devprod.cloudflare.dev" } });
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
let nextId = 1;
const pending = new Map();
ws.onmessage = (m) => {
  const msg = JSON.parse(typeof m.data === "string" ? m.data : m.data.toString());
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
};
// Every inspector call is bounded: a closed socket or a lost answer fails the run instead of hanging it.
ws.onclose = () => { for (const settle of pending.values()) settle(null); pending.clear(); };
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  const timer = setTimeout(() => { pending.delete(id); reject(new Error(`inspector: no answer to ${method} in 60 s`)); }, 60_000);
  pending.set(id, (msg) => {
    clearTimeout(timer);
    if (msg === null) reject(new Error(`inspector: connection closed before ${method} answered`));
    else if (msg.error) reject(new Error(`inspector: ${method}: ${msg.error.message}`));
    else resolve(msg);
  });
  ws.send(JSON.stringify({ id, method, params }));
});
const get = async (url) => {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  await r.arrayBuffer();
  return r.status;
};

// Warm up, then profile the burst.
for (let i = 0; i < 50; i++) await get(worker + path);
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 50 });
await send("Profiler.start");
let next = 0;
const statuses = {};
await Promise.all(Array.from({ length: Number(conc) }, async () => {
  while (next++ < Number(nReq)) {
    const status = await get(worker + path);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
}));
const { result } = await send("Profiler.stop");
const profile = result.profile;
if (process.env.PROFILE_OUT) fs.writeFileSync(process.env.PROFILE_OUT, JSON.stringify(profile));

// Self time per node from the samples and their time deltas.
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const byName = new Map();
let total = 0;
for (const node of profile.nodes) {
  const t = self.get(node.id) ?? 0;
  const f = node.callFrame;
  if (f.functionName === "(idle)") continue;
  const file = (f.url || "").split("/").pop();
  const at = process.env.PROFILE_BY_LINE && f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : "";
  const key = `${f.functionName || "(anonymous)"}${file ? `  [${file}${at}]` : ""}`;
  byName.set(key, (byName.get(key) ?? 0) + t);
  total += t;
}
const top = [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 30));
console.log(`\n${path}: ${nReq} requests, ${conc} at a time, statuses ${JSON.stringify(statuses)}; ` +
  `${(total / 1000).toFixed(0)} ms of sampled non-idle time, ${(total / 1000 / Number(nReq)).toFixed(3)} ms per request\n`);
console.log("| self % | self ms/req | function |");
console.log("|---|---|---|");
for (const [k, t] of top) console.log(`| ${(100 * t / total).toFixed(1)} | ${(t / 1000 / Number(nReq)).toFixed(4)} | ${k} |`);
// wrangler dev's inspector never completes a WebSocket close handshake, so a graceful close would keep Node
// waiting for it: the run is over, leave without it.
process.exit(0);
