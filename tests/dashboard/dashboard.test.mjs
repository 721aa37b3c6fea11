// The dashboard in a real browser (Debian's Chromium driven by playwright-core) against a whole local
// stack (`node scripts/stack.mjs test`): sign-in with a password and with a magic link, a job watched live
// from PENDING to COMPLETED, field errors inline, cancel, an upgrade through Checkout, the usage charts on
// real data, the lead-analysis pages, an accessibility scan (axe-core) of every page, the session refreshed
// before its token expires, and feature flags. A screenshot of each page is kept in
// target/dashboard-screenshots/ (the CI artifact).
//
//   node --test tests/dashboard/
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import readline from "node:readline";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shots = path.join(root, "target", "dashboard-screenshots");
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** Access tokens live this long in this stack, so the dashboard must refresh during the run. */
const TOKEN_LIFETIME_S = 40;
const WAIT = 30_000;

let stack;
let stackProc;
let stackLines;
let target;
let browser;
let page; // the password user's page, shared by the tests that follow sign-in
const email = `dash-${Date.now()}@example.com`;
const password = "correct horse battery";

// ---- the stack, a target site, the browser ----------------------------------------------------------
function startStack() {
  stackProc = spawn(process.execPath, [path.join(root, "scripts/stack.mjs"), "test"], {
    cwd: root, stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, STACK_AUTH_JWT_EXPIRY: String(TOKEN_LIFETIME_S) },
  });
  stackLines = readline.createInterface({ input: stackProc.stdout });
  return new Promise((resolve, reject) => {
    stackProc.once("exit", (code) => reject(new Error(`stack exited (${code}) before it was ready`)));
    stackLines.once("line", (line) => resolve(JSON.parse(line)));
  });
}

/** Sends a command to the stack (`worker vars {...}`) and waits for its answer. */
function stackCommand(cmd) {
  return new Promise((resolve, reject) => {
    stackLines.once("line", (line) => {
      const msg = JSON.parse(line);
      msg.event === "ack" ? resolve(msg) : reject(new Error(`${cmd}: ${line}`));
    });
    stackProc.stdin.write(`${cmd}\n`);
  });
}

/** A public site for jobs to reach: `/slow/{ms}` answers after ms, `/profile/{key}` is a profile page. */
function startTarget() {
  const server = http.createServer((req, res) => {
    const [, kind, arg] = req.url.split("/");
    if (kind === "slow") {
      setTimeout(() => res.end("slow done"), Number(arg) || 0);
    } else if (kind === "profile") {
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end(`<!doctype html><html><head><title>${arg} | Profiles</title><meta name="description" content="Profile of ${arg}">
<meta property="og:title" content="Person ${arg}"><meta property="og:description" content="Head of Platform at Gadgets ${arg}"></head>
<body><h1>Person ${arg}</h1><p>Runs infrastructure. Buys developer tools.</p></body></html>`);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })));
}

before(async () => {
  fs.mkdirSync(shots, { recursive: true });
  [stack, target] = await Promise.all([startStack(), startTarget()]);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
  });
});

after(async () => {
  await browser?.close();
  target?.server.close();
  if (stackProc) {
    const exited = new Promise((r) => stackProc.once("exit", r));
    stackProc.stdin.end();
    await exited;
  }
});

async function newPage(opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...opts });
  const p = await context.newPage();
  p.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  p.on("response", (r) => r.status() >= 400 && console.error(`page request: ${r.request().method()} ${r.url().split("#")[0]} → ${r.status()}`));
  return p;
}

async function shot(p, name) {
  await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

async function api(p, pathname, init = {}) {
  const token = await p.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith("-auth-token")))).access_token);
  const r = await fetch(`${stack.worker_url}/api/v1${pathname}`, {
    ...init, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
  return r.json();
}

async function storedSession(p) {
  return p.evaluate(() => JSON.parse(localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith("-auth-token"))) ?? "null"));
}

