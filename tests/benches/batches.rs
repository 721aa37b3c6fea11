//! Benchmark (not a test): 100 trivial `http.request` jobs submitted as one batch versus as 100 single
//! submissions (one submitter, and ten), timed from the first request leaving the client to the last
//! COMPLETED frame on `/api/v1/jobs/stream`, through the local stack. Rounds alternate so the ratio is
//! measured side by side.
//!
//!   cargo bench -p e2e --bench batches        (BENCH_BATCH_ROUNDS, default 3; BENCH_BATCH_ITEMS, default 100)

use e2e::bench::{env_usize, pct};
use e2e::sse::SseClient;
use e2e::target::target;
use e2e::{http, Stack};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn item() -> Value {
    json!({ "task_type": "http.request", "payload": { "url": target().url(&format!("/ok/{}", uuid::Uuid::new_v4().simple())) } })
}

/// Waits for `n` COMPLETED frames on the account stream; returns when the last arrived.
async fn completions(mut c: SseClient, n: usize) -> Instant {
    let mut done = HashSet::new();
    while done.len() < n {
        let f = c.next_frame(Duration::from_secs(120)).await.expect("a frame within 120 s");
        if f.data["status"] == "COMPLETED" {
            done.insert(f.data["id"].as_str().unwrap().to_string());
        }
    }
    Instant::now()
}

async fn stream(stack: &Stack, token: &str) -> SseClient {
    let (s, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), token, None).await;
    assert_eq!(s, 200);
    let mut c = c.unwrap();
    assert!(c.wait_connected(Duration::from_secs(10)).await);
    c
}

/// (submit ms, submit -> all COMPLETED ms) for one batch of `n`.
async fn as_batch(stack: &Stack, token: &str, n: usize) -> (f64, f64) {
    let c = stream(stack, token).await;
    let waiter = tokio::spawn(completions(c, n));
    let t = Instant::now();
    let body = json!({ "items": (0..n).map(|_| item()).collect::<Vec<_>>() });
    let r = http().post(stack.url("/api/v1/batches")).bearer_auth(token).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap_or_default());
    let submitted = t.elapsed().as_secs_f64() * 1000.0;
    let end = waiter.await.unwrap();
    (submitted, (end - t).as_secs_f64() * 1000.0)
}

/// The same for `n` single submissions by `submitters` concurrent clients.
async fn as_singles(stack: &Stack, token: &str, n: usize, submitters: usize) -> (f64, f64) {
    let c = stream(stack, token).await;
    let waiter = tokio::spawn(completions(c, n));
    let t = Instant::now();
    let client = http();
    stream::iter(0..n)
        .for_each_concurrent(submitters, |_| {
            let client = client.clone();
            async move {
                let r = client.post(stack.url("/api/v1/jobs")).bearer_auth(token).json(&item()).send().await.unwrap();
                assert_eq!(r.status(), 202);
            }
        })
        .await;
    let submitted = t.elapsed().as_secs_f64() * 1000.0;
    let end = waiter.await.unwrap();
    (submitted, (end - t).as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    pct(&v, 0.5)
}

#[tokio::main]
async fn main() {
    let rounds = env_usize("BENCH_BATCH_ROUNDS", 3);
    let n = env_usize("BENCH_BATCH_ITEMS", 100);
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS)]);
    let token = e2e::bench::unlimited_user(&stack, "bench-batches").await;
    as_batch(&stack, &token, 10).await; // warm-up
    as_singles(&stack, &token, 10, 1).await;
    let (mut batch, mut serial, mut ten) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        batch.push(as_batch(&stack, &token, n).await);
        serial.push(as_singles(&stack, &token, n, 1).await);
        ten.push(as_singles(&stack, &token, n, 10).await);
    }
    println!(
        "batches benchmark: {n} trivial http.request jobs, first request -> last COMPLETED frame, median of {rounds} alternating rounds"
    );
    println!("{:<28} {:>12} {:>14} {:>10}", "how", "submit ms", "all done ms", "vs batch");
    let total = |v: &[(f64, f64)]| median(v.iter().map(|x| x.1).collect());
    let submit = |v: &[(f64, f64)]| median(v.iter().map(|x| x.0).collect());
    let base = total(&batch);
    for (name, v) in [("one batch", &batch), ("singles, 1 submitter", &serial), ("singles, 10 submitters", &ten)] {
        println!("{:<28} {:>12.0} {:>14.0} {:>9.2}x", name, submit(v), total(v), total(v) / base);
    }
}
