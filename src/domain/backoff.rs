//! Exponential backoff with jitter, shared by job retries and the Stripe client.

/// Delay before redelivering attempt `attempt` (1-based) that failed: exponential from `base_secs`,
/// capped at `max_secs`, plus up to one `base_secs` of jitter (`jitter` in [0, 1)).
pub fn retry_delay_secs(attempt: u32, base_secs: u32, max_secs: u32, jitter: f64) -> u32 {
    let exp = base_secs.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX));
    exp.min(max_secs) + (jitter.clamp(0.0, 0.999) * base_secs as f64) as u32
}
