//! Billing against the live Stripe stand-in (scripts/stripe-server.mjs), which the stack starts with a
//! webhook secret of its own and dev prices: a seeded, shuffled replay of Stripe's real delivery
//! (duplicates, out of order, same-second ties, two subscriptions on one customer, credit packs, bad
//! signatures) must end in exactly Stripe's state; and the walk a person takes: checkout, the hosted
//! payment page, the portal, `stripe trigger`.

use e2e::{eventually, http, spawn_stack, unique_email, ApiResponse, Stack};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PRO: &str = "price_dev_pro";
const ENTERPRISE: &str = "price_dev_enterprise";
const PACK: &str = "price_dev_small";
const WAIT: Duration = Duration::from_secs(180);

fn stack() -> &'static Stack {
    spawn_stack()
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// xorshift64*: a seeded generator, so a failing replay can be rerun exactly (`REPLAY_SEED`).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

fn plan_of_price(price: &str) -> &'static str {
    if price == ENTERPRISE {
        "ENTERPRISE"
    } else {
        "PRO"
    }
}
fn credits_of(plan: &str) -> i64 {
    if plan == "ENTERPRISE" {
        50_000
    } else {
        5_000
    }
}
fn rank(plan: &str) -> u8 {
    match plan {
        "ENTERPRISE" => 2,
        "PRO" => 1,
        _ => 0,
    }
}

fn id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn event(kind: &str, created: i64, object: Value) -> Value {
    json!({ "id": id("evt"), "object": "event", "api_version": "2025-10-29.clover", "created": created, "type": kind,
            "livemode": false, "pending_webhooks": 1, "data": { "object": object } })
}

fn subscription(sub: &str, customer: &str, account: &str, price: &str, status: &str, t0: i64) -> Value {
    json!({ "id": sub, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": false,
            "livemode": false, "metadata": { "account_id": account }, "created": t0,
            "items": { "object": "list", "data": [ { "id": format!("si_{}", &sub[4..]), "object": "subscription_item",
                "price": { "id": price, "object": "price" }, "quantity": 1,
                "current_period_start": t0 - 86_400, "current_period_end": t0 + 29 * 86_400 } ] } })
}

/// A paid invoice of `sub` with one line: `amount` cents of `price`, a proration or not.
fn invoice(customer: &str, account: &str, sub: &str, price: &str, amount: i64, proration: bool, start: i64) -> Value {
    let inv = id("in");
    json!({ "id": inv, "object": "invoice", "customer": customer, "status": "paid", "amount_paid": amount, "amount_due": amount,
            "billing_reason": if proration { "subscription_update" } else { "subscription_cycle" }, "livemode": false,
            "parent": { "type": "subscription_details", "subscription_details": { "subscription": sub, "metadata": { "account_id": account } } },
            "lines": { "object": "list", "data": [ { "id": id("il"), "object": "line_item", "amount": amount, "invoice": inv,
                "period": { "start": start, "end": start + 30 * 86_400 },
                "parent": { "type": "subscription_item_details", "subscription_item_details": { "proration": proration, "subscription": sub } },
                "pricing": { "type": "price_details", "price_details": { "price": price, "product": "prod_x" } } } ] } })
}

fn checkout(customer: &str, account: &str, email: &str, pack: bool) -> Value {
    json!({ "id": id("cs_test"), "object": "checkout.session", "mode": if pack { "payment" } else { "subscription" },
            "status": "complete", "payment_status": "paid", "client_reference_id": account, "customer": customer,
            "customer_details": { "email": email }, "metadata": if pack { json!({ "account_id": account, "credit_pack": "small" }) } else { json!({ "account_id": account }) } })
}

struct Customer {
    account: String,
    customer: String,
}

async fn new_customer(tag: &str) -> (Customer, String) {
    let email = unique_email(tag);
    let token = stack().token_for(&email).await.access_token;
    let me = stack().get_as("/api/v1/me", &token).await;
    let account = me.body["data"]["account"]["id"].as_str().unwrap_or_else(|| panic!("an account: {} {}", me.status, me.body)).to_string();
    (Customer { account, customer: id("cus") }, email)
}

