// Starts the whole local stack and stops all of it: PostgreSQL (a cluster owned by the project), the
// Supabase bootstrap and sql/ migrations, the local auth key server, postrust (PostgREST-compatible),
// the local Browser Rendering server (headless Chromium), and `wrangler dev` running the Worker.
//
//   node scripts/stack.mjs dev    fixed ports, state in .local/dev, prints what runs where and a dev
//                                 token; Ctrl-C stops everything; a rerun after a crash recovers.
//   node scripts/stack.mjs test   free ports, state in a fresh temp folder (its own database); prints one
//                                 JSON line {"event":"ready",...} on stdout; takes commands on stdin
//                                 ("db stop", "db start", "auth stop", "auth start", "worker vars {json}":
//                                 restart the Worker with these vars changed, queues and Durable Objects
//                                 kept), answering each with {"event":"ack"}; tears down and deletes its
//                                 state when stdin closes.
//                                 Options (environment): STACK_DB_POOL_TIMEOUT (seconds postrust waits for a
//                                 database connection before a 503), STACK_JWT_SECRET (a secret of >= 32 characters:
//                                 HS256 tokens accepted by postrust and the Worker), STACK_WORKER_VARS
//                                 (JSON object of extra Worker vars, e.g. short JWKS cache windows),
//                                 STACK_BROWSER_CONSUMER_VARS (JSON object: run the browser-jobs consumer
//                                 as a second Worker in the same wrangler dev, the same code with these
//                                 vars changed, as when a deploy changes a flag while messages wait),
//                                 STACK_AUTH_JWT_EXPIRY (seconds the auth server's session tokens live),
//                                 STACK_DROP_PRODUCERS (comma-separated producer bindings left out of the
//                                 Worker's config, as in a deploy that forgot one: sends to them fail).
//   node scripts/stack.mjs pgtap  PostgreSQL only, in a temp folder: migrations up, every migration down
//                                 and up again (each is reversible), then pg_prove on sql/tests/*.sql.
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const mode = process.argv[2];
if (!["dev", "test", "pgtap"].includes(mode)) {
  console.error("usage: node scripts/stack.mjs dev|test|pgtap");
  process.exit(2);
}
const isTest = mode === "test" || mode === "pgtap";
const log = (...a) => console.error(`\x1b[1mstack:\x1b[0m`, ...a);

