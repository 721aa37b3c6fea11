//! PostgREST (Supabase's REST layer): `POST /rpc/{function}` over the runtime's `fetch`, with a timeout.
//! The typed functions are in [`crate::adapters::rpc`]; the `postgrest` crate is not used (docs/adr/0013).
//!
//! Why PostgREST and not a Postgres driver: requests carry the caller's own token, so Postgres row-level
//! security decides what each caller sees (docs/adr/0001). This module builds clients with the right
//! credentials and turns PostgREST's error bodies (`{code, message, details, hint}`) into [`DbError`].
//!
//! Credentials: `apikey` always carries the project key (Supabase's gateway requires it). The
//! `Authorization` header carries a JWT: the user's access token for user requests, or the project key
//! itself when that key is a legacy JWT key. New-style `sb_publishable_…`/`sb_secret_…` keys are not JWTs
//! and must not be sent as a bearer token; the gateway maps them to their role by `apikey` alone.

use crate::adapters::rpc::Rpc;
use crate::auth::AccessToken;
use crate::config::{Config, Secret};
use crate::contract::error::{ApiError, AuthReason};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use worker::{Fetch, Headers, Method, Request, RequestInit};

/// Errors from a PostgREST call, typed so callers can decide what the client sees.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The request never got an HTTP answer (connection refused, DNS, reset).
    #[error("PostgREST unreachable: {0}")]
    Transport(String),
    /// PostgREST answered with an error status and body.
    #[error("PostgREST {status} {code}: {message}")]
    Api { status: u16, code: String, message: String, details: Option<String> },
    /// No answer within the configured timeout.
    #[error("PostgREST did not answer {function} within {after_ms} ms")]
    Timeout { function: String, after_ms: u32 },
    /// The answer was not what we expected to decode.
    #[error("PostgREST response could not be decoded: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
struct PgrstErrorBody {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<String>,
}

impl DbError {
    /// Builds an [`DbError::Api`] from a status and PostgREST's JSON error body.
    pub fn from_response(status: u16, body: &str) -> DbError {
        let parsed: Option<PgrstErrorBody> = serde_json::from_str(body).ok();
        let (code, message, details) = match parsed {
            Some(b) => (b.code.unwrap_or_default(), b.message.unwrap_or_default(), b.details),
            None => (String::new(), body.chars().take(200).collect(), None),
        };
        DbError::Api { status, code, message, details }
    }

    /// Whether the database (not the request) is at fault: unreachable, or PostgREST reporting that it
    /// cannot reach Postgres (503, `PGRST000`–`PGRST003` connection errors, SQLSTATE class 08 / 57P).
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Transport(_) | DbError::Timeout { .. } => true,
            DbError::Api { status, code, .. } => {
                *status == 503
                    || *status == 502
                    || *status == 504
                    || code.starts_with("PGRST00")
                    || code.starts_with("08")
                    || code.starts_with("57P")
            }
            DbError::Decode(_) => false,
        }
    }
}

