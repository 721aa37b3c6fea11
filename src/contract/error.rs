//! The contract's error codes (`API.md` § Errors) and the one mapping from an error to a status.
//!
//! Handlers return [`ApiError`]; the HTTP layer turns it into the envelope exactly once. A 5xx never
//! carries internals in its body: [`ApiError::Internal`] keeps its cause for the log only.

use serde_json::{json, Map, Value};

/// Why a request was not authenticated (`details.reason` of a 401, and the `WWW-Authenticate`
/// challenge's `error_description`; RFC 6750 § 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthReason {
    /// No `Authorization: Bearer` credentials: the challenge carries no error (RFC 6750 § 3.1).
    MissingToken,
    /// Not a JWT, an algorithm or key this server does not accept, a bad signature, or claims that
    /// are not a user's.
    InvalidToken,
    TokenExpired,
    TokenNotYetValid,
    WrongIssuer,
    WrongAudience,
}

impl AuthReason {
    pub fn code(self) -> &'static str {
        match self {
            AuthReason::MissingToken => "missing_token",
            AuthReason::InvalidToken => "invalid_token",
            AuthReason::TokenExpired => "token_expired",
            AuthReason::TokenNotYetValid => "token_not_yet_valid",
            AuthReason::WrongIssuer => "wrong_issuer",
            AuthReason::WrongAudience => "wrong_audience",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            AuthReason::MissingToken => "an access token is required (Authorization: Bearer <token>)",
            AuthReason::InvalidToken => "the access token is malformed, or its signature or claims are not accepted",
            AuthReason::TokenExpired => "the access token has expired; refresh the session",
            AuthReason::TokenNotYetValid => "the access token is not valid yet",
            AuthReason::WrongIssuer => "the access token was issued by another project",
            AuthReason::WrongAudience => "the access token is not meant for this API",
        }
    }
}

