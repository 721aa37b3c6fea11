//! The expiry of waiting work (docs/adr/0014), on a stack whose `JOB_PENDING_TTL_SECS` is 20 s: a FREE
//! account (two jobs at once) holds both slots with slow jobs, and its third job, waiting for a slot,
//! expires and is refunded.

use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, unique_email, ApiResponse, Stack, TEST_JWT_SECRET};
use serde_json::{json, Value};
use std::time::Duration;

fn stack() -> &'static Stack {
    spawn_stack_with(&[
        ("STACK_JWT_SECRET", TEST_JWT_SECRET),
        ("STACK_WORKER_VARS", r#"{"JOB_RETRY_BASE_SECS":"1","JOB_RETRY_MAX_SECS":"2","JOB_PENDING_TTL_SECS":"20"}"#),
    ])
}

async fn free_user(tag: &str) -> String {
    stack().token_for(&unique_email(tag)).await.access_token
}

async fn me(token: &str) -> ApiResponse {
    stack().get_as("/api/v1/me", token).await
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
async fn a_job_waiting_past_its_ttl_expires_and_is_refunded() {
    let t = free_user("expiry").await;
    let balance = || async { me(&t).await.body["data"]["credits"]["balance"].as_i64().unwrap() };
    let start = balance().await;
    for i in 0..2 {
        let key = format!("hold-{i}-{}", uuid::Uuid::new_v4().simple());
        submit(&t, json!({ "url": target().url(&format!("/slow/28000/{key}")), "timeout_ms": 30000 })).await;
    }
    let waiting = submit(&t, json!({ "url": target().url(&format!("/ok/expiry-{}", uuid::Uuid::new_v4().simple())) })).await;
    let id = waiting["id"].as_str().unwrap().to_string();
    let get = || async { stack().get_as(&format!("/api/v1/jobs/{id}"), &t).await.body["data"].clone() };
    let j = eventually("the third job to wait for a slot", Duration::from_secs(15), || async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let j = get().await;
        (j["step"] == "waiting_for_slot").then_some(j)
    })
    .await;
    assert_eq!((j["status"].as_str(), j["attempts"].as_i64()), (Some("PENDING"), Some(0)), "{j}");
    let j = eventually("the waiting job to expire", Duration::from_secs(40), || async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let j = get().await;
        (j["status"] != "PENDING").then_some(j)
    })
    .await;
    assert_eq!(j["status"], "FAILED", "{j}");
    assert_eq!(j["failure_reason"], "expired", "{j}");
    assert_eq!(j["attempts"], 0, "it never ran");
    assert_eq!(balance().await, start - 2, "the expired job's credit came back; the two running ones are charged");
}
