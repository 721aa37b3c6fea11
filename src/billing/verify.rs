//! The webhook's signature check (HMAC-SHA256 over `{t}.{body}`, `billing::signature`), for every
//! configured secret while one rotates.

use super::signature::{self as sig, SignatureError};
use crate::platform;

/// A Stripe event whose signature verified. Only the webhook route (`api::billing::webhook`) constructs
/// it, after verification; holding one is what lets the webhook path obtain the service role.
pub struct VerifiedEvent {
    pub id: String,
    pub kind: String,
    pub body: serde_json::Value,
}

/// Verifies the `Stripe-Signature` header against the raw body with every configured secret (several while
/// one rotates), in the wasm (docs/adr/0021).
pub fn verify(cfg: &crate::config::Config, header_value: Option<&str>, raw: &[u8]) -> Result<(), SignatureError> {
    let secrets: Vec<&[u8]> = cfg.stripe_webhook_secrets.iter().map(|s| s.expose().as_bytes()).collect();
    sig::verify(header_value, raw, &secrets, (platform::now_ms() / 1000.0) as i64)
}
