//! Plan limits end to end (docs/adr/0014): the per-account request rate with its header fields, the
//! concurrent-job cap (first in, first out, other accounts unaffected), and stream slots freed as soon as
//! a client goes away (the expiry of waiting work: `tests/limits_expiry`). Plans: FREE 60 requests/min and 2 jobs at once, PRO
//! 600/min and 10; both 25 streams.

use e2e::sse::SseClient;
use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, unique_email, ApiResponse, Stack, TEST_JWT_SECRET};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The expiry of waiting work has its own binary (`tests/limits_expiry`, a 20 s TTL): under a loaded
/// machine the cap test's jobs may wait longer than that.
fn stack() -> &'static Stack {
    spawn_stack_with(&[
        ("STACK_JWT_SECRET", TEST_JWT_SECRET),
        ("STACK_WORKER_VARS", r#"{"JOB_RETRY_BASE_SECS":"1","JOB_RETRY_MAX_SECS":"2"}"#),
    ])
}

async fn free_user(tag: &str) -> String {
    stack().token_for(&unique_email(tag)).await.access_token
}

async fn me(token: &str) -> ApiResponse {
    stack().get_as("/api/v1/me", token).await
}

fn num(r: &ApiResponse, name: &str) -> i64 {
    r.header(name).unwrap_or_else(|| panic!("{name} on a {} answer", r.status)).parse().unwrap()
}

