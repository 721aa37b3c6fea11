#!/usr/bin/env node
// `npm run loadtest`: the seeds' load shape (10,000 requests a minute across the core endpoints, job
// submissions, signed webhooks, 100 live SSE streams) against a fresh local stack, with Locust
// (tests/load/locustfile.py, pinned in tests/load/requirements.txt, installed into .venv-load on first
// use), bounded in time, then a report against the SLOs (docs/observability.md).
//
// Writes target/loadtest/: report.html (Locust's, with charts of throughput and latency over time),
// run_stats.csv / run_stats_history.csv (raw), and slo.md (latency percentiles per route, errors,
// throughput, each against its SLO), which is also printed.
//
// Knobs: LOADTEST_DURATION (default 3m), LOADTEST_USERS (API users at ~1 request/s each; default 167,
// i.e. 10,000 requests a minute), LOADTEST_STREAMS (default 100), LOADTEST_ACCOUNTS (default 20).
// The plan request limits are off for the run (it measures capacity, not the limits).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import crypto from "node:crypto";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const out = path.join(root, "target", "loadtest");
fs.mkdirSync(out, { recursive: true });
const duration = process.env.LOADTEST_DURATION ?? "3m";
const users = Number(process.env.LOADTEST_USERS ?? 167);
const streams = Number(process.env.LOADTEST_STREAMS ?? 100);
const accounts = Number(process.env.LOADTEST_ACCOUNTS ?? 20);
const SLO_P99_MS = 50;
const SLO_RPM = 10_000;
const log = (m) => console.log(`loadtest: ${m}`);

// 1. Locust, pinned.
const venv = path.join(root, ".venv-load");
const locust = path.join(venv, "bin", "locust");
const pin = fs.readFileSync(path.join(root, "tests/load/requirements.txt"), "utf8").match(/locust==([\d.]+)/)[1];
const have = fs.existsSync(locust) ? spawnSync(locust, ["--version"], { encoding: "utf8" }).stdout : "";
if (!have.includes(pin)) {
  log(`installing locust ${pin} into .venv-load`);
  const run = (cmd, args) => { const r = spawnSync(cmd, args, { stdio: "inherit" }); if (r.status !== 0) process.exit(1); };
  run("python3", ["-m", "venv", venv]);
  run(path.join(venv, "bin", "pip"), ["install", "-q", "--disable-pip-version-check", "-r", path.join(root, "tests/load/requirements.txt")]);
}

// 2. A fresh stack (its own database and ports), limits off.
log("starting the local stack");
const stack = spawn(process.execPath, [path.join(root, "scripts/stack.mjs"), "test"], {
  cwd: root, stdio: ["pipe", "pipe", "inherit"],
  env: { ...process.env, STACK_WORKER_VARS: JSON.stringify({ FF_RATE_LIMITS_ENABLED: "false" }) },
});
const info = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: stack.stdout });
  rl.on("line", (l) => { try { const v = JSON.parse(l); if (v.event === "ready") resolve(v); } catch {} });
  stack.on("exit", (c) => reject(new Error(`the stack exited (${c})`)));
});
const stop = () => new Promise((r) => { stack.once("exit", r); stack.stdin.end(); });