// ---- tool paths (same as scripts/env.sh) ----------------------------------------------------------
function toolEnv() {
  const out = execFileSync("bash", ["-c", `source "${root}/scripts/env.sh" && env -0`], { encoding: "utf8" });
  return Object.fromEntries(out.split("\0").filter(Boolean).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
}
const env = toolEnv();
const pgBin = (name) => path.join(env.PG_BINDIR, name);
const isRoot = process.getuid?.() === 0;

// ---- ports and state -----------------------------------------------------------------------------
// A test stack's ports come from below the kernel's ephemeral range: a port picked there could be taken by
// any outgoing connection's local port (other tests' stacks make thousands) in the tens of seconds between
// picking it and wrangler binding it, as happened once in CI ("Address already in use").
const ephemeralLow = (() => {
  try { return Number(fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768; }
  catch { return 32768; }
})();
const picked = new Set();
async function freePort() {
  const [low, high] = ephemeralLow > 20000 ? [10000, ephemeralLow - 1] : [ephemeralLow, ephemeralLow];
  for (let attempt = 0; low < high && attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (!picked.has(port) && await portFree(port)) { picked.add(port); return port; }
  }
  // No room below the ephemeral range on this machine: let the kernel choose.
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}
async function portFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

const stateDir = isTest
  ? fs.mkdtempSync(path.join(os.tmpdir(), "edge-saas-stack-"))
  : path.join(root, ".local", "dev");
fs.mkdirSync(path.join(stateDir, "logs"), { recursive: true });
fs.chmodSync(stateDir, 0o755); // the postgres user must reach its data folder inside
const envInt = (name, dflt) => Number(process.env[name] ?? dflt);
const ports = isTest
  ? { worker: await freePort(), inspector: await freePort(), pg: await freePort(), rest: await freePort(), auth: await freePort(), browser: await freePort(), stripe: await freePort(), sentry: await freePort(), ai: await freePort() }
  : {
      worker: envInt("DEV_WORKER_PORT", 8787), inspector: envInt("DEV_INSPECTOR_PORT", 9229),
      pg: envInt("DEV_PG_PORT", 54329), rest: envInt("DEV_POSTGREST_PORT", 54322), auth: envInt("DEV_AUTH_PORT", 54321),
      browser: envInt("DEV_BROWSER_RENDERING_PORT", 54330), stripe: envInt("DEV_STRIPE_PORT", 54331),
      sentry: envInt("DEV_SENTRY_PORT", 54340), ai: envInt("DEV_AI_PORT", 54333),
    };

// ---- child processes -----------------------------------------------------------------------------
const children = new Map(); // name -> ChildProcess
const pidFile = path.join(stateDir, "pids.json");
function savePids() {
  fs.writeFileSync(pidFile, JSON.stringify(Object.fromEntries([...children].map(([n, c]) => [n, c.pid]))));
}
function alive(pid) { try { process.kill(pid, 0); return true; } catch { return false; } }

function startChild(name, cmd, args, extraEnv = {}) {
  const out = fs.openSync(path.join(stateDir, "logs", `${name}.log`), "a");
  const child = spawn(cmd, args, {
    cwd: root, env: { ...process.env, ...env, ...extraEnv }, stdio: ["ignore", out, out], detached: true,
  });
  children.set(name, child);
  child.on("error", (e) => log(`${name} could not start: ${e.message}`));
  savePids();
  child.on("exit", (code, signal) => {
    if (children.get(name) === child) {
      children.delete(name);
      savePids();
      if (!stopping) log(`${name} exited (${signal ?? code}); see ${path.join(stateDir, "logs", `${name}.log`)}`);
    }
  });
  return child;
}

async function stopChild(name) {
  const child = children.get(name);
  if (!child) return;
  children.delete(name);
  const exited = new Promise((r) => child.once("exit", r));
  try { process.kill(-child.pid, "SIGTERM"); } catch {}
  const timer = setTimeout(() => { try { process.kill(-child.pid, "SIGKILL"); } catch {} }, 5000);
  await exited;
  clearTimeout(timer);
  savePids();
}

// A previous run that crashed may have left children behind: stop them before taking the ports.
async function reapLeftovers() {
  if (!fs.existsSync(pidFile)) return;
  const pids = Object.entries(JSON.parse(fs.readFileSync(pidFile, "utf8") || "{}"));
  for (const [name, pid] of pids) {
    if (alive(pid)) {
      log(`stopping ${name} (pid ${pid}) left by an earlier run`);
      try { process.kill(-pid, "SIGKILL"); } catch { try { process.kill(pid, "SIGKILL"); } catch {} }
    }
  }
  // Wait (bounded) until they are gone so their ports are free again.
  const until = Date.now() + 10000;
  while (pids.some(([, pid]) => alive(pid)) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(pidFile, { force: true });
}

// ---- PostgreSQL ----------------------------------------------------------------------------------
const pgData = path.join(stateDir, "pg");
const databaseUrl = `postgres://postgres@127.0.0.1:${ports.pg}/app`;
function asPostgres(cmd, args, opts = {}) {
  const [c, a] = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const r = spawnSync(c, a, { encoding: "utf8", cwd: "/", ...opts });
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stdout}${r.stderr}`);
  }
  return r;
}
function pgCtl(...args) {
  return asPostgres(pgBin("pg_ctl"), ["-D", pgData, ...args], { allowFail: true });
}
function pgInit() {
  if (fs.existsSync(path.join(pgData, "PG_VERSION"))) return;
  fs.mkdirSync(pgData, { recursive: true });
  if (isRoot) execFileSync("chown", ["-R", "postgres:postgres", pgData]);
  fs.chmodSync(pgData, 0o700);
  log("initdb", pgData);
  asPostgres(pgBin("initdb"), ["-D", pgData, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync"]);
}
function pgStart() {
  if (pgCtl("status").status === 0) {
    log("stopping a PostgreSQL left running by an earlier run");
    pgCtl("stop", "-m", "immediate", "-w");
  }
  const opts = `-p ${ports.pg} -k ${pgData} -c listen_addresses=127.0.0.1 -c fsync=${isTest ? "off" : "on"}`;
  const r = pgCtl("start", "-w", "-t", "60", "-l", path.join(pgData, "server.log"), "-o", opts);
  if (r.status !== 0) throw new Error(`PostgreSQL did not start:\n${r.stdout}${r.stderr}\n(see ${pgData}/server.log)`);
}
function pgStop() { pgCtl("stop", "-m", "fast", "-w", "-t", "30"); }
function psql(args, opts = {}) {
  return execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", ...args], {
    encoding: "utf8", env: { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(ports.pg), PGUSER: "postgres" }, ...opts,
  });
}
function migrate() {
  const exists = psql(["-d", "postgres", "-At", "-c", "select 1 from pg_database where datname = 'app'"]).trim();
  if (!exists) psql(["-d", "postgres", "-c", "create database app"]);
  const e = { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(ports.pg), PGUSER: "postgres", PGDATABASE: "app" };
  for (const step of ["bootstrap", "up"]) {
    const r = spawnSync("bash", [path.join(root, "scripts/migrate.sh"), step], { env: e, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`migrate ${step} failed:\n${r.stdout}${r.stderr}`);
    if (r.stdout.trim()) log(r.stdout.trim());
  }
}

// ---- readiness -----------------------------------------------------------------------------------
async function waitFor(what, url, okStatuses, deadlineMs) {
  const until = Date.now() + deadlineMs;
  let last = "no answer yet";
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (okStatuses.includes(r.status)) return r;
      last = `HTTP ${r.status}`;
    } catch (e) { last = e.cause?.code ?? e.message; }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} was not ready at ${url} within ${deadlineMs / 1000}s (${last})`);
}

// ---- the stack -----------------------------------------------------------------------------------
let stopping = false;
const supabaseUrl = `http://127.0.0.1:${ports.auth}`;
const restUrl = `http://127.0.0.1:${ports.rest}`;
const workerUrl = `http://127.0.0.1:${ports.worker}`;
const browserUrl = `http://127.0.0.1:${ports.browser}`;
// The path Cloudflare's API uses, with a placeholder account id: the Worker only ever sees configuration.
const browserRenderingUrl = `${browserUrl}/client/v4/accounts/local/browser-rendering`;
// A fresh API token per run, known only to the local server and the Worker.
const { randomBytes } = await import("node:crypto");
const browserToken = randomBytes(24).toString("hex");
// The local Stripe stand-in: a fresh API key and webhook signing secret per run (like `stripe listen`),
// and dev prices for the paid plans and a credit pack, so billing works out of the box.
const stripeUrl = `http://127.0.0.1:${ports.stripe}`;
const stripeKey = `sk_test_local_${randomBytes(16).toString("hex")}`;
const stripeWebhookSecret = `whsec_${randomBytes(24).toString("hex")}`;
const stripePrices = [
  { id: "price_dev_pro", plan: "PRO", unit_amount: 2900, recurring: true },
  { id: "price_dev_enterprise", plan: "ENTERPRISE", unit_amount: 9900, recurring: true },
  { id: "price_dev_small", pack: "small", credits: 100, unit_amount: 1000, recurring: false },
];

// The local Sentry stand-in: a fresh DSN key per run; the Worker only sees SENTRY_DSN.
const sentryUrl = `http://127.0.0.1:${ports.sentry}`;
const sentryKey = randomBytes(16).toString("hex");
const sentryDsn = `http://${sentryKey}@127.0.0.1:${ports.sentry}/1`;

// The local AI Gateway stand-in (OpenAI-compatible chat completions): a fresh provider key and gateway
// token per run; the Worker sees only the AI_GATEWAY_* configuration it would see in production.
const aiUrl = `http://127.0.0.1:${ports.ai}`;
const aiKey = `sk-local-${randomBytes(16).toString("hex")}`;
const aiGatewayToken = randomBytes(20).toString("hex");

const jwtSecret = process.env.STACK_JWT_SECRET || (!isTest && process.env.DEV_JWT_SECRET) || "";
if (jwtSecret && jwtSecret.length < 32) throw new Error("the JWT secret must be at least 32 characters");
const extraWorkerVars = JSON.parse(process.env.STACK_WORKER_VARS || "{}");

function startAuth() {
  return startChild("auth", path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/auth-server.mjs")], {
    AUTH_PORT: String(ports.auth), AUTH_STATE_DIR: path.join(stateDir, "auth"), SUPABASE_URL: supabaseUrl, DATABASE_URL: databaseUrl,
    AUTH_JWT_SECRET: jwtSecret, AUTH_SITE_URL: workerUrl, AUTH_JWT_EXPIRY: process.env.STACK_AUTH_JWT_EXPIRY ?? "3600",
  });
}

