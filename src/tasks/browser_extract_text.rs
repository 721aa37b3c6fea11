//! `browser.extract_text`: render a page in Cloudflare Browser Rendering and return its text (all of it,
//! or a selector's), after an optional `wait_for_selector`. Every call's outcome is reported to the
//! `browser-rendering` circuit breaker; the service's own failures and rate limits defer the job
//! instead of spending an attempt (docs/adr/0010).

use super::TaskError;
use crate::adapters::breaker::BreakerClient;
use crate::adapters::browser_rendering;
use crate::config::Config;
use crate::domain::backoff::retry_delay_secs;
use crate::domain::browser::Outcome;
use crate::jobs::payloads::BrowserExtractPayload;
use serde_json::{json, Value};

/// Runs one attempt; `probe` says whether it is the circuit breaker's half-open probe.
pub async fn run(cfg: &Config, p: &BrowserExtractPayload, breaker: &BreakerClient, probe: bool) -> Result<Value, TaskError> {
    let started = crate::platform::now_ms();
    let outcome = browser_rendering::extract(cfg, p).await;
    breaker.record(outcome.breaker_verdict(), probe).await;
    let elapsed_ms = (crate::platform::now_ms() - started).max(0.0).round() as u64;
    match outcome {
        Outcome::Ok { text, title, truncated, matches } => {
            let mut r = json!({ "url": p.url, "text": text, "elapsed_ms": elapsed_ms, "truncated": truncated });
            if let Some(t) = title {
                // Postgres `jsonb` cannot store NUL (a page may write `&#0;`).
                r["title"] = Value::from(t.replace('\0', "\u{FFFD}"));
            }
            if let Some(s) = &p.selector {
                r["selector"] = Value::from(s.as_str());
                r["matches"] = Value::from(matches.unwrap_or(0));
            }
            Ok(r)
        }
        Outcome::PageError { message, timeout } => Err(TaskError::Retryable { message, timeout }),
        Outcome::Rejected(message) => Err(TaskError::Final(message)),
        Outcome::RateLimited { retry_after_secs } => Err(TaskError::Deferred {
            message: format!("browser rendering rate limited the request; retrying in {retry_after_secs} s"),
            retry_in_secs: retry_after_secs,
        }),
        Outcome::ServiceFailure(message) => Err(TaskError::Deferred {
            // A short wait: if the failures go on, the breaker opens and its cool-down paces the retries.
            retry_in_secs: retry_delay_secs(2, cfg.job_retry_base_secs, cfg.job_retry_max_secs, js_sys::Math::random()),
            message,
        }),
    }
}
