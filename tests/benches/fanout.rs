//! Benchmark (not a test): SSE fan-out. `BENCH_FANOUT_ACCOUNTS` accounts (default 100) each hold
//! `BENCH_FANOUT_STREAMS` open `/api/v1/jobs/stream` streams (default 10: 1,000 streams), then every
//! account submits `BENCH_FANOUT_JOBS` trivial jobs (default 3). Delivery latency of every `job` frame on
//! every stream = the time it arrived minus its `updated_at` (the moment the state was written; same
//! machine clock), and the spread between the first and the last of an account's streams to get a frame.
//!
//!   cargo bench -p e2e --bench fanout

use e2e::bench::{env_usize, pct, unlimited_user, NO_LIMITS};
use e2e::sse::SseClient;
use e2e::target::target;
use e2e::{http, Stack};
use futures::future::join_all;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1000.0
}

fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    // 2026-12-01T04:28:37.267Z (the Worker's format): date, time and milliseconds.
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let d: Vec<i64> = date.split('-').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let ms: f64 = format!("0.{frac}").parse::<f64>().ok()? * 1000.0;
    Some(((days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2]) as f64) * 1000.0 + ms)
}

#[tokio::main]
async fn main() {
    let accounts = env_usize("BENCH_FANOUT_ACCOUNTS", 100);
    let per = env_usize("BENCH_FANOUT_STREAMS", 10);
    let jobs = env_usize("BENCH_FANOUT_JOBS", 3);
    let stack = Stack::start(&[("STACK_WORKER_VARS", NO_LIMITS)]);
    let tokens: Vec<String> = join_all((0..accounts).map(|i| {
        let stack = &stack;
        async move { unlimited_user(stack, &format!("fanout{i}")).await }
    }))
    .await;
    // (account, job id, status and step) -> arrival times on each stream
    type Seen = Arc<Mutex<HashMap<(usize, String, String), Vec<f64>>>>;
    let seen: Seen = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let mut readers = Vec::new();
    for (a, token) in tokens.iter().enumerate() {
        for _ in 0..per {
            let (s, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), token, None).await;
            assert_eq!(s, 200, "stream {a}");
            let mut c = c.unwrap();
            assert!(c.wait_connected(Duration::from_secs(30)).await);
            let (seen, latencies) = (seen.clone(), latencies.clone());
            readers.push(tokio::spawn(async move {
                let mut done = 0;
                while done < jobs {
                    let Some(f) = c.next_frame(Duration::from_secs(120)).await else { break };
                    let arrived = now_ms();
                    if let Some(sent) = f.data["updated_at"].as_str().and_then(parse_rfc3339_ms) {
                        latencies.lock().unwrap().push((arrived - sent).max(0.0));
                    }
                    let state = format!("{}/{}", f.data["status"].as_str().unwrap_or(""), f.data["step"].as_str().unwrap_or(""));
                    let key = (a, f.data["id"].as_str().unwrap_or("").to_string(), state);
                    seen.lock().unwrap().entry(key).or_default().push(arrived);
                    if f.data["status"] == "COMPLETED" {
                        done += 1;
                    }
                }
            }));
        }
    }
    println!("fan-out benchmark: {accounts} accounts x {per} streams = {} open streams; {jobs} jobs per account", accounts * per);
    let client = http();
    join_all(tokens.iter().map(|t| {
        let client = client.clone();
        let stack = &stack;
        async move {
            for _ in 0..jobs {
                let body = json!({"task_type": "http.request", "payload": {"url": target().url(&format!("/ok/{}", uuid::Uuid::new_v4().simple()))}});
                let r = client.post(stack.url("/api/v1/jobs")).bearer_auth(t).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 202);
            }
        }
    }))
    .await;
    join_all(readers).await;
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut spread: Vec<f64> = seen
        .lock()
        .unwrap()
        .values()
        .filter(|v| v.len() == per)
        .map(|v| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min))
        .collect();
    spread.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let complete = seen.lock().unwrap().values().filter(|v| v.len() == per).count();
    let total = seen.lock().unwrap().len();
    println!("frames delivered to every stream of their account: {complete} of {total}");
    println!("{:<34} {:>8} {:>9} {:>9} {:>9}", "", "n", "p50 ms", "p99 ms", "max ms");
    println!(
        "{:<34} {:>8} {:>9.0} {:>9.0} {:>9.0}",
        "delivery (arrival - updated_at)",
        lat.len(),
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
    println!(
        "{:<34} {:>8} {:>9.0} {:>9.0} {:>9.0}",
        "spread across an account's streams",
        spread.len(),
        pct(&spread, 0.5),
        pct(&spread, 0.99),
        pct(&spread, 1.0)
    );
}
