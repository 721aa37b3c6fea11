//! Jobs end to end: submission, the queue consumer with retries and dead letters, JobHub SSE with
//! replay, cancellation, isolation between accounts, and bad input.

use e2e::sse::{Frame, SseClient};
use e2e::target::target;
use e2e::{eventually, http, spawn_stack, unique_email, ApiResponse, Stack};
use futures::future::join_all;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn submit(stack: &Stack, token: &str, body: Value, idem: Option<&str>) -> ApiResponse {
    let mut req = http().post(stack.url("/api/v1/jobs")).bearer_auth(token).json(&body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    ApiResponse::from(req.send().await.unwrap()).await
}

fn http_job(url: String) -> Value {
    json!({ "task_type": "http.request", "payload": { "url": url, "timeout_ms": 10000 } })
}

async fn wait_status(stack: &Stack, token: &str, id: &str, want: &[&str]) -> Value {
    eventually(&format!("job {id} to reach {want:?}"), WAIT, || async {
        let r = stack.get_as(&format!("/api/v1/jobs/{id}"), token).await;
        let s = r.body["data"]["status"].as_str().unwrap_or("").to_string();
        want.contains(&s.as_str()).then(|| r.body["data"].clone())
    })
    .await
}

async fn frames_until_terminal(c: &mut SseClient) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(f) = c.next_frame(WAIT).await {
        let done = matches!(f.data["status"].as_str(), Some("COMPLETED" | "FAILED" | "CANCELLED"));
        out.push(f);
        if done {
            break;
        }
    }
    out
}

fn statuses(frames: &[Frame]) -> Vec<String> {
    let mut s: Vec<String> = frames.iter().map(|f| f.data["status"].as_str().unwrap().to_string()).collect();
    s.dedup();
    s
}

#[tokio::test]
async fn a_job_streams_pending_running_completed_and_replays_from_last_event_id() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("sse")).await.access_token;
    let k = key();
    let r = submit(stack, &t, http_job(target().url(&format!("/ok/{k}"))), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/api/v1/jobs/{id}").as_str()));
    assert_eq!(r.body["data"]["status"], "PENDING");
    assert_eq!(r.body["data"]["correlation_id"], r.body["request_id"], "the request id is the job's correlation id");

    let (s, c) = SseClient::open(&stack.url(&format!("/api/v1/jobs/{id}/events")), &t, None).await;
    assert_eq!(s, 200);
    let mut c = c.unwrap();
    let frames = frames_until_terminal(&mut c).await;
    assert_eq!(statuses(&frames), vec!["PENDING", "RUNNING", "COMPLETED"], "{frames:?}");
    assert!(frames.windows(2).all(|w| w[0].id < w[1].id), "ids increase: {frames:?}");
    assert!(c.next_frame(Duration::from_secs(5)).await.is_none() && c.ended, "/events ends after the terminal frame");

    let job = wait_status(stack, &t, &id, &["COMPLETED"]).await;
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["result"]["status"], 200);
    assert_eq!(job["result"]["body"], format!("hello {k}"));
    assert_eq!(target().hits(&k), 1, "the target was called exactly once");

    // Reconnect after the first frame: exactly the missed frames, in order.
    let (_, c) = SseClient::open(&stack.url(&format!("/api/v1/jobs/{id}/events")), &t, Some(frames[0].id)).await;
    let replay = frames_until_terminal(&mut c.unwrap()).await;
    let ids = |f: &[Frame]| f.iter().map(|f| f.id).collect::<Vec<_>>();
    assert_eq!(ids(&replay), ids(&frames[1..]), "replay is exactly the missed frames");
    // The same through the query parameter (a new EventSource cannot set the header); the header wins.
    let url = stack.url(&format!("/api/v1/jobs/{id}/events?last_event_id={}", frames[0].id));
    let (_, c) = SseClient::open(&url, &t, None).await;
    assert_eq!(ids(&frames_until_terminal(&mut c.unwrap()).await), ids(&frames[1..]), "?last_event_id= resumes too");
    let (_, c) = SseClient::open(&url, &t, Some(frames[1].id)).await;
    assert_eq!(ids(&frames_until_terminal(&mut c.unwrap()).await), ids(&frames[2..]), "Last-Event-ID wins over the query");

    let p = stack.get_as(&format!("/api/v1/jobs/{id}/progress"), &t).await;
    assert_eq!(p.body["data"]["status"], "COMPLETED");
    assert_eq!(p.body["data"]["progress"], 100);
}

