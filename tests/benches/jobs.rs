//! Benchmark (not a test): end-to-end job throughput and latency for a trivial `http.request`, from the
//! submit request leaving the client to the COMPLETED frame arriving on an SSE client
//! (`/api/v1/jobs/stream`), at 1 and at 50 concurrent submitters, through the local stack.
//!
//!   cargo bench -p e2e --bench jobs        (BENCH_JOBS_SERIAL, default 30; BENCH_JOBS_CONCURRENT, default 300)

use e2e::sse::SseClient;
use e2e::target::target;
use e2e::{http, unique_email, Stack};
use futures::stream::{self, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn round(stack: &Stack, token: &str, jobs: usize, concurrency: usize) -> (f64, Vec<f64>) {
    let (status, client) = SseClient::open(&stack.url("/api/v1/jobs/stream"), token, None).await;
    assert_eq!(status, 200);
    let mut client = client.unwrap();
    assert!(client.wait_connected(Duration::from_secs(10)).await);
    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let reader = {
        let submitted = submitted.clone();
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
            async move {
                let key = uuid::Uuid::new_v4().simple().to_string();
                let t = Instant::now();
                let r = client.post(stack.url("/api/v1/jobs")).bearer_auth(token)
                    .json(&json!({"task_type": "http.request", "payload": {"url": target().url(&format!("/ok/{key}"))}}))
                    .send().await.expect("submit");
                assert_eq!(r.status(), 202);
                let v: serde_json::Value = r.json().await.unwrap();
                submitted.lock().unwrap().insert(v["data"]["id"].as_str().unwrap().to_string(), t);
            }
        })
        .await;
    let mut lat = reader.await.unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(lat.len(), jobs, "every job's COMPLETED frame arrived");
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (jobs as f64 / wall, lat)
}

fn pct(v: &[f64], p: f64) -> f64 {
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let serial = env_usize("BENCH_JOBS_SERIAL", 30);
    let concurrent = env_usize("BENCH_JOBS_CONCURRENT", 300);
    let stack = Stack::start(&[]);
    let token = stack.token_for(&unique_email("bench-jobs")).await.access_token;
    // The run exceeds FREE's quota and credits: put the account on ENTERPRISE with enough credits.
    let me = stack.get_as("/api/v1/me", &token).await;
    let account = me.body["data"]["account"]["id"].as_str().unwrap().to_string();
    let r = stack.service(reqwest::Method::PATCH, &format!("/accounts?id=eq.{account}")).json(&json!({"plan": "ENTERPRISE"})).send().await.unwrap();
    assert!(r.status().is_success());
    let r = stack.service(reqwest::Method::POST, "/rpc/grant_credits")
        .json(&json!({"p_account_id": account, "p_amount": 100000, "p_kind": "adjustment", "p_reference": "bench"})).send().await.unwrap();
    assert!(r.status().is_success());
    round(&stack, &token, 5, 1).await; // warm-up
    println!("jobs benchmark: trivial http.request, submit -> COMPLETED frame on /api/v1/jobs/stream, through wrangler dev");
    println!("{:<14} {:>6} {:>8} {:>9} {:>9} {:>9}", "submitters", "jobs", "jobs/s", "p50 ms", "p99 ms", "max ms");
    for (c, n) in [(1, serial), (50, concurrent)] {
        let (rate, lat) = round(&stack, &token, n, c).await;
        println!("{:<14} {:>6} {:>8.1} {:>9.0} {:>9.0} {:>9.0}", c, n, rate, pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0));
    }
}

