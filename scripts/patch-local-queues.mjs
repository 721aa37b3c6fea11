// Local Queues that deliver like Cloudflare's: consumer invocations run side by side (docs/adr/0017).
//
// Cloudflare Queues invoke a consumer concurrently, up to its `max_concurrency` (autoscaled up to the
// platform limit when unset), so a long batch never holds back the messages queued after it. The local
// queue in wrangler 4.164.0 / its Miniflare dispatches one batch at a time per queue and drops
// `max_concurrency` on the way: with `max_batch_timeout = 0` a single slow job would hold every other job
// of its queue back until it ended. This script makes the local broker dispatch a new batch while earlier
// ones are still running, up to the consumer's `max_concurrency`, and passes that setting through.
//
// It edits the pinned packages in node_modules by exact text (idempotent; bootstrap runs it every time)
// and fails loudly if a pinned file no longer reads as expected, i.e. after a wrangler upgrade: then
// re-derive the edits for the new version or drop them if the upstream queue dispatches concurrently.
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const MARK = "/* edge-saas: concurrent local queue consumers (docs/adr/0017) */";
// Cloudflare's limit on concurrent consumer invocations per queue when max_concurrency is unset.
const PLATFORM_MAX_CONCURRENCY = 250;

function patch(rel, edits) {
  const file = path.join(root, rel);
  let src = fs.readFileSync(file, "utf8");
  if (src.includes(MARK)) return false;
  for (const [from, to] of edits) {
    const at = src.indexOf(from);
    if (at < 0 || src.indexOf(from, at + 1) >= 0) {
      throw new Error(`${rel}: expected exactly one ${JSON.stringify(from.slice(0, 80))}; is wrangler still 4.164.0?`);
    }
    src = src.slice(0, at) + to + src.slice(at + from.length);
  }
  fs.writeFileSync(file, `${src}\n${MARK}\n`);
  return true;
}

// A consumer option schema (`z` is zod's name in that file): maxConcurrency added after maxRetries.
const withMaxConcurrency = (indent, z) => [
  `${indent}maxRetries: ${z}.number().min(0).max(100).optional(),\n${indent}deadLetterQueue:`,
  `${indent}maxRetries: ${z}.number().min(0).max(100).optional(),\n` +
    `${indent}maxConcurrency: ${z}.number().min(1).max(${PLATFORM_MAX_CONCURRENCY}).optional(),\n${indent}deadLetterQueue:`,
];

const changed = [
  // wrangler: pass max_concurrency from wrangler.toml to Miniflare.
  patch("node_modules/wrangler/wrangler-dist/cli.js", [[
    "    maxRetries: consumer.max_retries,\n    deadLetterQueue: consumer.dead_letter_queue,\n    retryDelay: consumer.retry_delay\n  };\n  return [consumer.queue, options];",
    "    maxRetries: consumer.max_retries,\n    maxConcurrency: consumer.max_concurrency,\n    deadLetterQueue: consumer.dead_letter_queue,\n    retryDelay: consumer.retry_delay\n  };\n  return [consumer.queue, options];",
  ]]),
  // Miniflare: keep it in the validated options it hands to the broker.
  patch("node_modules/miniflare/dist/src/index.js", [withMaxConcurrency("      ", "external_exports2")]),
  // The broker: a batch leaves the backlog when its dispatch starts, the next one may start at once while
  // fewer than max_concurrency are running, and each finished dispatch schedules what is left.
  patch("node_modules/miniflare/dist/src/workers/queues/broker.worker.js", [
    withMaxConcurrency("  ", "z"),
    ["  #backlogBytes = 0;\n", "  #backlogBytes = 0;\n  #inFlight = 0;\n  get #maxConcurrency() {\n" +
      `    return this.#maybeConsumer?.maxConcurrency ?? ${PLATFORM_MAX_CONCURRENCY};\n  }\n`],
    ["    assert(consumer !== void 0);\n    let batchSize = consumer.maxBatchSize ?? DEFAULT_BATCH_SIZE, maxAttempts",
      "    assert(consumer !== void 0);\n    if (this.#inFlight >= this.#maxConcurrency || this.#messages.length === 0) {\n      this.#pendingFlush = void 0;\n      return;\n    }\n" +
      "    let batchSize = consumer.maxBatchSize ?? DEFAULT_BATCH_SIZE, maxAttempts"],
    ["batch = this.#messages.splice(0, batchSize);\n",
      "batch = this.#messages.splice(0, batchSize);\n    this.#inFlight++, this.#pendingFlush = void 0, this.#messages.length > 0 && this.#ensurePendingFlush();\n"],
    ["), this.#pendingFlush = void 0, this.#messages.length > 0 && this.#ensurePendingFlush(), toDeadLetterQueue.length > 0) {",
      "), this.#inFlight--, this.#messages.length > 0 && this.#ensurePendingFlush(), toDeadLetterQueue.length > 0) {"],
    ["    assert(consumer !== void 0);\n    let batchSize = consumer.maxBatchSize ?? DEFAULT_BATCH_SIZE, batchTimeout",
      "    assert(consumer !== void 0);\n    if (this.#inFlight >= this.#maxConcurrency) return;\n" +
      "    let batchSize = consumer.maxBatchSize ?? DEFAULT_BATCH_SIZE, batchTimeout"],
  ]),
];
if (changed.some(Boolean) && !process.argv.includes("--quiet")) {
  console.log("patched the local queue for concurrent consumer invocations (docs/adr/0017)");
}
