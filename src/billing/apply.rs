//! Applying one Stripe event to the database: the SQL function for its kind, and Stripe's current state
//! when the event is stale (docs/adr/0012). Shared by the `stripe-webhooks` consumer and the cron
//! re-drive.
//!
//! Each event goes through the SQL function for its kind, which records the event id and applies the
//! effect in one transaction (duplicates are no-ops). An event that is not strictly newer than the
//! stored state (ties included) writes nothing and answers `stale`; the object is then re-read from
//! Stripe through the `stripe` breaker and Stripe's current state is applied instead. So the order in
//! which Stripe delivers never decides the outcome.
//!
//! Failures are either permanent (retrying cannot help: a price missing from `STRIPE_PRICE_PLANS`, a
//! refused value) or transient (database or Stripe unreachable, a customer not linked yet).

use super::policy::invoice_grant;
use crate::adapters::breaker::{self, BreakerClient, Gate};
use crate::adapters::postgrest::{DbError, ServiceDb};
use crate::adapters::rpc::{self, Rpc};
use crate::adapters::stripe::{StripeClient, StripeError};
use crate::config::Config;
use serde_json::Value;
use worker::Env;

const SUBSCRIPTION_EVENTS: &[&str] = &[
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
];

/// Why an event could not be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Retrying the same input cannot succeed until someone changes configuration or data.
    Permanent(String),
    /// The next attempt may succeed (a dependency was down, the customer is not linked yet).
    Transient(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Permanent(m) | Failure::Transient(m) => m,
        }
    }
    pub fn is_permanent(&self) -> bool {
        matches!(self, Failure::Permanent(_))
    }
}

/// Database errors: the database refusing the values (SQLSTATE classes 22 and 23, or a raised
/// exception) is permanent, except `unknown_customer`, which a later checkout event resolves.
/// Everything else (unreachable, 5xx, timeouts, undecodable answers) is transient.
fn db_failure(e: DbError) -> Failure {
    match e {
        DbError::Api { code, message, details, .. } => {
            let text = format!("database {code}: {message} {}", details.unwrap_or_default()).trim_end().to_string();
            let permanent = (code.starts_with("22") || code.starts_with("23") || code == "P0001") && message != "unknown_customer";
            if permanent {
                Failure::Permanent(text)
            } else {
                Failure::Transient(text)
            }
        }
        other => Failure::Transient(other.to_string()),
    }
}

fn stripe_failure(e: StripeError) -> Failure {
    match e {
        StripeError::Unavailable(_) => Failure::Transient(e.to_string()),
        StripeError::NotConfigured | StripeError::Api { .. } => Failure::Permanent(e.to_string()),
    }
}

/// Stripe object ids are `prefix_alphanumerics`; anything else never goes into a URL path.
fn object_id<'a>(v: &'a Value, prefix: &str) -> Result<&'a str, Failure> {
    v.as_str()
        .filter(|id| id.starts_with(prefix) && id.len() < 256 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .ok_or_else(|| Failure::Permanent(format!("the event has no valid {prefix}… id")))
}

/// `GET path` on Stripe through the `stripe` circuit breaker.
async fn fetch(cfg: &Config, env: &Env, path: &str) -> Result<Value, Failure> {
    let client = StripeClient::from_config(cfg).map_err(stripe_failure)?;
    let breaker = BreakerClient::new(env, breaker::STRIPE);
    let probe = match breaker.acquire().await {
        Gate::Allowed { probe } => probe,
        Gate::Refused { retry_in_secs } => {
            return Err(Failure::Transient(format!("stripe circuit open; next probe in about {retry_in_secs} s")))
        }
    };
    let got = client.get(path).await;
    breaker.record(Some(!matches!(got, Err(StripeError::Unavailable(_)))), probe).await;
    got.map_err(stripe_failure)
}

/// Calls one of the apply functions; each answers with the event's outcome.
async fn call<F: Rpc<Output = String>>(db: &ServiceDb, args: &F) -> Result<String, Failure> {
    db.call(args).await.map_err(db_failure)
}

/// The plan a subscription object gives, from its first item's price. A subscription that has ended
/// gives nothing, so its price no longer needs a mapping; a live one with an unknown price is a
/// configuration error.
fn subscription_plan(cfg: &Config, sub: &Value, ended: bool) -> Result<String, Failure> {
    let price = sub["items"]["data"][0]["price"]["id"].as_str().unwrap_or("");
    match cfg.price_plans.plan_for_price(price) {
        Some(p) => Ok(p.to_string()),
        None if ended || matches!(sub["status"].as_str(), Some("canceled" | "incomplete_expired")) => Ok("FREE".into()),
        None => Err(Failure::Permanent(format!("price {price} is not in STRIPE_PRICE_PLANS"))),
    }
}

async fn apply_subscription_snapshot(event: &Value, sub_id: &str, cfg: &Config, env: &Env, db: &ServiceDb) -> Result<String, Failure> {
    let sub = fetch(cfg, env, &format!("/v1/subscriptions/{sub_id}")).await?;
    let plan = subscription_plan(cfg, &sub, false)?;
    call(db, &rpc::ApplySubscriptionSnapshot { p_event: event, p_subscription: &sub, p_plan: &plan }).await
}

