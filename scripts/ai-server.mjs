#!/usr/bin/env node
// Local stand-in for Cloudflare AI Gateway's OpenAI-compatible chat completions, started by `npm run dev`
// and by the tests (scripts/stack.mjs). It speaks the contract the Worker uses:
//
//   POST /v1/{account_id}/{gateway_id}/compat/chat/completions   (also …/openai/chat/completions)
//     Authorization: Bearer <provider key>; cf-aig-authorization: Bearer <gateway token> when the gateway
//     is authenticated (AI_GATEWAY_TOKEN set here).
//     Body: {model, messages: [{role, content}], response_format?: {type: "json_schema", json_schema:
//     {name, strict, schema}}, max_completion_tokens?}. `model` on the compat endpoint is
//     `{provider}/{model}`.
//   200 {id, object: "chat.completion", created, model, choices: [{index, message: {role, content,
//        refusal}, logprobs, finish_reason}], usage: {prompt_tokens, completion_tokens, total_tokens,
//        prompt_tokens_details: {cached_tokens}, completion_tokens_details: {reasoning_tokens}}}
//   The content is JSON that matches the request's schema, derived deterministically from the prompt
//   (the same prompt, the same answer). Token counts: about 4 characters a token; a system message
//   seen before and at least 1,024 tokens long counts as cached, as OpenAI's prompt caching does.
//   Errors use OpenAI's body {error: {message, type, param, code}}: 400 for a bad request (also a strict
//   schema that is not strict-compatible), 401 for a missing or wrong key; the gateway's own 401 is
//   {success: false, error: [{code: 2009, message: "Unauthorized"}]}.
//
// Development routes (not part of either API; the tests use them):
//   POST   /_dev/faults {match?, status?, retry_after?, invalid?: "json"|"schema", latency_ms?, count?}
//          the next `count` requests (all, without count) whose messages contain `match` (any, without
//          it) answer `status` (429s carry Retry-After), or a 200 whose content is not JSON / breaks the
//          schema, or wait `latency_ms` first. Rules are tried in the order they were added.
//   DELETE /_dev/faults   back to normal
//   GET    /_dev/calls    [{model, schema, started_at, ended_at, status, match}], oldest first
//   GET    /_dev/health
//
// Env: AI_PORT (default 54333), AI_PROVIDER_API_KEY (required), AI_GATEWAY_TOKEN (optional),
// AI_LATENCY_MS (default 150: every answer waits this long, like a fast model).
import http from "node:http";
import { createHash, randomBytes } from "node:crypto";

const port = Number(process.env.AI_PORT ?? 54333);
const apiKey = process.env.AI_PROVIDER_API_KEY;
const gatewayToken = process.env.AI_GATEWAY_TOKEN || null;
const baseLatency = Math.max(0, Number(process.env.AI_LATENCY_MS ?? 150));
if (!apiKey) {
  console.error("AI_PROVIDER_API_KEY is required");
  process.exit(2);
}

let rules = []; // {match, status, retry_after, invalid, latency_ms, remaining|null}
const calls = [];
const seenSystems = new Set();
const PATH = /^\/v1\/[^/]+\/[^/]+\/(compat|openai)\/chat\/completions$/;

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}
const openaiError = (res, status, message, type, code = null, param = null, headers = {}) =>
  send(res, status, { error: { message, type, param, code } }, headers);

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try { resolve(JSON.parse(Buffer.concat(chunks).toString("utf8") || "null")); } catch (e) { reject(e); }
    });
    req.on("error", reject);
  });
}

// A strict schema as OpenAI's structured outputs require: objects list every property as required
// and forbid additional ones.
function strictProblem(schema, at = "schema") {
  if (!schema || typeof schema !== "object") return `${at} must be an object`;
  if (schema.type === "object") {
    if (schema.additionalProperties !== false) return `${at}: additionalProperties must be false`;
    const props = Object.keys(schema.properties ?? {});
    const required = schema.required ?? [];
    const missing = props.filter((p) => !required.includes(p));
    if (missing.length) return `${at}: every property must be required (missing ${missing.join(", ")})`;
    for (const p of props) {
      const inner = strictProblem(schema.properties[p], `${at}.${p}`);
      if (inner) return inner;
    }
  }
  if (schema.type === "array" && schema.items) return strictProblem(schema.items, `${at}[]`);
  return null;
}

// A deterministic value for `schema` from the seed bytes.
function generate(schema, seed, name = "value") {
  let i = 0;
  const next = () => seed[(i++) % seed.length];
  const gen = (s, n) => {
    if (s.enum) return s.enum[next() % s.enum.length];
    switch (s.type) {
      case "object": {
        const out = {};
        for (const [k, v] of Object.entries(s.properties ?? {})) out[k] = gen(v, k);
        return out;
      }
      case "array": {
        const count = 2 + (next() % 2);
        return Array.from({ length: count }, (_, j) => gen(s.items ?? { type: "string" }, `${n} ${j + 1}`));
      }
      case "integer": {
        const min = s.minimum ?? 0;
        const max = s.maximum ?? min + 100;
        return min + ((next() * 256 + next()) % (max - min + 1));
      }
      case "number": return (next() % 1000) / 10;
      case "boolean": return next() % 2 === 0;
      default: return `${n.replaceAll("_", " ")} ${seed.subarray(0, 3).toString("hex")}`;
    }
  };
  return gen(schema, name);
}

const tokens = (s) => Math.ceil(String(s ?? "").length / 4);

