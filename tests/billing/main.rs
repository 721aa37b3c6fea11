//! Billing end to end: signed Stripe events through the webhook endpoint and queue, plans following
//! subscriptions, idempotency and ordering, credits and quota at submission, checkout and portal against
//! a recording fake of Stripe. Own stack (this binary's), configured for billing.

use e2e::fake_stripe::FakeStripe;
use e2e::target::target;
use e2e::{eventually, http, spawn_stack_with, unique_email, ApiResponse, Stack};
use futures::future::join_all;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECRET: &str = "whsec_test_current";
const OLD_SECRET: &str = "whsec_test_previous";
const WAIT: Duration = Duration::from_secs(40);

fn fake() -> &'static FakeStripe {
    static F: OnceLock<FakeStripe> = OnceLock::new();
    F.get_or_init(FakeStripe::start)
}

fn stack() -> &'static Stack {
    let vars = json!({
        "STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_SECRET_KEY": "sk_test_local", "STRIPE_API_BASE": fake().base,
        "STRIPE_PRICE_PLANS": "price_pro:PRO,price_ent:ENTERPRISE", "CREDIT_PACKS": "small:price_small:100",
        "JOB_RETRY_BASE_SECS": "1",
    })
    .to_string();
    spawn_stack_with(&[("STACK_WORKER_VARS", vars.as_str())])
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn sign(secrets: &[&str], t: i64, body: &str) -> String {
    let mut h = format!("t={t}");
    for s in secrets {
        let mut m = Hmac::<Sha256>::new_from_slice(s.as_bytes()).unwrap();
        m.update(format!("{t}.{body}").as_bytes());
        h.push_str(&format!(",v1={}", hex::encode(m.finalize().into_bytes())));
    }
    h
}

fn event(kind: &str, created: i64, object: Value) -> Value {
    json!({ "id": format!("evt_{}", uuid::Uuid::new_v4().simple()), "object": "event", "api_version": "2025-10-29.clover",
            "created": created, "type": kind, "livemode": false, "data": { "object": object } })
}

async fn post_raw(body: &str, signature: Option<String>) -> ApiResponse {
    let mut req = http().post(stack().url("/api/v1/billing/webhooks")).header("content-type", "application/json").body(body.to_string());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    ApiResponse::from(req.send().await.unwrap()).await
}

