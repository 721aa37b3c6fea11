//! Credit deduction under concurrency, through PostgREST as the service role (the path queue consumers
//! and the submission function use): the balance never goes negative and exactly as many deductions as
//! the balance covers succeed.

use e2e::{spawn_stack, unique_email, Stack};
use futures::future::join_all;
use serde_json::{json, Value};

async fn service_post(stack: &Stack, path: &str, body: Value) -> (u16, Value) {
    let r = stack.service(reqwest::Method::POST, path).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn concurrent_deductions_never_overdraw_the_balance() {
    let stack = spawn_stack();
    let tok = stack.token_for(&unique_email("credits")).await;
    let me = stack.get_as("/api/v1/me", &tok.access_token).await;
    let account = me.body["data"]["account"]["id"].as_str().unwrap().to_string();

    // Start from zero (new accounts get their plan's credits at signup).
    let r = stack
        .service(reqwest::Method::PATCH, &format!("/credit_balances?account_id=eq.{account}"))
        .json(&json!({"balance": 0}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let (s, _) = service_post(
        stack,
        "/rpc/grant_credits",
        json!({"p_account_id": account, "p_amount": 10, "p_kind": "grant", "p_reference": format!("test-{account}")}),
    )
    .await;
    assert_eq!(s, 200);

    const N: usize = 40;
    let jobs: Vec<Value> =
        (0..N).map(|i| json!({"account_id": account, "task_type": "http.request", "correlation_id": format!("c{i}")})).collect();
    let (s, created) = service_post(stack, "/jobs", Value::Array(jobs)).await;
    assert_eq!(s, 201, "{created}");
    let job_ids: Vec<String> = created.as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(job_ids.len(), N);

    let results = join_all(
        job_ids
            .iter()
            .map(|job| service_post(stack, "/rpc/deduct_credits", json!({"p_account_id": account, "p_job_id": job, "p_amount": 1}))),
    )
    .await;
    let ok = results.iter().filter(|(s, _)| *s == 200).count();
    let refused: Vec<_> = results.iter().filter(|(s, _)| *s != 200).collect();
    assert_eq!(ok, 10, "exactly the balance's worth of deductions succeed");
    assert_eq!(refused.len(), N - 10);
    for (_, body) in refused {
        assert_eq!(body["message"], "insufficient_credits", "{body}");
    }
    let balances: Vec<i64> = results.iter().filter(|(s, _)| *s == 200).map(|(_, b)| b.as_i64().unwrap()).collect();
    assert!(balances.iter().all(|b| *b >= 0), "no balance observed below zero: {balances:?}");

    let r = stack.get_as("/api/v1/me", &tok.access_token).await;
    assert_eq!(r.body["data"]["credits"]["balance"], 0, "the user sees the drained balance");

    // Refunds: all of them at once, twice each; each charged job refunds exactly once.
    let refunds =
        join_all(job_ids.iter().chain(job_ids.iter()).map(|job| service_post(stack, "/rpc/refund_credits", json!({"p_job_id": job}))))
            .await;
    assert!(refunds.iter().all(|(s, _)| *s == 200), "{refunds:?}");
    let r = stack.get_as("/api/v1/me", &tok.access_token).await;
    assert_eq!(r.body["data"]["credits"]["balance"], 10, "every deduction refunded once, none twice");
}