impl From<DbError> for ApiError {
    /// The contract's mapping: unique violation → 409, RLS refusal → 404 (never reveal another
    /// account's rows), invalid input → 400, database down → 503, anything else → opaque 500.
    fn from(e: DbError) -> ApiError {
        if e.is_unavailable() {
            return ApiError::Unavailable { dependency: "database", retry_after_secs: 5 };
        }
        match &e {
            // Errors our own SQL functions raise on purpose (SQLSTATE P0001, message = the contract's code).
            DbError::Api { code, message, details, .. } if code == "P0001" => {
                let details: serde_json::Value = details.as_deref().and_then(|d| serde_json::from_str(d).ok()).unwrap_or_default();
                match message.as_str() {
                    "not_found" => ApiError::NotFound,
                    // The request names a business profile the account does not have.
                    "business_profile_not_found" => ApiError::NotFound,
                    "account_forbidden" => ApiError::AccountForbidden,
                    // {job_id}, or for a batch {batch_id}, or for a batch item {index, job_id}.
                    "idempotency_key_reused" => ApiError::IdempotencyKeyReused { details },
                    "invalid_cursor" => {
                        ApiError::CursorNotFound { param: details["param"].as_str().unwrap_or("starting_after").to_string() }
                    }
                    "conflict" => {
                        ApiError::Conflict { message: format!("the job is already {}", details["status"].as_str().unwrap_or("finished")) }
                    }
                    "batch_finished" => ApiError::Conflict { message: "every item of the batch has already finished".into() },
                    "duplicate_job" => ApiError::DuplicateJob { job_id: details["job_id"].as_str().unwrap_or_default().to_string() },
                    // The contract's vocabulary (docs/adr/0015): `job_quota`/`jobs_used` as on /usage, `credit_cost` as on the job.
                    "plan_limit_exceeded" => {
                        let mut d = serde_json::json!({
                            "job_quota": details["limit"], "jobs_used": details["used"],
                            "resets_at": crate::contract::time::utc(details["resets_at"].as_str().unwrap_or_default()),
                        });
                        // A batch says how many jobs it asked for.
                        if let Some(n) = details.get("requested") {
                            d["jobs_requested"] = n.clone();
                        }
                        ApiError::PlanLimitExceeded { details: d }
                    }
                    "insufficient_credits" => ApiError::InsufficientCredits {
                        details: serde_json::json!({ "credit_cost": details["required"], "balance": details["balance"] }),
                    },
                    "feature_disabled" => {
                        ApiError::FeatureDisabled { message: "this task type is not included in the account's plan".into(), details }
                    }
                    _ => ApiError::Internal(e.to_string()),
                }
            }
            DbError::Api { code, .. } if code == "23505" => ApiError::Conflict { message: "the resource already exists".into() },
            DbError::Api { code, .. } if code == "42501" => ApiError::NotFound,
            DbError::Api { code, .. } if code == "PGRST116" => ApiError::NotFound,
            // PostgREST refused the caller's token (invalid, or expired by its clock): the caller's
            // problem, never a server error.
            DbError::Api { code, .. } if code == "PGRST303" => ApiError::Unauthorized(AuthReason::TokenExpired),
            DbError::Api { code, .. } if code == "PGRST301" => ApiError::Unauthorized(AuthReason::InvalidToken),
            DbError::Api { code, .. } if code == "22P02" || code == "23514" || code == "23502" || code == "22023" => {
                ApiError::invalid("the request was rejected by a data constraint")
            }
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

/// Whether a project key is a (legacy) JWT key rather than a new-style opaque API key.
pub fn is_jwt(key: &str) -> bool {
    key.split('.').count() == 3 && !key.starts_with("sb_")
}

/// A PostgREST client with fixed credentials. Every call has a timeout (`POSTGREST_TIMEOUT_MS`): a
/// database that does not answer is reported as unavailable, never waited on for the platform's limit.
pub struct Db {
    base: String,
    apikey: String,
    bearer: Option<String>,
    timeout_ms: u32,
}

impl Db {
    fn with_key(cfg: &Config, apikey: &Secret, bearer: Option<&str>) -> Db {
        Db {
            base: cfg.postgrest_url.trim_end_matches('/').to_string(),
            apikey: apikey.expose().to_string(),
            bearer: bearer.map(String::from),
            timeout_ms: cfg.postgrest_timeout_ms,
        }
    }

    /// As the caller: their own access token, so row-level security decides what they see. Every
    /// user-facing handler uses this.
    pub fn as_user(cfg: &Config, token: &AccessToken) -> Db {
        Db::with_key(cfg, &cfg.anon_key, Some(token.expose()))
    }

    /// The anonymous role: only what `anon` is granted (the health check, public reads).
    pub fn anon(cfg: &Config) -> Db {
        let key = cfg.anon_key.expose();
        Db::with_key(cfg, &cfg.anon_key, is_jwt(key).then_some(key))
    }

    /// Calls the SQL function `F` names with its typed arguments and decodes its typed answer.
    pub async fn call<F: Rpc>(&self, args: &F) -> Result<F::Output, DbError> {
        let body = serde_json::to_string(args).map_err(|e| DbError::Decode(format!("{}: {e}", F::NAME)))?;
        let text = self.post_rpc(F::NAME, body).await?;
        decode_output::<F::Output>(F::NAME, &text)
    }

    /// `POST /rpc/{name}` with a JSON object of arguments; the raw body of a 2xx answer.
    async fn post_rpc(&self, name: &str, body: String) -> Result<String, DbError> {
        let headers = Headers::new();
        let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| DbError::Transport(e.to_string()));
        set("apikey", &self.apikey)?;
        if let Some(token) = &self.bearer {
            set("Authorization", &format!("Bearer {token}"))?;
        }
        set("Content-Type", "application/json")?;
        set("Accept", "application/json")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.into()));
        let req = Request::new_with_init(&format!("{}/rpc/{name}", self.base), &init).map_err(|e| DbError::Transport(e.to_string()))?;
        let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(self.timeout_ms));
        let resp = match Fetch::Request(req).send_with_signal(&signal).await {
            Ok(r) => r,
            Err(_) if signal.aborted() => return Err(DbError::Timeout { function: name.to_string(), after_ms: self.timeout_ms }),
            Err(e) => return Err(DbError::Transport(e.to_string())),
        };
        let status = resp.status_code();
        let text = match crate::platform::response_text(resp).await {
            Ok(t) => t,
            Err(_) if signal.aborted() => return Err(DbError::Timeout { function: name.to_string(), after_ms: self.timeout_ms }),
            Err(e) => return Err(DbError::Transport(e.to_string())),
        };
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(DbError::from_response(status, &text))
        }
    }
}

