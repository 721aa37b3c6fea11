//! Observability end to end (docs/observability.md): one request id through a job's whole story in the
//! logs, no secret or address in any line, and one Sentry envelope each for a dead-lettered job, a panic
//! and a 5xx, tagged and scrubbed. Its own stack: it stops the database.

use e2e::target::target;
use e2e::{eventually, http, spawn_stack, unique_email, ApiResponse, Stack};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(45);

/// The Worker's JSON log lines that mention `needle`.
fn lines_with(stack: &Stack, needle: &str) -> Vec<Value> {
    stack
        .worker_log()
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| l.find('{').and_then(|i| serde_json::from_str::<Value>(&l[i..]).ok()))
        .collect()
}

/// The events (payloads) whose tag `key` is `value`.
async fn reports_tagged(stack: &Stack, key: &str, value: &str) -> Vec<Value> {
    stack
        .sentry_envelopes()
        .await
        .into_iter()
        .flat_map(|e| e["items"].as_array().cloned().unwrap_or_default())
        .map(|i| i["payload"].clone())
        .filter(|p| p["tags"][key] == value)
        .collect()
}

async fn one_report(stack: &Stack, key: &str, value: &str, what: &str) -> Value {
    let found = eventually(&format!("a report of {what}"), WAIT, || async {
        let r = reports_tagged(stack, key, value).await;
        (!r.is_empty()).then_some(r)
    })
    .await;
    assert_eq!(found.len(), 1, "exactly one report of {what}: {found:?}");
    let event = found.into_iter().next().unwrap();
    assert_eq!(event["environment"], "development", "{event}");
    assert!(event["release"].as_str().is_some_and(|r| r.starts_with("edge-saas@")), "{event}");
    event
}

fn secrets(stack: &Stack, token: &str, email: &str) -> Vec<(String, &'static str)> {
    vec![
        (token.to_string(), "a user's access token"),
        (email.to_string(), "a user's e-mail address"),
        ("jane.doe@example.com".into(), "an e-mail address in a path"),
        (stack.info.service_role_key.clone(), "the service role key"),
        (stack.info.anon_key.clone(), "the anon key"),
        (stack.info.stripe_webhook_secret.clone(), "the webhook signing secret"),
    ]
}

