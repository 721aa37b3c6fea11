//! The `stripe-webhooks` consumer and its dead-letter queue (docs/adr/0005, 0012). What an event does is
//! [`crate::billing::apply`]; this module decides ack, retry or store from how applying it ended.
//!
//! Failures are either permanent (retrying cannot help: a price missing from `STRIPE_PRICE_PLANS`, a
//! refused value) or transient (database or Stripe unreachable, a customer not linked yet). Permanent
//! ones are stored at once as `failed` and acked; transient ones are retried with backoff, and after the
//! queue's retries the dead-letter consumer stores them. Stored events are re-driven by the cron with
//! backoff until they apply or become `dead` (runbook `stripe-webhook-dead-events.md`).

use crate::adapters::postgrest::ServiceDb;
use crate::billing::apply::{apply, store_failure, Failure};
use crate::billing::policy::webhook_retry_delay_secs;
use crate::config::Config;
use crate::log;
use serde_json::{json, Value};
use worker::{Env, MessageExt, QueueRetryOptionsBuilder, RawMessage};

fn retry_later(msg: &RawMessage, cfg: &Config) -> u32 {
    let age_secs = (crate::platform::now_ms() - msg.timestamp().as_millis() as f64) / 1000.0;
    let delay = webhook_retry_delay_secs(age_secs, cfg.webhook_retry_base_secs, cfg.webhook_retry_max_secs);
    msg.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(delay).build());
    delay
}

pub async fn handle(msg: RawMessage, cfg: &Config, env: &Env, db: &ServiceDb) {
    let event: Value = match super::decode(&msg.body()) {
        Ok(e) => e,
        Err(e) => {
            // Only the webhook endpoint sends here, after verifying the event: this is a bug. Retried,
            // so the dead-letter consumer logs the body.
            log::error("stripe: undecodable message", json!({ "message_id": msg.id(), "error": e }));
            retry_later(&msg, cfg);
            return;
        }
    };
    let ids = json!({ "event_id": event["id"], "type": event["type"] });
    let kind = event["type"].as_str().unwrap_or("unknown").to_string();
    // Lag: from Stripe creating the event to it being applied here.
    let lag_secs = event["created"].as_f64().map_or(0.0, |c| (crate::platform::now_ms() / 1000.0 - c).max(0.0));
    let measure = |outcome: &str| crate::adapters::metrics::write(env, crate::observability::metrics::webhook(&kind, outcome, lag_secs));
    match apply(&event, cfg, env, db).await {
        Ok(outcome) => {
            log::info("stripe: event handled", json!({ "event_id": event["id"], "type": event["type"], "outcome": outcome }));
            measure(&outcome);
            msg.ack();
        }
        Err(failure @ Failure::Permanent(_)) => match store_failure(&event, &failure, cfg, db).await {
            Ok(status) => {
                measure("failed");
                log::error(
                    "stripe: event cannot be applied; stored for the re-drive",
                    json!({ "event": ids, "error": failure.message(), "stored_as": status }),
                );
                msg.ack();
            }
            Err(e) => {
                let delay = retry_later(&msg, cfg);
                log::error(
                    "stripe: event cannot be applied nor stored; retrying",
                    json!({ "event": ids, "error": failure.message(), "store_error": e.to_string(), "retry_in_secs": delay }),
                );
            }
        },
        Err(Failure::Transient(e)) => {
            measure("retried");
            let delay = retry_later(&msg, cfg);
            log::warn("stripe: event not applied yet; retrying", json!({ "event": ids, "error": e, "retry_in_secs": delay }));
        }
    }
}

/// The `stripe-webhooks-dlq` consumer: an event the queue gave up on is stored as `failed` for the cron
/// re-drive, never dropped. While the database is unreachable the message is retried with backoff.
pub async fn handle_dead_letter(msg: RawMessage, cfg: &Config, db: &ServiceDb) {
    let body: Value = super::decode(&msg.body()).unwrap_or(Value::Null);
    if !body["id"].as_str().is_some_and(|id| id.starts_with("evt_")) {
        log::error("stripe dlq: not a Stripe event; dropped", json!({ "message_id": msg.id(), "body": body.to_string() }));
        msg.ack();
        return;
    }
    let failure = Failure::Transient("the stripe-webhooks queue gave up after its retries".into());
    match store_failure(&body, &failure, cfg, db).await {
        Ok(status) => {
            log::error(
                "stripe dlq: event stored for the re-drive",
                json!({ "event_id": body["id"], "type": body["type"], "stored_as": status }),
            );
            msg.ack();
        }
        Err(e) => {
            let delay = retry_later(&msg, cfg);
            log::error(
                "stripe dlq: could not store the event; retrying",
                json!({ "event_id": body["id"], "error": e.to_string(), "retry_in_secs": delay }),
            );
        }
    }
}
