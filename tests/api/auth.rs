//! Authentication at the edge: real tokens from the local key server, and a table of forged ones.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use e2e::{http, spawn_stack, unique_email, ApiResponse, TEST_JWT_SECRET};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn parts(token: &str) -> (Value, Value, String) {
    let mut it = token.split('.');
    let h = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let p = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (h, p, it.next().unwrap().to_string())
}

fn assemble(header: &Value, payload: &Value, sig: &str) -> String {
    format!("{}.{}.{}", B64.encode(header.to_string()), B64.encode(payload.to_string()), sig)
}

fn hs256(secret: &[u8], header: &Value, payload: &Value) -> String {
    let input = format!("{}.{}", B64.encode(header.to_string()), B64.encode(payload.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

/// A 401 says why (`details.reason`), and the challenge follows RFC 6750: no error code when no
/// credentials came, `error="invalid_token"` with a description otherwise.
fn assert_unauthorized(r: &ApiResponse, case: &str, reason: &str) {
    assert_eq!(r.status, 401, "{case}: {}", r.body);
    assert_eq!(r.body["error"]["code"], "unauthorized", "{case}");
    assert_eq!(r.body["error"]["details"]["reason"], reason, "{case}: {}", r.body);
    let challenge = r.header("www-authenticate").unwrap_or_default();
    if reason == "missing_token" {
        assert_eq!(challenge, "Bearer realm=\"api\"", "{case}");
    } else {
        assert!(challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\""), "{case}: {challenge}");
        assert!(challenge.contains(r.body["error"]["message"].as_str().unwrap()), "{case}: the description is the message");
    }
}

#[tokio::test]
async fn me_describes_the_caller_with_an_es256_token() {
    let stack = spawn_stack();
    let email = unique_email("es256");
    let tok = stack.token_for(&email).await;
    let r = stack.get_as("/api/v1/me", &tok.access_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["user"]["id"], tok.user_id.as_str());
    assert_eq!(d["user"]["email"], email.as_str());
    assert_eq!(d["account"]["plan"], "FREE", "a new user's personal account starts on FREE");
    assert_eq!(d["account"]["status"], "active");
    assert!(uuid::Uuid::parse_str(d["account"]["id"].as_str().unwrap()).is_ok());
    assert_eq!(d["credits"]["balance"], 100, "a new account starts with the FREE plan's monthly credits");
}

#[tokio::test]
async fn me_works_with_an_hs256_token_where_the_secret_is_configured() {
    let stack = spawn_stack();
    let tok = stack.mint(json!({ "email": unique_email("hs256"), "alg": "HS256" })).await;
    let r = stack.get_as("/api/v1/me", &tok.access_token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["user"]["id"], tok.user_id.as_str());
}

#[tokio::test]
async fn each_user_sees_only_their_own_account() {
    let stack = spawn_stack();
    let a = stack.token_for(&unique_email("a")).await;
    let b = stack.token_for(&unique_email("b")).await;
    let me_b = stack.get_as("/api/v1/me", &b.access_token).await;
    let b_account = me_b.body["data"]["account"]["id"].as_str().unwrap().to_string();

    let r = ApiResponse::from(
        http().get(stack.url("/api/v1/me")).bearer_auth(&a.access_token).header("X-Account-Id", &b_account).send().await.unwrap(),
    )
    .await;
    let details = r.assert_error(403, "account_forbidden");
    assert_eq!(details["header"], "X-Account-Id");
    // The same on every route that acts on an account, and for an id that names no account at all.
    let nobody = uuid::Uuid::new_v4().to_string();
    for (path, account) in [
        ("/api/v1/billing", &b_account),
        ("/api/v1/usage", &b_account),
        ("/api/v1/credits/balance", &b_account),
        ("/api/v1/credits/transactions", &b_account),
        ("/api/v1/jobs", &b_account),
        ("/api/v1/jobs", &nobody),
    ] {
        let r = ApiResponse::from(
            http().get(stack.url(path)).bearer_auth(&a.access_token).header("X-Account-Id", account).send().await.unwrap(),
        )
        .await;
        r.assert_error(403, "account_forbidden");
    }
    let r = ApiResponse::from(
        http()
            .post(stack.url("/api/v1/jobs"))
            .bearer_auth(&a.access_token)
            .header("X-Account-Id", &b_account)
            .json(&json!({ "task_type": "http.request", "payload": { "url": "https://example.com/" } }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "account_forbidden");

    let r = ApiResponse::from(
        http().get(stack.url("/api/v1/me")).bearer_auth(&a.access_token).header("X-Account-Id", "not-a-uuid").send().await.unwrap(),
    )
    .await;
    let details = r.assert_error(400, "invalid_request");
    assert!(details["fields"]["X-Account-Id"].is_string());
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_all_401() {
    let stack = spawn_stack();
    let good = stack.token_for(&unique_email("forge")).await.access_token;
    let (header, payload, sig) = parts(&good);
    let jwks: Value =
        http().get(format!("{}/auth/v1/.well-known/jwks.json", stack.info.supabase_url)).send().await.unwrap().json().await.unwrap();
    let public_key_json = jwks["keys"][0].to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let with = |k: &str, v: Value| {
        let mut p = payload.clone();
        if v.is_null() {
            p.as_object_mut().unwrap().remove(k);
        } else {
            p[k] = v;
        }
        p
    };
    let mint = |claims: Value| async move { stack.mint(json!({ "email": unique_email("forge"), "claims": claims })).await.access_token };
    let mut flipped = sig.clone().into_bytes();
    flipped[5] = if flipped[5] == b'A' { b'B' } else { b'A' };

    let cases: Vec<(&str, Option<String>)> = vec![
        ("expired a second ago (no leeway: the database would refuse it)", Some(format!("Bearer {}", mint(json!({"exp": now - 1})).await))),
        ("alg none", Some(format!("Bearer {}", assemble(&json!({"alg": "none", "typ": "JWT"}), &payload, "")))),
        (
            "alg swapped to HS256 keyed with the public key",
            Some(format!(
                "Bearer {}",
                hs256(public_key_json.as_bytes(), &json!({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}), &payload)
            )),
        ),
        (
            "alg swapped to RS256 on an EC key",
            Some(format!("Bearer {}", assemble(&json!({"alg": "RS256", "typ": "JWT", "kid": header["kid"]}), &payload, &sig))),
        ),
        (
            "HS256 with the wrong secret",
            Some(format!("Bearer {}", hs256(b"not-the-secret-not-the-secret-xxxxx", &json!({"alg": "HS256"}), &payload))),
        ),
        (
            "wrong kid",
            Some(format!(
                "Bearer {}",
                assemble(&json!({"alg": "ES256", "typ": "JWT", "kid": uuid::Uuid::new_v4().to_string()}), &payload, &sig)
            )),
        ),
        ("bad signature", Some(format!("Bearer {}", assemble(&header, &payload, std::str::from_utf8(&flipped).unwrap())))),
        (
            "payload altered after signing",
            Some(format!("Bearer {}", assemble(&header, &with("sub", json!(uuid::Uuid::new_v4().to_string())), &sig))),
        ),
        ("expired", Some(format!("Bearer {}", mint(json!({"exp": now - 120})).await))),
        ("not yet valid", Some(format!("Bearer {}", mint(json!({"nbf": now + 3600})).await))),
        ("wrong issuer", Some(format!("Bearer {}", mint(json!({"iss": "https://evil.example/auth/v1"})).await))),
        ("wrong audience", Some(format!("Bearer {}", mint(json!({"aud": "anon"})).await))),
        ("service role claim", Some(format!("Bearer {}", mint(json!({"role": "service_role"})).await))),
        ("missing sub", Some(format!("Bearer {}", mint(json!({"sub": null})).await))),
        ("sub not a uuid", Some(format!("Bearer {}", mint(json!({"sub": "admin"})).await))),
        ("garbage", Some("Bearer garbage".into())),
        ("three dots of garbage", Some("Bearer a.b.c".into())),
        (
            "HS256 secret exactly but alg none",
            Some(format!("Bearer {}", hs256(TEST_JWT_SECRET.as_bytes(), &json!({"alg": "none"}), &payload))),
        ),
        ("empty authorization header", Some(String::new())),
        ("scheme only", Some("Bearer ".into())),
        ("basic auth", Some("Basic dXNlcjpwYXNz".into())),
        ("no authorization header", None),
    ];
    for (case, authz) in cases {
        let mut req = http().get(stack.url("/api/v1/me"));
        if let Some(a) = authz {
            req = req.header("Authorization", a);
        }
        let r = ApiResponse::from(req.send().await.unwrap()).await;
        let reason = match case {
            c if c.starts_with("expired") => "token_expired",
            "not yet valid" => "token_not_yet_valid",
            "wrong issuer" => "wrong_issuer",
            "wrong audience" => "wrong_audience",
            "empty authorization header" | "scheme only" | "basic auth" | "no authorization header" => "missing_token",
            _ => "invalid_token",
        };
        assert_unauthorized(&r, case, reason);
    }
    // Sanity: the untouched token is accepted, so the refusals above are the forgeries' doing.
    assert_eq!(stack.get_as("/api/v1/me", &good).await.status, 200);
}
