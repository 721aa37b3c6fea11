//! Stripe events are never lost: a permanent failure is stored at once (no queue retries burnt) and
//! given up as `dead` after its re-drives; a transient one that outlasts the queue's retries (the
//! database down) is stored by the dead-letter consumer and applied by the cron re-drive once the fault
//! clears. Then the server's missing billing configuration is a 503, never a 4xx. One test, because it
//! stops the database and restarts the Worker: this binary's stack is its own.

use e2e::{eventually, http, spawn_stack_with, unique_email, ApiResponse, Stack};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(120);
const REDRIVE: &str = "*/5+*+*+*+*";

fn stack() -> &'static Stack {
    // Quick queue backoff, so the queue's 10 retries take seconds; three stored failures make an event dead.
    let vars = json!({ "WEBHOOK_RETRY_BASE_SECS": "1", "WEBHOOK_RETRY_MAX_SECS": "2", "WEBHOOK_REDRIVE_MAX_ATTEMPTS": "3" }).to_string();
    // A stopped database answers 503 after 3 s rather than PostgREST's default 10 s.
    spawn_stack_with(&[("STACK_WORKER_VARS", vars.as_str()), ("STACK_DB_POOL_TIMEOUT", "3")])
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn event(kind: &str, object: Value) -> Value {
    json!({ "id": id("evt"), "object": "event", "api_version": "2025-10-29.clover", "created": now(), "type": kind,
            "livemode": false, "data": { "object": object } })
}

fn subscription(customer: &str, account: &str, price: &str) -> Value {
    let t = now();
    json!({ "id": id("sub"), "object": "subscription", "customer": customer, "status": "active", "cancel_at_period_end": false,
            "metadata": { "account_id": account }, "items": { "object": "list", "data": [ { "id": id("si"), "price": { "id": price },
            "current_period_start": t - 60, "current_period_end": t + 30 * 86_400 } ] } })
}