async fn submit(token: &str, payload: Value) -> Value {
    let r = ApiResponse::from(
        http()
            .post(stack().url("/api/v1/jobs"))
            .bearer_auth(token)
            .json(&json!({ "task_type": "http.request", "payload": payload }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    r.body["data"].clone()
}

#[tokio::test]
async fn a_free_account_gets_429_at_its_61st_request_and_again_200_after_the_reset() {
    let t = free_user("rate").await;
    let mut first = None;
    for i in 0..60 {
        let r = me(&t).await;
        assert_eq!(r.status, 200, "request {}: {}", i + 1, r.body);
        assert_eq!(num(&r, "ratelimit-limit"), 60);
        assert_eq!(num(&r, "ratelimit-remaining"), 59 - i, "request {}", i + 1);
        let reset = num(&r, "ratelimit-reset");
        assert!((1..=60).contains(&reset), "reset {reset}");
        first.get_or_insert(Instant::now());
    }
    let r = me(&t).await;
    let details = r.assert_error(429, "rate_limited").clone();
    assert_eq!(details["limit"], 60, "{details}");
    assert_eq!(num(&r, "ratelimit-limit"), 60);
    assert_eq!(num(&r, "ratelimit-remaining"), 0);
    let retry_after = num(&r, "retry-after");
    assert_eq!(retry_after, num(&r, "ratelimit-reset"), "Retry-After is when a slot frees");
    let refused_at = Instant::now();
    assert!(retry_after >= 1 && refused_at.duration_since(first.unwrap()).as_secs() + retry_after as u64 <= 61, "{retry_after}");

    // Another account's counter is its own.
    let other = me(&free_user("rate-other").await).await;
    assert_eq!((other.status, num(&other, "ratelimit-remaining")), (200, 59));

    // Refused requests do not count; once the first request's minute has passed, requests go through.
    let ok = eventually("the window to slide", Duration::from_secs(75), || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let r = me(&t).await;
        (r.status == 200).then_some(r)
    })
    .await;
    let waited = refused_at.elapsed();
    assert!(
        waited + Duration::from_millis(1500) >= Duration::from_secs(retry_after as u64),
        "200 after {waited:?}, Retry-After {retry_after}"
    );
    assert_eq!(num(&ok, "ratelimit-limit"), 60);
}

#[tokio::test]
async fn a_pro_account_is_not_limited_at_61_and_unauthenticated_routes_carry_no_plan_headers() {
    let (t, _) = stack().user_on_plan("rate-pro", "PRO", 0).await;
    for _ in 0..61 {
        let r = me(&t).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(num(&r, "ratelimit-limit"), 600);
    }
    let r = me(&t).await;
    assert_eq!(num(&r, "ratelimit-remaining"), 600 - 62, "every request counted once");
    let h = ApiResponse::from(http().get(stack().url("/health")).send().await.unwrap()).await;
    assert_eq!(h.status, 200);
    assert!(h.header("ratelimit-limit").is_none(), "no plan limit before authentication");
    let bad = ApiResponse::from(http().get(stack().url("/api/v1/me")).bearer_auth("garbage").send().await.unwrap()).await;
    bad.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn ten_jobs_on_free_run_two_at_a_time_in_submission_order_without_holding_back_another_account() {
    let t = free_user("cap").await;
    let (mut stream, _) = match SseClient::open(&stack().url("/api/v1/jobs/stream"), &t, None).await {
        (200, Some(s)) => (s, ()),
        (s, _) => panic!("stream: {s}"),
    };
    assert!(stream.wait_connected(Duration::from_secs(10)).await);
    let mut ids = Vec::new();
    for i in 0..10 {
        let key = format!("cap-{i}-{}", uuid::Uuid::new_v4().simple());
        ids.push(submit(&t, json!({ "url": target().url(&format!("/slow/500/{key}")) })).await["id"].as_str().unwrap().to_string());
    }
    // Meanwhile another account's job runs at once.
    let other = free_user("cap-other").await;
    let other_job = submit(&other, json!({ "url": target().url(&format!("/ok/cap-other-{}", uuid::Uuid::new_v4().simple())) })).await;
    let other_id = other_job["id"].as_str().unwrap().to_string();

    // Each job's running interval from its frames' database timestamps: the first RUNNING frame carries
    // the start, the COMPLETED frame the end (frames of two consumers may reach the stream in either
    // order; the timestamps cannot).
    let (mut start, mut end): (HashMap<String, String>, HashMap<String, String>) = (HashMap::new(), HashMap::new());
    let mut waited_for_slot = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while end.len() < 10 {
        let f = stream.next_frame(deadline.saturating_duration_since(Instant::now())).await.expect("frames until all ten end");
        let id = f.data["id"].as_str().unwrap().to_string();
        let at = f.data["updated_at"].as_str().unwrap().to_string();
        match f.data["status"].as_str().unwrap() {
            "RUNNING" => {
                start.entry(id).or_insert(at);
            }
            "PENDING" if f.data["step"] == "waiting_for_slot" => {
                assert_eq!(f.data["attempts"], 0, "waiting spends no attempt: {}", f.data);
                waited_for_slot.insert(id);
            }
            "COMPLETED" => {
                if end.len() == 4 {
                    // The other account's job was submitted after the ten. Behind them in one queue it would end
                    // last; it may share a queue batch with the first running ones, so it has ended by the time
                    // the fifth of the ten does.
                    let j = stack().get_as(&format!("/api/v1/jobs/{other_id}"), &other).await.body["data"].clone();
                    assert_eq!(j["status"], "COMPLETED", "another account is not held back: {j}");
                }
                end.insert(id, at);
            }
            "PENDING" => {}
            s => panic!("unexpected {s}: {}", f.data),
        }
    }
    // RFC 3339 timestamps of one offset sort as strings. At equal times an end comes before a start.
    let mut events: Vec<(&str, u8, &str)> = Vec::new();
    for id in &ids {
        events.push((start[id].as_str(), 1, id));
        events.push((end[id].as_str(), 0, id));
    }
    events.sort();
    let (mut running, mut max_running) = (0i32, 0i32);
    for (_, kind, _) in &events {
        running += if *kind == 1 { 1 } else { -1 };
        max_running = max_running.max(running);
    }
    assert_eq!(max_running, 2, "at most two RUNNING at any moment, and the cap was used: {events:?}");
    // First in, first out with two slots: a job starts only after every job submitted two or more places
    // before it has started (two that become eligible together may start in either order), and ends after
    // them too (the jobs take equally long).
    for w in ids.windows(3) {
        assert!(start[&w[0]] < start[&w[2]], "started in submission order: {events:?}");
    }
    for w in ids.windows(3) {
        assert!(end[&w[0]] < end[&w[2]], "completed in submission order, up to the two running together: {events:?}");
    }
    assert!(waited_for_slot.len() >= 7, "jobs beyond the cap waited visibly: {}", waited_for_slot.len());
}

#[tokio::test]
async fn a_closed_stream_frees_its_slot_within_two_seconds() {
    let (t, _) = stack().user_on_plan("slots", "PRO", 0).await;
    let url = stack().url("/api/v1/jobs/stream");
    let mut open = Vec::new();
    for _ in 0..25 {
        let (s, c) = SseClient::open(&url, &t, None).await;
        assert_eq!(s, 200);
        let mut c = c.unwrap();
        assert!(c.wait_connected(Duration::from_secs(10)).await);
        open.push(c);
    }
    let r = ApiResponse::from(http().get(&url).bearer_auth(&t).send().await.unwrap()).await;
    let details = r.assert_error(429, "stream_limit_exceeded").clone();
    assert_eq!(details["limit"], 25, "{details}");
    assert!(r.header("retry-after").is_some());

    drop(open.pop());
    let closed = Instant::now();
    let reopened = eventually("a slot to free", Duration::from_secs(10), || async {
        match SseClient::open(&url, &t, None).await {
            (200, Some(c)) => Some(c),
            (429, _) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                None
            }
            (s, _) => panic!("stream: {s}"),
        }
    })
    .await;
    let took = closed.elapsed();
    eprintln!("stream slot free again {took:?} after its client closed");
    assert!(took <= Duration::from_secs(2), "the slot was free again after {took:?}");
    drop(reopened);
}