#[tokio::test]
async fn a_target_that_fails_twice_then_succeeds_completes_on_the_third_attempt() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("retry")).await.access_token;
    let k = key();
    let r = submit(stack, &t, http_job(target().url(&format!("/fail/2/{k}"))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["attempts"], 3);
    assert_eq!(job["last_error"], "HTTP 503", "the last failure is kept for the record");
    assert_eq!(target().hits(&k), 3);
}

#[tokio::test]
async fn a_target_that_always_fails_ends_failed_and_is_recorded_from_the_dead_letter_queue() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("dlq")).await.access_token;
    let k = key();
    let mut body = http_job(target().url(&format!("/status/503/{k}")));
    body["max_attempts"] = json!(2);
    let r = submit(stack, &t, body, None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["FAILED", "COMPLETED"]).await;
    assert_eq!(job["status"], "FAILED");
    assert_eq!(job["failure_reason"], "max_attempts_exceeded");
    assert_eq!(job["attempts"], 2);
    assert_eq!(target().hits(&k), 2);
    let recorded = eventually("the dead letter to be recorded", WAIT, || async {
        let rows: Value =
            stack.service(reqwest::Method::GET, &format!("/dead_letter_jobs?job_id=eq.{id}")).send().await.unwrap().json().await.unwrap();
        (rows.as_array().map(|a| a.len()) == Some(1)).then_some(rows)
    })
    .await;
    assert_eq!(recorded[0]["queue"], "jobs-dlq");
    assert_eq!(recorded[0]["envelope"]["job_id"], id.as_str());
}

#[tokio::test]
async fn a_last_attempt_that_times_out_fails_with_reason_timeout() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("timeout")).await.access_token;
    let k = key();
    let mut body = http_job(target().url(&format!("/slow/3000/{k}")));
    body["max_attempts"] = json!(1);
    body["payload"]["timeout_ms"] = json!(1000);
    let r = submit(stack, &t, body, None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["FAILED", "COMPLETED"]).await;
    assert_eq!((job["status"].as_str(), job["failure_reason"].as_str()), (Some("FAILED"), Some("timeout")), "{job}");
    assert!(job["last_error"].as_str().is_some_and(|e| e.contains("timed out after 1000 ms")), "{job}");
}