try {
  // 3. Accounts on ENTERPRISE with credits for the run (service role, this stack's own database).
  const service = (method, p, body) => fetch(`${info.postgrest_url}${p}`, {
    method, body: body && JSON.stringify(body),
    headers: { apikey: info.service_role_key, authorization: `Bearer ${info.service_role_key}`, "content-type": "application/json", prefer: "return=representation" },
  });
  const tokens = [];
  for (let i = 0; i < accounts; i++) {
    const email = `load-${i}-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const t = await (await fetch(`${info.supabase_url}/_dev/token`, { method: "POST", body: JSON.stringify({ email, expires_in: 3600 }), headers: { "content-type": "application/json" } })).json();
    const [acct] = await (await service("GET", `/accounts?personal_owner_id=eq.${t.user_id}&select=id`)).json();
    await service("PATCH", `/accounts?id=eq.${acct.id}`, { plan: "ENTERPRISE" });
    await service("POST", "/rpc/grant_credits", { p_account_id: acct.id, p_amount: 1_000_000, p_kind: "grant", p_reference: `load:${acct.id}` });
    tokens.push(t.access_token);
  }
  const setup = path.join(out, "setup.json");
  fs.writeFileSync(setup, JSON.stringify({
    tokens, stream_tokens: tokens, webhook_secret: info.stripe_webhook_secret,
    // Jobs call the Worker's own /health: a real HTTP round trip without leaving the machine.
    job_url: `${info.worker_url}/health`,
  }), { mode: 0o600 });

  // 4. The run.
  log(`running: ${users} API users (~${users * 60} requests/min offered) and ${streams} streams for ${duration}`);
  const r = spawnSync(locust, [
    "-f", path.join(root, "tests/load/locustfile.py"), "--headless", "--host", info.worker_url,
    "-u", String(users + streams), "-r", "50", "-t", duration, "--stop-timeout", "5",
    "--csv", path.join(out, "run"), "--csv-full-history", "--html", path.join(out, "report.html"), "--only-summary",
  ], { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, LOADTEST_SETUP: setup, LOADTEST_STREAMS: String(streams) } });
  if (r.status === null) throw new Error("locust did not finish");

  // 5. The SLO report.
  const rows = fs.readFileSync(path.join(out, "run_stats.csv"), "utf8").trim().split("\n").map((l) => l.split(","));
  const head = rows.shift();
  const col = (row, name) => row[head.indexOf(name)];
  const secs = (() => { const m = /^(\d+)([smh])$/.exec(duration); return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2]] : 180; })();
  const lines = [
    `# Load test: ${new Date().toISOString()}`, "",
    `${users} API users at ~1 request/s each, ${streams} live SSE streams, ${accounts} accounts, ${duration}, against wrangler dev on this machine (Locust ${pin}). Charts: report.html.`, "",
    "| route | requests | failures | req/s | p50 ms | p95 ms | p99 ms | SLO p99 < 50 ms |", "|---|---|---|---|---|---|---|---|",
  ];
  let total = 0;
  let failures = 0;
  for (const row of rows) {
    const name = col(row, "Name");
    if (col(row, "Name") === "Aggregated") continue;
    const n = Number(col(row, "Request Count"));
    const f = Number(col(row, "Failure Count"));
    const p99 = Number(col(row, "99%"));
    const isHttp = col(row, "Type") !== "SSE" && !col(row, "Name").includes("(open)");
    if (isHttp) { total += n; failures += f; }
    const verdict = col(row, "Type") === "SSE" ? "(delivery latency)" : !isHttp ? "–" : p99 < SLO_P99_MS ? "met" : "**missed**";
    lines.push(`| ${name} | ${n} | ${f} | ${Number(col(row, "Requests/s")).toFixed(1)} | ${col(row, "50%")} | ${col(row, "95%")} | ${col(row, "99%")} | ${verdict} |`);
  }
  const rpm = Math.round((total / secs) * 60);
  lines.push("", `Throughput: ${rpm} requests/min (SLO ${SLO_RPM}: ${rpm >= SLO_RPM ? "met" : "**missed**"}); errors: ${failures} of ${total} (${((failures / Math.max(total, 1)) * 100).toFixed(2)} %).`);
  lines.push("", "Local numbers: wrangler dev's proxy, a local PostgreSQL and the load generator share one machine; compare runs, not with production.");
  fs.writeFileSync(path.join(out, "slo.md"), lines.join("\n") + "\n");
  console.log("\n" + lines.join("\n"));
  log(`report: ${path.join(out, "slo.md")}, charts: ${path.join(out, "report.html")}`);
} finally {
  await stop();
}