// ---- tests -------------------------------------------------------------------------------------------
test("the Worker serves the dashboard to browsers with a strict CSP, and API clients keep the JSON 404", async () => {
  const html = await fetch(`${stack.worker_url}/jobs`, { headers: { accept: "text/html" } });
  assert.equal(html.status, 200);
  const csp = html.headers.get("content-security-policy");
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, new RegExp(`connect-src 'self' ${stack.supabase_url.replace(/[.]/g, "\\.")};`));
  assert.doesNotMatch(csp, /unsafe/);
  const body = await html.text();
  const config = JSON.parse(body.match(/<script id="app-config" type="application\/json">(.*?)<\/script>/)[1]);
  assert.equal(config.supabase_url, stack.supabase_url);
  assert.deepEqual(config.task_types, ["http.request", "browser.extract_text"]);
  const script = body.match(/src="(\/assets\/app-[^"]+\.js)"/)[1];
  const asset = await fetch(`${stack.worker_url}${script}`);
  assert.equal(asset.status, 200);
  assert.match(asset.headers.get("content-type"), /javascript/);
  assert.equal((await fetch(`${stack.worker_url}/assets/app-MISSING.js`)).status, 404, "a missing asset is a 404, not the page");
  const json = await fetch(`${stack.worker_url}/jobs`);
  assert.equal(json.status, 404);
  assert.equal((await json.json()).error.code, "not_found");
});

