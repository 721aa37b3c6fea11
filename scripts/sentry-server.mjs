#!/usr/bin/env node
// Local stand-in for Sentry's ingestion, started by `npm run dev` and by the tests (scripts/stack.mjs).
// It speaks the envelope endpoint the Worker reports to, as Relay does:
//   POST /api/{project_id}/envelope/   X-Sentry-Auth: Sentry sentry_version=7, sentry_key=<key>, …
//        (or ?sentry_key=<key>); body: an envelope (header line, then item header + payload lines).
//        200 {"id": "<event_id>"}; 401 {"detail": "missing authorization information"} without a key;
//        403 {"detail": "invalid api key"} for another key; 404 for another project; 400 for a body that
//        is not an envelope; 413 over 1 MB; and, while a fault is set, 429 with Retry-After and
//        X-Sentry-Rate-Limits, or 5xx.
// It stores every accepted envelope (parsed) and never forwards anything.
//
// Development routes (not Sentry's API):
//   GET    /_dev/envelopes   [{received_at, header, items: [{header, payload}]}], oldest first
//   DELETE /_dev/envelopes   forget them
//   POST   /_dev/faults {status, count?, retry_after?}   answer `status` to the next `count` envelopes
//   DELETE /_dev/faults
//   GET    /_dev/health
//
// Env: SENTRY_PORT (default 54340), SENTRY_KEY (the DSN's public key), SENTRY_PROJECT (default 1).
import http from "node:http";

const port = Number(process.env.SENTRY_PORT ?? 54340);
const key = process.env.SENTRY_KEY ?? "devkey";
const project = process.env.SENTRY_PROJECT ?? "1";
const MAX_BYTES = 1024 * 1024;

const envelopes = [];
let fault = null; // {status, count, retry_after}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function authKey(req, url) {
  const h = req.headers["x-sentry-auth"] ?? "";
  const m = /sentry_key=([^,\s]+)/.exec(h);
  return m?.[1] ?? url.searchParams.get("sentry_key");
}

/** Envelope text → {header, items}; throws on anything else. */
function parseEnvelope(text) {
  const lines = text.split("\n");
  const header = JSON.parse(lines.shift());
  const items = [];
  while (lines.length && lines[0] !== "") {
    const itemHeader = JSON.parse(lines.shift());
    let payload;
    if (typeof itemHeader.length === "number") {
      // `length` counts bytes of the payload line.
      const rest = Buffer.from(lines.join("\n"), "utf8");
      payload = rest.subarray(0, itemHeader.length).toString("utf8");
      const after = rest.subarray(itemHeader.length).toString("utf8");
      lines.splice(0, lines.length, ...after.replace(/^\n/, "").split("\n"));
    } else {
      payload = lines.shift();
    }
    if (typeof itemHeader.type !== "string") throw new Error("item without a type");
    items.push({ header: itemHeader, payload: itemHeader.content_type === "application/json" || itemHeader.type === "event" ? JSON.parse(payload) : payload });
  }
  if (!items.length) throw new Error("an envelope without items");
  return { header, items };
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  const chunks = [];
  let size = 0;
  req.on("data", (c) => { size += c.length; if (size <= MAX_BYTES) chunks.push(c); });
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (url.pathname === "/_dev/health") return send(res, 200, { ok: true });
    if (url.pathname === "/_dev/envelopes") {
      if (req.method === "DELETE") { envelopes.length = 0; return send(res, 200, { cleared: true }); }
      return send(res, 200, envelopes);
    }
    if (url.pathname === "/_dev/faults") {
      if (req.method === "DELETE") { fault = null; return send(res, 200, { cleared: true }); }
      const f = JSON.parse(body || "{}");
      fault = { status: Number(f.status), count: f.count ?? Infinity, retry_after: f.retry_after ?? 60 };
      return send(res, 200, fault);
    }
    const m = /^\/api\/([^/]+)\/envelope\/?$/.exec(url.pathname);
    if (!m || req.method !== "POST") return send(res, 404, { detail: "not found" });
    if (m[1] !== project) return send(res, 404, { detail: "project not found" });
    const given = authKey(req, url);
    if (!given) return send(res, 401, { detail: "missing authorization information" });
    if (given !== key) return send(res, 403, { detail: "invalid api key" });
    if (size > MAX_BYTES) return send(res, 413, { detail: "envelope exceeds size limit" });
    if (fault && fault.count > 0) {
      fault.count -= 1;
      const status = fault.status;
      if (fault.count <= 0) fault = null;
      if (status === 429) {
        return send(res, 429, { detail: "rate limited" }, { "retry-after": String(fault?.retry_after ?? 60), "x-sentry-rate-limits": "60:error:organization" });
      }
      return send(res, status, { detail: "internal error" });
    }
    let parsed;
    try {
      parsed = parseEnvelope(body);
    } catch (e) {
      return send(res, 400, { detail: `invalid envelope: ${e.message}` });
    }
    envelopes.push({ received_at: new Date().toISOString(), ...parsed });
    return send(res, 200, { id: parsed.header.event_id ?? null });
  });
});

server.listen(port, "127.0.0.1", () => console.log(`sentry stand-in on http://127.0.0.1:${port} (project ${project})`));
