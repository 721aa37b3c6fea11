//! Benchmark (not a test): what the plan request limit adds to an authenticated request. `GET
//! /api/v1/me` with the limiter on (`FF_RATE_LIMITS_ENABLED`, the default: one `AccountLimiter` Durable
//! Object round trip per request) and off, in alternating rounds of one run (the Worker restarts between
//! rounds with the flag flipped), so both see the same machine. The user's plan limit is raised out of
//! the way, so every request is counted and none is refused.
//!
//!   cargo bench -p e2e --bench limiter            (BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_ROUNDS)

use e2e::bench::{env_usize, get_latencies, pct_ms, unlimited_user};
use e2e::{http, Stack};
use std::time::Duration;

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_REQUESTS", 1000);
    let c = env_usize("BENCH_CONCURRENCY", 1);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let stack = Stack::start(&[]);
    let token = unlimited_user(&stack, "bench-limiter").await;
    let client = http();
    let me = stack.url("/api/v1/me");
    let mut with: Vec<Duration> = Vec::new();
    let mut without: Vec<Duration> = Vec::new();
    for round in 0..rounds {
        for on in [true, false] {
            stack.control(&format!(r#"worker vars {{"FF_RATE_LIMITS_ENABLED":"{on}"}}"#));
            let probe = client.get(&me).bearer_auth(&token).send().await.expect("probe");
            assert_eq!(probe.headers().contains_key("ratelimit-limit"), on, "round {round}: the flag took effect");
            get_latencies(&client, &me, &token, 100, c).await; // warm up: isolate, JWKS, plan cache, the object
            let lat = get_latencies(&client, &me, &token, n, c).await;
            if on {
                with.extend(lat)
            } else {
                without.extend(lat)
            }
        }
    }
    with.sort();
    without.sort();
    println!("limiter benchmark: {rounds} alternating rounds x {n} requests of GET /api/v1/me, concurrency {c}, through wrangler dev");
    println!("{:<14} {:>9} {:>9} {:>9}", "limiter", "p50 ms", "p99 ms", "mean ms");
    let mean = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64 * 1000.0;
    for (name, v) in [("on", &with), ("off", &without)] {
        println!("{:<14} {:>9.2} {:>9.2} {:>9.2}", name, pct_ms(v, 0.5), pct_ms(v, 0.99), mean(v));
    }
    println!(
        "added by the limiter: p50 {:+.2} ms, p99 {:+.2} ms",
        pct_ms(&with, 0.5) - pct_ms(&without, 0.5),
        pct_ms(&with, 0.99) - pct_ms(&without, 0.99)
    );
}