function startBrowserRendering() {
  return startChild("browser", path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/browser-rendering-server.mjs")], {
    BROWSER_RENDERING_PORT: String(ports.browser), BROWSER_RENDERING_TOKEN: browserToken,
  });
}

function startStripe() {
  return startChild("stripe", path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/stripe-server.mjs")], {
    STRIPE_PORT: String(ports.stripe), STRIPE_SECRET_KEY: stripeKey, STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
    STRIPE_WEBHOOK_URL: `${workerUrl}/api/v1/billing/webhooks`, STRIPE_PRICES: JSON.stringify(stripePrices),
  });
}

function startSentry() {
  return startChild("sentry", path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/sentry-server.mjs")], {
    SENTRY_PORT: String(ports.sentry), SENTRY_KEY: sentryKey, SENTRY_PROJECT: "1",
  });
}

function startAi() {
  return startChild("ai", path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/ai-server.mjs")], {
    AI_PORT: String(ports.ai), AI_PROVIDER_API_KEY: aiKey, AI_GATEWAY_TOKEN: aiGatewayToken,
    AI_LATENCY_MS: process.env.STACK_AI_LATENCY_MS ?? "150",
  });
}

function startPostgrest() {
  return startChild("postgrest", env.POSTRUST_BIN, [], {
    PGRST_DB_URI: `postgres://authenticator@127.0.0.1:${ports.pg}/app`,
    PGRST_DB_SCHEMAS: "public", PGRST_DB_ANON_ROLE: "anon", PGRST_DB_EXTRA_SEARCH_PATH: "public,extensions",
    PGRST_JWT_JWKS_URL: `${supabaseUrl}/auth/v1/.well-known/jwks.json`,
    PGRST_SERVER_HOST: "127.0.0.1", PGRST_SERVER_PORT: String(ports.rest), PGRST_COMPAT_MODE: "true",
    PGRST_LOG_LEVEL: "warn", PGRST_DB_POOL: "20",
    // STACK_DB_POOL_TIMEOUT: for tests that stop the database on purpose, answer 503 after this many seconds
    // instead of PostgREST's default 10 s wait for a connection.
    ...(process.env.STACK_DB_POOL_TIMEOUT ? { PGRST_DB_POOL_TIMEOUT: process.env.STACK_DB_POOL_TIMEOUT } : {}),
    ...(jwtSecret ? { PGRST_JWT_SECRET: jwtSecret } : {}),
  });
}

