//! Billing: the Stripe webhook endpoint (docs/adr/0005), the account's billing and usage, credits, the
//! pricing page, and Stripe Checkout / billing portal sessions.

use crate::adapters::postgrest::{Db, ServiceDb, ServiceRole};
use crate::adapters::rpc;
use crate::adapters::stripe::{StripeClient, StripeError};
use crate::api::account_arg;
use crate::api::{header, read_body, Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::billing::policy::PLANS;
use crate::billing::verify::{verify, VerifiedEvent};
use crate::contract::body;
use crate::contract::envelope::Pagination;
use crate::contract::error::ApiError;
use crate::contract::time;
use crate::jobs::list::Page;
use crate::log;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::Request;

/// The queue producer binding for verified Stripe events.
pub const WEBHOOK_QUEUE_BINDING: &str = crate::config::bindings::STRIPE_WEBHOOKS_QUEUE;

/// `POST /api/v1/billing/webhooks`: verify, make durable (queue, else the `webhook_events` table for the
/// cron re-drive), then 200. 503 only when neither worked, so Stripe retries. No database or Stripe
/// round trip when the queue accepts.
pub async fn webhook(req: &mut Request, ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    if ctx.cfg.stripe_webhook_secrets.is_empty() {
        log::error("webhook: STRIPE_WEBHOOK_SECRET is not set; answering 503 so Stripe retries", json!({ "request_id": ctx.request_id }));
        return Err(ApiError::BillingNotConfigured { setting: "STRIPE_WEBHOOK_SECRET" });
    }
    let raw = read_body(req, ctx.cfg.max_body_bytes).await?;
    if let Err(e) = verify(ctx.cfg, header(req, "Stripe-Signature").as_deref(), &raw) {
        log::warn("webhook: signature refused", json!({ "request_id": ctx.request_id, "reason": e.to_string() }));
        return Err(ApiError::invalid("invalid Stripe-Signature"));
    }
    let body: Value = serde_json::from_slice(&raw).map_err(|_| ApiError::invalid("body is not a Stripe event"))?;
    // The event's shape as docs/openapi.json states it: `id` starting `evt_`, a `type` of `[a-z0-9_.]+`, and
    // `created` a Unix time JavaScript can hold exactly.
    const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
    let mut body = body;
    let created = crate::jobs::payloads::json_integer(&body["created"]).filter(|t| (0..=MAX_SAFE_INTEGER).contains(t));
    let Some(created) = created else {
        return Err(ApiError::invalid("body is not a Stripe event"));
    };
    // `1004.0` is the integer 1004 (JSON Schema's `integer`); stored and applied as one.
    body["created"] = Value::from(created);
    let (Some(id), Some(kind)) = (body["id"].as_str(), body["type"].as_str()) else {
        return Err(ApiError::invalid("body is not a Stripe event"));
    };
    let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if !id.starts_with("evt_") || !kind_ok {
        return Err(ApiError::invalid("body is not a Stripe event"));
    }
    let event = VerifiedEvent { id: id.to_string(), kind: kind.to_string(), body };
    let queued = match ctx.env.queue(WEBHOOK_QUEUE_BINDING) {
        Ok(q) => crate::adapters::queue::send_json(&q, &event.body).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = queued {
        log::error(
            "webhook: queue refused; storing for re-drive",
            json!({ "request_id": ctx.request_id, "event_id": event.id, "error": e }),
        );
        let db = ServiceDb::new(ctx.cfg, ServiceRole::for_verified_webhook(&event));
        if let Err(e) = db.call(&rpc::StoreWebhookEvent { p_event: &event.body }).await {
            log::error(
                "webhook: could not make the event durable; answering 503 so Stripe retries",
                json!({ "request_id": ctx.request_id, "event_id": event.id, "error": e.to_string() }),
            );
            return Err(ApiError::Unavailable { dependency: "event storage", retry_after_secs: 60 });
        }
    }
    log::info("webhook: accepted", json!({ "request_id": ctx.request_id, "event_id": event.id, "type": event.kind }));
    Ok(Reply::ok(json!({ "received": true })))
}

async fn overview(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Value, ApiError> {
    let mut o = Db::as_user(ctx.cfg, &who.token).call(&rpc::BillingOverview { p_account_id: account_arg(who) }).await?;
    time::normalize(&mut o);
    Ok(o)
}

/// `GET /api/v1/billing`.
pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let o = overview(ctx, who).await?;
    Ok(Reply::ok(json!({
        "plan": o["plan"], "status": o["status"], "subscription_status": o["subscription_status"],
        "current_period_start": o["current_period_start"], "current_period_end": o["current_period_end"],
        "cancel_at_period_end": o["cancel_at_period_end"], "stripe_customer_id": o["stripe_customer_id"],
    })))
}

/// `GET /api/v1/usage`.
pub async fn usage(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let o = overview(ctx, who).await?;
    Ok(Reply::ok(json!({
        "period_start": o["current_period_start"], "period_end": o["current_period_end"],
        "jobs_used": o["jobs_used"], "job_quota": o["jobs_limit"], "by_task_type": o["by_task_type"],
    })))
}

/// `GET /api/v1/usage/daily`: the dashboard's charts, one entry per UTC day, oldest first.
pub async fn usage_daily(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let days = crate::jobs::list::usage_days(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let out = Db::as_user(ctx.cfg, &who.token).call(&rpc::UsageDaily { p_days: days, p_account_id: account_arg(who) }).await?;
    Ok(Reply::ok(serde_json::to_value(out.unwrap_or_default()).unwrap_or_default()))
}

/// `GET /api/v1/credits/balance`.
pub async fn balance(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let o = overview(ctx, who).await?;
    Ok(Reply::ok(json!({ "balance": o["balance"], "updated_at": o["balance_updated_at"] })))
}

/// `GET /api/v1/credits/transactions`.
pub async fn transactions(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let page = Page::parse(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let args = rpc::ListCreditTransactions {
        p_limit: page.limit,
        p_starting_after: page.starting_after.as_deref(),
        p_ending_before: page.ending_before.as_deref(),
        p_account_id: account_arg(who),
    };
    let mut out = Db::as_user(ctx.cfg, &who.token).call(&args).await?;
    let mut items = out["items"].take();
    time::normalize(&mut items);
    Ok(Reply::List { data: items, pagination: Pagination { limit: page.limit, has_more: out["has_more"].as_bool().unwrap_or(false) } })
}

/// How long a price read from Stripe is reused by one isolate.
const PRICE_TTL_MS: f64 = 10.0 * 60.0 * 1000.0;

thread_local! {
    static PRICES: std::cell::RefCell<std::collections::HashMap<String, (f64, Value)>> = Default::default();
}

/// A configured price as the pricing page shows it (`unit_amount` in the currency's minor unit,
/// `currency`, `interval` for plans), read from Stripe and cached per isolate; `null` when Stripe is
/// not configured or does not answer (the page still lists plans and costs).
async fn price(ctx: &RequestCtx<'_>, id: &str) -> Value {
    let now = crate::platform::now_ms();
    if let Some(v) = PRICES.with(|p| p.borrow().get(id).filter(|(at, _)| now - at < PRICE_TTL_MS).map(|(_, v)| v.clone())) {
        return v;
    }
    let Ok(stripe) = StripeClient::from_config(ctx.cfg) else { return Value::Null };
    match stripe.get(&format!("/v1/prices/{id}")).await {
        Ok(p) => {
            let v = json!({
                "unit_amount": p["unit_amount"], "currency": p["currency"],
                "interval": p["recurring"]["interval"].as_str(),
            });
            PRICES.with(|c| c.borrow_mut().insert(id.to_string(), (now, v.clone())));
            v
        }
        Err(e) => {
            log::warn("pricing: price not read from Stripe", json!({ "request_id": ctx.request_id, "price": id, "error": e.to_string() }));
            Value::Null
        }
    }
}

/// `GET /api/v1/credits/pricing` (no auth): plans and task costs from the database, prices (amount and
/// currency from Stripe) and credit packs from configuration.
pub async fn pricing(ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    let p = Db::anon(ctx.cfg).call(&rpc::Pricing {}).await?;
    let mut plans = Vec::new();
    for plan in p["plans"].as_array().into_iter().flatten() {
        let code = plan["code"].as_str().unwrap_or("");
        let price_id = ctx.cfg.price_plans.price_for_plan(code);
        let amount = match price_id {
            Some(id) => price(ctx, id).await,
            None if code == "FREE" => json!({ "unit_amount": 0, "currency": null, "interval": "month" }),
            None => Value::Null,
        };
        plans.push(json!({
            "plan": code, "name": plan["name"], "job_quota": plan["job_quota"], "monthly_credits": plan["monthly_credits"],
            "max_concurrent_jobs": plan["max_concurrent_jobs"], "rate_limit_per_minute": plan["rate_limit_per_minute"],
            "max_sse_streams": plan["max_sse_streams"], "task_types": plan["task_types"],
            "stripe_price_id": price_id, "price": amount,
        }));
    }
    // The free plan is priced at zero in the currency the paid plans are sold in.
    let currency = plans.iter().find_map(|p| p["price"]["currency"].as_str().map(str::to_string));
    for p in plans.iter_mut().filter(|p| p["plan"] == "FREE" && p["price"].is_object()) {
        p["price"]["currency"] = currency.clone().map(Value::from).unwrap_or(Value::Null);
    }
    let mut packs = Vec::new();
    for c in &ctx.cfg.credit_packs {
        packs.push(
            json!({ "credit_pack": c.name, "credits": c.credits, "stripe_price_id": c.price_id, "price": price(ctx, &c.price_id).await }),
        );
    }
    Ok(Reply::ok(json!({
        "plans": plans, "credit_packs": packs, "credit_costs": p["task_credit_costs"], "lead_tier_credits": p["lead_tier_credits"],
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    credit_pack: Option<String>,
    success_url: String,
    cancel_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PortalBody {
    return_url: String,
}

/// The origin the request was sent to: the dashboard this Worker serves lives there (docs/adr/0020).
fn own_origin(req: &Request) -> Option<String> {
    req.url().ok().map(|u| u.origin().ascii_serialization())
}

/// Redirect targets must be on an allowed front-end origin (`CORS_ORIGINS`) or on the Worker's own
/// origin (its dashboard): no open redirects.
fn check_return_url(cfg: &crate::config::Config, own: Option<&str>, field: &str, raw: &str, fields: &mut Map<String, Value>) {
    let ok = url::Url::parse(raw).ok().filter(|u| u.scheme() == "https" || u.scheme() == "http").is_some_and(|u| {
        let origin = u.origin().ascii_serialization();
        own == Some(origin.as_str()) || cfg.cors.allow(Some(&origin)).is_some()
    });
    if !ok {
        fields.insert(field.into(), Value::from("must be a URL on an allowed origin (CORS_ORIGINS) or this API's own origin"));
    }
}

fn stripe_error(e: StripeError) -> ApiError {
    match e {
        StripeError::NotConfigured => ApiError::BillingNotConfigured { setting: "STRIPE_SECRET_KEY" },
        StripeError::Unavailable(_) => ApiError::Unavailable { dependency: "billing provider", retry_after_secs: 30 },
        StripeError::Api { .. } => ApiError::Internal(e.to_string()),
    }
}

async fn json_body<T: serde::de::DeserializeOwned>(req: &mut Request, ctx: &RequestCtx<'_>) -> Result<T, ApiError> {
    body::check_json_media_type(header(req, "Content-Type").as_deref())?;
    let bytes = read_body(req, ctx.cfg.max_body_bytes).await?;
    body::parse_json(&bytes)
}

/// `POST /api/v1/billing/checkout`: a Stripe Checkout session for a plan (subscription) or a credit
/// pack (one-off payment). The account id travels as `client_reference_id` and metadata, which is how
/// the webhook links the customer.
pub async fn checkout(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let b: CheckoutBody = json_body(req, ctx).await?;
    let mut fields = Map::new();
    let own = own_origin(req);
    check_return_url(ctx.cfg, own.as_deref(), "success_url", &b.success_url, &mut fields);
    check_return_url(ctx.cfg, own.as_deref(), "cancel_url", &b.cancel_url, &mut fields);
    let (mode, price, pack) = match (&b.plan, &b.credit_pack) {
        (Some(plan), None) => match ctx.cfg.price_plans.price_for_plan(plan) {
            Some(price) => ("subscription", price.to_string(), None),
            // A paid plan without a price is the server's configuration, not the client's mistake.
            None if plan != "FREE" && PLANS.contains(&plan.as_str()) => {
                return Err(ApiError::BillingNotConfigured { setting: "STRIPE_PRICE_PLANS" })
            }
            None => {
                fields.insert("plan".into(), Value::from("must be a paid plan (PRO, ENTERPRISE)"));
                ("", String::new(), None)
            }
        },
        (None, Some(name)) => match ctx.cfg.credit_packs.iter().find(|p| &p.name == name) {
            Some(p) => ("payment", p.price_id.clone(), Some(p.name.clone())),
            None if ctx.cfg.credit_packs.is_empty() => return Err(ApiError::BillingNotConfigured { setting: "CREDIT_PACKS" }),
            None => {
                fields.insert("credit_pack".into(), Value::from("unknown credit pack"));
                ("", String::new(), None)
            }
        },
        _ => {
            fields.insert("plan".into(), Value::from("exactly one of plan or credit_pack is required"));
            ("", String::new(), None)
        }
    };
    if !fields.is_empty() {
        return Err(ApiError::invalid_fields(fields));
    }
    let stripe = StripeClient::from_config(ctx.cfg).map_err(stripe_error)?;
    let o = overview(ctx, who).await?;
    let account = o["account_id"].as_str().unwrap_or_default().to_string();
    // One plan subscription per account: a second would bill twice. Plans change in the portal.
    if let (Some(sub), "subscription") = (o["live_subscription_id"].as_str(), mode) {
        return Err(ApiError::SubscriptionExists { subscription_id: sub.to_string() });
    }
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), mode.into()),
        ("line_items[0][price]".into(), price),
        ("line_items[0][quantity]".into(), "1".into()),
        ("success_url".into(), b.success_url),
        ("cancel_url".into(), b.cancel_url),
        ("client_reference_id".into(), account.clone()),
        ("metadata[account_id]".into(), account.clone()),
    ];
    match o["stripe_customer_id"].as_str() {
        Some(c) => form.push(("customer".into(), c.into())),
        None => {
            if let Some(email) = &who.principal.email {
                form.push(("customer_email".into(), email.clone()));
            }
        }
    }
    if mode == "subscription" {
        form.push(("subscription_data[metadata][account_id]".into(), account.clone()));
    }
    if let Some(p) = pack {
        form.push(("metadata[credit_pack]".into(), p));
    }
    let session = stripe.post("/v1/checkout/sessions", &form, &format!("checkout:{}", ctx.request_id)).await.map_err(stripe_error)?;
    Ok(Reply::ok(json!({ "url": session["url"], "id": session["id"] })))
}

/// `POST /api/v1/billing/portal`: a Stripe billing portal session for the account's customer.
pub async fn portal(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let b: PortalBody = json_body(req, ctx).await?;
    let stripe = StripeClient::from_config(ctx.cfg).map_err(stripe_error)?;
    let mut fields = Map::new();
    check_return_url(ctx.cfg, own_origin(req).as_deref(), "return_url", &b.return_url, &mut fields);
    if !fields.is_empty() {
        return Err(ApiError::invalid_fields(fields));
    }
    let o = overview(ctx, who).await?;
    let Some(customer) = o["stripe_customer_id"].as_str() else {
        return Err(ApiError::Conflict { message: "the account has no Stripe customer yet: start with a checkout".into() });
    };
    let form = vec![("customer".into(), customer.to_string()), ("return_url".into(), b.return_url)];
    let session = stripe.post("/v1/billing_portal/sessions", &form, &format!("portal:{}", ctx.request_id)).await.map_err(stripe_error)?;
    Ok(Reply::ok(json!({ "url": session["url"] })))
}
