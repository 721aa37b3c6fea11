//! Benchmark (not a test): Stripe webhooks accepted per second (signature verification + enqueue) and
//! the answer time percentiles, through the local stack, with `/health` measured alongside for scale.
//!
//!   cargo bench -p e2e --bench webhooks        (BENCH_WEBHOOKS, default 2000; BENCH_CONCURRENCY, default 16)

use e2e::{http, Stack};
use futures::stream::{self, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_bench";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn signed(body: &str) -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

async fn run(stack: &Stack, n: usize, c: usize, webhook: bool) -> (f64, Vec<f64>) {
    let client = http();
    let started = Instant::now();
    let mut lat: Vec<f64> = stream::iter(0..n)
        .map(|_| {
            let client = client.clone();
            async move {
                let req = if webhook {
                    let body =
                        json!({"id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event", "type": "charge.succeeded",
                                      "created": 1_795_500_000, "data": {"object": {"id": "ch_1"}}})
                        .to_string();
                    client.post(stack.url("/api/v1/billing/webhooks")).header("Stripe-Signature", signed(&body)).body(body)
                } else {
                    client.get(stack.url("/health"))
                };
                let t = Instant::now();
                let r = req.send().await.expect("request");
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                t.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(c)
        .collect()
        .await;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (rate, lat)
}

#[tokio::main]
async fn main() {
    let n = env_usize("BENCH_WEBHOOKS", 2000);
    let c = env_usize("BENCH_CONCURRENCY", 16);
    let vars = json!({"STRIPE_WEBHOOK_SECRET": SECRET, "FF_RATE_LIMITS_ENABLED": "false"}).to_string();
    let stack = Stack::start(&[("STACK_WORKER_VARS", vars.as_str())]);
    run(&stack, 100, c, true).await;
    println!("webhook benchmark: {n} signed events (verify + enqueue), concurrency {c}, through wrangler dev");
    println!("{:<26} {:>8} {:>8} {:>8}", "route", "req/s", "p50 ms", "p99 ms");
    for (name, webhook) in [("POST /api/v1/billing/webhooks", true), ("GET /health", false)] {
        let (rate, lat) = run(&stack, n, c, webhook).await;
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q).round() as usize];
        println!("{:<26} {:>8.0} {:>8.1} {:>8.1}", name, rate, p(0.5), p(0.99));
    }
}
