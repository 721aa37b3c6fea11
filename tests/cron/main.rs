//! Cron end to end, triggered by hand through `wrangler dev --test-scheduled` against the recording fake
//! of Stripe: metered usage reported exactly once (across Stripe failures and repeated runs),
//! reconciliation of reported usage against Stripe's meter summaries, monthly renewal, retention.
//!
//! Cron jobs act on the whole database, so the tests run one at a time ([`LOCK`]) and scope their
//! assertions to the accounts they created.

use e2e::fake_stripe::FakeStripe;
use e2e::target::target;
use e2e::{eventually, http, rfc3339, spawn_stack_with, unique_email, Stack};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

static LOCK: Mutex<()> = Mutex::const_new(());
const WAIT: Duration = Duration::from_secs(60);
const HOURLY: &str = "0+*+*+*+*";
const DAILY: &str = "30+3+*+*+*";

fn fake() -> &'static FakeStripe {
    static F: OnceLock<FakeStripe> = OnceLock::new();
    F.get_or_init(FakeStripe::start)
}

fn stack() -> &'static Stack {
    let vars = json!({
        "STRIPE_SECRET_KEY": "sk_test_local", "STRIPE_API_BASE": fake().base, "STRIPE_WEBHOOK_SECRET": "whsec_test",
        "STRIPE_PRICE_PLANS": "price_metered:PRO,price_flat:ENTERPRISE", "STRIPE_METERED_PRICES": "price_metered",
        "STRIPE_METER_EVENT_NAME": "jobs_completed", "STRIPE_METER_ID": "mtr_test", "JOB_RETRY_BASE_SECS": "1",
    })
    .to_string();
    spawn_stack_with(&[("STACK_WORKER_VARS", vars.as_str())])
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn ago(days: i64) -> String {
    rfc3339(now() - days * 86_400)
}

