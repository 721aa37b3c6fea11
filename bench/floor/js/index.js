// The floor, in JavaScript: the I/O of two routes and nothing else, so that `npm run bench:floor` can tell
// what any Worker must spend on them from what the project's code adds (docs/adr/0021); never deployed.
// - `GET /api/v1/me`: one PostgREST call with the caller's token, the body in the contract's envelope,
//   the security headers, one log line. No token check, no routing, no validation.
// - `POST /api/v1/billing/webhooks`: the Stripe signature checked (WebCrypto HMAC, the key imported once per
//   isolate), the event parsed and sent to a queue, two log lines; its consumer records each event with one
//   PostgREST call as the service role (`apply_ignored_event`, what the project's consumer does for an event
//   type it does not act on) and logs it. No body limit, no schema checks, no replay store.
// No Worker that serves these routes can do less.
const SECURITY_HEADERS = [
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"],
  ["X-Frame-Options", "DENY"],
  ["Cache-Control", "no-store"],
];

const envelope = (data, rid) => JSON.stringify({ success: true, data, request_id: rid, timestamp: new Date().toISOString() });

function respond(body, status, rid) {
  const headers = new Headers({ "Content-Type": "application/json; charset=utf-8", "X-Request-Id": rid });
  for (const [k, v] of SECURITY_HEADERS) headers.set(k, v);
  return new Response(body, { status, headers });
}

function logRequest(request, status, started, rid) {
  console.log(JSON.stringify({
    level: "info", msg: "request", request_id: rid, method: request.method, path: new URL(request.url).pathname,
    status, duration_ms: Date.now() - started, ts: new Date().toISOString(),
  }));
}

async function me(request, env, rid) {
  const r = await fetch(`${env.POSTGREST_URL}/rpc/me`, {
    method: "POST",
    headers: {
      apikey: env.SUPABASE_ANON_KEY,
      Authorization: request.headers.get("Authorization") ?? "",
      "Content-Type": "application/json",
    },
    body: "{}",
  });
  return [envelope(await r.json(), rid), r.status];
}

let hmacKey; // one import per isolate
const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

async function webhook(request, env, rid) {
  const raw = await request.text();
  const parts = Object.fromEntries((request.headers.get("Stripe-Signature") ?? "").split(",").map((p) => p.split("=", 2)));
  const t = Number(parts.t);
  hmacKey ??= crypto.subtle.importKey("raw", new TextEncoder().encode(env.STRIPE_WEBHOOK_SECRET),
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = hex(await crypto.subtle.sign("HMAC", await hmacKey, new TextEncoder().encode(`${parts.t}.${raw}`)));
  if (!parts.v1 || mac !== parts.v1 || !(Math.abs(Date.now() / 1000 - t) <= 300)) {
    return [JSON.stringify({ code: "invalid_request", message: "invalid Stripe-Signature", details: {} }), 400];
  }
  const event = JSON.parse(raw);
  await env.STRIPE_WEBHOOKS_QUEUE.send(event);
  console.log(JSON.stringify({ level: "info", msg: "webhook: accepted", request_id: rid, event_id: event.id, type: event.type, ts: new Date().toISOString() }));
  return [envelope({ received: true }, rid), 200];
}

export default {
  async fetch(request, env) {
    const started = Date.now();
    const rid = crypto.randomUUID();
    const [body, status] = request.method === "POST" ? await webhook(request, env, rid) : await me(request, env, rid);
    logRequest(request, status, started, rid);
    return respond(body, status, rid);
  },

  async queue(batch, env) {
    for (const m of batch.messages) {
      const r = await fetch(`${env.POSTGREST_URL}/rpc/apply_ignored_event`, {
        method: "POST",
        headers: {
          apikey: env.SUPABASE_SERVICE_ROLE_KEY,
          Authorization: `Bearer ${env.SUPABASE_SERVICE_ROLE_KEY}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ p_event: m.body }),
      });
      const outcome = await r.json();
      console.log(JSON.stringify({ level: "info", msg: "stripe: event handled", event_id: m.body.id, type: m.body.type, outcome, ts: new Date().toISOString() }));
      if (r.ok) m.ack();
      else m.retry();
    }
  },
};
