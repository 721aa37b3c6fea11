// The Worker's module entry. worker-build generates build/index.js (the Rust Worker and its Durable
// Object classes); this wraps its handlers so that anything escaping Rust still ends well:
// - a panic traps the WebAssembly instance. The Rust panic hook (src/lib.rs) calls
//   `globalThis.__edgeSaasPanicked` at once, which fails every invocation in flight (a panicking future
//   would otherwise never settle and the invocation would hang until the runtime cancels it) and sends one
//   Sentry report (docs/observability.md), tagged with the invocation's request id, queue or cron when
//   exactly one was in flight;
// - a fetch that fails answers the contract's opaque 500 envelope with an X-Request-Id, the cause in the
//   log only; queue and scheduled failures propagate, so the platform retries the batch or records the
//   invocation as failed.
// worker-build's shim re-initialises the instance after a trap, so the next request is served normally.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker from "../build/index.js";
import { internalErrorResponse, requestIdFor } from "./entry/failure.mjs";
import { report } from "./entry/observability.mjs";

export * from "../build/index.js";

const inFlight = new Set();
let lastEnv = null;

globalThis.__edgeSaasPanicked = (message) => {
  const calls = [...inFlight];
  const env = calls[0]?.env ?? lastEnv;
  const tags = calls.length === 1 ? calls[0].tags() : { in_flight: String(calls.length) };
  const reported = report(env, { kind: "panic", message, tags });
  for (const call of calls) call.fail(Object.assign(new Error(`Rust panic: ${message}`), { reported }));
};

// Runs `run` as an invocation that a panic fails at once (see above). `tags()` gives the report's tags,
// computed only when a report is sent: nothing on the way of a request that succeeds (docs/adr/0021).
async function guarded(env, tags, run) {
  lastEnv = env;
  let call;
  const panicked = new Promise((_, reject) => { call = { env, tags, fail: reject }; });
  inFlight.add(call);
  try {
    return await Promise.race([run(), panicked]);
  } finally {
    inFlight.delete(call);
  }
}

// A failure that was not a panic (already reported) is reported here.
function reportOf(env, err, tags) {
  return err?.reported ?? report(env, { kind: "exception", message: String(err?.stack ?? err), tags });
}

export default class Worker extends WorkerEntrypoint {
  async fetch(request) {
    let requestId;
    const tags = () => {
      requestId ??= requestIdFor(request);
      return { request_id: requestId, route: `${request.method} ${new URL(request.url).pathname}` };
    };
    try {
      return await guarded(this.env, tags, () => new RustWorker(this.ctx, this.env).fetch(request));
    } catch (err) {
      this.ctx.waitUntil(reportOf(this.env, err, { ...tags(), status: "500" }));
      return internalErrorResponse(request, err, console.error, requestId);
    }
  }

  async queue(batch) {
    const tags = () => ({ queue: batch.queue });
    try {
      return await guarded(this.env, tags, () => new RustWorker(this.ctx, this.env).queue(batch));
    } catch (err) {
      this.ctx.waitUntil(reportOf(this.env, err, tags()));
      throw err;
    }
  }

  // A failed scheduled run (e.g. an expression that maps to no job) propagates, so the platform records
  // the invocation as failed; its report is sent first.
  async scheduled(event) {
    const tags = () => ({ cron: event.cron });
    try {
      return await guarded(this.env, tags, () => new RustWorker(this.ctx, this.env).scheduled(event));
    } catch (err) {
      await reportOf(this.env, err, tags());
      throw err;
    }
  }
}