#[tokio::test]
async fn a_request_s_story_is_correlated_and_failures_are_reported_once_without_secrets() {
    let stack = spawn_stack();
    let email = unique_email("obs");
    let t = stack.token_for(&email).await.access_token;

    // 1. One job: the request, the consumer and the stream's frames all log the request's id.
    let rid = format!("obs-{}", uuid::Uuid::new_v4().simple());
    let key = uuid::Uuid::new_v4().simple().to_string();
    let body = json!({ "task_type": "http.request", "payload": { "url": target().url(&format!("/ok/{key}")) } });
    let r = ApiResponse::from(
        http().post(stack.url("/api/v1/jobs")).bearer_auth(&t).header("X-Request-Id", &rid).json(&body).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job_id = r.body["data"]["id"].as_str().unwrap().to_string();
    let story = eventually("the request, consumer and stream lines of the job", WAIT, || async {
        let lines = lines_with(stack, &rid);
        let has = |event: &str| lines.iter().any(|l| l["event"] == event && l["request_id"] == rid.as_str());
        (has("http.request") && has("job.finished") && has("jobhub.frame")).then_some(lines)
    })
    .await;
    let request = story.iter().find(|l| l["event"] == "http.request").unwrap();
    assert_eq!((request["route"].as_str(), request["status"].as_u64()), (Some("POST /api/v1/jobs"), Some(202)), "{request}");
    assert_eq!(request["job_id"], job_id.as_str());
    assert!(request["account_id"].is_string() && request["duration_ms"].is_u64(), "{request}");
    let finished = story.iter().find(|l| l["event"] == "job.finished").unwrap();
    assert_eq!((finished["job_id"].as_str(), finished["status"].as_str()), (Some(job_id.as_str()), Some("COMPLETED")), "{finished}");
    let frames: Vec<&str> = story.iter().filter(|l| l["event"] == "jobhub.frame").filter_map(|l| l["status"].as_str()).collect();
    assert!(frames.contains(&"PENDING") && frames.contains(&"COMPLETED"), "{frames:?}");
    for l in &story {
        assert!(l["level"].is_string() && l["msg"].is_string() && l["event"].is_string(), "indexed fields on every line: {l}");
    }

    // Paths and headers that carry secrets or addresses are answered, and logged scrubbed.
    for path in ["/api/v1/jobs/jane.doe@example.com", &format!("/api/v1/jobs/{t}")] {
        let r = stack.get_as(path, &t).await;
        assert_eq!(r.status, 404);
    }

    // 2. A dead-lettered job: one report, tagged with the submitting request's id.
    let dl_rid = format!("obs-dl-{}", uuid::Uuid::new_v4().simple());
    let body = json!({ "task_type": "http.request", "max_attempts": 1,
                       "payload": { "url": target().url(&format!("/status/503/{key}")) } });
    let r = ApiResponse::from(
        http().post(stack.url("/api/v1/jobs")).bearer_auth(&t).header("X-Request-Id", &dl_rid).json(&body).send().await.unwrap(),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let dead = one_report(stack, "request_id", &dl_rid, "the dead-lettered job").await;
    assert_eq!(dead["exception"]["values"][0]["type"], "job_dead_lettered");
    assert_eq!(dead["tags"]["job_id"], r.body["data"]["id"]);
    assert_eq!(dead["tags"]["queue"], "jobs-dlq");

    // 3. A panic (a cron expression no job maps to panics in Rust): one report from the JS entry.
    let before = stack.sentry_envelopes().await.len();
    let r = http().get(stack.url("/__scheduled?cron=1+2+3+4+6")).send().await.unwrap();
    assert!(r.status().is_server_error(), "the invocation fails: {}", r.status());
    let panic = one_report(stack, "cron", "1 2 3 4 6", "the panic").await;
    assert_eq!(panic["exception"]["values"][0]["type"], "panic");
    assert!(panic["exception"]["values"][0]["value"].as_str().unwrap_or("").contains("1 2 3 4 6"), "{panic}");

    // 4. A 5xx: the database stops, /health answers 503, one report with the request's id.
    let rid_5xx = format!("obs-5xx-{}", uuid::Uuid::new_v4().simple());
    stack.control("db stop");
    let r = eventually("health to answer 503", WAIT, || async {
        let r = ApiResponse::from(http().get(stack.url("/health")).header("X-Request-Id", &rid_5xx).send().await.unwrap()).await;
        (r.status == 503).then_some(r)
    })
    .await;
    stack.control("db start");
    assert_eq!(r.header("x-request-id"), Some(rid_5xx.as_str()));
    let five = one_report(stack, "request_id", &rid_5xx, "the 5xx").await;
    assert_eq!((five["tags"]["route"].as_str(), five["tags"]["status"].as_str()), (Some("GET /health"), Some("503")), "{five}");
    assert_eq!(five["exception"]["values"][0]["type"], "http_5xx");

    // Still exactly one of each, now that everything above had time to (wrongly) report again.
    assert_eq!(reports_tagged(stack, "request_id", &dl_rid).await.len(), 1);
    assert_eq!(reports_tagged(stack, "cron", "1 2 3 4 6").await.len(), 1);
    assert!(stack.sentry_envelopes().await.len() > before);

    // 5. No secret, token or address in any line the Worker wrote, or in any report. (wrangler dev's own
    // access log, `[wrangler:info] GET /path 404`, prints request paths as sent; it is not the Worker's.)
    let log: String = stack.worker_log().lines().filter(|l| !l.contains("[wrangler:")).collect::<Vec<_>>().join("\n");
    let reports = serde_json::to_string(&stack.sentry_envelopes().await).unwrap();
    for (secret, what) in secrets(stack, &t, &email) {
        assert!(!log.contains(&secret), "{what} appears in the Worker's log");
        assert!(!reports.contains(&secret), "{what} appears in a report");
    }
    assert!(log.contains("[redacted]"), "the address and the token in the paths were logged redacted");
}
