//! Supabase access tokens: parsing and claims validation (pure; signatures are checked with WebCrypto
//! in `crate::auth`, docs/adr/0002).
//!
//! Rules (fail closed, one [`AuthError`] per reason, each answered 401 with its [`AuthReason`]):
//! `alg` is ES256, RS256 or HS256 and must match the key (never `none`); `exp` exact (as PostgREST checks it), `nbf` with 30 s leeway;
//! `iss` is `{SUPABASE_URL}/auth/v1`; `aud` (string or array) contains `authenticated`; `role` is
//! `authenticated`; `sub` is a UUID.

use crate::contract::error::AuthReason;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: f64 = 30.0;
/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("no key for this token")]
    UnknownKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("wrong role")]
    WrongRole,
    #[error("subject missing or not a UUID")]
    BadSubject,
}

impl AuthError {
    /// The contract's reason for a refused token (docs/openapi.json, 401 `details.reason`).
    pub fn reason(&self) -> AuthReason {
        match self {
            AuthError::Missing => AuthReason::MissingToken,
            AuthError::Expired => AuthReason::TokenExpired,
            AuthError::NotYetValid => AuthReason::TokenNotYetValid,
            AuthError::WrongIssuer => AuthReason::WrongIssuer,
            AuthError::WrongAudience => AuthReason::WrongAudience,
            AuthError::Malformed
            | AuthError::AlgorithmNotAllowed
            | AuthError::UnknownKey
            | AuthError::BadSignature
            | AuthError::WrongRole
            | AuthError::BadSubject => AuthReason::InvalidToken,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Es256,
    Rs256,
    Hs256,
}

impl Alg {
    pub fn parse(s: &str) -> Result<Alg, AuthError> {
        match s {
            "ES256" => Ok(Alg::Es256),
            "RS256" => Ok(Alg::Rs256),
            "HS256" => Ok(Alg::Hs256),
            _ => Err(AuthError::AlgorithmNotAllowed),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Rs256 => "RS256",
            Alg::Hs256 => "HS256",
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub aud: Option<Audience>,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub exp: Option<f64>,
    #[serde(default)]
    pub nbf: Option<f64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub is_anonymous: Option<bool>,
}

/// A token split and decoded, signature not yet checked.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub alg: Alg,
    pub kid: Option<String>,
    pub claims: Claims,
    /// `base64url(header) + "." + base64url(payload)`: what the signature covers.
    pub signing_input: String,
    pub signature: Vec<u8>,
}

/// Which of the caller's accounts a request acts on. Membership is enforced by row-level security in
/// every query, so naming an account the caller does not belong to finds nothing (404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActiveAccount {
    /// The caller's personal account (no `X-Account-Id`).
    Personal,
    /// The account named by `X-Account-Id`.
    Selected(uuid::Uuid),
}

/// An `X-Account-Id` header that is present but not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("X-Account-Id is not a UUID")]
pub struct InvalidAccountHeader;

impl ActiveAccount {
    /// Parses the optional `X-Account-Id` header; `Err` when present but not a UUID.
    pub fn from_header(v: Option<&str>) -> Result<ActiveAccount, InvalidAccountHeader> {
        // Present means a hyphenated UUID (the contract's `format: uuid`); an empty value is malformed.
        match v.map(str::trim) {
            None => Ok(ActiveAccount::Personal),
            Some(v) if v.len() == 36 => uuid::Uuid::parse_str(v).map(ActiveAccount::Selected).map_err(|_| InvalidAccountHeader),
            Some(_) => Err(InvalidAccountHeader),
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub email: Option<String>,
    pub session_id: Option<String>,
    pub is_anonymous: bool,
    pub account: ActiveAccount,
}

/// Extracts the token from an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
pub fn bearer(header: Option<&str>) -> Result<&str, AuthError> {
    let h = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = h.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    Ok(token)
}

/// Splits and decodes a compact JWS. Any structural problem is [`AuthError::Malformed`]; an algorithm
/// outside the allow-list (including `none`) is [`AuthError::AlgorithmNotAllowed`].
pub fn parse(token: &str) -> Result<Parsed, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (h, p, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) if !h.is_empty() && !p.is_empty() => (h, p, s),
        _ => return Err(AuthError::Malformed),
    };
    let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).map_err(|_| AuthError::Malformed);
    let header: RawHeader = serde_json::from_slice(&decode(h)?).map_err(|_| AuthError::Malformed)?;
    let alg = Alg::parse(&header.alg)?;
    let claims: Claims = serde_json::from_slice(&decode(p)?).map_err(|_| AuthError::Malformed)?;
    let signature = decode(s)?;
    if signature.is_empty() {
        return Err(AuthError::BadSignature);
    }
    Ok(Parsed { alg, kid: header.kid, claims, signing_input: format!("{h}.{p}"), signature })
}

/// Validates the claims of a token whose signature has been verified.
pub fn validate(claims: &Claims, now_secs: f64, expected_issuer: &str) -> Result<Principal, AuthError> {
    match claims.exp {
        // No leeway on expiry: PostgREST refuses an expired token, so the Worker must too (a token the
        // Worker accepted and the database refused would surface as a server error).
        Some(exp) if now_secs < exp => {}
        _ => return Err(AuthError::Expired),
    }
    if let Some(nbf) = claims.nbf {
        if now_secs + LEEWAY_SECS < nbf {
            return Err(AuthError::NotYetValid);
        }
    }
    if claims.iss.as_deref() != Some(expected_issuer) {
        return Err(AuthError::WrongIssuer);
    }
    let aud_ok = match &claims.aud {
        Some(Audience::One(a)) => a == "authenticated",
        Some(Audience::Many(v)) => v.iter().any(|a| a == "authenticated"),
        None => false,
    };
    if !aud_ok {
        return Err(AuthError::WrongAudience);
    }
    if claims.role.as_deref() != Some("authenticated") {
        return Err(AuthError::WrongRole);
    }
    let sub = claims.sub.as_deref().ok_or(AuthError::BadSubject)?;
    let user_id = uuid::Uuid::parse_str(sub).map_err(|_| AuthError::BadSubject)?;
    Ok(Principal {
        user_id: user_id.hyphenated().to_string(),
        email: claims.email.clone(),
        session_id: claims.session_id.clone(),
        is_anonymous: claims.is_anonymous.unwrap_or(false),
        account: ActiveAccount::Personal,
    })
}

/// A public key from a JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl Jwk {
    /// Whether this key may verify a token signed with `alg`: the key type must fit the algorithm (so an
    /// RSA or EC public key can never be used as an HMAC secret), and a declared `alg`/`use` must agree.
    pub fn admits(&self, alg: Alg) -> bool {
        let type_ok = match alg {
            Alg::Es256 => self.kty == "EC" && self.crv.as_deref() == Some("P-256") && self.x.is_some() && self.y.is_some(),
            Alg::Rs256 => self.kty == "RSA" && self.n.is_some() && self.e.is_some(),
            Alg::Hs256 => false,
        };
        type_ok && self.alg.as_deref().is_none_or(|a| a == alg.as_str()) && self.use_.as_deref().is_none_or(|u| u == "sig")
    }
}