async function projectKeys() {
  const r = await fetch(`${supabaseUrl}/_dev/project-keys`, { method: "POST" });
  if (!r.ok) throw new Error(`auth server: project keys: HTTP ${r.status}`);
  return r.json();
}

async function devToken(email) {
  const r = await fetch(`${supabaseUrl}/_dev/token`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }),
  });
  if (!r.ok) throw new Error(`auth server: token: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

let workerVarOverrides = {};
function writeWorkerEnv(keys) {
  // Generated last so the local stack's own URLs and keys win over anything in .dev.vars.
  const vars = {
    ENVIRONMENT: "development",
    SUPABASE_URL: supabaseUrl,
    POSTGREST_URL: restUrl,
    SUPABASE_ANON_KEY: keys.anon_key,
    SUPABASE_SERVICE_ROLE_KEY: keys.service_role_key,
    BROWSER_RENDERING_URL: browserRenderingUrl,
    CLOUDFLARE_API_TOKEN: browserToken,
    STRIPE_API_BASE: stripeUrl,
    STRIPE_SECRET_KEY: stripeKey,
    STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
    SENTRY_DSN: sentryDsn,
    AI_GATEWAY_BASE_URL: `${aiUrl}/v1`, AI_GATEWAY_ACCOUNT_ID: "local", AI_GATEWAY_ID: "edge-saas",
    AI_PROVIDER_API_KEY: aiKey, AI_GATEWAY_TOKEN: aiGatewayToken,
    STRIPE_PRICE_PLANS: stripePrices.filter((p) => p.plan).map((p) => `${p.id}:${p.plan}`).join(","),
    CREDIT_PACKS: stripePrices.filter((p) => p.pack).map((p) => `${p.pack}:${p.id}:${p.credits}`).join(","),
    ...(isTest ? { CORS_ORIGINS: "http://allowed.test" } : {}),
    ...(jwtSecret ? { SUPABASE_JWT_SECRET: jwtSecret } : {}),
    ...extraWorkerVars,
    ...workerVarOverrides,
  };
  const file = path.join(stateDir, "worker.env");
  fs.writeFileSync(file, Object.entries(vars).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("\n") + "\n", { mode: 0o600 });
  return file;
}

const browserConsumerVars = process.env.STACK_BROWSER_CONSUMER_VARS ? JSON.parse(process.env.STACK_BROWSER_CONSUMER_VARS) : null;
const dropProducers = (process.env.STACK_DROP_PRODUCERS || "").split(",").filter(Boolean);

// Two Worker configs from wrangler.toml: the Worker without its browser-jobs consumer, and a second
// Worker (same code) that only consumes browser-jobs, with its own vars. Paths become absolute because the
// files live in the state folder.
function splitWorkerConfigs(envFile) {
  const src = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8").split(/\n# -{20,}/)[0];
  // The browser-jobs consumer's settings, moved as they are from the Worker to the second Worker.
  const browserConsumerBlock = /\[\[queues\.consumers\]\]\nqueue = "browser-jobs"\n(?:[a-z_]+ = .*\n)*/;
  const entry = path.join(root, "src/entry.mjs");
  const primary = src
    .replace(/^main = .*$/m, `main = ${JSON.stringify(entry)}`)
    .replace(/^command = .*$/m, `command = ${JSON.stringify(`bash ${path.join(root, "scripts/build.sh")}`)}`)
    .replace(/^watch_dir = .*$/m, "")
    .replace(/^directory = "(.*)"$/m, (_, dir) => `directory = ${JSON.stringify(path.join(root, dir))}`)
    .replace(browserConsumerBlock, browserConsumerVars ? "" : "$&");
  // A deploy that forgot a producer binding: the Worker's send to that queue fails (STACK_DROP_PRODUCERS).
  const withoutProducers = dropProducers.reduce(
    (cfg, b) => cfg.replace(new RegExp(`\\[\\[queues\\.producers\\]\\]\\nbinding = "${b}"\\n(?:[a-z_]+ = .*\\n)*`), ""), primary);
  const vars = Object.fromEntries(fs.readFileSync(envFile, "utf8").split("\n").filter(Boolean)
    .map((l) => [l.slice(0, l.indexOf("=")), JSON.parse(l.slice(l.indexOf("=") + 1))]));
  const consumer = [
    `name = "edge-saas-browser-consumer"`, `main = ${JSON.stringify(entry)}`,
    src.match(/^compatibility_date = .*$/m)[0], "", "[vars]",
    ...Object.entries({ ...vars, ...browserConsumerVars }).map(([k, v]) => `${k} = ${JSON.stringify(String(v))}`), "",
    ...["JOB_HUB:JobHub", "CIRCUIT_BREAKER:CircuitBreaker"].flatMap((b) => [
      "[[durable_objects.bindings]]", `name = "${b.split(":")[0]}"`, `class_name = "${b.split(":")[1]}"`, `script_name = "edge-saas"`, ""]),
    "[[queues.producers]]", `binding = "BROWSER_JOBS_DLQ"`, `queue = "browser-jobs-dlq"`, "",
    src.match(browserConsumerBlock)[0],
  ].join("\n");
  const primaryFile = path.join(stateDir, "wrangler.primary.toml");
  const consumerFile = path.join(stateDir, "wrangler.browser-consumer.toml");
  fs.writeFileSync(primaryFile, withoutProducers);
  if (!browserConsumerVars) return ["-c", primaryFile];
  fs.writeFileSync(consumerFile, consumer, { mode: 0o600 });
  return ["-c", primaryFile, "-c", consumerFile];
}

// `/__scheduled` (cron by hand) is wrangler dev middleware wrapped around every request: on by default
// and in the tests; DEV_TEST_SCHEDULED=0 leaves it out, so a benchmark measures the Worker as deployed.
const testScheduled = isTest || process.env.DEV_TEST_SCHEDULED !== "0" ? ["--test-scheduled"] : [];

async function startWorker(envFile) {
  // wrangler reads [assets] directory at start: the dashboard is built first (under a second).
  execFileSync(path.join(root, "node_modules/.bin/node"), [path.join(root, "scripts/build-dashboard.mjs"), "--quiet"], { cwd: root, stdio: "ignore" });
  const files = browserConsumerVars || dropProducers.length ? splitWorkerConfigs(envFile) : [];
  if (!isTest && fs.existsSync(path.join(root, ".dev.vars"))) files.push("--env-file", path.join(root, ".dev.vars"));
  files.push("--env-file", envFile);
  startChild("wrangler", path.join(root, "node_modules/.bin/wrangler"), [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(ports.worker), "--inspector-port", String(ports.inspector),
    "--persist-to", path.join(stateDir, "wrangler"), ...testScheduled, "--show-interactive-dev-session=false",
    ...files,
  ], { CI: "true", NO_UPDATE_NOTIFIER: "1" });
}

async function up() {
  if (!isTest) {
    await reapLeftovers();
    if (fs.existsSync(path.join(pgData, "PG_VERSION")) && pgCtl("status").status === 0) {
      log("stopping the project's PostgreSQL left running by an earlier run");
      pgCtl("stop", "-m", "fast", "-w");
    }
    for (const [name, port] of Object.entries(ports)) {
      if (!(await portFree(port))) throw new Error(`port ${port} (${name}) is in use: is another 'npm run dev' running? Set DEV_${name.toUpperCase()}_PORT to move it.`);
    }
  }
  pgInit();
  pgStart();
  migrate();
  startAuth();
  startBrowserRendering();
  startStripe();
  startSentry();
  startAi();
  await waitFor("auth key server", `${supabaseUrl}/auth/v1/.well-known/jwks.json`, [200], 30000);
  startPostgrest();
  await waitFor("postrust", `${restUrl}/rpc/health_check`, [200], 60000);
  const keys = await projectKeys();
  const envFile = writeWorkerEnv(keys);
  await waitFor("browser rendering (local)", `${browserUrl}/_dev/health`, [200], 60000);
  await waitFor("stripe (local)", `${stripeUrl}/_dev/health`, [200], 30000);
  await waitFor("sentry (local)", `${sentryUrl}/_dev/health`, [200], 30000);
  await waitFor("ai gateway (local)", `${aiUrl}/_dev/health`, [200], 30000);
  await startWorker(envFile);
  await waitFor("wrangler dev", `${workerUrl}/health`, [200], isTest ? 300000 : 900000);
  return keys;
}

async function down() {
  if (stopping) return;
  stopping = true;
  await Promise.all([...children.keys()].map(stopChild));
  pgStop();
  if (isTest) fs.rmSync(stateDir, { recursive: true, force: true });
  else { fs.rmSync(pidFile, { force: true }); fs.rmSync(path.join(stateDir, "stack.json"), { force: true }); }
}

process.on("SIGINT", async () => { log("stopping…"); await down(); process.exit(0); });
process.on("SIGTERM", async () => { await down(); process.exit(0); });

if (mode === "pgtap") {
  let status = 1;
  try {
    pgInit();
    pgStart();
    migrate();
    const e = { ...process.env, PGHOST: "127.0.0.1", PGPORT: String(ports.pg), PGUSER: "postgres", PGDATABASE: "app" };
    const run = (cmd, args) => spawnSync(cmd, args, { env: e, stdio: "inherit", cwd: root }).status;
    const count = psql(["-d", "app", "-At", "-c", "select count(*) from supabase_migrations.schema_migrations"]).trim();
    if (run("bash", ["scripts/migrate.sh", "down", count]) !== 0) throw new Error("down migrations failed");
    if (run("bash", ["scripts/migrate.sh", "up"]) !== 0) throw new Error("re-applying migrations after down failed");
    // pgTAP lives in `extensions` (as Supabase installs extensions), executable by every role the tests
    // switch to; the schema's own functions keep the migrations' EXECUTE allow-list.
    psql(["-d", "app", "-c", "create extension if not exists pgtap schema extensions; grant execute on all functions in schema extensions to public; alter database app set search_path = \"$user\", public, extensions;"]);
    status = run("pg_prove", ["--failures", "-d", "app", ...fs.readdirSync(path.join(root, "sql/tests")).filter((f) => f.endsWith(".sql")).sort().map((f) => `sql/tests/${f}`)]);
  } catch (err) {
    log(`pgtap failed: ${err.message}`);
  }
  await down();
  process.exit(status ?? 1);
}

try {
  const keys = await up();
  const info = {
    event: "ready", worker_url: workerUrl, supabase_url: supabaseUrl, postgrest_url: restUrl,
    database_url: databaseUrl, anon_key: keys.anon_key, service_role_key: keys.service_role_key,
    browser_rendering_url: browserUrl,
    stripe_url: stripeUrl, stripe_webhook_secret: stripeWebhookSecret, sentry_url: sentryUrl, ai_url: aiUrl,
    state_dir: stateDir, ports,
  };
  if (isTest) {
    process.stdout.write(JSON.stringify(info) + "\n");
    const rl = readline.createInterface({ input: process.stdin });
    rl.on("line", async (line) => {
      const cmd = line.trim();
      try {
        if (cmd === "db stop") pgStop();
        else if (cmd === "db start") pgStart();
        else if (cmd === "auth stop") await stopChild("auth");
        else if (cmd.startsWith("worker vars ")) {
          workerVarOverrides = { ...workerVarOverrides, ...JSON.parse(cmd.slice("worker vars ".length)) };
          await stopChild("wrangler");
          await startWorker(writeWorkerEnv(keys));
          await waitFor("wrangler dev", `${workerUrl}/health`, [200], 300000);
        }
        else if (cmd === "auth start") { startAuth(); await waitFor("auth", `${supabaseUrl}/auth/v1/.well-known/jwks.json`, [200], 30000); }
        else throw new Error(`unknown command: ${cmd}`);
        process.stdout.write(JSON.stringify({ event: "ack", cmd }) + "\n");
      } catch (e) {
        process.stdout.write(JSON.stringify({ event: "error", cmd, error: String(e.message ?? e) }) + "\n");
      }
    });
    rl.on("close", async () => { await down(); process.exit(0); });
  } else {
    const tok = await devToken(process.env.DEV_EMAIL ?? "dev@example.com");
    fs.writeFileSync(path.join(stateDir, "stack.json"), JSON.stringify({ ...info, anon_key: undefined, service_role_key: undefined }));
    console.log(`
  Dashboard               ${workerUrl}/          sign in with a magic link (mails: ${supabaseUrl}/_dev/outbox)
  Worker (wrangler dev)   ${workerUrl}          try: curl ${workerUrl}/health
  PostgREST (postrust)    ${restUrl}
  Auth keys (JWKS)        ${supabaseUrl}/auth/v1/.well-known/jwks.json
  Browser Rendering       ${browserRenderingUrl}   (local, headless Chromium)
  Stripe (local)          ${stripeUrl}   webhooks → ${workerUrl}/api/v1/billing/webhooks
                          Your webhook signing secret is ${stripeWebhookSecret}
                          Prices: ${stripePrices.map((p) => `${p.id} (${p.plan ?? `${p.pack} pack`})`).join(", ")}
                          Put a dev user on PRO: npm run stripe -- trigger checkout.session.completed --plan PRO --email you@example.com
  Sentry (local)          ${sentryUrl}   reports received: ${sentryUrl}/_dev/envelopes
  AI Gateway (local)      ${aiUrl}/v1/local/edge-saas/compat/chat/completions   calls: ${aiUrl}/_dev/calls
  PostgreSQL              ${databaseUrl}   (data: ${pgData})
  Logs                    ${path.join(stateDir, "logs")}

  Dev access token for ${tok.email} (valid 1 h; more with: npm run token -- --email you@example.com):
  ${tok.access_token}

  Ctrl-C stops everything.`);
  }
} catch (e) {
  log(`failed: ${e.message}`);
  for (const name of ["wrangler", "postgrest", "auth", "browser", "stripe", "sentry", "ai"]) {
    const f = path.join(stateDir, "logs", `${name}.log`);
    if (fs.existsSync(f)) log(`--- last lines of ${name}.log ---\n` + fs.readFileSync(f, "utf8").split("\n").slice(-25).join("\n"));
  }
  await down();
  process.exit(1);
}
