//! Benchmark (not a test): the first responses of a fresh Worker isolate against warm ones. Each round
//! restarts `wrangler dev` (a new workerd process: the module is loaded, the wasm compiled and
//! instantiated, the configuration read, no JWKS cached), then reads the durations wrangler logs for each
//! request: the stack's first `GET /health`, the first authenticated `GET /api/v1/me` (which also fetches
//! the signing keys), and 20 warm requests of each.
//!
//!   cargo bench -p e2e --bench coldstart        (BENCH_COLD_ROUNDS, default 3)
//!
//! The wasm's own compile and instantiate times, per wasm-opt level: `npm run coldstart`.

use e2e::bench::{env_usize, pct};
use e2e::{http, Stack};

/// Durations (ms) wrangler logged for `GET {path} 200` in `lines`, in order.
fn logged(lines: &[&str], path: &str) -> Vec<f64> {
    let needle = format!("GET {path} 200 OK (");
    lines
        .iter()
        .filter_map(|l| l.split_once(&needle).map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("ms)").and_then(|(n, _)| n.trim().parse::<f64>().ok()))
        .collect()
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    pct(&s, 0.5)
}

#[tokio::main]
async fn main() {
    let rounds = env_usize("BENCH_COLD_ROUNDS", 3);
    let stack = Stack::start(&[("STACK_WORKER_VARS", e2e::bench::NO_LIMITS)]);
    let token = e2e::bench::unlimited_user(&stack, "bench-cold").await;
    let client = http();
    let mut rows = Vec::new();
    for round in 0..rounds {
        let before = stack.worker_log().lines().count();
        // A new workerd process; the stack polls /health until the first 200.
        stack.control(&format!(r#"worker vars {{"BENCH_COLD_ROUND":"{round}"}}"#));
        let r = client.get(stack.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        for _ in 0..20 {
            assert_eq!(client.get(stack.url("/health")).send().await.unwrap().status(), 200);
            assert_eq!(client.get(stack.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap().status(), 200);
        }
        // wrangler writes its access lines after the answers: wait (bounded) until all 21 are in.
        let mut waited = 0;
        let (health, me) = loop {
            let log = stack.worker_log();
            let lines: Vec<&str> = log.lines().skip(before).collect();
            let (health, me) = (logged(&lines, "/health"), logged(&lines, "/api/v1/me"));
            if (health.len() >= 21 && me.len() == 21) || waited >= 100 {
                break (health, me);
            }
            waited += 1;
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(health.len() >= 21 && me.len() == 21, "wrangler logged {} /health and {} /me answers", health.len(), me.len());
        rows.push((health[0], median(&health[health.len() - 20..]), me[0], median(&me[1..])));
    }
    println!("\nfirst responses of a fresh isolate (wrangler dev restarted each round) vs warm, durations wrangler logged\n");
    println!("| round | first /health ms | warm /health ms (median of 20) | first /api/v1/me ms | warm /api/v1/me ms (median of 20) |");
    println!("|---|---|---|---|---|");
    for (i, (h0, h, m0, m)) in rows.iter().enumerate() {
        println!("| {} | {h0:.0} | {h:.0} | {m0:.0} | {m:.0} |", i + 1);
    }
}
