#!/usr/bin/env node
// Local stand-in for Cloudflare Browser Rendering's REST API, driving Debian's headless Chromium through
// playwright-core. It speaks the production contract for what the Worker uses:
//
//   POST /client/v4/accounts/{account_id}/browser-rendering/content   → {success, result: "<html>…"}
//   POST /client/v4/accounts/{account_id}/browser-rendering/scrape    → {success, result: [{selector, results: [{text, html, attributes, height, width, top, left}]}]}
//   Successful answers carry X-Browser-Ms-Used (the browser time billed).
//
// Request bodies: {url, gotoOptions?: {waitUntil, timeout}, waitForSelector?: {selector, timeout, visible?},
// rejectRequestPattern?: ["/regex/flags"], elements?: [{selector}]} (scrape). Authorization: Bearer <token> (401 with the v4 error envelope
// otherwise). Errors use {success: false, errors: [{code, message}], messages: [], result: null}:
// 400 for a bad request, 422 when the page cannot be read (navigation or selector timeout), 429 with
// Retry-After past the concurrency limit.
//
// Development-only routes (not part of Cloudflare's API; the tests use them to inject faults):
//   POST /_dev/faults {status, count?, retry_after?}  the next `count` API requests (all, without count)
//                                                     answer `status` (429s carry Retry-After)
//   DELETE /_dev/faults                               back to normal
//   GET /_dev/stats                                   {requests, by_status, rejected, faults}
//
// Env: BROWSER_RENDERING_PORT (default 54330), BROWSER_RENDERING_TOKEN (required), CHROMIUM_PATH
// (default /usr/bin/chromium), BROWSER_RENDERING_CONCURRENCY (default 4 pages at once; more queue up to
// 4× that, then 429).
import http from "node:http";
import fs from "node:fs";
import { chromium } from "playwright-core";

const port = Number(process.env.BROWSER_RENDERING_PORT ?? 54330);
const token = process.env.BROWSER_RENDERING_TOKEN;
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const concurrency = Math.max(1, Number(process.env.BROWSER_RENDERING_CONCURRENCY ?? 4));
if (!token) {
  console.error("BROWSER_RENDERING_TOKEN is required");
  process.exit(2);
}
if (!fs.existsSync(executablePath)) {
  console.error(`Chromium not found at ${executablePath} (Debian: apt-get install chromium)`);
  process.exit(2);
}

// playwright-core gives every launch a fresh, empty profile directory of its own.
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
  ],
});

let faults = null; // {status, remaining|null, retry_after}
const stats = { requests: 0, by_status: {} };
let active = 0;
const waiting = [];

function send(res, status, body, headers = {}) {
  stats.by_status[status] = (stats.by_status[status] ?? 0) + 1;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
const fail = (res, status, code, message, headers) =>
  send(res, status, { success: false, errors: [{ code, message }], messages: [], result: null }, headers);

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error("request body too large");
    chunks.push(c);
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
}

const WAIT_UNTIL = { load: "load", domcontentloaded: "domcontentloaded", networkidle0: "networkidle", networkidle2: "networkidle" };

// `rejectRequestPattern`: "/pattern/flags" strings; every request the page makes (redirect hops included)
// whose URL matches one is failed, as Browser Rendering does.
function toRegExp(p) {
  const m = /^\/(.*)\/([dgimsuvy]*)$/s.exec(p);
  if (!m) return null;
  try { return new RegExp(m[1], m[2]); } catch { return null; }
}

function validate(body, endpoint) {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "request body must be a JSON object";
  if (typeof body.url !== "string") return "url is required";
  let u;
  try { u = new URL(body.url); } catch { return "url is invalid"; }
  if (u.protocol !== "http:" && u.protocol !== "https:") return "url must be http or https";
  const g = body.gotoOptions;
  if (g !== undefined && (typeof g !== "object" || g === null)) return "gotoOptions must be an object";
  if (g?.waitUntil !== undefined && !WAIT_UNTIL[g.waitUntil]) return `gotoOptions.waitUntil must be one of ${Object.keys(WAIT_UNTIL).join(", ")}`;
  if (g?.timeout !== undefined && !(Number.isInteger(g.timeout) && g.timeout >= 0 && g.timeout <= 60000)) return "gotoOptions.timeout must be 0..60000";
  const w = body.waitForSelector;
  if (w !== undefined && (typeof w !== "object" || w === null || typeof w.selector !== "string")) return "waitForSelector.selector is required";
  if (w?.timeout !== undefined && !(Number.isInteger(w.timeout) && w.timeout >= 0 && w.timeout <= 60000)) return "waitForSelector.timeout must be 0..60000";
  const rp = body.rejectRequestPattern;
  if (rp !== undefined && (!Array.isArray(rp) || rp.some((p) => typeof p !== "string" || !toRegExp(p)))) {
    return "rejectRequestPattern must be an array of regular expressions written /pattern/flags";
  }
  if (endpoint === "scrape") {
    if (!Array.isArray(body.elements) || body.elements.length === 0 || body.elements.some((e) => typeof e?.selector !== "string")) {
      return "elements must be a non-empty array of {selector}";
    }
  }
  return null;
}

