// The Worker's module entry. worker-build generates build/index.js (the Rust Worker and its Durable
// Object classes); this wraps its fetch handler so that anything escaping Rust (a panic traps the
// WebAssembly instance and surfaces here as an exception) still answers with the contract's opaque 500
// envelope and an X-Request-Id, while the log gets the cause. worker-build's shim re-initialises the
// instance after such a trap, so the next request is served normally.
import { WorkerEntrypoint } from "cloudflare:workers";
import RustWorker from "../build/index.js";
import { internalErrorResponse } from "./entry/failure.mjs";

export * from "../build/index.js";

export default class Worker extends WorkerEntrypoint {
  async fetch(request) {
    try {
      return await new RustWorker(this.ctx, this.env).fetch(request);
    } catch (err) {
      return internalErrorResponse(request, err);
    }
  }

  async queue(batch) {
    return new RustWorker(this.ctx, this.env).queue(batch);
  }

  // An exception from a scheduled run (e.g. an expression that maps to no job) propagates, so the
  // platform records the invocation as failed.
  async scheduled(event) {
    return new RustWorker(this.ctx, this.env).scheduled(event);
  }
}
