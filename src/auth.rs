//! Authentication of Supabase access tokens in the Worker.
//!
//! Parsing and claims rules are pure (`domain::jwt`), the key-cache policy too (`domain::jwks_cache`);
//! this module holds the isolate's JWKS cache and does the WebCrypto work (docs/adr/0002). Every
//! failure is a 401 without detail, except a JWKS that cannot be had past its stale window (503).
//! Tokens and keys are never logged; the log gets the reason only.

use crate::config::Config;
use crate::contract::error::ApiError;
use crate::domain::jwks_cache::{self, Cached, Decision};
use crate::domain::jwt::{self, ActiveAccount, Alg, AuthError, Jwk, Principal};
use crate::domain::verified_tokens::VerifiedTokens;
use crate::{log, platform};
use js_sys::{Array, Object, Reflect, Uint8Array};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

/// A verified access token, kept only to forward it to PostgREST as the caller. Constructed only here.
#[derive(Clone)]
pub struct AccessToken(String);

impl AccessToken {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// The authenticated caller and their token.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub token: AccessToken,
}

thread_local! {
    static JWKS: RefCell<Option<Cached>> = const { RefCell::new(None) };
    /// Imported WebCrypto keys by (kid, alg), dropped whenever the JWKS is refetched.
    static IMPORTED: RefCell<HashMap<String, CryptoKey>> = RefCell::new(HashMap::new());
    /// Tokens whose signature verified recently, dropped with `IMPORTED` (docs/adr/0021).
    static VERIFIED: RefCell<VerifiedTokens> = RefCell::new(VerifiedTokens::default());
}

fn subtle() -> SubtleCrypto {
    js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>().crypto().expect("workerd has crypto").subtle()
}

fn obj(pairs: &[(&str, JsValue)]) -> Object {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o
}

fn algorithm(alg: Alg) -> (Object, Object) {
    let s = |v: &str| JsValue::from_str(v);
    match alg {
        Alg::Es256 => (obj(&[("name", s("ECDSA")), ("namedCurve", s("P-256"))]), obj(&[("name", s("ECDSA")), ("hash", s("SHA-256"))])),
        Alg::Rs256 => {
            let a = obj(&[("name", s("RSASSA-PKCS1-v1_5")), ("hash", s("SHA-256"))]);
            (a.clone(), a)
        }
        Alg::Hs256 => {
            let a = obj(&[("name", s("HMAC")), ("hash", s("SHA-256"))]);
            (a.clone(), a)
        }
    }
}

async fn import_jwk(jwk: &Jwk, alg: Alg) -> Result<CryptoKey, AuthError> {
    let data: Object = serde_wasm_bindgen::to_value(jwk).map_err(|_| AuthError::UnknownKey)?.unchecked_into();
    let (import_alg, _) = algorithm(alg);
    let usages = Array::of1(&JsValue::from_str("verify"));
    let p = subtle().import_key_with_object("jwk", &data, &import_alg, false, &usages).map_err(|_| AuthError::UnknownKey)?;
    JsFuture::from(p).await.map(|k| k.unchecked_into()).map_err(|_| AuthError::UnknownKey)
}

async fn import_hmac(secret: &str) -> Result<CryptoKey, AuthError> {
    let (import_alg, _) = algorithm(Alg::Hs256);
    let raw = Uint8Array::from(secret.as_bytes());
    let usages = Array::of1(&JsValue::from_str("verify"));
    let p = subtle().import_key_with_object("raw", raw.unchecked_ref(), &import_alg, false, &usages).map_err(|_| AuthError::UnknownKey)?;
    JsFuture::from(p).await.map(|k| k.unchecked_into()).map_err(|_| AuthError::UnknownKey)
}

async fn verify_signature(key: &CryptoKey, alg: Alg, parsed: &jwt::Parsed) -> Result<(), AuthError> {
    let (_, verify_alg) = algorithm(alg);
    let p = subtle()
        .verify_with_object_and_u8_array_and_u8_array(&verify_alg, key, &parsed.signature, parsed.signing_input.as_bytes())
        .map_err(|_| AuthError::BadSignature)?;
    match JsFuture::from(p).await {
        Ok(v) if v.as_bool() == Some(true) => Ok(()),
        _ => Err(AuthError::BadSignature),
    }
}

/// Fetches the JWKS with a timeout. `None` when it cannot be had (network, status, body).
async fn fetch_jwks(cfg: &Config) -> Option<Vec<Jwk>> {
    let url = worker::Url::parse(&cfg.jwks_url).ok()?;
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(cfg.jwks_fetch_timeout_ms));
    let resp = worker::Fetch::Url(url).send_with_signal(&signal).await.ok()?;
    if resp.status_code() != 200 {
        return None;
    }
    jwt::parse_jwks(&crate::platform::response_text(resp).await.ok()?)
}