#[derive(Debug, Deserialize)]
pub struct JwkSet {
    pub keys: Vec<serde_json::Value>,
}

/// Parses a JWKS document, keeping the keys this service can use and skipping the others (a JWKS may
/// carry key types we do not know; one odd key must not make the whole set unusable).
pub fn parse_jwks(body: &str) -> Option<Vec<Jwk>> {
    let set: JwkSet = serde_json::from_str(body).ok()?;
    Some(set.keys.into_iter().filter_map(|k| serde_json::from_value(k).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://proj.supabase.co/auth/v1";
    const SUB: &str = "3f1c2a9e-1b2c-4d5e-8f90-123456789abc";

    fn claims(json: serde_json::Value) -> Claims {
        serde_json::from_value(json).unwrap()
    }

    fn good() -> serde_json::Value {
        serde_json::json!({"iss": ISS, "aud": "authenticated", "sub": SUB, "role": "authenticated",
                           "exp": 2000.0, "email": "a@b.c", "session_id": "s", "is_anonymous": false})
    }

    fn with(key: &str, v: serde_json::Value) -> Claims {
        let mut j = good();
        if v.is_null() {
            j.as_object_mut().unwrap().remove(key);
        } else {
            j[key] = v;
        }
        claims(j)
    }

    #[test]
    fn valid_claims_make_a_principal() {
        let p = validate(&claims(good()), 1000.0, ISS).unwrap();
        assert_eq!(p.user_id, SUB);
        assert_eq!(p.email.as_deref(), Some("a@b.c"));
        assert!(!p.is_anonymous);
    }

    #[test]
    fn expiry_is_exact_and_not_before_allows_thirty_seconds_of_skew() {
        assert!(validate(&claims(good()), 1999.0, ISS).is_ok());
        assert_eq!(validate(&claims(good()), 2000.0, ISS), Err(AuthError::Expired), "refused like the database refuses it");
        assert_eq!(validate(&claims(good()), 2010.0, ISS), Err(AuthError::Expired));
        assert_eq!(validate(&with("exp", serde_json::Value::Null), 1.0, ISS), Err(AuthError::Expired));
        assert!(validate(&with("nbf", 1030.0.into()), 1000.0, ISS).is_ok());
        assert_eq!(validate(&with("nbf", 1031.0.into()), 1000.0, ISS), Err(AuthError::NotYetValid));
    }

    #[test]
    fn issuer_audience_role_and_subject_are_checked() {
        assert_eq!(validate(&with("iss", "https://evil/auth/v1".into()), 1000.0, ISS), Err(AuthError::WrongIssuer));
        assert_eq!(validate(&with("aud", "anon".into()), 1000.0, ISS), Err(AuthError::WrongAudience));
        assert!(validate(&with("aud", serde_json::json!(["x", "authenticated"])), 1000.0, ISS).is_ok());
        assert_eq!(validate(&with("aud", serde_json::json!(["x"])), 1000.0, ISS), Err(AuthError::WrongAudience));
        assert_eq!(validate(&with("role", "service_role".into()), 1000.0, ISS), Err(AuthError::WrongRole));
        assert_eq!(validate(&with("sub", serde_json::Value::Null), 1000.0, ISS), Err(AuthError::BadSubject));
        assert_eq!(validate(&with("sub", "not-a-uuid".into()), 1000.0, ISS), Err(AuthError::BadSubject));
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn alg_none_and_unknown_algorithms_are_refused() {
        for alg in ["none", "None", "HS512", "ES384", "PS256", ""] {
            let t = format!("{}.{}.c2ln", b64(&serde_json::json!({"alg": alg})), b64(&good()));
            assert_eq!(parse(&t).unwrap_err(), AuthError::AlgorithmNotAllowed, "{alg}");
        }
    }

    #[test]
    fn structural_garbage_is_malformed() {
        for t in ["", "abc", "a.b", "a.b.c.d", "!!!.???.###", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert_eq!(parse(t).unwrap_err(), AuthError::Malformed, "{t}");
        }
        let no_sig = format!("{}.{}.", b64(&serde_json::json!({"alg": "ES256"})), b64(&good()));
        assert_eq!(parse(&no_sig).unwrap_err(), AuthError::BadSignature);
    }

    #[test]
    fn parse_keeps_the_signing_input_and_kid() {
        let h = b64(&serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "JWT"}));
        let p = b64(&good());
        let t = format!("{h}.{p}.c2ln");
        let parsed = parse(&t).unwrap();
        assert_eq!(parsed.alg, Alg::Es256);
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.signing_input, format!("{h}.{p}"));
        assert_eq!(parsed.signature, b"sig");
    }

    #[test]
    fn the_account_header_selects_an_account_or_defaults_to_personal() {
        assert_eq!(ActiveAccount::from_header(None), Ok(ActiveAccount::Personal));
        assert!(ActiveAccount::from_header(Some(" ")).is_err(), "present but empty is malformed");
        assert!(ActiveAccount::from_header(Some("urn:uuid:0b6c1f5e-8a43-4e0c-9d4b-7c2e5a1f3d20")).is_err(), "hyphenated only");
        assert_eq!(ActiveAccount::from_header(Some(SUB)), Ok(ActiveAccount::Selected(SUB.parse().unwrap())));
        assert!(ActiveAccount::from_header(Some("acct_1")).is_err());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Ok("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Ok("abc"));
        assert_eq!(bearer(Some("Basic abc")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer(Some("")), Err(AuthError::Missing));
        assert_eq!(bearer(None), Err(AuthError::Missing));
    }

    #[test]
    fn keys_admit_only_their_own_algorithm() {
        let ec: Jwk =
            serde_json::from_value(serde_json::json!({"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"1","alg":"ES256","use":"sig"}))
                .unwrap();
        let rsa: Jwk = serde_json::from_value(serde_json::json!({"kty":"RSA","n":"a","e":"AQAB","kid":"2"})).unwrap();
        assert!(ec.admits(Alg::Es256));
        assert!(!ec.admits(Alg::Rs256));
        assert!(!ec.admits(Alg::Hs256), "a public key is never an HMAC secret");
        assert!(rsa.admits(Alg::Rs256));
        assert!(!rsa.admits(Alg::Es256));
        let enc: Jwk = serde_json::from_value(serde_json::json!({"kty":"RSA","n":"a","e":"AQAB","use":"enc"})).unwrap();
        assert!(!enc.admits(Alg::Rs256));
    }

    #[test]
    fn jwks_parsing_skips_unusable_keys() {
        let keys = parse_jwks(r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"1"},{"weird":true}]}"#).unwrap();
        assert_eq!(keys.len(), 1);
        assert!(parse_jwks("not json").is_none());
    }
}