#[tokio::test]
async fn a_binary_body_is_stored_base64_and_fetched_once() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("binary")).await.access_token;
    let k = key();
    let r = submit(stack, &t, http_job(target().url(&format!("/binary/{k}"))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["FAILED", "COMPLETED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["result"]["encoding"], "base64", "{job}");
    assert_eq!(job["result"]["body"], "iVBORw0KGgoAAAAN", "the exact bytes, NULs included");
    assert_eq!(job["attempts"], 1);
    assert_eq!(target().hits(&k), 1, "a result that is not text is not a reason to fetch again");
    let text = submit(stack, &t, http_job(target().url(&format!("/ok/{k}"))), None).await;
    let id = text.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["FAILED", "COMPLETED"]).await;
    assert_eq!((job["result"]["body"].as_str(), job["result"]["encoding"].as_str()), (Some(format!("hello {k}").as_str()), Some("utf-8")));
}

#[tokio::test]
async fn a_4xx_is_a_final_task_error_without_retries() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("4xx")).await.access_token;
    let k = key();
    let r = submit(stack, &t, http_job(target().url(&format!("/status/404/{k}"))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = wait_status(stack, &t, &id, &["FAILED", "COMPLETED"]).await;
    assert_eq!((job["status"].as_str(), job["failure_reason"].as_str()), (Some("FAILED"), Some("task_error")));
    assert_eq!(target().hits(&k), 1);
}

/// Consumer invocations run side by side (Cloudflare's consumer concurrency; locally the patched queue,
/// docs/adr/0017): a job queued while a slow one runs starts at once instead of waiting for it.
#[tokio::test]
async fn a_job_queued_behind_a_slow_one_completes_while_the_slow_one_still_runs() {
    let stack = spawn_stack();
    let slow_owner = stack.token_for(&unique_email("slow")).await.access_token;
    let fast_owner = stack.token_for(&unique_email("fast")).await.access_token;
    let r = submit(stack, &slow_owner, http_job(target().url(&format!("/slow/8000/{}", key()))), None).await;
    let slow = r.body["data"]["id"].as_str().unwrap().to_string();
    wait_status(stack, &slow_owner, &slow, &["RUNNING"]).await;
    let r = submit(stack, &fast_owner, http_job(target().url(&format!("/ok/{}", key()))), None).await;
    let fast = r.body["data"]["id"].as_str().unwrap().to_string();
    wait_status(stack, &fast_owner, &fast, &["COMPLETED"]).await;
    let slow_now = stack.get_as(&format!("/api/v1/jobs/{slow}"), &slow_owner).await.body["data"].clone();
    assert_eq!(slow_now["status"], "RUNNING", "the fast job finished while the slow one ran: {slow_now}");
    wait_status(stack, &slow_owner, &slow, &["COMPLETED"]).await;
}

#[tokio::test]
async fn a_running_job_is_cancelled_at_its_next_step_and_a_finished_one_is_a_conflict() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("cancel")).await.access_token;
    let k = key();
    let r = submit(stack, &t, http_job(target().url(&format!("/slow/3000/{k}"))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let (_, c) = SseClient::open(&stack.url(&format!("/api/v1/jobs/{id}/events")), &t, None).await;
    let mut c = c.unwrap();
    wait_status(stack, &t, &id, &["RUNNING"]).await;
    let r = ApiResponse::from(http().post(stack.url(&format!("/api/v1/jobs/{id}/cancel"))).bearer_auth(&t).send().await.unwrap()).await;
    assert_eq!(r.status, 202, "a RUNNING job's cancel is accepted, pending: {}", r.body);
    assert_eq!((r.body["data"]["status"].as_str(), r.body["data"]["cancel_requested"].as_bool()), (Some("RUNNING"), Some(true)));
    let progress = stack.get_as(&format!("/api/v1/jobs/{id}/progress"), &t).await;
    assert!(
        progress.body["data"]["status"] == "CANCELLED" || progress.body["data"]["cancel_requested"] == true,
        "/progress shows the pending cancel: {}",
        progress.body
    );
    let frames = frames_until_terminal(&mut c).await;
    assert!(frames.iter().any(|f| f.data["cancel_requested"] == true), "the stream shows the pending cancel: {frames:?}");
    assert_eq!(frames.last().unwrap().data["status"], "CANCELLED", "the terminal frame says CANCELLED: {frames:?}");
    assert_eq!(frames.last().unwrap().data["cancel_requested"], false, "a finished job has no cancel pending");
    let job = wait_status(stack, &t, &id, &["CANCELLED"]).await;
    assert_eq!(job["failure_reason"], "cancelled");
    assert!(job["result"].is_null(), "a cancelled job keeps no result");

    let r = ApiResponse::from(http().post(stack.url(&format!("/api/v1/jobs/{id}/cancel"))).bearer_auth(&t).send().await.unwrap()).await;
    r.assert_error(409, "conflict");
}

#[tokio::test]
async fn an_idempotency_key_returns_the_same_job_and_an_identical_job_in_flight_is_a_duplicate() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("idem")).await.access_token;
    let body = http_job(target().url(&format!("/slow/2000/{}", key())));
    let idem = key();
    let a = submit(stack, &t, body.clone(), Some(&idem)).await;
    assert_eq!(a.header("idempotent-replayed"), None, "a first request is not a replay");
    let b = submit(stack, &t, body.clone(), Some(&idem)).await;
    assert_eq!((a.status, b.status), (202, 200));
    assert_eq!(a.body["data"]["id"], b.body["data"]["id"]);
    assert_eq!(b.header("idempotent-replayed"), Some("true"), "a replay says so");
    // The same key with another request is refused (Stripe's rule), naming the job the key created.
    let c = submit(stack, &t, http_job(target().url("/ok/other")), Some(&idem)).await;
    let details = c.assert_error(409, "idempotency_key_reused");
    assert_eq!(details["job_id"], a.body["data"]["id"]);

    let d = submit(stack, &t, body, None).await;
    let details = d.assert_error(409, "duplicate_job");
    assert_eq!(details["job_id"], a.body["data"]["id"]);
}