test("the stream cookie opens SSE routes only, and bad usage queries name their field", async () => {
  const { access_token: token } = await (await fetch(`${stack.supabase_url}/_dev/token`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: `cookie-${Date.now()}@example.com` }),
  })).json();
  const set = await fetch(`${stack.worker_url}/api/v1/stream-session`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal(set.status, 200);
  const cookie = set.headers.get("set-cookie");
  assert.match(cookie, /^edge_stream=[\w-]+\.[\w-]+\.[\w-]+; Path=\/api\/v1; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
  const jar = cookie.split(";")[0];
  const stream = await fetch(`${stack.worker_url}/api/v1/jobs/stream`, { headers: { cookie: jar } });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get("content-type"), /text\/event-stream/);
  await stream.body.cancel();
  const me = await fetch(`${stack.worker_url}/api/v1/me`, { headers: { cookie: jar } });
  assert.equal(me.status, 401, "a non-stream route ignores the cookie");
  const forged = await fetch(`${stack.worker_url}/api/v1/jobs/stream`, { headers: { cookie: `edge_stream=${token.slice(0, -4)}AAAA` } });
  assert.equal(forged.status, 401, "the cookie's token is verified like a header's");
  assert.equal((await fetch(`${stack.worker_url}/api/v1/stream-session`, { method: "POST" })).status, 401);
  const cleared = await fetch(`${stack.worker_url}/api/v1/stream-session`, { method: "DELETE" });
  assert.equal(cleared.status, 200);
  assert.match(cleared.headers.get("set-cookie"), /^edge_stream=; Path=\/api\/v1; Max-Age=0;/);
  for (const [query, field] of [["days=0", "days"], ["days=91", "days"], ["days=x", "days"], ["since=1", "since"]]) {
    const r = await fetch(`${stack.worker_url}/api/v1/usage/daily?${query}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 400, query);
    const body = await r.json();
    assert.equal(body.error.code, "invalid_request");
    assert.ok(body.error.details.fields[field], `${query} names ${field}`);
  }
  const days = await (await fetch(`${stack.worker_url}/api/v1/usage/daily?days=3`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.equal(days.data.length, 3);
});

test("sign up, sign out, a wrong password is refused, then sign in with the password", async () => {
  page = await newPage();
  await page.goto(`${stack.worker_url}/`);
  await page.waitForURL("**/signin");
  await shot(page, "signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor({ timeout: WAIT });
  assert.match(await page.locator("header").innerText(), new RegExp(email));

  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL("**/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: "Invalid login credentials" }).waitFor({ timeout: WAIT });

  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Jobs", level: 1 }).waitFor({ timeout: WAIT });
  await page.getByTestId("account-plan").filter({ hasText: "FREE" }).waitFor({ timeout: WAIT });
});

test("sign in with a magic link from the local outbox", async () => {
  const p = await newPage();
  const linkEmail = `link-${Date.now()}@example.com`;
  await p.goto(`${stack.worker_url}/signin`);
  await p.getByRole("tab", { name: "Magic link" }).click();
  await p.getByLabel("Email").fill(linkEmail);
  await p.getByRole("button", { name: "Email me a sign-in link" }).click();
  await p.getByText("We sent a sign-in link").waitFor({ timeout: WAIT });
  const outbox = await (await fetch(`${stack.supabase_url}/_dev/outbox?email=${encodeURIComponent(linkEmail)}`)).json();
  assert.equal(outbox.data.length, 1, "one mail for this address");
  const link = outbox.data[0].link;
  assert.ok(link.startsWith(`${stack.supabase_url}/auth/v1/verify?`), link);
  await p.goto(link);
  await p.getByRole("heading", { name: "Jobs", level: 1 }).waitFor({ timeout: WAIT });
  assert.ok(p.url().endsWith("/jobs"), "the tokens do not stay in the address bar");
  assert.match(await p.locator("header").innerText(), new RegExp(linkEmail));
  // The link is single-use.
  const again = await newPage();
  await again.goto(link);
  await again.getByRole("alert").filter({ hasText: "invalid or has expired" }).waitFor({ timeout: WAIT });
  await p.context().close();
  await again.context().close();
});

/** Submits the jobs page's form for an `http.request` to `url`; resolves to the new job's id. */
async function submitFromForm(url) {
  await page.getByLabel("URL").fill(url);
  const [submitted] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/api/v1/jobs") && r.request().method() === "POST"),
    page.getByRole("button", { name: "Submit job" }).click(),
  ]);
  assert.equal(submitted.status(), 202, "the job was accepted");
  return (await submitted.json()).data.id;
}

test("a submitted job goes PENDING → RUNNING → COMPLETED on the page without a reload", async () => {
  await page.goto(`${stack.worker_url}/jobs`);
  await page.getByText("Live", { exact: true }).waitFor({ timeout: WAIT });
  // Record every status each job row shows, as the DOM changes.
  await page.evaluate(() => {
    window.__noReload = true;
    window.__seen = {};
    const record = () => {
      for (const row of document.querySelectorAll("tr[data-job]")) {
        const s = row.querySelector("[data-status]")?.getAttribute("data-status");
        const list = (window.__seen[row.dataset.job] ??= []);
        if (s && list[list.length - 1] !== s) list.push(s);
      }
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  });
  await page.getByLabel("URL").fill(`${target.url}/slow/1500`);
  await page.getByRole("button", { name: "Submit job" }).click();
  const handle = await page.waitForFunction(
    () => Object.entries(window.__seen).find(([, s]) => s.includes("COMPLETED")),
    null, { timeout: WAIT },
  );
  const [id, seen] = await handle.jsonValue();
  assert.deepEqual(seen, ["PENDING", "RUNNING", "COMPLETED"], `statuses shown for ${id}`);
  assert.equal(await page.evaluate(() => window.__noReload), true, "the page was not reloaded");
  await shot(page, "jobs");

  await page.locator(`tr[data-job="${id}"] a`).click();
  await page.getByRole("heading", { name: "Result" }).waitFor({ timeout: WAIT });
  assert.match(await page.getByLabel("Job result").innerText(), /slow done|"status": 200/);
  await shot(page, "job-detail");
});

test("the API's field errors show inline on the form", async () => {
  await page.goto(`${stack.worker_url}/jobs`);
  await page.getByLabel("URL").fill("ftp://example.com/file");
  await page.getByRole("button", { name: "Submit job" }).click();
  const url = page.getByLabel("URL");
  await page.waitForFunction(() => document.querySelector("input[name=url]")?.getAttribute("aria-invalid") === "true", null, { timeout: WAIT });
  const describedBy = await url.getAttribute("aria-describedby");
  const message = await page.locator(`[id="${describedBy.split(" ")[0]}"]`).innerText();
  assert.ok(message.length > 0, "the URL field names its error");
  await page.getByText("Please correct the highlighted fields.").waitFor();
});

test("a running job is cancelled from its page", async () => {
  await page.goto(`${stack.worker_url}/jobs`);
  const id = await submitFromForm(`${target.url}/slow/6000`);
  await page.locator(`tr[data-job="${id}"] a`).click();
  await page.locator("dd [data-status=RUNNING]").waitFor({ timeout: WAIT });
  await page.getByRole("button", { name: "Cancel job" }).click();
  await page.locator("dd [data-status=CANCELLED]").waitFor({ timeout: WAIT });
  assert.match(await page.getByRole("heading", { name: "Error" }).locator("..").innerText(), /cancelled/);
});

test("upgrading to PRO through Checkout shows the new plan without a reload", async () => {
  await page.goto(`${stack.worker_url}/billing`);
  await page.getByTestId("plan").filter({ hasText: "FREE" }).waitFor({ timeout: WAIT });
  await shot(page, "billing-free");
  await page.getByRole("button", { name: "Upgrade to PRO" }).click();
  await page.waitForURL(`${stack.stripe_url}/c/pay/**`, { timeout: WAIT });
  await page.getByTestId("pay").click();
  await page.waitForURL("**/billing?checkout=success", { timeout: WAIT });
  await page.evaluate(() => (window.__noReload = true));
  await page.getByTestId("plan").filter({ hasText: "PRO" }).waitFor({ timeout: WAIT });
  assert.equal(await page.evaluate(() => window.__noReload), true, "the plan changed on the same page");
  await page.getByTestId("account-plan").filter({ hasText: "PRO" }).waitFor({ timeout: WAIT });
  assert.ok(page.url().endsWith("/billing"));
  await page.getByRole("button", { name: "Manage billing" }).waitFor();
  await shot(page, "billing-pro");
});

test("the usage charts draw the account's real data", async () => {
  const days = (await api(page, "/usage/daily?days=30")).data;
  const today = days[days.length - 1];
  assert.ok(today.jobs_submitted >= 2, `today's jobs: ${JSON.stringify(today)}`);
  await page.goto(`${stack.worker_url}/usage`);
  const bar = page.locator(`[data-testid=jobs-chart] g[data-date="${today.date}"]`);
  await bar.waitFor({ timeout: WAIT });
  assert.equal(Number(await bar.getAttribute("data-jobs")), today.jobs_submitted);
  assert.ok((await bar.locator("rect").count()) >= 1, "today has a bar");
  const balance = (await api(page, "/credits/balance")).data.balance;
  const dot = page.locator(`[data-testid=credits-chart] circle[data-date="${today.date}"]`);
  assert.equal(Number(await dot.getAttribute("data-balance")), balance);
  assert.equal(await page.locator("[data-testid=jobs-chart] g[data-date]").count(), 30);
  await shot(page, "usage");
});

/** Signs a new user up through the form (each account has its own plan request budget). */
async function signUp(p, address) {
  await p.goto(`${stack.worker_url}/signin`);
  await p.getByLabel("Email").fill(address);
  await p.getByLabel("Password", { exact: true }).fill(password);
  await p.getByRole("button", { name: "Create account" }).click();
  await p.getByRole("heading", { name: "Jobs", level: 1 }).waitFor({ timeout: WAIT });
}

const leadEmail = `leads-${Date.now()}@example.com`;

test("lead analysis: a profile, an analysis at a tier with its cost, the lead and its result", async () => {
  const page = await newPage();
  await signUp(page, leadEmail);
  await page.goto(`${stack.worker_url}/leads`);
  await page.getByLabel("Business name").fill("Acme Tools");
  await page.getByLabel("What you offer").fill("Developer tooling for platform teams.");
  await page.getByRole("button", { name: "Save profile" }).click();
  await page.getByRole("button", { name: /Analyze \(1 credits\)/ }).waitFor({ timeout: WAIT });
  await page.getByLabel(/DEEP/).check();
  await page.getByRole("button", { name: "Analyze (3 credits)" }).waitFor();
  await page.getByLabel(/LIGHT/).check();
  await page.getByLabel("Profile URL").fill(`${target.url}/profile/ada`);
  await page.getByRole("button", { name: "Analyze (1 credits)" }).click();
  const row = page.locator("tr[data-lead]").filter({ hasText: "Person ada" });
  await row.waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => /\d/.test(document.querySelector("tr[data-lead] [data-testid=fit]")?.textContent ?? ""), null, { timeout: 60_000 });
  await shot(page, "leads");
  await row.locator("a").click();
  await page.locator("article[data-analysis]").filter({ hasText: "COMPLETED" }).waitFor({ timeout: WAIT });
  await page.getByText("Full result").click();
  assert.ok((await page.getByLabel("Analysis result").innerText()).includes("{"));
  await shot(page, "lead-detail");
  await page.context().close();
});

