import { test } from "node:test";
import assert from "node:assert/strict";
import { internalErrorResponse } from "./failure.mjs";

test("a thrown error becomes an opaque 500 envelope with the caller's request id", async () => {
  const logged = [];
  const req = new Request("http://w/api/v1/x", { headers: { "x-request-id": "abc-123" } });
  const resp = internalErrorResponse(req, new Error("secret detail sk_live_123"), (l) => logged.push(l));
  assert.equal(resp.status, 500);
  assert.equal(resp.headers.get("x-request-id"), "abc-123");
  const body = await resp.json();
  assert.equal(body.success, false);
  assert.equal(body.error.code, "internal_error");
  assert.equal(body.request_id, "abc-123");
  assert.ok(!JSON.stringify(body).includes("sk_live_123"), "the cause must not reach the body");
  assert.ok(logged[0].includes("secret detail"), "the cause must reach the log");
});

test("an unsafe request id is replaced by a fresh UUID", async () => {
  const req = new Request("http://w/", { headers: { "x-request-id": "bad id <script>" } });
  const resp = internalErrorResponse(req, new Error("x"), () => {});
  assert.match(resp.headers.get("x-request-id"), /^[0-9a-f-]{36}$/);
});