#[tokio::test]
async fn another_accounts_job_is_404_on_every_route_and_stream() {
    let stack = spawn_stack();
    let owner = stack.token_for(&unique_email("owner")).await.access_token;
    let other = stack.token_for(&unique_email("other")).await.access_token;
    let r = submit(stack, &owner, http_job(target().url(&format!("/ok/{}", key()))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();

    for path in [format!("/api/v1/jobs/{id}"), format!("/api/v1/jobs/{id}/progress")] {
        stack.get_as(&path, &other).await.assert_error(404, "not_found");
    }
    let r = ApiResponse::from(http().post(stack.url(&format!("/api/v1/jobs/{id}/cancel"))).bearer_auth(&other).send().await.unwrap()).await;
    r.assert_error(404, "not_found");
    let (s, _) = SseClient::open(&stack.url(&format!("/api/v1/jobs/{id}/events")), &other, None).await;
    assert_eq!(s, 404);
    let list = stack.get_as("/api/v1/jobs", &other).await;
    assert_eq!(list.body["data"], json!([]));
    let r = stack.get_as(&format!("/api/v1/jobs?starting_after={id}"), &other).await;
    assert_eq!(r.assert_error(404, "not_found")["param"], "starting_after", "another account's job is no cursor");
    for bad in ["/api/v1/jobs/not-a-uuid", "/api/v1/jobs/00000000-0000-4000-8000-000000000000"] {
        stack.get_as(bad, &owner).await.assert_error(404, "not_found");
    }
}

#[tokio::test]
async fn twenty_two_streams_on_one_account_all_receive_every_frame() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("fanout")).await.access_token;
    let mut clients = Vec::new();
    for _ in 0..22 {
        let (s, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), &t, None).await;
        assert_eq!(s, 200);
        let mut c = c.unwrap();
        assert!(c.wait_connected(WAIT).await);
        clients.push(c);
    }
    let r = submit(stack, &t, http_job(target().url(&format!("/ok/{}", key()))), None).await;
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let all = join_all(clients.iter_mut().map(frames_until_terminal)).await;
    let first: Vec<i64> = all[0].iter().map(|f| f.id).collect();
    for frames in &all {
        assert!(frames.iter().all(|f| f.data["id"] == id.as_str()));
        assert_eq!(statuses(frames), vec!["PENDING", "RUNNING", "COMPLETED"]);
        assert_eq!(frames.iter().map(|f| f.id).collect::<Vec<_>>(), first, "every stream got every frame");
    }
    // Past the plan's limit (FREE: 25 streams) a new stream is 429.
    let mut more = Vec::new();
    for _ in 0..3 {
        let (s, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), &t, None).await;
        assert_eq!(s, 200);
        more.push(c);
    }
    let r = ApiResponse::from(http().get(stack.url("/api/v1/jobs/stream")).bearer_auth(&t).send().await.unwrap()).await;
    let details = r.assert_error(429, "stream_limit_exceeded");
    assert_eq!(details["limit"], 25, "the 429 names the plan's limit");
    assert!(r.header("retry-after").is_some());
}

#[tokio::test]
async fn jobs_list_newest_first_with_pagination_and_filters() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("list")).await.access_token;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = submit(stack, &t, http_job(target().url(&format!("/ok/{}", key()))), None).await;
        ids.push(r.body["data"]["id"].as_str().unwrap().to_string());
    }
    let r = stack.get_as("/api/v1/jobs?limit=2", &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["pagination"], json!({"limit": 2, "has_more": true}));
    let page1: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(page1, vec![ids[2].as_str(), ids[1].as_str()], "newest first");
    for item in r.body["data"].as_array().unwrap() {
        for absent in ["payload", "result", "last_error", "account_id", "correlation_id"] {
            assert!(item.get(absent).is_none(), "list items are summaries without {absent}: {item}");
        }
        assert!(item["created_at"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC: {item}");
    }
    // A job submitted now does not shift the next page: the cursor is the last item seen.
    submit(stack, &t, http_job(target().url(&format!("/ok/{}", key()))), None).await;
    let r = stack.get_as(&format!("/api/v1/jobs?limit=2&starting_after={}", ids[1]), &t).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["data"][0]["id"], ids[0].as_str());
    assert_eq!(r.body["pagination"]["has_more"], false);
    let r = stack.get_as(&format!("/api/v1/jobs?limit=1&ending_before={}", ids[0]), &t).await;
    assert_eq!(r.body["data"][0]["id"], ids[1].as_str(), "ending_before pages back");
    assert_eq!(r.body["pagination"]["has_more"], true);
    let r = stack.get_as("/api/v1/jobs?task_type=http.request&status=CANCELLED", &t).await;
    assert_eq!(r.body["data"], json!([]));
    for bad in ["page=2", "limit=0", "limit=101", "limit=abc", "status=DONE", "task_type=x", "sort=id", "starting_after=x"] {
        stack.get_as(&format!("/api/v1/jobs?{bad}"), &t).await.assert_error(400, "invalid_request");
    }
}