function matchingRule(text) {
  for (const r of rules) {
    if (r.remaining === 0) continue;
    if (r.match && !text.includes(r.match)) continue;
    if (r.remaining !== null) r.remaining--;
    return r;
  }
  return null;
}

async function completions(req, res) {
  const started = Date.now();
  const call = { started_at: started, ended_at: null, status: null, model: null, schema: null, match: null };
  calls.push(call);
  const finish = (status) => { call.status = status; call.ended_at = Date.now(); };
  if (gatewayToken && req.headers["cf-aig-authorization"] !== `Bearer ${gatewayToken}`) {
    finish(401);
    return send(res, 401, { success: false, result: [], messages: [], error: [{ code: 2009, message: "Unauthorized" }] });
  }
  if (req.headers.authorization !== `Bearer ${apiKey}`) {
    finish(401);
    return openaiError(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
  }
  let body;
  try { body = await readJson(req); } catch {
    finish(400);
    return openaiError(res, 400, "We could not parse the JSON body of your request.", "invalid_request_error");
  }
  const bad = (message, param) => { finish(400); return openaiError(res, 400, message, "invalid_request_error", null, param); };
  if (!body || typeof body !== "object") return bad("The request body must be a JSON object.", null);
  if (typeof body.model !== "string" || !/^[a-z0-9-]+\/\S+$/.test(body.model)) {
    return bad("model must name a provider and a model, e.g. openai/gpt-5-mini.", "model");
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0
      || body.messages.some((m) => !m || !["system", "user", "assistant", "developer"].includes(m.role) || typeof m.content !== "string")) {
    return bad("messages must be a non-empty array of {role, content}.", "messages");
  }
  const rf = body.response_format;
  let schema = null;
  if (rf !== undefined) {
    if (rf?.type !== "json_schema" || typeof rf.json_schema?.name !== "string" || !rf.json_schema.schema) {
      return bad("response_format must be {type: 'json_schema', json_schema: {name, schema}}.", "response_format");
    }
    schema = rf.json_schema.schema;
    if (rf.json_schema.strict) {
      const problem = strictProblem(schema);
      if (problem) return bad(`Invalid schema for response_format '${rf.json_schema.name}': ${problem}.`, "response_format");
    }
  }
  call.model = body.model;
  call.schema = rf?.json_schema?.name ?? null;
  const text = body.messages.map((m) => m.content).join("\n");
  const rule = matchingRule(text);
  // The call is attributed to the first rule naming text in it, even a rule that is used up.
  call.match = rules.find((r) => r.match && text.includes(r.match))?.match ?? null;
  await new Promise((r) => setTimeout(r, baseLatency + (rule?.latency_ms ?? 0)));
  if (rule?.status) {
    finish(rule.status);
    if (rule.status === 429) {
      return openaiError(res, 429, "Rate limit reached for requests.", "requests", "rate_limit_exceeded", null,
        { "retry-after": String(rule.retry_after ?? 1), "x-ratelimit-remaining-requests": "0" });
    }
    return openaiError(res, rule.status, "The server had an error while processing your request. Sorry about that!", "server_error");
  }
  const seed = createHash("sha256").update(body.model).update("\0").update(text).digest();
  let content;
  if (rule?.invalid === "json") content = "Sure! Here is the analysis: {fit_score: high";
  else if (rule?.invalid === "schema") content = JSON.stringify({ unexpected: true });
  else content = JSON.stringify(schema ? generate(schema, seed) : { text: "ok" });
  const system = body.messages.filter((m) => m.role === "system").map((m) => m.content).join("\n");
  const systemTokens = tokens(system);
  const cached = seenSystems.has(system) && systemTokens >= 1024 ? systemTokens : 0;
  seenSystems.add(system);
  const prompt = tokens(text);
  const completion = tokens(content);
  finish(200);
  send(res, 200, {
    id: `chatcmpl-${randomBytes(12).toString("hex")}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: body.model.split("/").slice(1).join("/"),
    choices: [{ index: 0, message: { role: "assistant", content, refusal: null, annotations: [] }, logprobs: null, finish_reason: "stop" }],
    usage: {
      prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: "default",
    system_fingerprint: "fp_local",
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, "http://local");
  try {
    if (req.method === "POST" && PATH.test(url.pathname)) return await completions(req, res);
    if (url.pathname === "/_dev/health") return send(res, 200, { ok: true });
    if (url.pathname === "/_dev/calls" && req.method === "GET") return send(res, 200, calls);
    if (url.pathname === "/_dev/faults" && req.method === "POST") {
      const f = await readJson(req);
      rules.push({
        match: typeof f?.match === "string" ? f.match : null, status: f?.status ?? null, retry_after: f?.retry_after ?? null,
        invalid: f?.invalid ?? null, latency_ms: Number(f?.latency_ms ?? 0), remaining: f?.count ?? null,
      });
      return send(res, 200, { rules: rules.length });
    }
    if (url.pathname === "/_dev/faults" && req.method === "DELETE") {
      rules = [];
      return send(res, 200, { rules: 0 });
    }
    send(res, 404, { error: { message: `Unknown request URL: ${req.method} ${url.pathname}.`, type: "invalid_request_error", param: null, code: "unknown_url" } });
  } catch (e) {
    send(res, 500, { error: { message: String(e?.message ?? e), type: "server_error", param: null, code: null } });
  }
});
server.listen(port, "127.0.0.1", () => console.log(`ai stand-in listening on http://127.0.0.1:${port}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
