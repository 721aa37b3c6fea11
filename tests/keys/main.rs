//! Signing keys: rotation, RS256, the stale window and failing closed. Own stack (this binary's), with
//! short cache windows so the windows are testable (TTL 2 s, stale 20 s, refetch at most once a second),
//! and no HS256 secret.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use e2e::{eventually, spawn_stack_with, unique_email, Stack};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::Duration;

const WINDOWS: &str = r#"{"JWKS_CACHE_TTL_SECS":"2","JWKS_STALE_SECS":"20","JWKS_REFETCH_MIN_INTERVAL_SECS":"1"}"#;

fn stack() -> &'static Stack {
    spawn_stack_with(&[("STACK_WORKER_VARS", WINDOWS)])
}

#[tokio::test]
async fn hs256_is_refused_when_no_secret_is_configured() {
    let stack = stack();
    let good = stack.token_for(&unique_email("nohs")).await.access_token;
    let payload = good.split('.').nth(1).unwrap();
    let header = B64.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(b"any-secret-any-secret-any-secret-xx").unwrap();
    mac.update(input.as_bytes());
    let token = format!("{input}.{}", B64.encode(mac.finalize().into_bytes()));
    let r = stack.get_as("/api/v1/me", &token).await;
    r.assert_error(401, "unauthorized");
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_cached_keys_outlive_the_key_server_until_the_stale_window() {
    let stack = stack();
    // On PRO (600 requests a minute): the waits below poll /me five times a second for up to a minute.
    let (es_token, _) = stack.user_on_plan("rot", "PRO", 0).await;
    assert_eq!(stack.get_as("/api/v1/me", &es_token).await.status, 200);

    // Rotation: a new RS256 key appears in the JWKS; a token signed with it works without a restart.
    stack.rotate_key("RS256").await;
    let rs = stack.mint(json!({ "email": unique_email("rot-rs"), "alg": "RS256" })).await;
    let r = eventually("the RS256 token to be accepted", Duration::from_secs(10), || async {
        let r = stack.get_as("/api/v1/me", &rs.access_token).await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(r.body["data"]["user"]["id"], rs.user_id.as_str());

    // The key server goes away: cached keys keep working (inside TTL + stale window)...
    stack.control("auth stop");
    let r = stack.get_as("/api/v1/me", &es_token).await;
    assert_eq!(r.status, 200, "cached keys keep working while the JWKS is unreachable: {}", r.body);

    // ...until the stale window ends: then fail closed with 503, not 401 and not 500.
    let r = eventually("fail-closed 503", Duration::from_secs(45), || async {
        let r = stack.get_as("/api/v1/me", &es_token).await;
        assert!(r.status == 200 || r.status == 503, "only 200 then 503, got {}: {}", r.status, r.body);
        (r.status == 503).then_some(r)
    })
    .await;
    r.assert_error(503, "unavailable");
    assert!(r.header("retry-after").is_some());

    // The key server returns: service resumes without a restart.
    stack.control("auth start");
    eventually("recovery after the key server returns", Duration::from_secs(15), || async {
        (stack.get_as("/api/v1/me", &es_token).await.status == 200).then_some(())
    })
    .await;
}
