//! A job whose queue send fails. The stack's Worker is deployed without its `JOBS_QUEUE` producer binding
//! (`STACK_DROP_PRODUCERS`), as a deploy that forgot one would be: every send of an `http.request`
//! envelope fails. The submission must not leave a PENDING job that no queue holds: it is FAILED at once,
//! its credits are refunded, and the caller gets 503 `unavailable`.

use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, ApiResponse, TEST_JWT_SECRET};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_job_that_cannot_be_queued_fails_at_once_and_is_refunded() {
    let stack = spawn_stack_with(&[("STACK_JWT_SECRET", TEST_JWT_SECRET), ("STACK_DROP_PRODUCERS", "JOBS_QUEUE")]);
    let (t, _) = stack.user_on_plan("unqueued", "PRO", 10).await;
    let balance = || async { stack.get_as("/api/v1/me", &t).await.body["data"]["credits"]["balance"].as_i64().unwrap() };
    let start = balance().await;

    let r = ApiResponse::from(
        http()
            .post(stack.url("/api/v1/jobs"))
            .bearer_auth(&t)
            .json(&json!({ "task_type": "http.request", "payload": { "url": target().url("/ok/unqueued") } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unavailable", "{}", r.body);
    assert!(r.headers.get("retry-after").is_some(), "a 503 says when to retry");

    let list = stack.get_as("/api/v1/jobs", &t).await;
    let jobs = list.body["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "the job was recorded once: {}", list.body);
    let job = &jobs[0];
    assert_eq!(job["status"], "FAILED", "no PENDING job without a message: {job}");
    assert_eq!(job["failure_reason"], "task_error");
    assert_eq!(job["attempts"], 0, "it never ran");
    // Lists carry summaries; the error text is on the job itself.
    let full = stack.get_as(&format!("/api/v1/jobs/{}", job["id"].as_str().unwrap()), &t).await;
    assert_eq!(full.body["data"]["last_error"], "the job could not be queued", "{}", full.body);
    assert_eq!(balance().await, start, "its credit was refunded");
    let ledger = stack.get_as("/api/v1/credits/transactions", &t).await;
    let kinds: Vec<&str> = ledger.body["data"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "refund").count(), 1, "refunded exactly once: {kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "deduct").count(), 1, "{kinds:?}");
    // wrangler dev writes the Worker's log lines as they come; wait for this one rather than race it.
    eventually("the cause to be logged", Duration::from_secs(15), || async {
        stack.worker_log().contains("jobs: enqueue failed").then_some(())
    })
    .await;
}
