//! Benchmark (not a test): lead analysis wall time per tier, cold (the profile is scraped with the local
//! Browser Rendering server's real Chromium) and cached (the R2 copy is fresh), one analysis at a time on
//! an idle local stack, and the platform's own overhead: the wall time minus what the stand-ins are
//! configured or measured to take (the AI stand-in's fixed latency once, as a tier's calls run in
//! parallel, and the scrape's browser time).
//!
//!   cargo bench -p e2e --bench leads        (BENCH_LEADS_ROUNDS, default 5; BENCH_AI_LATENCY_MS, default 400)
//!
//! Wall time runs from the request leaving the client to the analysis reading COMPLETED (polled every
//! 10 ms). It includes the queue's delivery time (`max_batch_timeout = 0`, docs/adr/0017), reported on its
//! own as `queue ms` (job `started_at` - `created_at`).

use e2e::bench::{env_usize, pct};
use e2e::target::target;
use e2e::{http, Stack};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn post(stack: &Stack, token: &str, path: &str, body: Value) -> Value {
    let r = http().post(stack.url(path)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert!(status == 201 || status == 202, "{path}: {status} {v}");
    v["data"].clone()
}

fn ms(a: &str, b: &str) -> f64 {
    // RFC 3339 UTC timestamps of the same day: compare seconds of the day.
    let secs = |t: &str| -> f64 {
        let time = &t[11..t.len() - 1];
        let mut parts = time.split(':');
        let h: f64 = parts.next().unwrap().parse().unwrap();
        let m: f64 = parts.next().unwrap().parse().unwrap();
        let s: f64 = parts.next().unwrap().parse().unwrap();
        h * 3600.0 + m * 60.0 + s
    };
    (secs(b) - secs(a)) * 1000.0
}

struct Sample {
    wall: f64,
    queue: f64,
    scrape: f64,
    ai: f64,
    total: f64,
}

async fn one(stack: &Stack, token: &str, bp: &str, url: &str, tier: &str, want_hit: bool) -> Sample {
    let t = Instant::now();
    let a = post(stack, token, "/api/v1/leads/analyze", json!({ "profile_url": url, "tier": tier, "business_profile_id": bp })).await;
    let id = a["id"].as_str().unwrap().to_string();
    let done = loop {
        let r: Value =
            http().get(stack.url(&format!("/api/v1/analyses/{id}"))).bearer_auth(token).send().await.unwrap().json().await.unwrap();
        match r["data"]["status"].as_str() {
            Some("COMPLETED") => break r["data"].clone(),
            Some("FAILED") | Some("CANCELLED") => panic!("analysis ended {}", r["data"]),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    let wall = t.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(done["cache_hit"], want_hit, "{done}");
    let job: Value = http()
        .get(stack.url(&format!("/api/v1/jobs/{}", a["job_id"].as_str().unwrap())))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let st = &done["step_timings"];
    Sample {
        wall,
        queue: ms(job["data"]["created_at"].as_str().unwrap(), job["data"]["started_at"].as_str().unwrap()),
        scrape: st["scrape_ms"].as_f64().unwrap(),
        ai: st["ai_ms"].as_f64().unwrap(),
        total: st["total_ms"].as_f64().unwrap(),
    }
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    pct(&s, 0.5)
}

#[tokio::main]
async fn main() {
    let rounds = env_usize("BENCH_LEADS_ROUNDS", 5);
    let latency = env_usize("BENCH_AI_LATENCY_MS", 400) as f64;
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS), ("STACK_AI_LATENCY_MS", &latency.to_string())]);
    let token = e2e::bench::unlimited_user(&stack, "bench-leads").await;
    let bp =
        post(&stack, &token, "/api/v1/business-profiles", json!({ "name": "Acme", "description": "Developer tools for launch teams" }))
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
    // Warm the isolates and Chromium.
    one(&stack, &token, &bp, &target().url("/profile/warmup"), "LIGHT", false).await;

    println!("\nlead analysis, one at a time, idle local stack, AI stand-in latency {latency} ms per call, {rounds} rounds (medians)\n");
    println!("| tier | cache | wall ms | queue ms | scrape ms | ai ms | analysis ms | overhead ms |");
    println!("|---|---|---|---|---|---|---|---|");
    for tier in ["LIGHT", "DEEP", "XRAY"] {
        let (mut cold, mut hot) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let url = target().url(&format!("/profile/bench-{tier}-{r}-{}", uuid::Uuid::new_v4().simple()));
            cold.push(one(&stack, &token, &bp, &url, tier, false).await);
            // The same profile again within its TTL: a cache hit (another analysis of the lead).
            hot.push(one(&stack, &token, &bp, &url, tier, true).await);
        }
        for (label, samples) in [("cold", &cold), ("cached", &hot)] {
            let m = |f: fn(&Sample) -> f64| median(&samples.iter().map(f).collect::<Vec<_>>());
            // What the platform adds: everything but the stand-ins' own time and the local queue wait.
            let overhead = median(&samples.iter().map(|s| s.wall - s.queue - latency - s.scrape).collect::<Vec<_>>());
            println!(
                "| {tier} | {label} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
                m(|s| s.wall),
                m(|s| s.queue),
                m(|s| s.scrape),
                m(|s| s.ai),
                m(|s| s.total),
                overhead
            );
        }
    }
    println!(
        "\nwall: request to COMPLETED seen by the client; queue: submission to the job's start (the local queue's batch wait);\n\
         scrape: Browser Rendering (local Chromium) time; ai: the tier's calls, in parallel; analysis: the task's own total;\n\
         overhead: wall - queue - AI latency (once: calls are parallel) - scrape."
    );
}
