//! Queue consumers. One `#[event(queue)]` handler receives every batch; [`dispatch`] routes it by queue
//! name. Each message is acked or retried on its own and the handler never returns `Err` (that would
//! fail the whole batch and, in workers-rs, poison the instance). Messages of one batch run concurrently.

pub mod dead_letters;
pub mod jobs;
pub mod stripe_webhooks;

use crate::adapters::postgrest::{ServiceDb, ServiceRole};
use crate::config::Config;
use futures_util::future::join_all;
use serde_json::json;
use worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

/// Queue names as declared in `wrangler.toml` (environments append a suffix, e.g. `jobs-staging`).
pub const JOBS: &str = "jobs";
pub const BROWSER_JOBS: &str = "browser-jobs";
pub const STRIPE_WEBHOOKS: &str = "stripe-webhooks";
pub const LEAD_ANALYSIS: &str = "lead-analysis";

/// The logical queue a (possibly environment-suffixed) queue name belongs to, and whether it is that
/// queue's dead-letter queue.
pub fn logical_queue(name: &str) -> Option<(&'static str, bool)> {
    let (base, dlq) = match name.strip_suffix("-dlq") {
        Some(b) => (b, true),
        None => (name, false),
    };
    // Longest names first: "browser-jobs" must not be taken for "jobs" plus a suffix.
    [BROWSER_JOBS, STRIPE_WEBHOOKS, LEAD_ANALYSIS, JOBS]
        .into_iter()
        .find(|q| base == *q || base.starts_with(&format!("{q}-")))
        .map(|q| (q, dlq))
}

pub use crate::adapters::queue::{decode, send_json};

/// Messages whose consumer has not been built yet are retried after a delay, never dropped: a
/// message acked without being applied would be lost.
const NOT_YET_CONSUMED_DELAY_SECS: u32 = 300;

pub async fn dispatch(batch: MessageBatch<serde_json::Value>, env: Env) {
    let queue = batch.queue();
    let cfg = match Config::load(&env) {
        Ok(c) => c,
        Err(e) => {
            crate::log::error("queue: configuration error; retrying batch", json!({ "queue": queue, "error": e.to_string() }));
            batch.retry_all();
            return;
        }
    };
    let db = ServiceDb::new(&cfg, ServiceRole::for_queue(&batch));
    match logical_queue(&queue) {
        Some((JOBS, false)) => {
            join_all(batch.raw_iter().map(|m| jobs::handle(m, &env, &cfg, &db, jobs::JOBS_DLQ))).await;
        }
        Some((BROWSER_JOBS, false)) => {
            // The batch size and consumer concurrency in wrangler.toml keep this within Browser
            // Rendering's limits (docs/adr/0010).
            join_all(batch.raw_iter().map(|m| jobs::handle(m, &env, &cfg, &db, jobs::BROWSER_JOBS_DLQ))).await;
        }
        Some((LEAD_ANALYSIS, false)) => {
            // Analyses wait on the AI provider for seconds: a batch's messages run side by side.
            join_all(batch.raw_iter().map(|m| jobs::handle(m, &env, &cfg, &db, jobs::LEAD_ANALYSIS_DLQ))).await;
        }
        Some((STRIPE_WEBHOOKS, false)) => {
            // One at a time, in delivery order: ordering is not guaranteed, but there is no need to race.
            for m in batch.raw_iter() {
                stripe_webhooks::handle(m, &cfg, &env, &db).await;
            }
        }
        Some((STRIPE_WEBHOOKS, true)) => {
            for m in batch.raw_iter() {
                stripe_webhooks::handle_dead_letter(m, &cfg, &db).await;
            }
        }
        Some((_, true)) => {
            join_all(batch.raw_iter().map(|m| dead_letters::handle(m, &queue, &env, &db, &cfg.reporting))).await;
        }
        logical => {
            for msg in batch.raw_iter() {
                crate::log::warn(
                    "queue: no consumer for this queue yet; retrying later",
                    json!({ "queue": queue, "logical_queue": logical.map(|l| l.0), "message_id": msg.id() }),
                );
                msg.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(NOT_YET_CONSUMED_DELAY_SECS).build());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_suffixes_and_dead_letter_queues_map_to_their_queue() {
        assert_eq!(logical_queue("jobs"), Some((JOBS, false)));
        assert_eq!(logical_queue("jobs-staging"), Some((JOBS, false)));
        assert_eq!(logical_queue("jobs-dlq"), Some((JOBS, true)));
        assert_eq!(logical_queue("jobs-production-dlq"), Some((JOBS, true)));
        assert_eq!(logical_queue("browser-jobs-production-dlq"), Some((BROWSER_JOBS, true)));
        assert_eq!(logical_queue("browser-jobs"), Some((BROWSER_JOBS, false)));
        assert_eq!(logical_queue("stripe-webhooks"), Some((STRIPE_WEBHOOKS, false)));
        assert_eq!(logical_queue("lead-analysis-production"), Some((LEAD_ANALYSIS, false)));
        assert_eq!(logical_queue("lead-analysis-staging-dlq"), Some((LEAD_ANALYSIS, true)));
        assert_eq!(logical_queue("other"), None);
    }
}
