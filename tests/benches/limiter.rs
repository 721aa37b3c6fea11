//! Benchmark (not a test): what the plan request limit adds to an authenticated request. `GET
//! /api/v1/me` with the limiter on (`FF_RATE_LIMITS_ENABLED`, the default: one `AccountLimiter` Durable
//! Object round trip per request) and off, in alternating rounds of one run (the Worker restarts between
//! rounds with the flag flipped), so both see the same machine. The user's plan limit is raised out of
//! the way, so every request is counted and none is refused.
//!
//!   cargo bench -p e2e --bench limiter            (BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_ROUNDS)

use e2e::bench::{env_usize, unlimited_user};
use e2e::{http, Stack};
use futures::stream::{self, StreamExt};
use std::time::{Duration, Instant};

async fn run(client: &reqwest::Client, url: &str, token: &str, n: usize, c: usize) -> Vec<Duration> {
    stream::iter(0..n)
        .map(|_| async {
            let t = Instant::now();
            let r = client.get(url).bearer_auth(token).send().await.expect("request");
            assert_eq!(r.status(), 200, "benchmark requests must succeed");
            let limited = r.headers().contains_key("ratelimit-limit");
            r.bytes().await.expect("body");
            (t.elapsed(), limited)
        })
        .buffer_unordered(c)
        .map(|(d, _)| d)
        .collect()
        .await
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

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
            run(&client, &me, &token, 100, c).await; // warm up: isolate, JWKS, plan cache, the object
            let lat = run(&client, &me, &token, n, c).await;
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
        println!("{:<14} {:>9.2} {:>9.2} {:>9.2}", name, pct(v, 0.5), pct(v, 0.99), mean(v));
    }
    println!(
        "added by the limiter: p50 {:+.2} ms, p99 {:+.2} ms",
        pct(&with, 0.5) - pct(&without, 0.5),
        pct(&with, 0.99) - pct(&without, 0.99)
    );
}