test("no serious or critical accessibility violations on any page (axe-core)", async () => {
  const p = await newPage({ bypassCSP: true }); // only so that the scanner itself can be injected
  const findings = [];
  const scan = async (route) => {
    await p.addScriptTag({ content: axeSource });
    const result = await p.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }));
    for (const v of result.violations) {
      if (v.impact === "serious" || v.impact === "critical") findings.push(`${route}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    }
  };
  await p.goto(`${stack.worker_url}/signin`);
  await p.getByRole("heading", { name: "Sign in" }).waitFor();
  await scan("/signin");
  // The lead user's account has a lead, its analysis and the analysis's job.
  await p.getByLabel("Email").fill(leadEmail);
  await p.getByLabel("Password", { exact: true }).fill(password);
  await p.getByRole("button", { name: "Sign in", exact: true }).click();
  await p.getByRole("heading", { name: "Jobs", level: 1 }).waitFor({ timeout: WAIT });
  const jobId = (await api(p, "/jobs?limit=1")).data[0].id;
  const leadId = (await api(p, "/leads?limit=1")).data[0].id;
  // Each page is scanned once its data is on it (what shows that, per page).
  const loaded = {
    "/jobs": "tr[data-job]", [`/jobs/${jobId}`]: "dd [data-status]", "/billing": "tbody tr", "/usage": "[data-testid=jobs-chart]",
    "/leads": "tr[data-lead]", [`/leads/${leadId}`]: "article[data-analysis]",
  };
  for (const [route, selector] of Object.entries(loaded)) {
    await p.goto(`${stack.worker_url}${route}`);
    await p.locator(selector).first().waitFor({ timeout: WAIT });
    await scan(route);
  }
  assert.deepEqual(findings, []);
  // A phone-sized view of the jobs page: nothing wider than the screen.
  await p.setViewportSize({ width: 390, height: 844 });
  await p.goto(`${stack.worker_url}/jobs`);
  await p.locator("main h1").waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page fits a phone's width (overflow ${overflow}px)`);
  await shot(p, "jobs-phone");
  await p.context().close();
});