/// A 2xx body as `T`. A `void` function answers with an empty body, read as JSON `null`.
pub fn decode_output<T: DeserializeOwned>(name: &str, body: &str) -> Result<T, DbError> {
    let body = if body.trim().is_empty() { "null" } else { body };
    serde_json::from_str(body).map_err(|e| DbError::Decode(format!("{name}: {e}")))
}

/// Proof that code runs in a background context (a queue batch, a cron trigger, a verified webhook) or
/// creates a job for a verified user, the only places allowed to bypass row-level security. User-facing handlers have none of the values
/// these constructors take, so they cannot obtain a [`ServiceDb`].
pub struct ServiceRole(());

impl ServiceRole {
    pub fn for_queue<T>(_batch: &worker::MessageBatch<T>) -> ServiceRole {
        ServiceRole(())
    }
    pub fn for_cron(_event: &worker::ScheduledEvent) -> ServiceRole {
        ServiceRole(())
    }
    pub fn for_verified_webhook(_event: &crate::billing::verify::VerifiedEvent) -> ServiceRole {
        ServiceRole(())
    }
    /// Job creation: `submit_job` and `fail_unqueued_job` are not callable by users on the public
    /// endpoint (so a job cannot skip the Worker's checks or its queue); the Worker calls them for the
    /// user it verified, whose id `submit_job` takes and checks membership for (docs/adr/0015).
    pub fn for_job_submission(_who: &crate::auth::Authenticated) -> ServiceRole {
        ServiceRole(())
    }
}

/// The service-role client: bypasses row-level security. Only obtainable with a [`ServiceRole`].
pub struct ServiceDb(Db);

impl ServiceDb {
    pub fn new(cfg: &Config, _proof: ServiceRole) -> ServiceDb {
        let key = cfg.service_role_key.expose();
        ServiceDb(Db::with_key(cfg, &cfg.service_role_key, is_jwt(key).then_some(key)))
    }