async fn post_webhook(body: &str, signature: &str) -> u16 {
    http()
        .post(stack().url("/api/v1/billing/webhooks"))
        .header("content-type", "application/json")
        .header("Stripe-Signature", signature)
        .body(body.to_string())
        .send()
        .await
        .expect("worker reachable")
        .status()
        .as_u16()
}

async fn service_get(path: &str) -> Value {
    let r = stack().service(reqwest::Method::GET, path).send().await.expect("postgrest reachable");
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().await.expect("json")
}

/// `webhook_events` rows of these ids: id → status.
async fn event_statuses(ids: &[String]) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(40) {
        let rows = service_get(&format!("/webhook_events?select=id,status&id=in.({})", chunk.join(","))).await;
        for r in rows.as_array().unwrap() {
            out.insert(r["id"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string());
        }
    }
    out
}

/// Waits until every event is `processed` or `ignored`; on time-out, names the others and their state.
async fn wait_handled(ids: &[String]) {
    let until = std::time::Instant::now() + WAIT;
    loop {
        let st = event_statuses(ids).await;
        let open: Vec<String> = ids
            .iter()
            .filter(|i| !st.get(*i).is_some_and(|s| s == "processed" || s == "ignored"))
            .map(|i| format!("{i}: {}", st.get(i).map(String::as_str).unwrap_or("not stored")))
            .collect();
        if open.is_empty() {
            return;
        }
        if std::time::Instant::now() > until {
            let rows = service_get("/webhook_events?select=id,type,status,error&status=not.in.(processed,ignored)").await;
            panic!("{} of {} events not handled: {open:?}\nunhandled rows: {rows}", open.len(), ids.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_shuffled_replay_of_stripe_deliveries_ends_in_exactly_stripes_state() {
    let seed: u64 = std::env::var("REPLAY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_2026_1125);
    eprintln!("replay seed {seed} (REPLAY_SEED reruns it)");
    let mut rng = Rng(seed);
    const CUSTOMERS: usize = 40;
    let people: Vec<(Customer, String)> =
        stream::iter(0..CUSTOMERS).map(|i| new_customer(if i == 0 { "two-subs" } else { "replay" })).buffered(8).collect().await;
    let t0 = now();

    let mut links = Vec::new(); // phase 1: the checkouts that link customers to accounts
    let mut events = Vec::new(); // phase 2: everything else, shuffled
    let mut stripe_state = Vec::new(); // final objects, as Stripe would answer a GET
    let mut final_subs: Vec<(String, String, String, String)> = Vec::new(); // (account, sub, plan, status)
    let mut grants: Vec<(String, String, i64)> = Vec::new(); // (account, invoice, credits)
    let mut packs: HashMap<String, i64> = HashMap::new();
    let mut final_email: HashMap<String, String> = HashMap::new();
    let mut ties = 0;

    for (i, (c, email)) in people.iter().enumerate() {
        links.push(event("checkout.session.completed", t0, checkout(&c.customer, &c.account, email, false)));
        if i == 0 {
            // One customer, two plan subscriptions: the PRO one ends, the ENTERPRISE one stays and is paid.
            let (s1, s2) = (id("sub"), id("sub"));
            events.push(event("customer.subscription.created", t0 + 1, subscription(&s1, &c.customer, &c.account, PRO, "active", t0)));
            events.push(event(
                "customer.subscription.created",
                t0 + 2,
                subscription(&s2, &c.customer, &c.account, ENTERPRISE, "active", t0),
            ));
            let ended = subscription(&s1, &c.customer, &c.account, PRO, "canceled", t0);
            events.push(event("customer.subscription.deleted", t0 + 3, ended.clone()));
            let inv = invoice(&c.customer, &c.account, &s2, ENTERPRISE, 9900, false, t0);
            grants.push((c.account.clone(), inv["id"].as_str().unwrap().to_string(), 50_000));
            events.push(event("invoice.paid", t0 + 4, inv));
            stripe_state.push(ended);
            stripe_state.push(subscription(&s2, &c.customer, &c.account, ENTERPRISE, "active", t0));
            final_subs.push((c.account.clone(), s1, "PRO".into(), "canceled".into()));
            final_subs.push((c.account.clone(), s2, "ENTERPRISE".into(), "active".into()));
            continue;
        }
        let n_subs = if rng.chance(0.2) { 2 } else { 1 };
        for _ in 0..n_subs {
            let sub = id("sub");
            let mut created = t0 + rng.below(3) as i64;
            let mut last = Value::Null;
            let mut prices_seen = Vec::new();
            let n_states = 1 + rng.below(4);
            for k in 0..n_states {
                let price = *rng.pick(&[PRO, ENTERPRISE]);
                prices_seen.push(price);
                let deleted = k > 0 && k == n_states - 1 && rng.chance(0.25);
                let status = if deleted {
                    "canceled"
                } else if k == 0 {
                    *rng.pick(&["active", "active", "trialing"])
                } else {
                    *rng.pick(&["active", "active", "active", "trialing", "past_due", "unpaid"])
                };
                let kind = match (k, deleted) {
                    (0, _) => "customer.subscription.created",
                    (_, true) => "customer.subscription.deleted",
                    _ => "customer.subscription.updated",
                };
                let step = rng.below(2) as i64; // 0: the same second as the state before it
                if k > 0 {
                    created += step;
                    ties += usize::from(step == 0);
                }
                last = subscription(&sub, &c.customer, &c.account, price, status, t0);
                events.push(event(kind, created, last.clone()));
            }
            let status = last["status"].as_str().unwrap().to_string();
            let price = last["items"]["data"][0]["price"]["id"].as_str().unwrap().to_string();
            final_subs.push((c.account.clone(), sub.clone(), plan_of_price(&price).into(), status));
            stripe_state.push(last);
            for _ in 0..1 + rng.below(3) {
                let price = *rng.pick(&prices_seen);
                let roll = rng.below(20);
                let (inv, credits) = match roll {
                    0..=14 => (invoice(&c.customer, &c.account, &sub, price, 2900, false, t0), credits_of(plan_of_price(price))),
                    15 | 16 => (invoice(&c.customer, &c.account, &sub, price, 1450, true, t0), 0), // a proration
                    17 | 18 => (invoice(&c.customer, &c.account, &sub, price, 0, false, t0), 0),   // zero amount
                    _ => {
                        let mut inv = invoice(&c.customer, &c.account, &sub, PACK, 1000, false, t0); // a credit pack's price
                        inv["lines"]["data"][0]["parent"] = json!({ "type": "invoice_item_details", "invoice_item_details": { "proration": false, "invoice_item": id("ii") } });
                        (inv, 0)
                    }
                };
                grants.push((c.account.clone(), inv["id"].as_str().unwrap().to_string(), credits));
                events.push(event("invoice.paid", t0 + rng.below(6) as i64, inv));
            }
        }
        if rng.chance(0.5) {
            // Customer updates in (mostly) the same second: only a re-read can tell which is last.
            let mut created = t0;
            for j in 0..1 + rng.below(2) {
                created += rng.below(2) as i64;
                let mail = format!("final-{i}-{j}-{}@example.test", uuid::Uuid::new_v4().simple());
                let obj = json!({ "id": c.customer, "object": "customer", "email": mail, "metadata": {}, "livemode": false });
                events.push(event("customer.updated", created, obj.clone()));
                final_email.insert(c.customer.clone(), mail);
                if j == 0 {
                    stripe_state.push(obj);
                } else {
                    *stripe_state.last_mut().unwrap() = obj;
                }
            }
        }
        for _ in 0..(if rng.chance(0.3) { 1 + rng.below(2) } else { 0 }) {
            events.push(event("checkout.session.completed", t0 + rng.below(4) as i64, checkout(&c.customer, &c.account, email, true)));
            *packs.entry(c.account.clone()).or_default() += 100;
        }
    }
    assert!(ties >= 10, "the replay must hold same-second ties (got {ties})");
    stack().stripe_objects(&stripe_state).await;

    // Phase 1: the checkouts that link customers (Stripe sends them as soon as the customer pays).
    let link_ids: Vec<String> = links.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    for ev in &links {
        let body = ev.to_string();
        assert_eq!(post_webhook(&body, &stack().stripe_signature(&body)).await, 200);
    }
    wait_handled(&link_ids).await;

    // Phase 2: duplicates (30%), shuffled, some first sent with a bad signature (refused; Stripe retries).
    let mut deliveries: Vec<(String, bool)> = Vec::new();
    for ev in &events {
        let body = ev.to_string();
        deliveries.push((body.clone(), rng.chance(0.05)));
        if rng.chance(0.3) {
            deliveries.push((body, false));
        }
    }
    for i in (1..deliveries.len()).rev() {
        deliveries.swap(i, rng.below(i + 1));
    }
    let total = links.len() + deliveries.len();
    assert!(total >= 300, "at least 300 deliveries (got {total})");
    let bad = deliveries.iter().filter(|d| d.1).count();
    let statuses: Vec<(u16, Option<u16>)> = stream::iter(deliveries)
        .map(|(body, bad_first)| async move {
            let refused = if bad_first { Some(post_webhook(&body, &e2e::stripe_signature("whsec_wrong", &body)).await) } else { None };
            (post_webhook(&body, &stack().stripe_signature(&body)).await, refused)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| s.0 == 200), "every signed delivery is accepted");
    assert_eq!(statuses.iter().filter(|s| s.1 == Some(400)).count(), bad, "every bad signature is refused");
    eprintln!("replay: {total} deliveries of {} events ({bad} bad signatures first, {ties} ties)", links.len() + events.len());

    let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    wait_handled(&ids).await;

    // Nothing lost or stuck among this replay's events.
    let st = event_statuses(&ids).await;
    assert_eq!(st.len(), ids.iter().collect::<HashSet<_>>().len(), "every event is stored once");

    let accounts: Vec<&str> = people.iter().map(|(c, _)| c.account.as_str()).collect();
    let in_accounts = accounts.join(",");
    // Plans: the best plan among each account's live subscriptions in Stripe's final state.
    let rows = service_get(&format!("/accounts?select=id,plan&id=in.({in_accounts})")).await;
    let plans: HashMap<String, String> =
        rows.as_array().unwrap().iter().map(|r| (r["id"].as_str().unwrap().to_string(), r["plan"].as_str().unwrap().to_string())).collect();
    for (c, _) in &people {
        let want = final_subs
            .iter()
            .filter(|s| s.0 == c.account && ["active", "trialing", "past_due"].contains(&s.3.as_str()))
            .map(|s| s.2.as_str())
            .max_by_key(|p| rank(p))
            .unwrap_or("FREE");
        assert_eq!(plans[&c.account], want, "account {} plan", c.account);
    }
    assert_eq!(plans[&people[0].0.account], "ENTERPRISE", "a second subscription ending does not downgrade the first");
    // Subscriptions: each one's stored status and plan are Stripe's final ones.
    let subs = service_get(&format!("/subscriptions?select=id,status,plan&account_id=in.({in_accounts})")).await;
    let subs: HashMap<String, (String, String)> = subs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (r["id"].as_str().unwrap().to_string(), (r["status"].as_str().unwrap().to_string(), r["plan"].as_str().unwrap().to_string()))
        })
        .collect();
    for (_, sub, plan, status) in &final_subs {
        assert_eq!(subs.get(sub), Some(&(status.clone(), plan.clone())), "subscription {sub}");
    }
    // Credits: each invoice granted its own plan's credits exactly once; ledger sums equal balances.
    let tx = service_get(&format!("/credit_transactions?select=account_id,amount,reference&account_id=in.({in_accounts})")).await;
    let tx = tx.as_array().unwrap();
    for (account, inv, credits) in &grants {
        let rows: Vec<&Value> = tx.iter().filter(|t| t["reference"] == format!("invoice:{inv}")).collect();
        let want = usize::from(*credits > 0);
        assert_eq!(rows.len(), want, "invoice {inv} grants {credits} once");
        if let Some(r) = rows.first() {
            assert_eq!((r["account_id"].as_str(), r["amount"].as_i64()), (Some(account.as_str()), Some(*credits)), "invoice {inv}");
        }
    }
    let balances = service_get(&format!("/credit_balances?select=account_id,balance&account_id=in.({in_accounts})")).await;
    let mut ledger: BTreeMap<&str, i64> = BTreeMap::new();
    for t in tx {
        *ledger.entry(t["account_id"].as_str().unwrap()).or_default() += t["amount"].as_i64().unwrap();
    }
    for b in balances.as_array().unwrap() {
        let account = b["account_id"].as_str().unwrap();
        let want = 100 + grants.iter().filter(|g| g.0 == account).map(|g| g.2).sum::<i64>() + packs.get(account).copied().unwrap_or(0);
        assert_eq!(b["balance"].as_i64(), Some(want), "balance of {account}: signup + its invoices + its packs");
        assert_eq!(ledger.get(account).copied(), Some(want), "ledger of {account} sums to its balance");
    }
    // Customers: the last update wins even when several share a second.
    let customers = service_get(&format!("/stripe_customers?select=stripe_customer_id,email&account_id=in.({in_accounts})")).await;
    for r in customers.as_array().unwrap() {
        if let Some(want) = final_email.get(r["stripe_customer_id"].as_str().unwrap()) {
            assert_eq!(r["email"].as_str(), Some(want.as_str()), "customer {}", r["stripe_customer_id"]);
        }
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(Duration::from_secs(30)).build().unwrap()
}

async fn balance(token: &str) -> i64 {
    let r = stack().get_as("/api/v1/credits/balance", token).await;
    r.body["data"]["balance"].as_i64().unwrap_or_else(|| panic!("a balance: {} {}", r.status, r.body))
}

/// Waits until every event the stand-in has sent so far is handled by the Worker.
async fn stand_in_events_handled() {
    let sent: Value = http().get(format!("{}/_dev/events", stack().info.stripe_url)).send().await.unwrap().json().await.unwrap();
    let ids: Vec<String> = sent["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    wait_handled(&ids).await;
}

#[tokio::test]
async fn a_person_pays_at_checkout_switches_plan_in_the_portal_and_a_renewal_grants_once() {
    let email = unique_email("walk");
    let token = stack().token_for(&email).await.access_token;
    let post = |path: &'static str, body: Value| {
        let token = token.clone();
        async move { ApiResponse::from(http().post(stack().url(path)).bearer_auth(&token).json(&body).send().await.unwrap()).await }
    };
    let start = balance(&token).await;
    assert_eq!(start, 100, "signup credits");

    let r = post(
        "/api/v1/billing/checkout",
        json!({"plan": "PRO", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let url = r.body["data"]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/c/pay/cs_test_", stack().info.stripe_url)), "{url}");
    let page = http().get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-testid=\"pay\"") && page.contains("$29.00"), "the hosted page offers to pay: {page}");
    let paid = no_redirects().post(&url).form(&[("email", email.as_str())]).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(paid.headers()["location"], "http://allowed.test/ok");

    let billing = eventually("the account to be on PRO", Duration::from_secs(30), || async {
        let b = stack().get_as("/api/v1/billing", &token).await;
        (b.body["data"]["plan"] == "PRO").then_some(b)
    })
    .await;
    assert_eq!(billing.body["data"]["subscription_status"], "active");
    stand_in_events_handled().await;
    let billing = stack().get_as("/api/v1/billing", &token).await;
    assert!(billing.body["data"]["stripe_customer_id"].as_str().is_some_and(|c| c.starts_with("cus_")), "{}", billing.body);
    assert_eq!(balance(&token).await, start + 5_000, "the first invoice granted PRO's monthly credits");

    // A second plan subscription would bill twice: plans change in the portal.
    let r = post(
        "/api/v1/billing/checkout",
        json!({"plan": "ENTERPRISE", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
    )
    .await;
    let d = r.assert_error(409, "subscription_exists");
    assert_eq!(d["portal"], "/api/v1/billing/portal");
    assert!(d["subscription_id"].as_str().is_some_and(|s| s.starts_with("sub_")));
    // A credit pack is not a subscription: still allowed.
    let r = post(
        "/api/v1/billing/checkout",
        json!({"credit_pack": "small", "success_url": "http://allowed.test/ok", "cancel_url": "http://allowed.test/no"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let r = post("/api/v1/billing/portal", json!({"return_url": "http://allowed.test/account"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let portal = r.body["data"]["url"].as_str().unwrap().to_string();
    let html = http().get(&portal).send().await.unwrap().text().await.unwrap();
    let sub =
        html.split("data-subscription=\"").nth(1).and_then(|s| s.split('"').next()).expect("the portal lists the subscription").to_string();
    assert!(html.contains("Switch to ENTERPRISE"), "{html}");
    let r = no_redirects()
        .post(format!("{portal}/update"))
        .form(&[("subscription", sub.as_str()), ("price", ENTERPRISE)])
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "http://allowed.test/account"));
    eventually("the account to be on ENTERPRISE", Duration::from_secs(30), || async {
        (stack().get_as("/api/v1/billing", &token).await.body["data"]["plan"] == "ENTERPRISE").then_some(())
    })
    .await;
    stand_in_events_handled().await;
    assert_eq!(balance(&token).await, start + 5_000, "the proration invoice of the switch grants nothing");

    // `npm run stripe -- trigger invoice.paid` does this: a renewal of the live subscription.
    let sent = stack().stripe_trigger(json!({ "event": "invoice.paid", "email": email })).await;
    assert_eq!(sent["events"][0]["type"], "invoice.paid");
    stand_in_events_handled().await;
    assert_eq!(balance(&token).await, start + 5_000 + 50_000, "the renewal granted ENTERPRISE's monthly credits");
    // Stripe delivering the same event again changes nothing.
    let evt = sent["events"][0]["id"].as_str().unwrap().to_string();
    let stored = service_get(&format!("/webhook_events?select=payload&id=eq.{evt}")).await;
    let body = stored[0]["payload"].to_string();
    assert_eq!(post_webhook(&body, &stack().stripe_signature(&body)).await, 200);
    eventually("the redelivery to be handled as a duplicate", Duration::from_secs(30), || async {
        stack().worker_log().lines().any(|l| l.contains(&evt) && l.contains("\"outcome\":\"duplicate\"")).then_some(())
    })
    .await;
    assert_eq!(balance(&token).await, start + 55_000, "granted once per invoice");

    // Cancelling in the portal ends the plan.
    let r = no_redirects().post(format!("{portal}/cancel")).form(&[("subscription", sub.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    eventually("the account to be back on FREE", Duration::from_secs(30), || async {
        (stack().get_as("/api/v1/billing", &token).await.body["data"]["plan"] == "FREE").then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_event_the_queue_refuses_is_stored_by_the_endpoint_and_applied_by_the_redrive() {
    let (c, email) = new_customer("too-big").await;
    let link = event("checkout.session.completed", now(), checkout(&c.customer, &c.account, &email, false));
    let body = link.to_string();
    assert_eq!(post_webhook(&body, &stack().stripe_signature(&body)).await, 200);
    wait_handled(&[link["id"].as_str().unwrap().to_string()]).await;

    // An invoice with many lines is a real way to exceed a queue message's 128 KB: the send fails, and
    // the endpoint keeps the event in `webhook_events` (`received`) before answering 200.
    let sub = id("sub");
    let mut inv = invoice(&c.customer, &c.account, &sub, PRO, 2900, false, now());
    let line = inv["lines"]["data"][0].clone();
    let mut lines = vec![line];
    for k in 0..400 {
        let mut usage = lines[0].clone();
        usage["id"] = json!(format!("il_usage_{k}"));
        usage["description"] = json!(format!("Usage line {k} {}", "x".repeat(200)));
        usage["amount"] = json!(0);
        lines.push(usage);
    }
    inv["lines"]["data"] = json!(lines);
    let ev = event("invoice.paid", now(), inv);
    let body = ev.to_string();
    assert!(body.len() > 128 * 1024 && body.len() < 256 * 1024, "bigger than a queue message, within the body cap: {}", body.len());
    let evt = ev["id"].as_str().unwrap().to_string();
    assert_eq!(post_webhook(&body, &stack().stripe_signature(&body)).await, 200);
    let stored = event_statuses(std::slice::from_ref(&evt)).await;
    assert_eq!(stored.get(&evt).map(String::as_str), Some("received"), "stored by the endpoint, not queued");

    let r = http().get(stack().url("/__scheduled?cron=*/5+*+*+*+*")).send().await.unwrap();
    assert!(r.status().is_success());
    wait_handled(std::slice::from_ref(&evt)).await;
    let tx =
        service_get(&format!("/credit_transactions?select=amount&reference=eq.invoice:{}", ev["data"]["object"]["id"].as_str().unwrap()))
            .await;
    assert_eq!(tx, json!([{ "amount": 5000 }]), "the re-driven invoice granted its plan's credits once");
}
