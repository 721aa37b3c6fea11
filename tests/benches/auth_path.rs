//! Benchmark (not a test): requests/s and latency of `GET /api/v1/me` (JWT verification + one PostgREST
//! round trip as the user) against `GET /health` (one PostgREST round trip as anon), through the local
//! stack, with the plan limits off (`benches/limiter.rs` measures what they add). Rounds alternate between
//! the two so both see the same machine noise; compare the ratio.
//!
//!   cargo bench -p e2e --bench auth_path            (BENCH_REQUESTS, BENCH_CONCURRENCY, BENCH_ROUNDS)

use e2e::{http, Stack};
use futures::stream::{self, StreamExt};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run(client: &reqwest::Client, url: &str, token: Option<&str>, n: usize, c: usize) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let lat: Vec<Duration> = stream::iter(0..n)
        .map(|_| async {
            let t = Instant::now();
            let mut req = client.get(url);
            if let Some(tok) = token {
                req = req.bearer_auth(tok);
            }
            let r = req.send().await.expect("request");
            assert_eq!(r.status(), 200, "benchmark requests must succeed");
            r.bytes().await.expect("body");
            t.elapsed()
        })
        .buffer_unordered(c)
        .collect()
        .await;
    (started.elapsed(), lat)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_REQUESTS", 2000);
    let c = env_usize("BENCH_CONCURRENCY", 16);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS)]);
    let token = e2e::bench::unlimited_user(&stack, "bench").await;
    let client = http();
    let health = stack.url("/health");
    let me = stack.url("/api/v1/me");
    // Warm up: isolate start, JWKS fetch, key import, connection pools.
    run(&client, &health, None, 200, c).await;
    run(&client, &me, Some(&token), 200, c).await;

    let mut results: [(Duration, Vec<Duration>); 2] = [(Duration::ZERO, vec![]), (Duration::ZERO, vec![])];
    for _ in 0..rounds {
        for (i, (url, tok)) in [(&health, None), (&me, Some(token.as_str()))].into_iter().enumerate() {
            let (wall, lat) = run(&client, url, tok, n, c).await;
            results[i].0 += wall;
            results[i].1.extend(lat);
        }
    }
    println!("auth path benchmark: {rounds} alternating rounds x {n} requests, concurrency {c}, through wrangler dev");
    println!("{:<16} {:>10} {:>9} {:>9} {:>9}", "route", "req/s", "p50 ms", "p99 ms", "max ms");
    let mut rps = [0.0; 2];
    for (i, name) in ["GET /health", "GET /api/v1/me"].into_iter().enumerate() {
        let (wall, lat) = &mut results[i];
        lat.sort();
        rps[i] = lat.len() as f64 / wall.as_secs_f64();
        println!("{:<16} {:>10.0} {:>9.2} {:>9.2} {:>9.2}", name, rps[i], pct(lat, 0.5), pct(lat, 0.99), pct(lat, 1.0));
    }
    println!("ratio /me : /health throughput = {:.2}", rps[1] / rps[0]);
}
