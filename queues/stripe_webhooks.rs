//! The `stripe-webhooks` consumer: applies each verified event through the SQL function for its kind,
//! which records the event id and applies the effect in one transaction (duplicates are no-ops, older
//! events never overwrite newer state). Failures retry through the queue, then the dead-letter queue.
//! The cron re-drive ([`apply`]) uses the same path for events the endpoint had to store instead.

use crate::adapters::postgrest::{DbError, ServiceDb};
use crate::config::Config;
use crate::log;
use serde_json::{json, Value};
use worker::{MessageExt, QueueRetryOptionsBuilder, RawMessage};

const SUBSCRIPTION_EVENTS: &[&str] = &[
    "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
    "customer.subscription.paused", "customer.subscription.resumed",
];

/// Applies one event. `Ok` carries the function's outcome (`applied`, `stale`, `ignored`, `duplicate`).
pub async fn apply(event: &Value, cfg: &Config, db: &ServiceDb) -> Result<String, String> {
    let kind = event["type"].as_str().unwrap_or("");
    let (func, args) = match kind {
        "checkout.session.completed" => {
            let pack = event["data"]["object"]["metadata"]["credit_pack"].as_str();
            let credits = pack.and_then(|p| cfg.credit_packs.iter().find(|c| c.name == p)).map(|c| c.credits).unwrap_or(0);
            ("apply_checkout_completed", json!({ "p_event": event, "p_pack_credits": credits }))
        }
        "customer.created" | "customer.updated" | "customer.deleted" => ("apply_customer_event", json!({ "p_event": event })),
        k if SUBSCRIPTION_EVENTS.contains(&k) => {
            let price = event["data"]["object"]["items"]["data"][0]["price"]["id"].as_str().unwrap_or("");
            let plan = match cfg.price_plans.plan_for_price(price) {
                Some(p) => p.to_string(),
                // A deleted subscription's plan no longer matters; anything else needs the mapping.
                None if k == "customer.subscription.deleted" => "FREE".to_string(),
                None => return Err(format!("price {price} is not in STRIPE_PRICE_PLANS")),
            };
            ("apply_subscription_event", json!({ "p_event": event, "p_plan": plan }))
        }
        "invoice.paid" => ("apply_invoice_paid", json!({ "p_event": event })),
        "invoice.payment_failed" => ("apply_invoice_payment_failed", json!({ "p_event": event })),
        _ => ("apply_ignored_event", json!({ "p_event": event })),
    };
    db.rpc_json(func, &args).await.map(|v| v.as_str().unwrap_or("").to_string()).map_err(|e| match e {
        DbError::Api { message, details, .. } => format!("{message} {}", details.unwrap_or_default()),
        other => other.to_string(),
    })
}

pub async fn handle(msg: RawMessage, cfg: &Config, db: &ServiceDb) {
    let event: Value = match super::decode(&msg.body()) {
        Ok(e) => e,
        Err(e) => {
            log::error("stripe: undecodable message", json!({ "message_id": msg.id(), "error": e }));
            msg.retry();
            return;
        }
    };
    match apply(&event, cfg, db).await {
        Ok(outcome) => {
            log::info("stripe: event handled", json!({ "event_id": event["id"], "type": event["type"], "outcome": outcome }));
            msg.ack();
        }
        Err(e) => {
            log::warn("stripe: event not applied; retrying", json!({ "event_id": event["id"], "type": event["type"], "error": e }));
            msg.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(30).build());
        }
    }
}