async fn deliver(ev: &Value) {
    let body = ev.to_string();
    let r = post_raw(&body, Some(sign(&[SECRET], now(), &body))).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn processed(id: &str) -> Value {
    eventually(&format!("event {id} to be processed"), WAIT, || async {
        let rows: Value =
            stack().service(reqwest::Method::GET, &format!("/webhook_events?id=eq.{id}")).send().await.unwrap().json().await.unwrap();
        rows.as_array().and_then(|a| a.first()).filter(|r| r["status"] != "received").cloned()
    })
    .await
}

struct User {
    token: String,
    account: String,
}

async fn user(tag: &str) -> User {
    let t = stack().token_for(&unique_email(tag)).await.access_token;
    let me = stack().get_as("/api/v1/me", &t).await;
    User { account: me.body["data"]["account"]["id"].as_str().unwrap().to_string(), token: t }
}

async fn link_customer(u: &User) -> String {
    let customer = format!("cus_{}", uuid::Uuid::new_v4().simple());
    let ev = event(
        "checkout.session.completed",
        now(),
        json!({
        "id": format!("cs_test_{}", uuid::Uuid::new_v4().simple()), "object": "checkout.session", "mode": "subscription",
        "client_reference_id": u.account, "customer": customer, "payment_status": "paid", "metadata": {} }),
    );
    deliver(&ev).await;
    assert_eq!(processed(ev["id"].as_str().unwrap()).await["status"], "processed");
    customer
}

fn subscription(id: &str, customer: &str, price: &str, status: &str) -> Value {
    let t = now();
    json!({ "id": id, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": false,
            "metadata": {}, "items": { "object": "list", "data": [ { "id": "si_1", "price": { "id": price },
            "current_period_start": t - 86_400, "current_period_end": t + 29 * 86_400 } ] } })
}

/// A paid subscription invoice with one plan line (API 2025-10-29 shape).
fn paid_invoice(customer: &str, price: &str, start: i64, end: i64) -> Value {
    json!({ "id": format!("in_{}", uuid::Uuid::new_v4().simple()), "object": "invoice", "customer": customer, "metadata": {},
            "status": "paid", "amount_paid": 2900, "billing_reason": "subscription_cycle",
            "lines": { "object": "list", "data": [ { "object": "line_item", "amount": 2900, "period": { "start": start, "end": end },
                "parent": { "type": "subscription_item_details", "subscription_item_details": { "proration": false, "subscription": "sub_x" } },
                "pricing": { "type": "price_details", "price_details": { "price": price } } } ] } })
}

async fn plan_of(u: &User) -> String {
    stack().get_as("/api/v1/me", &u.token).await.body["data"]["account"]["plan"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn signed_subscription_events_move_the_account_between_plans() {
    let u = user("sub").await;
    let customer = link_customer(&u).await;
    let b = stack().get_as("/api/v1/billing", &u.token).await;
    assert_eq!(b.body["data"]["stripe_customer_id"], customer.as_str());
    let sub = format!("sub_{}", uuid::Uuid::new_v4().simple());
    let t = now();
    for (kind, created, price, status, want) in [
        ("customer.subscription.created", t, "price_pro", "active", "PRO"),
        ("customer.subscription.updated", t + 10, "price_ent", "active", "ENTERPRISE"),
        ("customer.subscription.deleted", t + 20, "price_ent", "canceled", "FREE"),
    ] {
        let ev = event(kind, created, subscription(&sub, &customer, price, status));
        deliver(&ev).await;
        processed(ev["id"].as_str().unwrap()).await;
        assert_eq!(plan_of(&u).await, want, "after {kind}");
    }
}

#[tokio::test]
async fn an_update_delivered_before_its_create_ends_in_the_updated_state() {
    let u = user("order").await;
    let customer = link_customer(&u).await;
    let sub = format!("sub_{}", uuid::Uuid::new_v4().simple());
    let t = now();
    let updated = event("customer.subscription.updated", t + 10, subscription(&sub, &customer, "price_ent", "active"));
    let created = event("customer.subscription.created", t, subscription(&sub, &customer, "price_pro", "active"));
    // Stripe's current state, which the consumer re-reads when an event is not newer than what it stored.
    fake().put_object(subscription(&sub, &customer, "price_ent", "active"));
    deliver(&updated).await;
    assert_eq!(processed(updated["id"].as_str().unwrap()).await["status"], "processed");
    deliver(&created).await;
    assert_eq!(
        processed(created["id"].as_str().unwrap()).await["status"],
        "processed",
        "the stale event is applied as Stripe's current state"
    );
    let reads = fake().requests().into_iter().filter(|q| q.path == format!("/v1/subscriptions/{sub}")).count();
    assert_eq!(reads, 1, "the stale event, and only it, re-read the subscription");
    assert_eq!(plan_of(&u).await, "ENTERPRISE", "the older created event did not overwrite the newer update");
    let rows: Value =
        stack().service(reqwest::Method::GET, &format!("/subscriptions?id=eq.{sub}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rows[0]["plan"], "ENTERPRISE");
}

#[tokio::test]
async fn the_same_event_delivered_three_times_applies_once() {
    let u = user("dup").await;
    let customer = link_customer(&u).await;
    let before = stack().get_as("/api/v1/credits/balance", &u.token).await.body["data"]["balance"].as_i64().unwrap();
    let t = now();
    let ev = event("invoice.paid", t, paid_invoice(&customer, "price_pro", t - 60, t + 30 * 86_400));
    for _ in 0..3 {
        deliver(&ev).await;
    }
    processed(ev["id"].as_str().unwrap()).await;
    // A later event through the same queue: once it is processed, the duplicates before it have been too.
    let marker =
        event("customer.updated", now(), json!({ "id": customer, "object": "customer", "email": "x@example.test", "metadata": {} }));
    deliver(&marker).await;
    processed(marker["id"].as_str().unwrap()).await;
    let after = stack().get_as("/api/v1/credits/balance", &u.token).await.body["data"]["balance"].as_i64().unwrap();
    assert_eq!(after - before, 5000, "the invoice's plan (PRO) monthly credits were granted exactly once");
    let tx = stack().get_as("/api/v1/credits/transactions", &u.token).await;
    let grants =
        tx.body["data"].as_array().unwrap().iter().filter(|t| t["reference"].as_str().is_some_and(|r| r.starts_with("invoice:"))).count();
    assert_eq!(grants, 1);
}

#[tokio::test]
async fn signatures_are_checked_and_refused_events_are_not_stored() {
    let ev = event("customer.created", now(), json!({ "id": "cus_sig", "object": "customer", "metadata": {} }));
    let body = ev.to_string();
    let id = ev["id"].as_str().unwrap();
    let cases = [
        ("wrong secret", Some(sign(&["whsec_wrong"], now(), &body))),
        ("stale timestamp", Some(sign(&[SECRET], now() - 400, &body))),
        ("future timestamp", Some(sign(&[SECRET], now() + 400, &body))),
        ("only the rotated-out secret", Some(sign(&[OLD_SECRET], now(), &body))),
        ("garbage header", Some("t=abc,v1=nothex".to_string())),
        ("no header", None),
    ];
    for (case, header) in cases {
        let r = post_raw(&body, header).await;
        assert_eq!(r.status, 400, "{case}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_request", "{case}");
    }
    let rows: Value =
        stack().service(reqwest::Method::GET, &format!("/webhook_events?id=eq.{id}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(rows, json!([]), "nothing was stored for refused deliveries");

    // Rotation: Stripe signs with both the old and the new secret; we know only the new one.
    let r = post_raw(&body, Some(sign(&[OLD_SECRET, SECRET], now(), &body))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    processed(id).await;

    let signed_garbage = "{\"not\":\"an event\"}";
    let r = post_raw(signed_garbage, Some(sign(&[SECRET], now(), signed_garbage))).await;
    assert_eq!(r.status, 400);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let r = post_raw(&big, Some(sign(&[SECRET], now(), &big))).await;
    r.assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn a_hundred_concurrent_submissions_against_ten_credits_accept_exactly_ten_and_refund_them() {
    // On PRO (600 requests a minute): a hundred requests at once would meet FREE's request limit (60),
    // which is not what this test is about.
    let (token, account) = stack().user_on_plan("race", "PRO", 0).await;
    let u = User { account, token };
    let r = stack()
        .service(reqwest::Method::PATCH, &format!("/credit_balances?account_id=eq.{}", u.account))
        .json(&json!({ "balance": 10 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let submissions = (0..100).map(|i| {
        let url = target().url(&format!("/status/503/race-{}-{i}", u.account));
        let token = u.token.clone();
        async move {
            ApiResponse::from(
                http()
                    .post(stack().url("/api/v1/jobs"))
                    .bearer_auth(&token)
                    .json(&json!({"task_type": "http.request", "payload": {"url": url}, "max_attempts": 1}))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    });
    let results = join_all(submissions).await;
    let accepted: Vec<&ApiResponse> = results.iter().filter(|r| r.status == 202).collect();
    let refused: Vec<&ApiResponse> = results.iter().filter(|r| r.status == 402).collect();
    assert_eq!(accepted.len(), 10, "exactly the balance's worth");
    assert_eq!(refused.len(), 90);
    for r in &refused {
        assert_eq!(r.body["error"]["code"], "insufficient_credits");
        assert_eq!(r.body["error"]["details"]["credit_cost"], 1);
    }
    eventually("every accepted job to fail and refund", WAIT, || async {
        let r = stack().get_as("/api/v1/jobs?status=FAILED&limit=100", &u.token).await;
        (r.body["data"].as_array().map(Vec::len) == Some(10)).then_some(())
    })
    .await;
    let b = stack().get_as("/api/v1/credits/balance", &u.token).await;
    assert_eq!(b.body["data"]["balance"], 10, "each failed job refunded exactly once");
    let tx = stack().get_as("/api/v1/credits/transactions?limit=100", &u.token).await;
    let kinds = |k: &str| tx.body["data"].as_array().unwrap().iter().filter(|t| t["kind"] == k).count();
    assert_eq!((kinds("deduct"), kinds("refund")), (10, 10));
}

#[tokio::test]
async fn free_quota_exhaustion_is_402_until_a_paid_invoice_opens_a_new_period() {
    let u = user("quota").await;
    let usage = stack().get_as("/api/v1/usage", &u.token).await;
    let (start, end) = (usage.body["data"]["period_start"].clone(), usage.body["data"]["period_end"].clone());
    assert_eq!(usage.body["data"]["job_quota"], 100);
    assert!(start.as_str().is_some_and(|s| s.ends_with('Z')), "RFC 3339 UTC: {start}");
    let r = stack()
        .service(reqwest::Method::POST, "/usage_counters")
        .json(&json!({ "account_id": u.account, "period_start": start, "period_end": end, "jobs_used": 100 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let job = json!({"task_type": "http.request", "payload": {"url": target().url(&format!("/ok/quota-{}", u.account))}});
    let r = ApiResponse::from(http().post(stack().url("/api/v1/jobs")).bearer_auth(&u.token).json(&job).send().await.unwrap()).await;
    let d = r.assert_error(402, "plan_limit_exceeded");
    assert_eq!((d["job_quota"].as_i64(), d["jobs_used"].as_i64()), (Some(100), Some(100)), "the vocabulary of /usage");
    assert!(d["resets_at"].as_str().is_some_and(|s| s.ends_with('Z')), "{d}");
    assert!(d["resets_at"].as_str().is_some_and(|s| s[..10] == end.as_str().unwrap()[..10]), "{d}");

    let customer = link_customer(&u).await;
    let t = now();
    let ev = event("invoice.paid", t, paid_invoice(&customer, "price_pro", t - 60, t + 30 * 86_400));
    deliver(&ev).await;
    processed(ev["id"].as_str().unwrap()).await;
    let r = ApiResponse::from(http().post(stack().url("/api/v1/jobs")).bearer_auth(&u.token).json(&job).send().await.unwrap()).await;
    assert_eq!(r.status, 202, "a new period restores the quota: {}", r.body);
    let usage = stack().get_as("/api/v1/usage", &u.token).await;
    assert_eq!(usage.body["data"]["period_start"].as_str().map(|s| &s[..10]), Some(&e2e::rfc3339(t - 60)[..10]));
}

#[tokio::test]
async fn checkout_and_portal_return_the_fakes_urls_and_send_the_right_fields() {
    let u = user("checkout").await;
    let post = |path: &'static str, body: Value| {
        let token = u.token.clone();
        async move { ApiResponse::from(http().post(stack().url(path)).bearer_auth(&token).json(&body).send().await.unwrap()).await }
    };
    let r = post("/api/v1/billing/portal", json!({"return_url": "http://allowed.test/account"})).await;
    r.assert_error(409, "conflict");

    let r = post(
        "/api/v1/billing/checkout",
        json!({"plan": "PRO", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["data"]["url"].as_str().unwrap().starts_with("https://checkout.stripe.com/c/pay/cs_test_"));
    let req = fake().requests().into_iter().rev().find(|q| q.field("client_reference_id") == Some(u.account.as_str())).expect("recorded");
    assert_eq!(req.path, "/v1/checkout/sessions");
    assert_eq!(req.field("mode"), Some("subscription"));
    assert_eq!(req.field("line_items[0][price]"), Some("price_pro"));
    assert_eq!(req.field("success_url"), Some("http://allowed.test/ok"));
    assert_eq!(req.field("subscription_data[metadata][account_id]"), Some(u.account.as_str()));
    assert!(req.field("customer_email").is_some());
    assert!(req.headers.get("idempotency-key").is_some_and(|k| !k.is_empty()));
    assert_eq!(req.headers.get("authorization").map(String::as_str), Some("Bearer sk_test_local"));

    let r = post(
        "/api/v1/billing/checkout",
        json!({"credit_pack": "small", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let req = fake().requests().into_iter().rev().find(|q| q.field("metadata[credit_pack]") == Some("small")).expect("recorded");
    assert_eq!((req.field("mode"), req.field("line_items[0][price]")), (Some("payment"), Some("price_small")));

    for (case, body, field) in [
        (
            "open redirect",
            json!({"plan": "PRO", "success_url": "https://evil.example/x", "cancel_url": "http://allowed.test/no"}),
            "success_url",
        ),
        ("free plan", json!({"plan": "FREE", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}), "plan"),
        (
            "both",
            json!({"plan": "PRO", "credit_pack": "small", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
            "plan",
        ),
        (
            "unknown pack",
            json!({"credit_pack": "huge", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
            "credit_pack",
        ),
    ] {
        let r = post("/api/v1/billing/checkout", body).await;
        let d = r.assert_error(400, "invalid_request");
        assert!(d["fields"][field].is_string(), "{case}: {d}");
    }

    let customer = link_customer(&u).await;
    let r = post("/api/v1/billing/portal", json!({"return_url": "http://allowed.test/account"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["data"]["url"].as_str().unwrap().starts_with("https://billing.stripe.com/p/session/"));
    let req = fake().requests().into_iter().rev().find(|q| q.path == "/v1/billing_portal/sessions").unwrap();
    assert_eq!(req.field("customer"), Some(customer.as_str()));
}

#[tokio::test]
async fn a_credit_pack_purchase_grants_its_credits_once() {
    let u = user("pack").await;
    let before = stack().get_as("/api/v1/credits/balance", &u.token).await.body["data"]["balance"].as_i64().unwrap();
    let ev = event(
        "checkout.session.completed",
        now(),
        json!({
        "id": format!("cs_test_{}", uuid::Uuid::new_v4().simple()), "object": "checkout.session", "mode": "payment",
        "client_reference_id": u.account, "customer": format!("cus_{}", uuid::Uuid::new_v4().simple()),
        "payment_status": "paid", "metadata": { "credit_pack": "small", "account_id": u.account } }),
    );
    deliver(&ev).await;
    deliver(&ev).await;
    processed(ev["id"].as_str().unwrap()).await;
    let after = stack().get_as("/api/v1/credits/balance", &u.token).await.body["data"]["balance"].as_i64().unwrap();
    assert_eq!(after - before, 100);
}

#[tokio::test]
async fn pricing_is_public_and_lists_plans_costs_packs_and_amounts() {
    fake().put_object(json!({ "id": "price_pro", "object": "price", "unit_amount": 2900, "currency": "usd",
                               "recurring": { "interval": "month" } }));
    fake().put_object(json!({ "id": "price_small", "object": "price", "unit_amount": 1000, "currency": "usd", "recurring": null }));
    let r = ApiResponse::from(http().get(stack().url("/api/v1/credits/pricing")).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["plans"].as_array().unwrap().len(), 3);
    assert_eq!(d["plans"][1]["plan"], "PRO", "the plan is named `plan` as on /me and /billing");
    assert_eq!(d["plans"][1]["stripe_price_id"], "price_pro");
    assert_eq!(d["plans"][1]["price"], json!({ "unit_amount": 2900, "currency": "usd", "interval": "month" }), "amounts from Stripe");
    assert_eq!(d["plans"][0]["price"], json!({ "unit_amount": 0, "currency": "usd", "interval": "month" }), "FREE costs nothing");
    assert!(d["plans"][2]["price"].is_null(), "a price Stripe does not know is shown as unknown, not invented: {d}");
    assert_eq!(d["credit_costs"]["http.request"], 1);
    assert_eq!(
        d["credit_packs"][0],
        json!({"credit_pack": "small", "credits": 100, "stripe_price_id": "price_small",
               "price": { "unit_amount": 1000, "currency": "usd", "interval": null }})
    );
}

#[tokio::test]
async fn a_completed_job_is_counted_in_usage() {
    let u = user("usage").await;
    let job = json!({"task_type": "http.request", "payload": {"url": target().url(&format!("/ok/usage-{}", u.account))}});
    let r = ApiResponse::from(http().post(stack().url("/api/v1/jobs")).bearer_auth(&u.token).json(&job).send().await.unwrap()).await;
    assert_eq!(r.status, 202);
    let usage = eventually("usage to count the job", WAIT, || async {
        let r = stack().get_as("/api/v1/usage", &u.token).await;
        (r.body["data"]["jobs_used"] == 1).then_some(r)
    })
    .await;
    assert_eq!(usage.body["data"]["by_task_type"], json!({"http.request": 1}));
}

#[tokio::test]
async fn the_stripe_client_retries_429_and_5xx_with_one_idempotency_key_and_never_retries_4xx() {
    let u = user("retry").await;
    let checkout = |marker: &'static str| {
        let token = u.token.clone();
        async move {
            let body =
                json!({"plan": "PRO", "success_url": format!("http://allowed.test/{marker}"), "cancel_url": "http://allowed.test/no"});
            ApiResponse::from(http().post(stack().url("/api/v1/billing/checkout")).bearer_auth(&token).json(&body).send().await.unwrap())
                .await
        }
    };
    let attempts_for = |marker: &str| {
        let reqs: Vec<_> = fake()
            .requests()
            .into_iter()
            .filter(|q| {
                q.field("client_reference_id") == Some(u.account.as_str()) && q.field("success_url").is_some_and(|s| s.ends_with(marker))
            })
            .collect();
        let keys: std::collections::HashSet<_> = reqs.iter().filter_map(|q| q.headers.get("idempotency-key").cloned()).collect();
        (reqs.len(), keys.len())
    };
    let r = checkout("stripe-500-twice").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(attempts_for("stripe-500-twice"), (3, 1), "two 500s retried, all with one Idempotency-Key");
    let r = checkout("stripe-429-once").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(attempts_for("stripe-429-once"), (2, 1));
    let r = checkout("stripe-400").await;
    r.assert_error(500, "internal_error");
    assert_eq!(attempts_for("stripe-400"), (1, 1), "a 4xx is never retried");
}