/// Finds the verification key for an asymmetric token, fetching the JWKS when the policy says so.
async fn key_for(cfg: &Config, kid: &str, alg: Alg) -> Result<CryptoKey, ApiError> {
    let now = platform::now_ms();
    let cached = JWKS.with(|c| c.borrow().clone());
    let mut decision = jwks_cache::decide(cached.as_ref(), kid, alg, now, &cfg.jwks_policy);
    if decision == Decision::Refetch {
        JWKS.with(|c| {
            if let Some(c) = c.borrow_mut().as_mut() {
                c.last_attempt_ms = now;
            }
        });
        decision = match fetch_jwks(cfg).await {
            Some(keys) => {
                let d = jwks_cache::after_fetch(&keys, kid, alg);
                JWKS.with(|c| *c.borrow_mut() = Some(Cached { keys, fetched_at_ms: now, last_attempt_ms: now }));
                IMPORTED.with(|m| m.borrow_mut().clear());
                VERIFIED.with(|v| v.borrow_mut().clear());
                d
            }
            None => {
                log::warn("auth: JWKS fetch failed", json!({ "jwks_url": cfg.jwks_url }));
                let cached = JWKS.with(|c| c.borrow().clone());
                jwks_cache::after_failed_fetch(cached.as_ref(), kid, alg, now, &cfg.jwks_policy)
            }
        };
    }
    let jwk = match decision {
        Decision::Use(k) => *k,
        Decision::Reject | Decision::Refetch => return Err(reject(AuthError::UnknownKey)),
        Decision::Unavailable => {
            log::error("auth: signing keys unavailable past their stale window; failing closed", json!({}));
            return Err(ApiError::Unavailable { dependency: "signing keys", retry_after_secs: 30 });
        }
    };
    let cache_key = format!("{}:{kid}", alg.as_str());
    if let Some(k) = IMPORTED.with(|m| m.borrow().get(&cache_key).cloned()) {
        return Ok(k);
    }
    let key = import_jwk(&jwk, alg).await.map_err(reject)?;
    IMPORTED.with(|m| m.borrow_mut().insert(cache_key, key.clone()));
    Ok(key)
}

fn reject(reason: AuthError) -> ApiError {
    log::info("auth: token refused", json!({ "reason": reason.to_string() }));
    ApiError::Unauthorized(reason.reason())
}

/// Whether the key a remembered token was verified with may still be used without asking the key server:
/// for an asymmetric token, its key is in a JWKS that is still fresh. Past that, the token goes through
/// `key_for` like any other (refetch, the stale window, failing closed), so remembering tokens never
/// stretches the key policy (docs/adr/0021).
fn key_still_usable(cfg: &Config, parsed: &jwt::Parsed, now_ms: f64) -> bool {
    match (parsed.alg, parsed.kid.as_deref()) {
        (Alg::Hs256, _) => cfg.jwt_secret.is_some(),
        (_, None) => false,
        (alg, Some(kid)) => {
            JWKS.with(|c| matches!(jwks_cache::decide(c.borrow().as_ref(), kid, alg, now_ms, &cfg.jwks_policy), Decision::Use(_)))
        }
    }
}

/// Authenticates a request from its `Authorization` and `X-Account-Id` header values. A malformed
/// `X-Account-Id` is a 400 naming the header, checked only after the token is accepted.
pub async fn authenticate(cfg: &Config, authorization: Option<&str>, account_header: Option<&str>) -> Result<Authenticated, ApiError> {
    let token = jwt::bearer(authorization).map_err(reject)?;
    let parsed = jwt::parse(token).map_err(reject)?;
    // The signature is checked once per token and isolate for a bounded time; the claims on every request.
    let now_ms = platform::now_ms();
    let claims_ok = jwt::validate(&parsed.claims, now_ms / 1000.0, &cfg.jwt_issuer);
    if !(VERIFIED.with(|v| v.borrow().contains(token, now_ms)) && key_still_usable(cfg, &parsed, now_ms)) {
        let key = match parsed.alg {
            Alg::Hs256 => {
                let secret = cfg.jwt_secret.as_ref().ok_or_else(|| reject(AuthError::AlgorithmNotAllowed))?;
                import_hmac(secret.expose()).await.map_err(reject)?
            }
            alg => {
                let kid = parsed.kid.as_deref().ok_or_else(|| reject(AuthError::UnknownKey))?;
                key_for(cfg, kid, alg).await?
            }
        };
        verify_signature(&key, parsed.alg, &parsed).await.map_err(reject)?;
        // Remembered only when the claims pass too.
        if claims_ok.is_ok() {
            VERIFIED.with(|v| v.borrow_mut().insert(token, parsed.claims.exp, now_ms));
        }
    }
    let mut principal = claims_ok.map_err(reject)?;
    principal.account = ActiveAccount::from_header(account_header).map_err(|_| {
        let mut fields = serde_json::Map::new();
        fields.insert("X-Account-Id".into(), serde_json::Value::from("must be a UUID"));
        ApiError::invalid_fields(fields)
    })?;
    Ok(Authenticated { principal, token: AccessToken(token.to_string()) })
}
