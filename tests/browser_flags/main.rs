//! A flag turned off after jobs were queued. The stack runs the `browser-jobs` consumer as a second
//! Worker (same code) whose `FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED` is off, while the API Worker that
//! accepted the job still has it on: the situation of a deploy that turns the flag off while messages
//! wait in the queue. (A restart of `wrangler dev` cannot show it: the local queue keeps messages in
//! memory.)

use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, ApiResponse, TEST_JWT_SECRET};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_job_queued_before_its_flag_was_turned_off_fails_cleanly_and_is_refunded() {
    let stack = spawn_stack_with(&[
        ("STACK_JWT_SECRET", TEST_JWT_SECRET),
        ("STACK_WORKER_VARS", r#"{"JOB_RETRY_BASE_SECS":"1"}"#),
        ("STACK_BROWSER_CONSUMER_VARS", r#"{"FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED":"false"}"#),
    ]);
    let (t, _) = stack.user_on_plan("flag-after", "PRO", 0).await;
    let balance = || async { stack.get_as("/api/v1/me", &t).await.body["data"]["credits"]["balance"].as_i64().unwrap() };
    let start = balance().await;
    let key = uuid::Uuid::new_v4().simple().to_string();
    let r = ApiResponse::from(
        http()
            .post(stack.url("/api/v1/jobs"))
            .bearer_auth(&t)
            .json(&json!({ "task_type": "browser.extract_text", "payload": { "url": target().url(&format!("/page/{key}")) } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "the API Worker still has the flag on: {}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    let job = eventually("the job to end", Duration::from_secs(60), || async {
        let j = stack.get_as(&format!("/api/v1/jobs/{id}"), &t).await.body["data"].clone();
        matches!(j["status"].as_str(), Some("FAILED" | "COMPLETED")).then_some(j)
    })
    .await;
    assert_eq!(job["status"], "FAILED", "{job}");
    assert_eq!(job["failure_reason"], "feature_flag_disabled");
    assert!(job["last_error"].as_str().unwrap().contains("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"), "{job}");
    assert_eq!(job["attempts"], 0, "the task never ran");
    assert_eq!(target().hits(&key), 0, "the page was never loaded");
    assert_eq!(balance().await, start, "its credits were refunded");
    // The API Worker's own view is unchanged.
    let h = ApiResponse::from(http().get(stack.url("/health")).send().await.unwrap()).await;
    assert_eq!(h.body["data"]["features"]["FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"], true);
}