/// One variant per error class of the contract. `details` is client-facing and must never hold
/// secrets or internals.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid request: {message}")]
    InvalidRequest { message: String, details: Option<Value> },
    #[error("unauthorized: {}", .0.code())]
    Unauthorized(AuthReason),
    /// 403 `account_forbidden`: `X-Account-Id` names an account the caller is not a member of.
    #[error("account forbidden")]
    AccountForbidden,
    /// 409 `idempotency_key_reused`: the `Idempotency-Key` was used in the last 24 hours with another
    /// request (details: the job it created).
    #[error("idempotency key reused")]
    IdempotencyKeyReused { details: Value },
    #[error("forbidden")]
    Forbidden { message: String },
    #[error("not found")]
    NotFound,
    /// 404 `not_found`: a list cursor (`starting_after`, `ending_before`) names no item of the list.
    #[error("cursor not found: {param}")]
    CursorNotFound { param: String },
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<&'static str> },
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// 409 `subscription_exists`: the account already has a live plan subscription; plans change in
    /// the billing portal (`details.portal`).
    #[error("subscription exists: {subscription_id}")]
    SubscriptionExists { subscription_id: String },
    /// 503 `billing_not_configured`: the server lacks billing configuration (`setting` names it; the
    /// name of a setting, never its value).
    #[error("billing not configured: {setting}")]
    BillingNotConfigured { setting: &'static str },
    #[error("duplicate job {job_id}")]
    DuplicateJob { job_id: String },
    /// 402 `plan_limit_exceeded` (`details`: limit, used, resets_at).
    #[error("plan limit exceeded")]
    PlanLimitExceeded { details: Value },
    /// 402 `insufficient_credits` (`details`: required, balance).
    #[error("insufficient credits")]
    InsufficientCredits { details: Value },
    /// 403 `feature_disabled`.
    #[error("feature disabled: {message}")]
    FeatureDisabled { message: String, details: Value },
    #[error("payload too large (limit {limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u32, limit: u32 },
    /// The account has its plan's number of open event streams.
    #[error("stream limit exceeded")]
    StreamLimitExceeded { limit: u32 },
    #[error("unavailable: {dependency}")]
    Unavailable { dependency: &'static str, retry_after_secs: u32 },
    /// A bug or an unexpected failure. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidRequest { message: message.into(), details: None }
    }

    /// A validation failure naming each bad field (`details.fields`).
    pub fn invalid_fields(fields: Map<String, Value>) -> Self {
        ApiError::InvalidRequest { message: "request validation failed".into(), details: Some(json!({ "fields": fields })) }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidRequest { .. } => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::AccountForbidden => 403,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound | ApiError::CursorNotFound { .. } => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict { .. }
            | ApiError::DuplicateJob { .. }
            | ApiError::SubscriptionExists { .. }
            | ApiError::IdempotencyKeyReused { .. } => 409,
            ApiError::BillingNotConfigured { .. } => 503,
            ApiError::PlanLimitExceeded { .. } | ApiError::InsufficientCredits { .. } => 402,
            ApiError::FeatureDisabled { .. } => 403,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::RateLimited { .. } | ApiError::StreamLimitExceeded { .. } => 429,
            ApiError::Unavailable { .. } => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::AccountForbidden => "account_forbidden",
            ApiError::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound | ApiError::CursorNotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::DuplicateJob { .. } => "duplicate_job",
            ApiError::SubscriptionExists { .. } => "subscription_exists",
            ApiError::BillingNotConfigured { .. } => "billing_not_configured",
            ApiError::PlanLimitExceeded { .. } => "plan_limit_exceeded",
            ApiError::InsufficientCredits { .. } => "insufficient_credits",
            ApiError::FeatureDisabled { .. } => "feature_disabled",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::StreamLimitExceeded { .. } => "stream_limit_exceeded",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The human-readable message sent to the client. Deliberately generic for 5xx.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::InvalidRequest { message, .. } => message.clone(),
            ApiError::Unauthorized(reason) => reason.message().into(),
            ApiError::AccountForbidden => "the caller is not a member of the account named by X-Account-Id".into(),
            ApiError::IdempotencyKeyReused { .. } => {
                "this idempotency key was used with a different request in the last 24 hours; use a new key".into()
            }
            ApiError::Forbidden { message } => message.clone(),
            ApiError::NotFound => "resource not found".into(),
            ApiError::CursorNotFound { param } => format!("{param} names no item of this list"),
            ApiError::MethodNotAllowed { .. } => "method not allowed for this resource".into(),
            ApiError::Conflict { message } => message.clone(),
            ApiError::DuplicateJob { .. } => "the same job is already in flight".into(),
            ApiError::SubscriptionExists { .. } => {
                "the account already has a live plan subscription; change plans in the billing portal".into()
            }
            ApiError::BillingNotConfigured { .. } => "billing is not configured on this server; retry later".into(),
            ApiError::PlanLimitExceeded { .. } => "the plan's job quota for this period is used up".into(),
            ApiError::InsufficientCredits { .. } => "not enough credits for this task".into(),
            ApiError::FeatureDisabled { message, .. } => message.clone(),
            ApiError::PayloadTooLarge { limit } => format!("request body exceeds {limit} bytes"),
            ApiError::UnsupportedMediaType => "expected Content-Type: application/json".into(),
            ApiError::RateLimited { limit, .. } => format!("more than {limit} requests in a minute; retry later"),
            ApiError::StreamLimitExceeded { limit } => {
                format!("the account has {limit} open event streams, its plan's limit; close one first")
            }
            ApiError::Unavailable { dependency, .. } => {
                format!("a required dependency ({dependency}) is unavailable; retry later")
            }
            ApiError::Internal(_) => "an internal error occurred".into(),
        }
    }

    pub fn details(&self) -> Value {
        match self {
            ApiError::InvalidRequest { details: Some(d), .. } => d.clone(),
            ApiError::PayloadTooLarge { limit } => json!({ "limit_bytes": limit }),
            ApiError::MethodNotAllowed { allow } => json!({ "allow": allow }),
            ApiError::DuplicateJob { job_id } => json!({ "job_id": job_id }),
            ApiError::IdempotencyKeyReused { details } => details.clone(),
            ApiError::Unauthorized(reason) => json!({ "reason": reason.code() }),
            ApiError::AccountForbidden => json!({ "header": "X-Account-Id" }),
            ApiError::CursorNotFound { param } => json!({ "param": param }),
            ApiError::SubscriptionExists { subscription_id } => {
                json!({ "subscription_id": subscription_id, "portal": "/api/v1/billing/portal" })
            }
            ApiError::BillingNotConfigured { setting } => json!({ "setting": setting }),
            ApiError::PlanLimitExceeded { details } | ApiError::InsufficientCredits { details } => details.clone(),
            ApiError::FeatureDisabled { details, .. } => details.clone(),
            ApiError::RateLimited { retry_after_secs, limit } => json!({ "retry_after_secs": retry_after_secs, "limit": limit }),
            ApiError::StreamLimitExceeded { limit } => json!({ "limit": limit }),
            _ => json!({}),
        }
    }

    /// Extra response headers the contract requires for this error.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::Unauthorized(AuthReason::MissingToken) => vec![("WWW-Authenticate", "Bearer realm=\"api\"".into())],
            ApiError::Unauthorized(reason) => vec![(
                "WWW-Authenticate",
                format!("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"{}\"", reason.message()),
            )],
            ApiError::MethodNotAllowed { allow } => vec![("Allow", allow.join(", "))],
            ApiError::RateLimited { retry_after_secs, .. } => vec![("Retry-After", retry_after_secs.to_string())],
            ApiError::StreamLimitExceeded { .. } => vec![("Retry-After", "5".into())],
            ApiError::Unavailable { retry_after_secs, .. } => {
                vec![("Retry-After", retry_after_secs.to_string())]
            }
            ApiError::BillingNotConfigured { .. } => vec![("Retry-After", "300".into())],
            _ => vec![],
        }
    }

    /// Whether this error is a server-side fault worth an error-level log line.
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_expose_their_cause() {
        let e = ApiError::Internal("connection refused to 10.0.0.1 with key sk_live_x".into());
        assert_eq!(e.status(), 500);
        assert_eq!(e.code(), "internal_error");
        assert!(!e.public_message().contains("sk_live"));
        assert_eq!(e.details(), json!({}));
    }

    #[test]
    fn unauthorized_says_why_in_the_body_and_the_challenge() {
        let e = ApiError::Unauthorized(AuthReason::MissingToken);
        assert_eq!(e.headers(), vec![("WWW-Authenticate", "Bearer realm=\"api\"".to_string())]);
        assert_eq!(e.details(), json!({ "reason": "missing_token" }));
        let e = ApiError::Unauthorized(AuthReason::TokenExpired);
        assert_eq!((e.status(), e.code()), (401, "unauthorized"));
        assert_eq!(e.details(), json!({ "reason": "token_expired" }));
        let challenge = &e.headers()[0].1;
        assert!(challenge.starts_with("Bearer realm=\"api\", error=\"invalid_token\", error_description=\""), "{challenge}");
        assert!(challenge.contains("expired"), "{challenge}");
        // RFC 6750: the description is a quoted string without quotes or backslashes inside.
        for r in [AuthReason::InvalidToken, AuthReason::TokenNotYetValid, AuthReason::WrongIssuer, AuthReason::WrongAudience] {
            assert!(!r.message().contains(['"', '\\']), "{r:?}");
        }
    }

    #[test]
    fn method_not_allowed_lists_allowed_methods() {
        let e = ApiError::MethodNotAllowed { allow: vec!["GET", "HEAD"] };
        assert_eq!(e.status(), 405);
        assert_eq!(e.headers(), vec![("Allow", "GET, HEAD".to_string())]);
    }

    #[test]
    fn billing_errors_say_whose_fault_it_is() {
        let e = ApiError::BillingNotConfigured { setting: "STRIPE_WEBHOOK_SECRET" };
        assert_eq!((e.status(), e.code()), (503, "billing_not_configured"));
        assert_eq!(e.details(), json!({ "setting": "STRIPE_WEBHOOK_SECRET" }));
        let e = ApiError::SubscriptionExists { subscription_id: "sub_1".into() };
        assert_eq!((e.status(), e.code()), (409, "subscription_exists"));
        assert_eq!(e.details()["portal"], "/api/v1/billing/portal");
    }

    #[test]
    fn unavailable_sends_retry_after() {
        let e = ApiError::Unavailable { dependency: "database", retry_after_secs: 5 };
        assert_eq!(e.status(), 503);
        assert_eq!(e.headers(), vec![("Retry-After", "5".to_string())]);
    }
}
