//! Input that used to reach the database or the runtime unchecked and answer 500 (issue 13's fuzzing):
//! each is now the contract's 4xx, or harmlessly ignored.

use e2e::sse::SseClient;
use e2e::{http, spawn_stack, unique_email, ApiResponse};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn old_page_parameters_and_bad_cursors_are_400_not_an_integer_overflow() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("pages")).await.access_token;
    for (path, field) in [
        ("/api/v1/jobs?page=50000000", "page"),
        ("/api/v1/credits/transactions?page=50000000&page_size=100", "page"),
        ("/api/v1/jobs?limit=4294967296", "limit"),
        ("/api/v1/credits/transactions?ending_before=%00", "ending_before"),
    ] {
        let r = stack.get_as(path, &t).await;
        let d = r.assert_error(400, "invalid_request");
        assert!(d["fields"][field].is_string(), "{path}: {d}");
    }
    let r = stack.get_as("/api/v1/credits/transactions?starting_after=00000000-0000-4000-8000-000000000000", &t).await;
    assert_eq!(r.assert_error(404, "not_found")["param"], "starting_after", "a cursor naming nothing is not found");
}

#[tokio::test]
async fn a_nul_character_in_a_json_body_is_a_field_error() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("nul")).await.access_token;
    let body = r#"{"task_type":"http.request","payload":{"url":"https://example.com/","headers":{"x-a":"b\u0000c"}}}"#;
    let r = ApiResponse::from(
        http().post(stack.url("/api/v1/jobs")).bearer_auth(&t).header("content-type", "application/json").body(body).send().await.unwrap(),
    )
    .await;
    let d = r.assert_error(400, "invalid_request");
    assert!(d["fields"]["body.payload.headers.x-a"].is_string(), "{d}");
    assert_eq!(stack.get_as("/api/v1/jobs", &t).await.body["data"], json!([]), "nothing was created");
}

#[tokio::test]
async fn a_last_event_id_past_javascript_integers_is_ignored() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("lei")).await.access_token;
    for id in [9_007_199_254_740_993_i64, i64::MAX] {
        let (status, c) = SseClient::open(&stack.url("/api/v1/jobs/stream"), &t, Some(id)).await;
        assert_eq!(status, 200, "Last-Event-ID {id}");
        assert!(c.unwrap().wait_connected(Duration::from_secs(10)).await);
    }
}

#[tokio::test]
async fn unknown_methods_are_405_with_allow_not_served_as_get() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("methods")).await.access_token;
    for m in ["QUERY", "PROPFIND"] {
        let method = reqwest::Method::from_bytes(m.as_bytes()).unwrap();
        let r = ApiResponse::from(http().request(method, stack.url("/api/v1/me")).bearer_auth(&t).send().await.unwrap()).await;
        r.assert_error(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{m}");
    }
}

#[tokio::test]
async fn a_token_just_past_its_expiry_is_401_not_a_database_error() {
    let stack = spawn_stack();
    let t = stack.mint(json!({ "email": unique_email("expired"), "expires_in": -5 })).await.access_token;
    let r = stack.get_as("/api/v1/me", &t).await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn jobs_can_only_be_created_through_the_worker() {
    let stack = spawn_stack();
    let user = stack.token_for(&unique_email("direct")).await;
    // The public PostgREST endpoint, as a signed-in user with the project's anon key: the functions that
    // create or fail jobs are not executable by users (they would skip the Worker's checks and queue).
    for (function, args) in [
        (
            "submit_job",
            json!({ "p_user_id": user.user_id, "p_task_type": "http.request", "p_payload": { "url": "http://127.0.0.1/" },
                    "p_max_attempts": 3, "p_correlation_id": "direct" }),
        ),
        ("fail_unqueued_job", json!({ "p_job_id": "00000000-0000-4000-8000-000000000000" })),
        ("job_start", json!({ "p_job_id": "00000000-0000-4000-8000-000000000000" })),
        (
            "grant_credits",
            json!({ "p_account_id": "00000000-0000-4000-8000-000000000000", "p_amount": 1000, "p_kind": "grant", "p_reference": "x" }),
        ),
    ] {
        let r = http()
            .post(format!("{}/rpc/{function}", stack.info.postgrest_url))
            .header("apikey", &stack.info.anon_key)
            .bearer_auth(&user.access_token)
            .json(&args)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        assert!(matches!(status, 401 | 403), "{function}: {status} {body}");
        assert_eq!(body["code"], "42501", "{function}: permission denied, {body}");
    }
    let jobs = stack.get_as("/api/v1/jobs", &user.access_token).await;
    assert_eq!(jobs.body["data"], json!([]), "nothing was created");
}
