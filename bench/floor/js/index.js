// The floor, in JavaScript: the I/O of `GET /api/v1/me` and nothing else. One PostgREST call with the
// caller's token, the body wrapped in the contract's envelope, the security headers, one log line. No
// token check, no routing, no validation: no Worker that serves this route can do less. Measured against
// the project's Worker by `npm run bench:floor` (docs/adr/0021); never deployed.
const SECURITY_HEADERS = [
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "no-referrer"],
  ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"],
  ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"],
  ["X-Frame-Options", "DENY"],
  ["Cache-Control", "no-store"],
];

export default {
  async fetch(request, env) {
    const started = Date.now();
    const rid = crypto.randomUUID();
    const r = await fetch(`${env.POSTGREST_URL}/rpc/me`, {
      method: "POST",
      headers: {
        apikey: env.SUPABASE_ANON_KEY,
        Authorization: request.headers.get("Authorization") ?? "",
        "Content-Type": "application/json",
      },
      body: "{}",
    });
    const data = await r.json();
    const body = JSON.stringify({ success: true, data, request_id: rid, timestamp: new Date().toISOString() });
    const headers = new Headers({ "Content-Type": "application/json; charset=utf-8", "X-Request-Id": rid });
    for (const [k, v] of SECURITY_HEADERS) headers.set(k, v);
    console.log(JSON.stringify({
      level: "info", msg: "request", request_id: rid, method: request.method, path: new URL(request.url).pathname,
      status: r.status, duration_ms: Date.now() - started, ts: new Date().toISOString(),
    }));
    return new Response(body, { status: r.status, headers });
  },
};