test("the session is refreshed before its token expires and the dashboard keeps working", async () => {
  const first = await storedSession(page);
  assert.ok(first, "signed in");
  // Wait (on the condition, bounded by the token's life) until the first token has expired.
  const expiredIn = first.expires_at * 1000 + 1500 - Date.now();
  if (expiredIn > 0) await new Promise((r) => setTimeout(r, expiredIn));
  const now = await storedSession(page);
  assert.notEqual(now.access_token, first.access_token, "a new access token");
  assert.ok(now.expires_at > first.expires_at, "that expires later");
  const stats = await (await fetch(`${stack.supabase_url}/_dev/stats`)).json();
  assert.ok(stats.grants.refresh_token >= 1, `refresh grants: ${JSON.stringify(stats.grants)}`);
  // The API, and the live stream (through the renewed cookie), still work.
  await page.goto(`${stack.worker_url}/jobs`);
  await page.getByText("Live", { exact: true }).waitFor({ timeout: WAIT });
  const id = await submitFromForm(`${target.url}/slow/100`);
  await page.locator(`tr[data-job="${id}"] [data-status=COMPLETED]`).waitFor({ timeout: WAIT });
});

test("a dropped stream reconnects from its last frame id; a task switched off by its feature flag is not offered", async () => {
  // A page with a live stream that has seen frames (so the browser has a last event id).
  await page.goto(`${stack.worker_url}/jobs`);
  await page.getByText("Live", { exact: true }).waitFor({ timeout: WAIT });
  const streamRequests = [];
  // The browser's own reconnection sends the header; a stream the page reopens itself sends the query parameter.
  // (allHeaders: the headers as sent, which `headers()` does not all show.)
  page.on("request", async (r) => {
    const u = new URL(r.url());
    if (u.pathname !== "/api/v1/jobs/stream") return;
    const headers = await r.allHeaders().catch(() => ({}));
    streamRequests.push(headers["last-event-id"] ?? u.searchParams.get("last_event_id"));
  });
  // This job's own frames (earlier jobs' rows are COMPLETED already) give the stream its last event id.
  const id = await submitFromForm(`${target.url}/slow/50`);
  await page.locator(`tr[data-job="${id}"] [data-status=COMPLETED]`).waitFor({ timeout: WAIT });
  // Restarting the Worker (new flags) drops the stream; the browser reconnects by itself.
  await stackCommand(`worker vars ${JSON.stringify({ FF_BROWSER_WORKER_ENABLED: "false", FF_LEAD_ANALYSIS_LIGHT_ENABLED: "false", FF_LEAD_ANALYSIS_DEEP_ENABLED: "false", FF_LEAD_ANALYSIS_XRAY_ENABLED: "false" })}`);
  const deadline = Date.now() + 60_000;
  while (!streamRequests.some((id) => id !== null && /^\d+$/.test(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.ok(streamRequests.some((id) => id !== null && /^\d+$/.test(id)), `a reconnect resumed from the last frame id: ${JSON.stringify(streamRequests)}`);
  await page.waitForFunction(() => document.querySelector(".live")?.textContent === "Live", null, { timeout: WAIT });

  await page.goto(`${stack.worker_url}/jobs`);
  const options = await page.locator("select[name=task_type] option").evaluateAll((os) => os.map((o) => o.value));
  assert.deepEqual(options, ["http.request"]);
  assert.equal(await page.getByRole("link", { name: "Leads" }).count(), 0, "no Leads page without a tier");
});