/// PostgREST as the service role.
async fn service(method: Method, path: &str, body: Option<Value>) -> Value {
    let mut req = stack().service(method, path);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

struct Account {
    id: String,
    token: String,
    customer: String,
}

/// A new user's account, with a Stripe customer and, when `price` is given, a live subscription to it.
async fn account(tag: &str, price: Option<&str>) -> Account {
    let token = stack().token_for(&unique_email(tag)).await.access_token;
    let me = stack().get_as("/api/v1/me", &token).await;
    let id = me.body["data"]["account"]["id"].as_str().unwrap().to_string();
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    service(Method::POST, "/stripe_customers", Some(json!({ "account_id": id, "stripe_customer_id": customer }))).await;
    if let Some(price) = price {
        service(
            Method::POST,
            "/subscriptions",
            Some(json!({
                "id": format!("sub_{}", uuid::Uuid::new_v4().simple()), "account_id": id, "stripe_customer_id": customer,
                "status": "active", "plan": "PRO", "price_id": price, "current_period_start": ago(1),
                "current_period_end": rfc3339(now() + 29 * 86_400), "stripe_event_created": ago(1),
            })),
        )
        .await;
    }
    Account { id, token, customer }
}

/// Triggers `cron` and waits for the run of `job` it starts to finish; returns that `cron_runs` row.
async fn trigger(cron: &str, job: &str) -> Value {
    let before = service(Method::GET, &format!("/cron_runs?job=eq.{job}&select=id"), None).await.as_array().unwrap().len();
    let r = http().get(stack().url(&format!("/__scheduled?cron={cron}"))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    eventually(&format!("a finished {job} run"), WAIT, || async {
        let runs = service(Method::GET, &format!("/cron_runs?job=eq.{job}&order=started_at.desc"), None).await;
        let runs = runs.as_array().unwrap().clone();
        (runs.len() > before && runs[0]["outcome"] != "running").then(|| runs[0].clone())
    })
    .await
}

async fn usage_events(account: &str) -> Vec<Value> {
    service(Method::GET, &format!("/usage_events?account_id=eq.{account}&order=occurred_at"), None).await.as_array().unwrap().clone()
}

async fn complete_job(a: &Account) {
    let r = http()
        .post(stack().url("/api/v1/jobs"))
        .bearer_auth(&a.token)
        .json(
            &json!({ "task_type": "http.request", "payload": { "url": target().url(&format!("/ok/{}", uuid::Uuid::new_v4().simple())) } }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["data"]["id"].as_str().unwrap().to_string();
    eventually("the job to complete", WAIT, || async {
        (stack().get_as(&format!("/api/v1/jobs/{id}"), &a.token).await.body["data"]["status"] == "COMPLETED").then_some(())
    })
    .await;
}

#[tokio::test]
async fn usage_is_reported_once_across_a_stripe_failure_and_repeated_runs() {
    let _l = LOCK.lock().await;
    let metered = account("metered", Some("price_metered")).await;
    let flat = account("flat", Some("price_flat")).await;
    for a in [&metered, &metered, &flat] {
        complete_job(a).await;
    }
    assert_eq!(usage_events(&metered.id).await.len(), 2, "completed jobs wrote usage events");

    fake().fail_meter_events(3); // every attempt the client makes for the first event
    let run = trigger(HOURLY, "report_usage").await;
    assert_eq!(run["outcome"], "failed", "{run}");
    assert!(usage_events(&metered.id).await.iter().all(|e| e["reported_at"].is_null()), "nothing marked on failure");
    assert!(fake().meter_events(&metered.customer).is_empty());

    let run = trigger(HOURLY, "report_usage").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    let events = usage_events(&metered.id).await;
    let sent = fake().meter_events(&metered.customer);
    assert_eq!(sent.len(), 2, "{sent:?}");
    for e in &events {
        assert!(!e["reported_at"].is_null(), "{e}");
        let s = sent.iter().find(|s| s.identifier == e["id"].as_str().unwrap()).expect("identifier = usage event id");
        assert_eq!(s.value, 1);
        assert!((s.timestamp - now()).abs() < 600, "timestamp is when the job completed: {}", s.timestamp);
    }
    let meter_posts = fake().requests().iter().filter(|r| r.path == "/v1/billing/meter_events").count();

    let run = trigger(HOURLY, "report_usage").await;
    assert_eq!(run["outcome"], "ok");
    assert_eq!(run["counts"]["reported"], 0, "a second run sends nothing: {run}");
    assert_eq!(fake().requests().iter().filter(|r| r.path == "/v1/billing/meter_events").count(), meter_posts);
    assert_eq!(fake().meter_events(&metered.customer).len(), 2);
    // Not on a metered price: never sent.
    assert!(fake().meter_events(&flat.customer).is_empty());
    assert!(usage_events(&flat.id).await.iter().all(|e| e["reported_at"].is_null()));
}

#[tokio::test]
async fn reconciliation_flags_stripe_ahead_behind_and_missing_and_stays_quiet_when_equal() {
    let _l = LOCK.lock().await;
    let equal = account("equal", Some("price_metered")).await;
    let ahead = account("ahead", Some("price_metered")).await;
    let behind = account("behind", Some("price_metered")).await;
    let missing = account("missing", Some("price_metered")).await;
    for a in [&equal, &ahead, &behind, &missing] {
        for _ in 0..2 {
            service(Method::POST, "/usage_events", Some(json!({ "account_id": a.id, "task_type": "http.request", "quantity": 1 }))).await;
        }
    }
    let run = trigger(HOURLY, "report_usage").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    fake().adjust_meter(&ahead.customer, 3);
    fake().drop_meter_events(&behind.customer, 1);
    fake().drop_meter_events(&missing.customer, 2);

    let discrepancy = |a: &Account| {
        let id = a.id.clone();
        async move { service(Method::GET, &format!("/usage_discrepancies?account_id=eq.{id}"), None).await.as_array().unwrap().clone() }
    };
    let run = trigger(DAILY, "reconcile_usage").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(run["counts"]["stripe_ahead"].as_u64().unwrap() >= 1 && run["counts"]["missing"].as_u64().unwrap() >= 1, "{run}");
    assert!(discrepancy(&equal).await.is_empty(), "equal numbers are not recorded");
    let d = discrepancy(&ahead).await;
    assert_eq!(
        (d[0]["kind"].as_str(), d[0]["internal_quantity"].as_i64(), d[0]["stripe_quantity"].as_i64()),
        (Some("stripe_ahead"), Some(2), Some(5))
    );
    let d = discrepancy(&behind).await;
    assert_eq!(
        (d[0]["kind"].as_str(), d[0]["internal_quantity"].as_i64(), d[0]["stripe_quantity"].as_i64()),
        (Some("stripe_behind"), Some(2), Some(1))
    );
    let d = discrepancy(&missing).await;
    assert_eq!((d[0]["kind"].as_str(), d[0]["internal_quantity"].as_i64()), (Some("missing"), Some(2)));
    assert!(d[0]["stripe_quantity"].is_null());
    let open: Vec<Value> = service(Method::GET, "/open_usage_discrepancies", None).await.as_array().unwrap().clone();
    assert!(open.iter().any(|o| o["account_id"] == ahead.id.as_str()), "the admin view lists it");

    // A second run changes nothing.
    let before = discrepancy(&ahead).await;
    trigger(DAILY, "reconcile_usage").await;
    assert_eq!(discrepancy(&ahead).await, before);

    // Stripe catches up: every discrepancy resolves, and the run says there were none.
    fake().adjust_meter(&ahead.customer, -3);
    fake().adjust_meter(&behind.customer, 1);
    fake().adjust_meter(&missing.customer, 2);
    let run = trigger(DAILY, "reconcile_usage").await;
    assert_eq!((run["outcome"].as_str(), run["message"].as_str()), (Some("ok"), Some("no discrepancies")), "{run}");
    for a in [&ahead, &behind, &missing] {
        assert!(!discrepancy(a).await[0]["resolved_at"].is_null());
    }
}

#[tokio::test]
async fn renewal_grants_once_per_month_however_often_it_runs() {
    let _l = LOCK.lock().await;
    let old = account("renew-old", None).await;
    let new = account("renew-new", None).await;
    let paid = account("renew-paid", Some("price_flat")).await;
    for a in [&old, &paid] {
        service(Method::PATCH, &format!("/accounts?id=eq.{}", a.id), Some(json!({ "created_at": ago(40) }))).await;
    }
    let balance = |a: &Account| {
        let t = a.token.clone();
        async move { stack().get_as("/api/v1/me", &t).await.body["data"]["credits"]["balance"].as_i64().unwrap() }
    };
    let start = (balance(&old).await, balance(&new).await, balance(&paid).await);
    for _ in 0..2 {
        let run = trigger(DAILY, "renew_credits").await;
        assert_eq!(run["outcome"], "ok", "{run}");
    }
    assert_eq!(balance(&old).await, start.0 + 100, "FREE's 100 monthly credits, once");
    assert_eq!(balance(&new).await, start.1, "the signup grant covers the month an account was created");
    assert_eq!(balance(&paid).await, start.2, "paid plans get theirs with invoice.paid");
    let grants = service(Method::GET, &format!("/credit_transactions?account_id=eq.{}&reference=like.renewal*", old.id), None).await;
    assert_eq!(grants.as_array().unwrap().len(), 1, "{grants}");
}

#[tokio::test]
async fn retention_removes_exactly_what_the_policy_says() {
    let _l = LOCK.lock().await;
    let a = account("retention", None).await;
    let ev = |days: i64, reported: bool| {
        json!({ "account_id": a.id, "task_type": "http.request",
        "occurred_at": ago(days), "reported_at": if reported { Value::from(ago(days)) } else { Value::Null } })
    };
    let rows = service(Method::POST, "/usage_events", Some(json!([ev(401, true), ev(399, true), ev(401, false), ev(1, false)]))).await;
    let ids: Vec<String> = rows.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    let wh = |days: i64, status: &str| {
        let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
        (
            id.clone(),
            json!({ "id": id, "type": "invoice.paid", "stripe_created": ago(days), "payload": {}, "status": status,
            "received_at": ago(days), "processed_at": if status == "failed" { Value::Null } else { Value::from(ago(days)) } }),
        )
    };
    let (wh_old, wh_new, wh_failed) = (wh(91, "processed"), wh(89, "processed"), wh(200, "failed"));
    service(Method::POST, "/webhook_events", Some(json!([wh_old.1, wh_new.1, wh_failed.1]))).await;
    let job = |days: i64| {
        json!({ "account_id": a.id, "task_type": "http.request", "status": "COMPLETED", "correlation_id": "retention-test",
        "payload": { "url": "https://secret.example/private" }, "result": { "body": "user content" }, "credit_cost": 1,
        "started_at": ago(days), "finished_at": ago(days) })
    };
    let jobs = service(Method::POST, "/jobs", Some(json!([job(31), job(29)]))).await;
    let (job_old, job_new) = (jobs[0]["id"].as_str().unwrap().to_string(), jobs[1]["id"].as_str().unwrap().to_string());
    let accounts = service(
        Method::POST,
        "/accounts",
        Some(json!([
        { "name": "gone", "deleted_at": ago(31) }, { "name": "kept", "deleted_at": ago(29) }])),
    )
    .await;
    let (acct_old, acct_new) = (accounts[0]["id"].as_str().unwrap().to_string(), accounts[1]["id"].as_str().unwrap().to_string());

    let run = trigger(DAILY, "retention").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    let left: Vec<String> = usage_events(&a.id).await.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, vec![ids[1].clone(), ids[3].clone()], "past 400 days gone; 399 days and recent unreported kept");
    let webhooks =
        |id: String| async move { service(Method::GET, &format!("/webhook_events?id=eq.{id}"), None).await.as_array().unwrap().len() };
    assert_eq!((webhooks(wh_old.0).await, webhooks(wh_new.0).await, webhooks(wh_failed.0).await), (0, 1, 1));
    let job_row = |id: String| async move { service(Method::GET, &format!("/jobs?id=eq.{id}"), None).await[0].clone() };
    let old = job_row(job_old).await;
    assert_eq!(old["payload"], json!({ "scrubbed": true }));
    assert_eq!(old["result"], json!({ "scrubbed": true }));
    assert_eq!((old["status"].as_str(), old["credit_cost"].as_i64()), (Some("COMPLETED"), Some(1)), "aggregates stay");
    let new = job_row(job_new).await;
    assert_eq!(new["payload"]["url"], "https://secret.example/private");
    let account_count =
        |id: String| async move { service(Method::GET, &format!("/accounts?id=eq.{id}"), None).await.as_array().unwrap().len() };
    assert_eq!((account_count(acct_old).await, account_count(acct_new).await), (0, 1));

    // A second run finds nothing of these left to do.
    let run = trigger(DAILY, "retention").await;
    assert_eq!(usage_events(&a.id).await.len(), 2);
    assert_eq!(run["outcome"], "ok");
}

#[tokio::test]
async fn every_cron_job_writes_its_run_log() {
    let _l = LOCK.lock().await;
    let run = trigger("*/5+*+*+*+*", "sweep_stuck_jobs").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    assert!(run["counts"]["swept"].is_number() && !run["finished_at"].is_null());
    let run = trigger("*/5+*+*+*+*", "redrive_webhooks").await;
    assert_eq!(run["outcome"], "ok", "{run}");
    // Users cannot read the run log.
    let t = stack().token_for(&unique_email("runlog")).await.access_token;
    let r = http()
        .get(format!("{}/cron_runs", stack().info.postgrest_url))
        .header("apikey", &stack().info.anon_key)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("a JSON answer");
    match status {
        // Either no row is visible, or the table is refused outright (permission denied).
        200 => assert_eq!(body, json!([]), "{body}"),
        401 | 403 => assert_eq!(body["code"], "42501", "{body}"),
        other => panic!("unexpected answer {other}: {body}"),
    }
}

#[tokio::test]
async fn runs_end_without_spurious_errors_and_an_unknown_expression_fails_the_invocation() {
    let _l = LOCK.lock().await;
    trigger("0+*+*+*+*", "report_usage").await;

    let r = http().get(stack().url("/__scheduled?cron=1+2+3+4+5")).send().await.unwrap();
    assert!(!r.status().is_success(), "an expression that maps to no job fails its invocation: {}", r.status());
    // wrangler dev writes the Worker's log lines as they come; wait for this one rather than race it.
    eventually("the unknown expression to be logged", Duration::from_secs(15), || async {
        stack().worker_log().contains("cron: expression maps to no job").then_some(())
    })
    .await;
    // That line came after the report run's, so the log holds all of the run's lines by now.
    let log = stack().worker_log();
    assert!(log.contains("cron: run finished"), "the run's lines are in the log");
    assert!(!log.contains("could not record the run end"), "a void function's empty reply is not an error");
    assert!(!log.contains("could not record the run start"));
    // The Worker serves on after the failed invocation.
    assert_eq!(http().get(stack().url("/health")).send().await.unwrap().status(), 200);
}
