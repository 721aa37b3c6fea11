import { test } from "node:test";
import assert from "node:assert/strict";
import { envelope, parseDsn, report, scrub } from "./observability.mjs";

const JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl";

test("scrub removes what the Rust scrubber removes", () => {
  assert.equal(scrub(`token ${JWT} expired`), "token [redacted] expired");
  assert.equal(scrub("Authorization: Bearer opaque-token_123"), "Authorization: Bearer [redacted]");
  assert.equal(scrub("key sk_live_51HxYz and whsec_Q9x"), "key [redacted] and [redacted]");
  assert.equal(scrub("user jane.doe+saas@example.co.uk signed up."), "user [redacted] signed up.");
  const plain = "cus_NffrFeUfNV2Hib bearer of news user@localhost 3f0c2a9e-1b2c-4d5e-8f90-a1b2c3d4e5f6 edge-saas@0.1.0";
  assert.equal(scrub(plain), plain);
});

test("DSNs give the envelope endpoint", () => {
  assert.deepEqual(parseDsn("https://abc@o1.ingest.sentry.io/42"), { publicKey: "abc", envelopeUrl: "https://o1.ingest.sentry.io/api/42/envelope/" });
  assert.equal(parseDsn("http://k@127.0.0.1:5/1").envelopeUrl, "http://127.0.0.1:5/api/1/envelope/");
  for (const bad of [undefined, "", "nope", "https://host/1", "https://k@host/x"]) assert.equal(parseDsn(bad), null);
});

test("a panic report is one scrubbed, tagged envelope", async () => {
  const sent = [];
  const fake = async (url, init) => { sent.push({ url, init }); return new Response("{}", { status: 200 }); };
  const env = { SENTRY_DSN: "http://devkey@127.0.0.1:9/7", ENVIRONMENT: "test", RELEASE: "r1" };
  await report(env, { kind: "panic", message: `RuntimeError: unreachable for a@b.io with ${JWT}`, tags: { request_id: "req-9" } }, fake);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].url, "http://127.0.0.1:9/api/7/envelope/");
  assert.match(sent[0].init.headers["x-sentry-auth"], /sentry_key=devkey/);
  const [header, item, payload] = sent[0].init.body.trimEnd().split("\n");
  assert.equal(JSON.parse(item).length, new TextEncoder().encode(payload).length);
  const event = JSON.parse(payload);
  assert.equal(JSON.parse(header).event_id, event.event_id);
  assert.deepEqual(event.tags, { request_id: "req-9" });
  assert.equal(event.exception.values[0].value, "RuntimeError: unreachable for [redacted] with [redacted]");
  assert.equal(event.environment, "test");
  await report({}, { kind: "panic", message: "x" }, fake);
  assert.equal(sent.length, 1, "no DSN, no report");
});

test("envelope lines are JSON", () => {
  const text = envelope({ kind: "k", message: "m", tags: {} }, { environment: "e", release: "r" }, "id1", "t");
  assert.equal(text.split("\n").filter(Boolean).map((l) => JSON.parse(l)).length, 3);
});
