//! Queue consumers. One `#[event(queue)]` handler receives every batch; [`dispatch`] routes it by queue
//! name. Each message is acked or retried on its own and the handler never returns `Err` (that would
//! fail the whole batch and, in workers-rs, poison the instance).

use serde_json::json;
use worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

/// Queue names as declared in `wrangler.toml` (environments append a suffix, e.g. `jobs-staging`).
pub const JOBS: &str = "jobs";
pub const BROWSER_JOBS: &str = "browser-jobs";
pub const STRIPE_WEBHOOKS: &str = "stripe-webhooks";

/// The logical queue a (possibly environment-suffixed) queue name belongs to.
pub fn logical_queue(name: &str) -> Option<&'static str> {
    let base = name.strip_suffix("-dlq").unwrap_or(name);
    [JOBS, BROWSER_JOBS, STRIPE_WEBHOOKS]
        .into_iter()
        .find(|q| base == *q || base.starts_with(&format!("{q}-")))
}

/// Messages whose consumer has not been built yet are retried after a delay, never dropped: a
/// message acked without being applied would be lost.
const NOT_YET_CONSUMED_DELAY_SECS: u32 = 300;

pub async fn dispatch(batch: MessageBatch<serde_json::Value>, _env: Env) {
    let queue = batch.queue();
    let logical = logical_queue(&queue);
    // raw_iter: a body that fails to deserialize must still be retried, not silently acked.
    for msg in batch.raw_iter() {
        crate::log::warn(
            "queue: no consumer for this queue yet; retrying later",
            json!({ "queue": queue, "logical_queue": logical, "message_id": msg.id() }),
        );
        msg.retry_with_options(
            &QueueRetryOptionsBuilder::new().with_delay_seconds(NOT_YET_CONSUMED_DELAY_SECS).build(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_suffixes_and_dead_letter_queues_map_to_their_queue() {
        assert_eq!(logical_queue("jobs"), Some(JOBS));
        assert_eq!(logical_queue("jobs-staging"), Some(JOBS));
        assert_eq!(logical_queue("jobs-dlq"), Some(JOBS));
        assert_eq!(logical_queue("browser-jobs-production-dlq"), Some(BROWSER_JOBS));
        assert_eq!(logical_queue("stripe-webhooks"), Some(STRIPE_WEBHOOKS));
        assert_eq!(logical_queue("other"), None);
    }
}