async fn deliver(ev: &Value) -> ApiResponse {
    let body = ev.to_string();
    ApiResponse::from(
        http()
            .post(stack().url("/api/v1/billing/webhooks"))
            .header("content-type", "application/json")
            .header("Stripe-Signature", stack().stripe_signature(&body))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn row(evt: &str) -> Option<Value> {
    let r = stack().service(reqwest::Method::GET, &format!("/webhook_events?id=eq.{evt}")).send().await.ok()?;
    let rows: Value = r.json().await.ok()?;
    rows.as_array()?.first().cloned()
}

async fn row_with_status(evt: &str, status: &str) -> Value {
    eventually(&format!("event {evt} to be {status}"), WAIT, || async { row(evt).await.filter(|r| r["status"] == status) }).await
}

/// Runs the re-drive and waits for its `cron_runs` row to finish.
async fn redrive() -> Value {
    let count = || async {
        let r = stack().service(reqwest::Method::GET, "/cron_runs?job=eq.redrive_webhooks&order=started_at.desc").send().await.unwrap();
        r.json::<Value>().await.unwrap().as_array().unwrap().clone()
    };
    let before = count().await.len();
    let r = http().get(stack().url(&format!("/__scheduled?cron={REDRIVE}"))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    eventually("a finished re-drive run", WAIT, || async {
        let runs = count().await;
        (runs.len() > before && runs[0]["outcome"] != "running").then(|| runs[0].clone())
    })
    .await
}

struct User {
    token: String,
    account: String,
    customer: String,
}

async fn linked_user(tag: &str) -> User {
    let token = stack().token_for(&unique_email(tag)).await.access_token;
    let me = stack().get_as("/api/v1/me", &token).await;
    let account = me.body["data"]["account"]["id"].as_str().unwrap().to_string();
    let customer = id("cus");
    let link = event(
        "checkout.session.completed",
        json!({ "id": id("cs_test"), "object": "checkout.session", "mode": "subscription",
        "client_reference_id": account, "customer": customer, "payment_status": "paid", "metadata": {} }),
    );
    assert_eq!(deliver(&link).await.status, 200);
    row_with_status(link["id"].as_str().unwrap(), "processed").await;
    User { token, account, customer }
}

async fn permanent_failure_is_stored_once_and_dies_after_its_redrives() {
    let u = linked_user("permanent").await;
    let ev = event("customer.subscription.created", subscription(&u.customer, &u.account, "price_not_configured"));
    let evt = ev["id"].as_str().unwrap().to_string();
    assert_eq!(deliver(&ev).await.status, 200);
    let r = row_with_status(&evt, "failed").await;
    assert_eq!((r["attempts"].as_i64(), r["permanent"].as_bool()), (Some(1), Some(true)), "{r}");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("price_not_configured is not in STRIPE_PRICE_PLANS")), "{r}");
    let lines = |needle: &str| stack().worker_log().lines().filter(|l| l.contains(&evt) && l.contains(needle)).count();
    eventually("the consumer to log that it stored the event", WAIT, || async { (lines("stored for the re-drive") > 0).then_some(()) })
        .await;
    assert_eq!(lines("stored for the re-drive"), 1, "stored once");
    assert_eq!(lines("retrying"), 0, "a permanent failure burns no queue retries");

    // The re-drive tries again (due at once after the first failure), then backs off.
    let run = redrive().await;
    assert!(run["counts"]["failed"].as_i64() >= Some(1), "{run}");
    let r = row_with_status(&evt, "failed").await;
    assert_eq!(r["attempts"], 2);
    let next = r["next_attempt_at"].as_str().expect("a next attempt").to_string();
    assert!(next > e2e::rfc3339(now() + 200), "the second failure waits about 5 minutes: {next}");
    // Time passes (arranged), the third failure reaches WEBHOOK_REDRIVE_MAX_ATTEMPTS.
    let past = e2e::rfc3339(now() - 1);
    let p = stack()
        .service(reqwest::Method::PATCH, &format!("/webhook_events?id=eq.{evt}"))
        .json(&json!({ "next_attempt_at": past }))
        .send()
        .await
        .unwrap();
    assert!(p.status().is_success());
    let run = redrive().await;
    assert!(run["counts"]["dead"].as_i64() >= Some(1), "{run}");
    let r = row_with_status(&evt, "dead").await;
    assert_eq!(r["attempts"], 3);
    let dead: Value =
        stack().service(reqwest::Method::GET, &format!("/dead_webhook_events?id=eq.{evt}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(dead.as_array().map(Vec::len), Some(1), "the runbook's view lists it");
    eventually("the dead event to be logged at error level", WAIT, || async {
        stack().worker_log().lines().any(|l| l.contains(&evt) && l.contains("is dead")).then_some(())
    })
    .await;
    assert_eq!(stack().get_as("/api/v1/me", &u.token).await.body["data"]["account"]["plan"], "FREE");
}

async fn transient_failure_outlasting_the_queue_is_stored_then_applied() {
    let u = linked_user("transient").await;
    stack().control("db stop");
    let ev = event("customer.subscription.created", subscription(&u.customer, &u.account, "price_dev_pro"));
    let evt = ev["id"].as_str().unwrap().to_string();
    assert_eq!(deliver(&ev).await.status, 200, "the queue keeps the event while the database is down");
    // The consumer's retries run out and the dead-letter consumer cannot store it either, yet.
    // Each attempt waits for the database's 503 (3 s in the test stack), then backs off 1-2 s: about a minute.
    let until = std::time::Instant::now() + Duration::from_secs(300);
    while !stack().worker_log().lines().any(|l| l.contains(&evt) && l.contains("stripe dlq: could not store the event")) {
        if std::time::Instant::now() > until {
            let log = stack().worker_log();
            let tail: Vec<&str> = log.lines().filter(|l| l.contains("stripe")).collect();
            panic!(
                "the dead-letter consumer never tried storing {evt}; the Worker's stripe lines:\n{}",
                tail[tail.len().saturating_sub(30)..].join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stack().control("db start");
    let r = row_with_status(&evt, "failed").await;
    assert_eq!((r["attempts"].as_i64(), r["permanent"].as_bool()), (Some(1), Some(false)), "{r}");
    let run = redrive().await;
    assert!(run["counts"]["applied"].as_i64() >= Some(1), "{run}");
    row_with_status(&evt, "processed").await;
    assert_eq!(stack().get_as("/api/v1/me", &u.token).await.body["data"]["account"]["plan"], "PRO");
}

async fn missing_billing_configuration_is_a_503() {
    stack().control(r#"worker vars {"STRIPE_WEBHOOK_SECRET":"","STRIPE_PRICE_PLANS":"","CREDIT_PACKS":"","STRIPE_SECRET_KEY":""}"#);
    let ev = event("customer.created", json!({ "id": id("cus"), "object": "customer", "metadata": {} }));
    let r = deliver(&ev).await;
    assert_eq!(r.assert_error(503, "billing_not_configured")["setting"], "STRIPE_WEBHOOK_SECRET");
    let token = stack().token_for(&unique_email("unconfigured")).await.access_token;
    let post = |path: &'static str, body: Value| {
        let token = token.clone();
        async move { ApiResponse::from(http().post(stack().url(path)).bearer_auth(&token).json(&body).send().await.unwrap()).await }
    };
    let urls = json!({"success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"});
    for (body, setting) in [(json!({"plan": "PRO"}), "STRIPE_PRICE_PLANS"), (json!({"credit_pack": "small"}), "CREDIT_PACKS")] {
        let mut b = urls.clone();
        b.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        let r = post("/api/v1/billing/checkout", b).await;
        assert_eq!(r.assert_error(503, "billing_not_configured")["setting"], setting);
        assert!(r.header("retry-after").is_some());
    }
    let mut b = urls.clone();
    b["plan"] = json!("GOLD");
    let d = post("/api/v1/billing/checkout", b).await.assert_error(400, "invalid_request").clone();
    assert!(d["fields"]["plan"].is_string(), "an unknown plan is still the client's mistake: {d}");
    let r = post("/api/v1/billing/portal", json!({"return_url": "http://allowed.test/account"})).await;
    assert_eq!(r.assert_error(503, "billing_not_configured")["setting"], "STRIPE_SECRET_KEY");
}

#[tokio::test]
async fn stripe_events_are_never_lost_and_missing_configuration_is_a_503() {
    permanent_failure_is_stored_once_and_dies_after_its_redrives().await;
    transient_failure_outlasting_the_queue_is_stored_then_applied().await;
    missing_billing_configuration_is_a_503().await;
}
