//! Benchmark (not a test): `browser.extract_text` jobs through the local stack and the local Browser
//! Rendering server (headless Chromium), submit -> COMPLETED frame on `/api/v1/jobs/stream`, with 1 and
//! with 10 jobs in flight (closed loop: each submitter waits for its job before the next).
//!
//!   cargo bench -p e2e --bench browser     (BENCH_BROWSER_JOBS, default 20 per round)

use e2e::bench::{env_usize, pct, round_closed};
use e2e::target::target;
use e2e::Stack;
use serde_json::json;

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_BROWSER_JOBS", 20);
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS)]);
    // The runs exceed FREE's quota and credits.
    let token = e2e::bench::unlimited_user(&stack, "bench-browser").await;
    let job = || {
        json!({"task_type": "browser.extract_text",
        "payload": {"url": target().url(&format!("/page/{}", uuid::Uuid::new_v4().simple())), "selector": "#content"}})
    };
    round_closed(&stack, &token, 3, 1, job).await; // warm-up (browser start, first contexts)
    println!("browser benchmark: browser.extract_text with a selector on a local page, submit -> COMPLETED frame, through wrangler dev and Chromium");
    println!("{:<14} {:>6} {:>8} {:>9} {:>9} {:>9}", "concurrency", "jobs", "jobs/s", "p50 ms", "p99 ms", "max ms");
    for c in [1, 10] {
        let (rate, lat) = round_closed(&stack, &token, n, c, job).await;
        println!("{:<14} {:>6} {:>8.2} {:>9.0} {:>9.0} {:>9.0}", c, n, rate, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0));
    }
}
