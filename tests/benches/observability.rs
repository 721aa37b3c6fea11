//! Benchmark (not a test): what logging and metrics add to a request. `GET /api/v1/me` with the request's
//! log line and Analytics Engine data point written (the default) and with both off (`LOG_SAMPLE_RATE=0`,
//! `METRICS_ENABLED=false`), in alternating rounds of one run (the Worker restarts between rounds), so both
//! see the same machine. Warnings and errors are logged either way; this request writes none.
//!
//!   cargo bench -p e2e --bench observability      (BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_ROUNDS)

use e2e::bench::{env_usize, get_latencies, pct_ms, unlimited_user, NO_LIMITS};
use e2e::{http, Stack};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_REQUESTS", 1000);
    let c = env_usize("BENCH_CONCURRENCY", 1);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let stack = Stack::start(&[("STACK_WORKER_VARS", NO_LIMITS)]);
    let token = unlimited_user(&stack, "bench-observability").await;
    let client = http();
    let me = stack.url("/api/v1/me");
    let (mut with, mut without): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for on in [true, false] {
            let (rate, metrics) = if on { ("1", "true") } else { ("0", "false") };
            stack.control(&format!(r#"worker vars {{"LOG_SAMPLE_RATE":"{rate}","METRICS_ENABLED":"{metrics}"}}"#));
            let marker = format!("bench-obs-{round}-{on}");
            let probe = client.get(&me).bearer_auth(&token).header("X-Request-Id", &marker).send().await.expect("probe");
            assert_eq!(probe.status(), 200);
            get_latencies(&client, &me, &token, 100, c).await; // warm up
            let lat = get_latencies(&client, &me, &token, n, c).await;
            let logged = stack.worker_log().contains(&marker);
            assert_eq!(logged, on, "round {round}: the request line is written only with logging on");
            if on {
                with.extend(lat)
            } else {
                without.extend(lat)
            }
        }
    }
    with.sort();
    without.sort();
    println!(
        "observability benchmark: {rounds} alternating rounds x {n} requests of GET /api/v1/me, concurrency {c}, through wrangler dev"
    );
    println!("{:<22} {:>9} {:>9}", "logging + metrics", "p50 ms", "p99 ms");
    for (name, v) in [("on", &with), ("off", &without)] {
        println!("{:<22} {:>9.2} {:>9.2}", name, pct_ms(v, 0.5), pct_ms(v, 0.99));
    }
    println!(
        "added: p50 {:+.2} ms, p99 {:+.2} ms",
        pct_ms(&with, 0.5) - pct_ms(&without, 0.5),
        pct_ms(&with, 0.99) - pct_ms(&without, 0.99)
    );
}