    pub async fn call<F: Rpc>(&self, args: &F) -> Result<F::Output, DbError> {
        self.0.call(args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violation_is_409_and_rls_refusal_is_404() {
        let e: ApiError = DbError::from_response(409, r#"{"code":"23505","message":"dup"}"#).into();
        assert_eq!(e.status(), 409);
        let e: ApiError = DbError::from_response(403, r#"{"code":"42501","message":"rls"}"#).into();
        assert_eq!(e.status(), 404);
    }

    #[test]
    fn errors_raised_by_our_functions_map_to_their_contract_codes() {
        let e: ApiError =
            DbError::from_response(400, r#"{"code":"P0001","message":"duplicate_job","details":"{\"job_id\": \"j1\"}"}"#).into();
        assert_eq!((e.status(), e.code()), (409, "duplicate_job"));
        assert_eq!(e.details()["job_id"], "j1");
        let e: ApiError = DbError::from_response(
            400,
            r#"{"code":"P0001","message":"insufficient_credits","details":"{\"required\": 1, \"balance\": 0}"}"#,
        )
        .into();
        assert_eq!((e.status(), e.code()), (402, "insufficient_credits"));
        assert_eq!(e.details(), serde_json::json!({ "credit_cost": 1, "balance": 0 }));
        let e: ApiError = DbError::from_response(
            400,
            r#"{"code":"P0001","message":"plan_limit_exceeded","details":"{\"limit\": 100, \"used\": 100, \"resets_at\": \"x\"}"}"#,
        )
        .into();
        assert_eq!((e.status(), e.code()), (402, "plan_limit_exceeded"));
        assert_eq!(e.details(), serde_json::json!({ "job_quota": 100, "jobs_used": 100, "resets_at": "x" }));
        let e: ApiError = DbError::from_response(400, r#"{"code":"P0001","message":"account_forbidden"}"#).into();
        assert_eq!((e.status(), e.code()), (403, "account_forbidden"));
        let e: ApiError =
            DbError::from_response(400, r#"{"code":"P0001","message":"idempotency_key_reused","details":"{\"job_id\": \"j1\"}"}"#).into();
        assert_eq!((e.status(), e.code(), e.details()["job_id"].as_str()), (409, "idempotency_key_reused", Some("j1")));
        let e: ApiError =
            DbError::from_response(400, r#"{"code":"P0001","message":"invalid_cursor","details":"{\"param\": \"ending_before\"}"}"#).into();
        assert_eq!((e.status(), e.code(), e.details()["param"].as_str()), (404, "not_found", Some("ending_before")));
        let e: ApiError = DbError::from_response(400, r#"{"code":"P0001","message":"not_found"}"#).into();
        assert_eq!(e.status(), 404);
        let e: ApiError =
            DbError::from_response(400, r#"{"code":"P0001","message":"conflict","details":"{\"status\":\"COMPLETED\"}"}"#).into();
        assert_eq!((e.status(), e.public_message().as_str()), (409, "the job is already COMPLETED"));
    }

    #[test]
    fn a_token_the_database_refuses_is_401() {
        for code in ["PGRST301", "PGRST303"] {
            let e: ApiError = DbError::from_response(401, &format!(r#"{{"code":"{code}","message":"JWT expired"}}"#)).into();
            assert_eq!(e.status(), 401, "{code}");
        }
    }

    #[test]
    fn database_down_is_503_never_500() {
        let e: ApiError = DbError::Transport("connection refused".into()).into();
        assert_eq!(e.status(), 503);
        let e: ApiError = DbError::from_response(503, r#"{"code":"PGRST001","message":"down"}"#).into();
        assert_eq!(e.status(), 503);
        let e: ApiError = DbError::from_response(500, r#"{"code":"08006","message":"conn"}"#).into();
        assert_eq!(e.status(), 503);
    }

    #[test]
    fn unknown_errors_are_opaque_500() {
        let e: ApiError = DbError::from_response(500, "not json").into();
        assert_eq!(e.status(), 500);
        assert_eq!(e.public_message(), "an internal error occurred");
    }

    #[test]
    fn only_jwt_shaped_keys_are_sent_as_bearer() {
        assert!(is_jwt("eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.sig"));
        assert!(!is_jwt("sb_publishable_abc123"));
        assert!(!is_jwt("sb_secret_a.b.c"));
    }
}
