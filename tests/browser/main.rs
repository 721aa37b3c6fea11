//! Browser jobs end to end: `browser.extract_text` through the Worker, the `browser-jobs` queue and the
//! local Browser Rendering server (real headless Chromium) against pages the harness serves; the
//! circuit breaker; 429 with Retry-After; bad payloads.
//!
//! The breaker and the server's fault injection are shared by the whole stack, so tests that inject
//! faults take the write side of [`GATE`] and run alone; the others share the read side.

use e2e::sse::SseClient;
use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, ApiResponse, Stack, TEST_JWT_SECRET};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::RwLock;

static GATE: RwLock<()> = RwLock::const_new(());
const WAIT: Duration = Duration::from_secs(60);

fn stack() -> &'static Stack {
    spawn_stack_with(&[
        ("STACK_JWT_SECRET", TEST_JWT_SECRET),
        (
            "STACK_WORKER_VARS",
            // A deny-list on (without loopback, where the target listens) so the browser gets its reject patterns.
            r#"{"JOB_RETRY_BASE_SECS":"1","JOB_RETRY_MAX_SECS":"2","BREAKER_FAILURE_THRESHOLD":"3","BREAKER_COOLDOWN_SECS":"2","SSRF_DENY_CIDRS":"10.0.0.0/8,192.168.0.0/16,169.254.0.0/16"}"#,
        ),
    ])
}

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn pro(tag: &str) -> String {
    stack().user_on_plan(tag, "PRO", 0).await.0
}

async fn submit(token: &str, body: Value) -> ApiResponse {
    ApiResponse::from(http().post(stack().url("/api/v1/jobs")).bearer_auth(token).json(&body).send().await.unwrap()).await
}

