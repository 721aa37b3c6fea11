//! A small Stripe API client over Fetch: form encoding, an `Idempotency-Key` on every POST, a pinned
//! API version, a timeout per attempt, and retries with exponential backoff and jitter on 429, 5xx and
//! network errors (never on other 4xx). The base URL is configuration (`STRIPE_API_BASE`), which is how
//! the tests point it at a local fake that speaks the same contract.

use crate::billing::policy::{form_encode, is_retryable};
use crate::config::{Config, Secret};
use crate::domain::backoff::retry_delay_secs;
use serde_json::Value;
use std::time::Duration;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub const API_VERSION: &str = "2025-10-29.clover";
const ATTEMPTS: u32 = 3;
const TIMEOUT_MS: u32 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe is not configured (STRIPE_SECRET_KEY)")]
    NotConfigured,
    #[error("Stripe answered {status}: {message}")]
    Api { status: u16, code: Option<String>, message: String },
    #[error("Stripe unreachable after {ATTEMPTS} attempts: {0}")]
    Unavailable(String),
}

pub struct StripeClient {
    base: String,
    key: Secret,
}

impl StripeClient {
    pub fn from_config(cfg: &Config) -> Result<StripeClient, StripeError> {
        let key = cfg.stripe_secret_key.clone().ok_or(StripeError::NotConfigured)?;
        Ok(StripeClient { base: cfg.stripe_api_base.clone(), key })
    }

    /// POSTs a form to `path` (e.g. `/v1/checkout/sessions`). `idempotency_key` must be the same for a
    /// retried logical operation, so Stripe creates one object however often we ask.
    pub async fn post(&self, path: &str, form: &[(String, String)], idempotency_key: &str) -> Result<Value, StripeError> {
        self.send(Method::Post, path, Some(form_encode(form)), Some(idempotency_key)).await
    }

    /// GETs `path` (with its query string), with the same retries.
    pub async fn get(&self, path: &str) -> Result<Value, StripeError> {
        self.send(Method::Get, path, None, None).await
    }

    async fn send(&self, method: Method, path: &str, body: Option<String>, idempotency_key: Option<&str>) -> Result<Value, StripeError> {
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let headers = Headers::new();
            let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| StripeError::Unavailable(e.to_string()));
            set("Authorization", &format!("Bearer {}", self.key.expose()))?;
            if let Some(k) = idempotency_key {
                set("Content-Type", "application/x-www-form-urlencoded")?;
                set("Idempotency-Key", k)?;
            }
            set("Stripe-Version", API_VERSION)?;
            let mut init = RequestInit::new();
            init.with_method(method.clone()).with_headers(headers);
            if let Some(b) = &body {
                init.with_body(Some(b.as_str().into()));
            }
            let req =
                Request::new_with_init(&format!("{}{path}", self.base), &init).map_err(|e| StripeError::Unavailable(e.to_string()))?;
            let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS));
            let status = match Fetch::Request(req).send_with_signal(&signal).await {
                Ok(resp) => {
                    let status = resp.status_code();
                    let json: Value = crate::platform::response_json(resp).await.unwrap_or(Value::Null);
                    if (200..300).contains(&status) {
                        return Ok(json);
                    }
                    last = json["error"]["message"].as_str().unwrap_or("").to_string();
                    if !is_retryable(Some(status)) {
                        let code = json["error"]["code"].as_str().map(String::from);
                        return Err(StripeError::Api { status, code, message: last });
                    }
                    Some(status)
                }
                Err(e) => {
                    last = e.to_string();
                    None
                }
            };
            crate::log::warn("stripe: retryable failure", serde_json::json!({ "path": path, "attempt": attempt, "status": status }));
            if attempt < ATTEMPTS {
                let delay = retry_delay_secs(attempt, 1, 4, js_sys::Math::random());
                worker::Delay::from(Duration::from_millis(delay as u64 * 500)).await;
            }
        }
        Err(StripeError::Unavailable(last))
    }
}
