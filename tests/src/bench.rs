//! Shared benchmark plumbing: submit jobs at a given concurrency and time each from the submit request
//! leaving the client to its COMPLETED frame on `/api/v1/jobs/stream`.

use crate::sse::SseClient;
use crate::{http, Stack};
use futures::stream::{self, StreamExt};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Worker vars of benchmark stacks: the plan request limit and the per-IP gate off, so a benchmark
/// measures the path it names at full speed (`benches/limiter.rs` measures the limiter itself).
pub const NO_LIMITS: &str = r#"{"FF_RATE_LIMITS_ENABLED":"false"}"#;

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs `jobs` jobs (bodies from `job`) with `concurrency` submitters: (jobs/s, sorted latencies in ms).
/// Open loop: submitters do not wait for their jobs, so `concurrency` bounds submissions in flight.
pub async fn round(stack: &Stack, token: &str, jobs: usize, concurrency: usize, job: impl Fn() -> Value) -> (f64, Vec<f64>) {
    run(stack, token, jobs, concurrency, job, false).await
}

/// Closed loop: each of `concurrency` submitters waits for its job's COMPLETED frame before submitting
/// the next, so exactly `concurrency` jobs are in flight.
pub async fn round_closed(stack: &Stack, token: &str, jobs: usize, concurrency: usize, job: impl Fn() -> Value) -> (f64, Vec<f64>) {
    run(stack, token, jobs, concurrency, job, true).await
}

type Waiters = Arc<Mutex<HashMap<String, tokio::sync::oneshot::Sender<()>>>>;

async fn run(stack: &Stack, token: &str, jobs: usize, concurrency: usize, job: impl Fn() -> Value, closed: bool) -> (f64, Vec<f64>) {
    let waiters: Waiters = Arc::default();
    let (status, client) = SseClient::open(&stack.url("/api/v1/jobs/stream"), token, None).await;
    assert_eq!(status, 200);
    let mut client = client.unwrap();
    assert!(client.wait_connected(Duration::from_secs(10)).await);
    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let reader = {
        let submitted = submitted.clone();
        let waiters = waiters.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while latencies.len() < jobs {
                let Some(f) = client.next_frame(Duration::from_secs(120)).await else { break };
                if f.data["status"] == "COMPLETED" {
                    let id = f.data["id"].as_str().unwrap().to_string();
                    // The submit response may not have been recorded yet; poll for it briefly.
                    for _ in 0..100 {
                        if let Some(t) = submitted.lock().unwrap().get(&id) {
                            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                            if let Some(w) = waiters.lock().unwrap().remove(&id) {
                                let _ = w.send(());
                            }
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
            latencies
        })
    };
    let started = Instant::now();
    let client = http();
    stream::iter(0..jobs)
        .for_each_concurrent(concurrency, |_| {
            let submitted = submitted.clone();
            let client = client.clone();
            let body = job();
            let waiters = waiters.clone();
            async move {
                let t = Instant::now();
                let r = client.post(stack.url("/api/v1/jobs")).bearer_auth(token).json(&body).send().await.expect("submit");
                assert_eq!(r.status(), 202);
                let v: serde_json::Value = r.json().await.unwrap();
                let id = v["data"]["id"].as_str().unwrap().to_string();
                let (tx, rx) = tokio::sync::oneshot::channel();
                if closed {
                    waiters.lock().unwrap().insert(id.clone(), tx);
                }
                submitted.lock().unwrap().insert(id, t);
                if closed {
                    let _ = tokio::time::timeout(Duration::from_secs(120), rx).await;
                }
            }
        })
        .await;
    let mut lat = reader.await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(lat.len(), jobs, "every job's COMPLETED frame arrived");
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (jobs as f64 / wall, lat)
}

pub fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A benchmark user on ENTERPRISE whose plan's request limit is raised out of the way (service role,
/// this stack's own database), so a benchmark measures throughput, not the plan's promise. The limiter
/// still counts every request.
pub async fn unlimited_user(stack: &Stack, tag: &str) -> String {
    let r = stack
        .service(reqwest::Method::PATCH, "/plans?code=eq.ENTERPRISE")
        .json(&serde_json::json!({ "rate_limit_per_minute": 1_000_000_000 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "raise the ENTERPRISE limit: {}", r.status());
    stack.user_on_plan(tag, "ENTERPRISE", 100_000).await.0
}

/// `n` authenticated GETs of `url` with `c` in flight; every answer must be 200. Latencies, unsorted.
pub async fn get_latencies(client: &reqwest::Client, url: &str, token: &str, n: usize, c: usize) -> Vec<Duration> {
    stream::iter(0..n)
        .map(|_| async {
            let t = Instant::now();
            let r = client.get(url).bearer_auth(token).send().await.expect("request");
            assert_eq!(r.status(), 200, "benchmark requests must succeed");
            r.bytes().await.expect("body");
            t.elapsed()
        })
        .buffer_unordered(c)
        .collect()
        .await
}

/// The `p` quantile of sorted durations, in ms.
pub fn pct_ms(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}
