//! Billing: the Stripe webhook endpoint (docs/adr/0005), the account's billing and usage, credits, the
//! pricing page, and Stripe Checkout / billing portal sessions.

use crate::adapters::postgrest::{Db, ServiceDb, ServiceRole};
use crate::adapters::rpc;
use crate::adapters::stripe::{StripeClient, StripeError};
use crate::api::account_arg;
use crate::api::{header, read_body, Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::billing::policy::PLANS;
use crate::billing::verify::{verify, VerifiedEvent, VerifyError};
use crate::contract::body;
use crate::contract::envelope::Pagination;
use crate::contract::error::ApiError;
use crate::jobs::list::ListQuery;
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
    match verify(ctx.cfg, header(req, "Stripe-Signature").as_deref(), &raw).await {
        Ok(()) => {}
        Err(VerifyError::Crypto(e)) => return Err(ApiError::Internal(format!("webhook: WebCrypto HMAC failed: {e}"))),
        Err(VerifyError::Refused(e)) => {
            log::warn("webhook: signature refused", json!({ "request_id": ctx.request_id, "reason": e.to_string() }));
            return Err(ApiError::invalid("invalid Stripe-Signature"));
        }
    }
    let body: Value = serde_json::from_slice(&raw).map_err(|_| ApiError::invalid("body is not a Stripe event"))?;
    let (Some(id), Some(kind), Some(_)) = (body["id"].as_str(), body["type"].as_str(), body["created"].as_i64()) else {
        return Err(ApiError::invalid("body is not a Stripe event"));
    };
    if !id.starts_with("evt_") {
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
    Ok(Db::as_user(ctx.cfg, &who.token).call(&rpc::BillingOverview { p_account_id: account_arg(who) }).await?)
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
        "jobs_used": o["jobs_used"], "jobs_limit": o["jobs_limit"], "by_task_type": o["by_task_type"],
    })))
}

/// `GET /api/v1/credits/balance`.
pub async fn balance(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let o = overview(ctx, who).await?;
    Ok(Reply::ok(json!({ "balance": o["balance"], "updated_at": o["balance_updated_at"] })))
}

/// `GET /api/v1/credits/transactions`.
pub async fn transactions(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "page" && k != "page_size") {
        let mut f = Map::new();
        f.insert(k.clone(), Value::from("unknown query parameter"));
        return Err(ApiError::invalid_fields(f));
    }
    let q = ListQuery::parse(pairs.into_iter())?;
    let args = rpc::ListCreditTransactions { p_limit: q.page_size, p_offset: q.offset(), p_account_id: account_arg(who) };
    let out = Db::as_user(ctx.cfg, &who.token).call(&args).await?;
    Ok(Reply::List {
        data: out["items"].clone(),
        pagination: Pagination { page: q.page, page_size: q.page_size, total: out["total"].as_u64().unwrap_or(0) },
    })
}

/// `GET /api/v1/credits/pricing` (no auth): plans and task costs from the database, prices and credit
/// packs from configuration.
pub async fn pricing(ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    let mut p = Db::anon(ctx.cfg).call(&rpc::Pricing {}).await?;
    if let Some(plans) = p["plans"].as_array_mut() {
        for plan in plans {
            let code = plan["code"].as_str().unwrap_or("").to_string();
            plan["stripe_price_id"] = ctx.cfg.price_plans.price_for_plan(&code).map(Value::from).unwrap_or(Value::Null);
        }
    }
    p["credit_packs"] = json!(ctx.cfg.credit_packs.iter().map(|c| json!({"name": c.name, "credits": c.credits})).collect::<Vec<_>>());
    Ok(Reply::ok(p))
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

/// Redirect targets must be on an allowed front-end origin (`CORS_ORIGINS`): no open redirects.
fn check_return_url(cfg: &crate::config::Config, field: &str, raw: &str, fields: &mut Map<String, Value>) {
    let ok = url::Url::parse(raw)
        .ok()
        .filter(|u| u.scheme() == "https" || u.scheme() == "http")
        .is_some_and(|u| cfg.cors.allow(Some(&u.origin().ascii_serialization())).is_some());
    if !ok {
        fields.insert(field.into(), Value::from("must be a URL on an allowed origin (CORS_ORIGINS)"));
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
    check_return_url(ctx.cfg, "success_url", &b.success_url, &mut fields);
    check_return_url(ctx.cfg, "cancel_url", &b.cancel_url, &mut fields);
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
    check_return_url(ctx.cfg, "return_url", &b.return_url, &mut fields);
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
