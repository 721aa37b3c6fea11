// The last-resort answer when the Rust handler throws: the contract's envelope with an opaque message.
// Pure (no Workers imports) so `node --test` checks it.

import { scrub } from "./observability.mjs";

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(request) {
  const given = request.headers.get("x-request-id")?.trim();
  return given && SAFE_ID.test(given) ? given : crypto.randomUUID();
}

export function internalErrorResponse(request, err, log = console.error, requestId = requestIdFor(request)) {
  const url = new URL(request.url);
  // The cause goes to the log only; never the body.
  log(scrub(JSON.stringify({
    level: "error", msg: "unhandled exception in the Worker", event: "http.panic", request_id: requestId,
    method: request.method, path: url.pathname, status: 500,
    error: String(err?.stack ?? err),
  })));
  const body = {
    success: false,
    error: { code: "internal_error", message: "an internal error occurred", details: {} },
    request_id: requestId,
    timestamp: new Date().toISOString(),
  };
  return new Response(JSON.stringify(body), {
    status: 500,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "x-request-id": requestId,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "strict-transport-security": "max-age=63072000; includeSubDomains",
      "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
      "cache-control": "no-store",
    },
  });
}