#[tokio::test]
async fn bad_submissions_are_all_4xx_with_field_details() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("bad")).await.access_token;
    let ok = target().url("/ok/x");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown task type", json!({"task_type": "shell.exec", "payload": {}}), "task_type"),
        ("extra top-level field", json!({"task_type": "http.request", "payload": {"url": ok}, "priority": 1}), "priority"),
        ("extra payload field", json!({"task_type": "http.request", "payload": {"url": ok, "proxy": "x"}}), "payload.proxy"),
        ("missing payload", json!({"task_type": "http.request"}), "payload"),
        ("ftp url", json!({"task_type": "http.request", "payload": {"url": "ftp://example.com/f"}}), "payload.url"),
        ("javascript url", json!({"task_type": "http.request", "payload": {"url": "javascript:alert(1)"}}), "payload.url"),
        ("not a url", json!({"task_type": "http.request", "payload": {"url": "not a url"}}), "payload.url"),
        ("negative timeout", json!({"task_type": "http.request", "payload": {"url": ok, "timeout_ms": -5}}), "payload.timeout_ms"),
        ("method not allowed", json!({"task_type": "http.request", "payload": {"url": ok, "method": "DELETE"}}), "payload.method"),
        ("max_attempts out of range", json!({"task_type": "http.request", "payload": {"url": ok}, "max_attempts": 0}), "max_attempts"),
        (
            "oversized payload",
            json!({"task_type": "http.request", "payload": {"url": ok, "method": "POST", "body": "x".repeat(40_000)}}),
            "payload",
        ),
    ];
    for (case, body, field) in cases {
        let r = submit(stack, &t, body, None).await;
        let d = r.assert_error(400, "invalid_request");
        assert!(d["fields"][field].is_string(), "{case}: expected field {field}, got {d}");
    }
    let send = |ct: &'static str, body: Vec<u8>| {
        let t = t.clone();
        async move {
            ApiResponse::from(
                http().post(stack.url("/api/v1/jobs")).bearer_auth(&t).header("content-type", ct).body(body).send().await.unwrap(),
            )
            .await
        }
    };
    send("text/plain", b"{}".to_vec()).await.assert_error(415, "unsupported_media_type");
    send("application/json", b"{\"task_type\": ".to_vec()).await.assert_error(400, "invalid_request");
    send("application/json", vec![b' '; 300 * 1024]).await.assert_error(413, "payload_too_large");
    let r = ApiResponse::from(http().post(stack.url("/api/v1/jobs")).json(&http_job(ok.clone())).send().await.unwrap()).await;
    r.assert_error(401, "unauthorized");
    let r = submit(stack, &t, http_job(ok), Some("bad key with spaces")).await;
    r.assert_error(400, "invalid_request");
}

#[tokio::test]
async fn the_stuck_job_sweep_fails_old_jobs_once_and_subscribers_see_it() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("stuck")).await;
    let me = stack.get_as("/api/v1/me", &t.access_token).await;
    let account = me.body["data"]["account"]["id"].as_str().unwrap().to_string();
    let old = "2020-01-01T00:00:00Z";
    let rows: Value = stack.service(reqwest::Method::POST, "/jobs")
        .json(&json!({"account_id": account, "task_type": "http.request", "correlation_id": "stuck-test", "created_at": old, "updated_at": old}))
        .send().await.unwrap().json().await.unwrap();
    let id = rows[0]["id"].as_str().expect("inserted").to_string();

    let (_, c) = SseClient::open(&stack.url(&format!("/api/v1/jobs/{id}/events")), &t.access_token, None).await;
    let mut c = c.unwrap();
    for _ in 0..2 {
        let r = http().get(stack.url("/__scheduled?cron=*/5+*+*+*+*")).send().await.unwrap();
        assert!(r.status().is_success());
    }
    let frames = frames_until_terminal(&mut c).await;
    assert_eq!(statuses(&frames), vec!["PENDING", "FAILED"], "{frames:?}");
    assert_eq!(frames.last().unwrap().data["failure_reason"], "stuck");
    let job = wait_status(stack, &t.access_token, &id, &["FAILED"]).await;
    assert_eq!(job["failure_reason"], "stuck");
}

#[tokio::test]
async fn an_idle_stream_is_pinged_at_least_every_fifteen_seconds() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("ping")).await.access_token;
    let (_, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), &t, None).await;
    let mut c = c.unwrap();
    assert!(c.wait_connected(WAIT).await);
    let before = c.comments;
    assert!(c.wait_comments(before + 1, Duration::from_secs(17)).await, "a `: ping` comment arrived within 17 s");
    assert!(!c.ended, "/jobs/stream stays open");
}