/// Applies one event. `Ok` carries the outcome: `applied`, `refetched` (Stripe's current state was
/// applied), `ignored` or `duplicate`.
pub async fn apply(event: &Value, cfg: &Config, env: &Env, db: &ServiceDb) -> Result<String, Failure> {
    let kind = event["type"].as_str().unwrap_or("");
    let obj = &event["data"]["object"];
    match kind {
        "checkout.session.completed" => {
            let pack = obj["metadata"]["credit_pack"].as_str();
            let credits = pack.and_then(|p| cfg.credit_packs.iter().find(|c| c.name == p)).map(|c| c.credits).unwrap_or(0);
            let out = call(db, &rpc::ApplyCheckoutCompleted { p_event: event, p_pack_credits: credits }).await?;
            if credits > 0 && out == "applied" {
                crate::adapters::metrics::write(env, crate::observability::metrics::credits("grant", i64::from(credits)));
            }
            Ok(out)
        }
        "customer.created" | "customer.updated" | "customer.deleted" => {
            let out = call(db, &rpc::ApplyCustomerEvent { p_event: event }).await?;
            if out != "stale" {
                return Ok(out);
            }
            let id = object_id(&obj["id"], "cus_")?;
            let customer = fetch(cfg, env, &format!("/v1/customers/{id}")).await?;
            call(db, &rpc::ApplyCustomerSnapshot { p_event: event, p_customer: &customer }).await
        }
        k if SUBSCRIPTION_EVENTS.contains(&k) => {
            let plan = subscription_plan(cfg, obj, k == "customer.subscription.deleted")?;
            let out = call(db, &rpc::ApplySubscriptionEvent { p_event: event, p_plan: &plan }).await?;
            if out != "stale" {
                return Ok(out);
            }
            apply_subscription_snapshot(event, object_id(&obj["id"], "sub_")?, cfg, env, db).await
        }
        "invoice.paid" => {
            let grant = invoice_grant(obj, &cfg.price_plans, &cfg.credit_packs).map_err(|e| Failure::Permanent(e.to_string()))?;
            // Absent rather than null: the arguments default to null in SQL.
            let args = rpc::ApplyInvoicePaid {
                p_event: event,
                p_grant_plan: grant.plan.as_deref(),
                p_period_start: grant.period.map(|p| p.0),
                p_period_end: grant.period.map(|p| p.1),
            };
            call(db, &args).await
        }
        "invoice.payment_failed" => {
            // The account's status follows its subscription: apply Stripe's current state of it, which
            // also covers a payment that succeeded since this event was sent.
            let sub = &obj["parent"]["subscription_details"]["subscription"];
            let sub = if sub.is_string() { sub } else { &obj["subscription"] };
            if sub.is_null() {
                return call(db, &rpc::ApplyInvoicePaymentFailed { p_event: event, p_note: "not a subscription invoice" }).await;
            }
            apply_subscription_snapshot(event, object_id(sub, "sub_")?, cfg, env, db).await
        }
        _ => call(db, &rpc::ApplyIgnoredEvent { p_event: event }).await,
    }
}

/// Stores an event that could not be applied (`failed`, or `dead` past the re-drive limit). Returns the
/// row's status.
pub async fn store_failure(event: &Value, failure: &Failure, cfg: &Config, db: &ServiceDb) -> Result<String, DbError> {
    db.call(&rpc::RecordWebhookFailure {
        p_event: event,
        p_error: failure.message(),
        p_permanent: failure.is_permanent(),
        p_max_attempts: cfg.webhook_redrive_max_attempts,
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(code: &str, message: &str) -> DbError {
        DbError::Api { status: 400, code: code.into(), message: message.into(), details: None }
    }

    #[test]
    fn database_refusals_are_permanent_and_outages_transient() {
        assert!(db_failure(api("23514", "check violation")).is_permanent());
        assert!(db_failure(api("22P02", "invalid input syntax")).is_permanent());
        assert!(db_failure(api("P0001", "something raised")).is_permanent());
        assert!(!db_failure(api("P0001", "unknown_customer")).is_permanent(), "a later checkout links the customer");
        assert!(!db_failure(api("PGRST000", "could not connect")).is_permanent());
        assert!(!db_failure(api("57P01", "terminating connection")).is_permanent());
        assert!(!db_failure(DbError::Transport("refused".into())).is_permanent());
    }

    #[test]
    fn stripe_outages_are_transient_and_refusals_permanent() {
        assert!(!stripe_failure(StripeError::Unavailable("timeout".into())).is_permanent());
        assert!(stripe_failure(StripeError::Api {
            status: 404,
            code: Some("resource_missing".into()),
            message: "No such subscription".into()
        })
        .is_permanent());
        assert!(stripe_failure(StripeError::NotConfigured).is_permanent());
    }

    #[test]
    fn only_well_formed_ids_reach_a_url() {
        assert_eq!(object_id(&json!("sub_1AbC"), "sub_"), Ok("sub_1AbC"));
        for bad in [json!("sub_../../v1/charges"), json!("cus_1"), json!(null), json!("sub_a?b=c"), json!(7)] {
            assert!(object_id(&bad, "sub_").is_err(), "{bad}");
        }
    }
}
