//! Benchmark (not a test): end-to-end job throughput and latency for a trivial `http.request`, from the
//! submit request leaving the client to the COMPLETED frame arriving on an SSE client
//! (`/api/v1/jobs/stream`): one submitter waiting for each job (the idle system), then 1 and 50
//! concurrent submitters that do not wait, through the local stack.
//!
//!   cargo bench -p e2e --bench jobs        (BENCH_JOBS_SERIAL, default 30; BENCH_JOBS_CONCURRENT, default 300)

use e2e::bench::{env_usize, pct, round, round_closed};
use e2e::target::target;
use e2e::Stack;
use serde_json::json;

#[tokio::main]
async fn main() {
    let serial = env_usize("BENCH_JOBS_SERIAL", 30);
    let concurrent = env_usize("BENCH_JOBS_CONCURRENT", 300);
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS)]);
    // The run exceeds FREE's quota and credits: put the account on ENTERPRISE with enough credits.
    let token = e2e::bench::unlimited_user(&stack, "bench-jobs").await;
    let job = || json!({"task_type": "http.request", "payload": {"url": target().url(&format!("/ok/{}", uuid::Uuid::new_v4().simple()))}});
    round(&stack, &token, 5, 1, job).await; // warm-up
    println!("jobs benchmark: trivial http.request, submit -> COMPLETED frame on /api/v1/jobs/stream, through wrangler dev");
    println!("{:<14} {:>6} {:>8} {:>9} {:>9} {:>9}", "submitters", "jobs", "jobs/s", "p50 ms", "p99 ms", "max ms");
    // One submitter waiting for each job before the next: the idle system's submit -> COMPLETED latency.
    let (rate, lat) = round_closed(&stack, &token, serial, 1, job).await;
    println!(
        "{:<14} {:>6} {:>8.1} {:>9.0} {:>9.0} {:>9.0}",
        "1 (one by one)",
        serial,
        rate,
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    for (c, n) in [(1, serial), (50, concurrent)] {
        let (rate, lat) = round(&stack, &token, n, c, job).await;
        println!("{:<14} {:>6} {:>8.1} {:>9.0} {:>9.0} {:>9.0}", c, n, rate, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0));
    }
}