async function render(body, endpoint) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const reject = (body.rejectRequestPattern ?? []).map(toRegExp);
    if (reject.length) {
      // The DevTools Fetch domain pauses every request, each redirect hop included (Playwright's
      // page.route sees only a redirect chain's first URL).
      const cdp = await context.newCDPSession(page);
      cdp.on("Fetch.requestPaused", (e) => {
        const blocked = reject.some((r) => { r.lastIndex = 0; return r.test(e.request.url); });
        if (blocked) stats.rejected = (stats.rejected ?? 0) + 1;
        cdp.send(blocked ? "Fetch.failRequest" : "Fetch.continueRequest",
          blocked ? { requestId: e.requestId, errorReason: "BlockedByClient" } : { requestId: e.requestId }).catch(() => {});
      });
      await cdp.send("Fetch.enable", { patterns: [{ urlPattern: "*", requestStage: "Request" }] });
    }
    const timeout = body.gotoOptions?.timeout ?? 30000;
    await page.goto(body.url, { waitUntil: WAIT_UNTIL[body.gotoOptions?.waitUntil ?? "load"], timeout }).catch((e) => {
      if (e?.name === "TimeoutError") e.message = `Navigation timeout of ${timeout} ms exceeded`;
      throw e;
    });
    if (body.waitForSelector) {
      const w = body.waitForSelector;
      const t = w.timeout ?? 30000;
      await page.waitForSelector(w.selector, { timeout: t, state: w.visible ? "visible" : "attached" }).catch((e) => {
        if (e?.name === "TimeoutError") e.message = `Waiting for selector \`${w.selector}\` failed: timeout ${t}ms exceeded`;
        throw e;
      });
    }
    if (endpoint === "content") return await page.content();
    const out = [];
    for (const { selector } of body.elements) {
      const results = await page.$$eval(selector, (els) => els.map((e) => {
        const r = e.getBoundingClientRect();
        return {
          attributes: [...e.attributes].map((a) => ({ name: a.name, value: a.value })),
          height: r.height, width: r.width, top: r.top, left: r.left,
          html: e.innerHTML, text: e.innerText ?? e.textContent ?? "",
        };
      }));
      out.push({ results, selector });
    }
    return out;
  } finally {
    await context.close().catch(() => {});
  }
}

async function api(req, res, endpoint) {
  stats.requests++;
  if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, 10000, "Authentication error");
  if (faults) {
    const f = faults;
    if (f.remaining !== null && --f.remaining <= 0) faults = null;
    const headers = f.status === 429 ? { "retry-after": String(f.retry_after ?? 1) } : {};
    return fail(res, f.status, f.status === 429 ? 2001 : 10001, f.status === 429 ? "Rate limit exceeded" : "Internal error (injected)", headers);
  }
  let body;
  try { body = await readJson(req); } catch (e) { return fail(res, 400, 2000, `invalid JSON: ${e.message}`); }
  const invalid = validate(body, endpoint);
  if (invalid) return fail(res, 400, 2000, invalid);
  if (active >= concurrency) {
    if (waiting.length >= concurrency * 4) return fail(res, 429, 2001, "Rate limit exceeded", { "retry-after": "1" });
    await new Promise((resolve) => waiting.push(resolve));
  }
  active++;
  try {
    const began = Date.now();
    const result = await render(body, endpoint);
    // As the API does: the browser time this call was billed for.
    send(res, 200, { success: true, result, errors: [], messages: [] }, { "x-browser-ms-used": String(Date.now() - began) });
  } catch (e) {
    const message = String(e?.message ?? e).split("\n")[0];
    // The page could not be read (a timeout, or a navigation the network or rejectRequestPattern
    // refused): 422, the service itself is fine. Anything else is the service's own failure.
    const pageError = e?.name === "TimeoutError" || /net::ERR_/.test(message);
    fail(res, pageError ? 422 : 500, pageError ? 2002 : 10001, message);
  } finally {
    active--;
    waiting.shift()?.();
  }
}

const API = /^\/client\/v4\/accounts\/[^/]+\/browser-rendering\/(content|scrape)$/;

const server = http.createServer(async (req, res) => {
  const { pathname } = new URL(req.url, "http://x");
  try {
    const m = pathname.match(API);
    if (m) {
      if (req.method !== "POST") return fail(res, 405, 10405, "Method not allowed");
      return await api(req, res, m[1]);
    }
    if (pathname === "/_dev/faults" && req.method === "POST") {
      const f = await readJson(req);
      if (!Number.isInteger(f?.status) || f.status < 400 || f.status > 599) return fail(res, 400, 2000, "status must be 400..599");
      faults = { status: f.status, remaining: Number.isInteger(f.count) ? f.count : null, retry_after: f.retry_after };
      return send(res, 200, { success: true, result: faults });
    }
    if (pathname === "/_dev/faults" && req.method === "DELETE") {
      faults = null;
      return send(res, 200, { success: true, result: null });
    }
    if (pathname === "/_dev/stats" && req.method === "GET") return send(res, 200, { ...stats, faults, active, waiting: waiting.length });
    if (pathname === "/_dev/health") return send(res, 200, { success: true, result: { browser: browser.isConnected() } });
    fail(res, 404, 7003, "Could not route to " + pathname);
  } catch (e) {
    fail(res, 500, 10001, String(e?.message ?? e));
  }
});

async function shutdown() {
  server.close();
  await browser.close().catch(() => {});
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
browser.on("disconnected", () => {
  console.error("chromium exited");
  process.exit(1);
});

server.listen(port, "127.0.0.1", () => console.log(`browser rendering (local) on http://127.0.0.1:${port}`));
