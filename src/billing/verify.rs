//! The webhook's signature check with the runtime's WebCrypto (HMAC-SHA256 over `{t}.{body}`), for every
//! configured secret while one rotates.

use super::signature::{self as sig, SignatureError};
use crate::adapters::stripe::hmac_sha256;
use crate::platform;

/// A Stripe event whose signature verified. Only the webhook route (`api::billing::webhook`) constructs
/// it, after verification; holding one is what lets the webhook path obtain the service role.
pub struct VerifiedEvent {
    pub id: String,
    pub kind: String,
    pub body: serde_json::Value,
}

/// Why a webhook was not verified: the sender's fault (400), or ours (the runtime's WebCrypto failed: 500,
/// so Stripe retries; never reported as a bad signature).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Refused(#[from] SignatureError),
    #[error("WebCrypto HMAC failed: {0}")]
    Crypto(String),
}

pub async fn verify(cfg: &crate::config::Config, header_value: Option<&str>, raw: &[u8]) -> Result<(), VerifyError> {
    let parsed = sig::parse_header(header_value)?;
    sig::check_tolerance(parsed.timestamp, (platform::now_ms() / 1000.0) as i64)?;
    let payload = sig::signed_payload(parsed.timestamp, raw);
    let mut expected = Vec::new();
    for secret in &cfg.stripe_webhook_secrets {
        expected.push(hmac_sha256(secret.expose().as_bytes(), &payload).await.map_err(VerifyError::Crypto)?);
    }
    if sig::any_matches(&expected, &parsed) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch.into())
    }
}