async fn submit_ok(token: &str, payload: Value) -> String {
    let r = submit(token, json!({ "task_type": "browser.extract_text", "payload": payload })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    r.body["data"]["id"].as_str().unwrap().to_string()
}

async fn wait_status(token: &str, id: &str, want: &[&str]) -> Value {
    eventually(&format!("job {id} to reach {want:?}"), WAIT, || async {
        let r = stack().get_as(&format!("/api/v1/jobs/{id}"), token).await;
        let s = r.body["data"]["status"].as_str().unwrap_or("").to_string();
        want.contains(&s.as_str()).then(|| r.body["data"].clone())
    })
    .await
}

async fn health() -> Value {
    ApiResponse::from(http().get(stack().url("/health")).send().await.unwrap()).await.body
}

fn count(stats: &Value, status: u16) -> u64 {
    stats["by_status"][status.to_string()].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn the_whole_page_text_with_its_title_and_progress_steps() {
    let _g = GATE.read().await;
    let t = pro("page").await;
    let k = key();
    let id = submit_ok(&t, json!({ "url": target().url(&format!("/page/{k}")) })).await;
    let (status, sse) = SseClient::open(&stack().url(&format!("/api/v1/jobs/{id}/events")), &t, None).await;
    assert_eq!(status, 200);
    let mut sse = sse.unwrap();
    let job = wait_status(&t, &id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["task_type"], "browser.extract_text");
    assert_eq!(job["credit_cost"], 5, "browser jobs cost 5 credits (task_types)");
    let r = &job["result"];
    assert_eq!(r["title"], format!("Page {k}"));
    assert_eq!(r["text"], format!("Hello {k}\nFirst paragraph & more.\nside text"), "{r}");
    assert_eq!(r["url"], target().url(&format!("/page/{k}")));
    assert!(r["elapsed_ms"].as_u64().is_some(), "{r}");
    assert!(r.get("selector").is_none());
    let mut steps = Vec::new();
    while let Some(f) = sse.next_frame(WAIT).await {
        steps.push(f.data["step"].as_str().unwrap_or("").to_string());
        if f.data["status"] == "COMPLETED" {
            break;
        }
    }
    let pos = |s: &str| steps.iter().position(|x| x == s).unwrap_or_else(|| panic!("no {s} step in {steps:?}"));
    assert!(pos("navigating") < pos("extracting"), "{steps:?}");
    assert!(pos("extracting") < pos("completed"), "{steps:?}");
}

#[tokio::test]
async fn the_text_of_a_selector_through_the_alias() {
    let _g = GATE.read().await;
    let t = pro("selector").await;
    let k = key();
    let r = submit(
        &t,
        json!({ "task_type": "navigate_and_extract_text",
        "payload": { "url": target().url(&format!("/page/{k}")), "selector": "#content" } }),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["data"]["task_type"], "browser.extract_text", "the alias is stored as the canonical type");
    let id = r.body["data"]["id"].as_str().unwrap();
    let job = wait_status(&t, id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["result"]["text"], format!("Hello {k}\nFirst paragraph & more."));
    assert_eq!(job["result"]["selector"], "#content");
    assert_eq!(job["result"]["matches"], 1);
    assert_eq!(job["result"]["title"], format!("Page {k}"));
}

#[tokio::test]
async fn content_rendered_later_is_waited_for() {
    let _g = GATE.read().await;
    let t = pro("delayed").await;
    let k = key();
    let id = submit_ok(
        &t,
        json!({ "url": target().url(&format!("/delayed/1500/{k}")),
        "wait_for_selector": "#late", "selector": "#late", "timeout_ms": 10000 }),
    )
    .await;
    let job = wait_status(&t, &id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["result"]["text"], format!("late content {k}"));
    assert_eq!(job["attempts"], 1);
}

#[tokio::test]
async fn a_selector_that_never_appears_times_out_retries_and_fails_clearly() {
    let _g = GATE.read().await;
    let t = pro("never").await;
    let k = key();
    let r = submit(
        &t,
        json!({ "task_type": "browser.extract_text", "max_attempts": 2,
        "payload": { "url": target().url(&format!("/page/{k}")), "wait_for_selector": "#never", "timeout_ms": 1000 } }),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap();
    let job = wait_status(&t, id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["attempts"], 2, "each timeout spent an attempt");
    assert_eq!(job["failure_reason"], "timeout", "the last attempt timed out");
    let err = job["last_error"].as_str().unwrap();
    assert!(err.contains("#never") && err.contains("1000ms"), "a clear last_error: {err}");
    assert_eq!(target().hits(&k), 2, "the page was loaded once per attempt");
}

#[tokio::test]
async fn a_redirect_to_an_internal_name_is_refused_in_the_browser() {
    let _g = GATE.read().await;
    let t = pro("redirect").await;
    let k = key();
    // The submitted URL passes the deny-list; the page it redirects to (`localhost`) would not.
    let r = submit(
        &t,
        json!({ "task_type": "browser.extract_text", "max_attempts": 1,
                "payload": { "url": target().url(&format!("/redirect-internal/{k}")), "timeout_ms": 5000 } }),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap();
    let job = wait_status(&t, id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "FAILED", "the redirect target was not read: {job}");
    assert!(job["result"].is_null(), "{job}");
    assert!(job["last_error"].as_str().unwrap_or_default().contains("ERR_BLOCKED_BY_CLIENT"), "{job}");
    assert_eq!(target().hits(&k), 1, "the redirect was served, the internal page never requested");
    assert!(stack().browser_stats().await["rejected"].as_u64().unwrap_or(0) >= 1, "the browser refused the hop");
}

#[tokio::test]
async fn server_errors_open_the_breaker_and_jobs_complete_once_it_recovers() {
    let _g = GATE.write().await;
    let t = pro("breaker").await;
    let before = stack().browser_stats().await;
    stack().browser_faults(Some(json!({ "status": 500 }))).await;
    let k = key();
    let id = submit_ok(&t, json!({ "url": target().url(&format!("/page/{k}")) })).await;
    let h = eventually("the breaker to open", WAIT, || async {
        let h = health().await;
        (h["data"]["checks"]["browser_rendering"] == "open").then_some(h)
    })
    .await;
    assert_eq!(h["data"]["status"], "ok", "Browser Rendering is not required for the API: {h}");
    assert!(h["data"]["circuits"]["browser_rendering"]["reason"].as_str().unwrap().contains("consecutive failures"), "{h}");
    let job = stack().get_as(&format!("/api/v1/jobs/{id}"), &t).await.body["data"].clone();
    assert_eq!(job["status"], "PENDING", "the job waits, it does not fail: {job}");
    assert_eq!(job["attempts"], 0, "service failures spend no attempt: {job}");
    assert_eq!(job["step"], "waiting_for_browser");
    let failed = count(&stack().browser_stats().await, 500) - count(&before, 500);
    assert!(failed >= 3, "the breaker opened after 3 failures, saw {failed}");
    // While open, nothing reaches the service; after the cool-down exactly one probe does, fails, and the
    // breaker opens again.
    let opened_at = h["data"]["circuits"]["browser_rendering"]["opened_at"].clone();
    assert!(opened_at.is_number(), "{h}");
    eventually("the failed probe to reopen the breaker", WAIT, || async {
        let c = health().await["data"]["circuits"]["browser_rendering"].clone();
        (c["state"] == "open" && c["opened_at"].is_number() && c["opened_at"] != opened_at).then_some(())
    })
    .await;
    let during = count(&stack().browser_stats().await, 500) - count(&before, 500);
    assert_eq!(during, failed + 1, "one probe between two openings, nothing else ({failed} → {during})");

    stack().browser_faults(None).await;
    let job = wait_status(&t, &id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["attempts"], 1);
    assert_eq!(job["result"]["title"], format!("Page {k}"));
    eventually("the breaker to close", WAIT, || async {
        (health().await["data"]["checks"]["browser_rendering"] == "closed").then_some(())
    })
    .await;
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after_without_failing() {
    let _g = GATE.write().await;
    let t = pro("ratelimit").await;
    let before = stack().browser_stats().await;
    stack().browser_faults(Some(json!({ "status": 429, "count": 2, "retry_after": 1 }))).await;
    let k = key();
    let id = submit_ok(&t, json!({ "url": target().url(&format!("/page/{k}")), "selector": "h1" })).await;
    let job = wait_status(&t, &id, &["COMPLETED", "FAILED"]).await;
    assert_eq!(job["status"], "COMPLETED", "{job}");
    assert_eq!(job["attempts"], 1, "429s spend no attempt");
    assert_eq!(job["result"]["text"], format!("Hello {k}"));
    assert_eq!(count(&stack().browser_stats().await, 429) - count(&before, 429), 2);
    assert_eq!(health().await["data"]["checks"]["browser_rendering"], "closed", "429 is not a failure of the service");
}

#[tokio::test]
async fn bad_browser_payloads_are_400_and_plans_without_the_task_are_refused() {
    let _g = GATE.read().await;
    let t = pro("bad").await;
    let page = target().url("/page/x");
    for (payload, field) in [
        (json!({ "url": "ftp://example.com/file" }), "payload.url"),
        (json!({ "url": "javascript:alert(1)" }), "payload.url"),
        (json!({ "url": page, "timeout_ms": 999 }), "payload.timeout_ms"),
        (json!({ "url": page, "timeout_ms": 60001 }), "payload.timeout_ms"),
        (json!({ "url": page, "script": "document.title" }), "payload.script"),
        (json!({ "url": page, "selector": "" }), "payload.selector"),
        (json!({ "selector": "h1" }), "payload.url"),
    ] {
        let r = submit(&t, json!({ "task_type": "browser.extract_text", "payload": payload })).await;
        let e = r.assert_error(400, "invalid_request");
        assert!(e["fields"][field].is_string(), "{payload}: {e}");
    }
    let jobs = stack().get_as("/api/v1/jobs", &t).await;
    assert_eq!(jobs.body["data"].as_array().unwrap().len(), 0, "nothing was created");

    let free = stack().token_for(&e2e::unique_email("free")).await.access_token;
    let r = submit(&free, json!({ "task_type": "browser.extract_text", "payload": { "url": page } })).await;
    r.assert_error(403, "feature_disabled");
}

/// Turning a flag off is a Worker redeploy with the var changed; locally, a restart of `wrangler dev`.
/// Jobs queued before the change: tests/browser_flags.
#[tokio::test]
async fn flags_refuse_submissions_and_health_lists_them() {
    let _g = GATE.write().await;
    let t = pro("flags").await;
    stack().control(r#"worker vars {"FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED":"false"}"#);
    let h = health().await;
    assert_eq!(h["data"]["features"]["FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"], false, "{h}");
    assert_eq!(h["data"]["features"]["FF_BROWSER_WORKER_ENABLED"], true, "{h}");
    let r = submit(&t, json!({ "task_type": "browser.extract_text", "payload": { "url": target().url("/page/x") } })).await;
    assert_eq!(r.assert_error(403, "feature_disabled")["flag"], "FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED");
    // Refused before the payload is looked at, and other task types are unaffected.
    let r = submit(&t, json!({ "task_type": "navigate_and_extract_text", "payload": { "url": "ftp://x" } })).await;
    r.assert_error(403, "feature_disabled");
    let r = submit(&t, json!({ "task_type": "http.request", "payload": { "url": target().url("/ok/flags") } })).await;
    assert_eq!(r.status, 202, "{}", r.body);

    stack().control(r#"worker vars {"FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED":"true","FF_BROWSER_WORKER_ENABLED":"false"}"#);
    let r = submit(&t, json!({ "task_type": "browser.extract_text", "payload": { "url": target().url("/page/x") } })).await;
    assert_eq!(r.assert_error(403, "feature_disabled")["flag"], "FF_BROWSER_WORKER_ENABLED");
    stack().control(r#"worker vars {"FF_BROWSER_WORKER_ENABLED":"true"}"#);
    let id = submit_ok(&t, json!({ "url": target().url(&format!("/page/{}", key())) })).await;
    assert_eq!(wait_status(&t, &id, &["COMPLETED", "FAILED"]).await["status"], "COMPLETED");
}
