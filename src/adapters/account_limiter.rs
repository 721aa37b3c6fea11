//! The Worker's client for an account's `AccountLimiter` Durable Object.
//!
//! If the object cannot be reached the request is allowed (fail open) and that is logged: the limit
//! protects the service, and losing its counter must not take the API down with it.

use crate::domain::rate_limit::Verdict;
use crate::durable_objects::account_limiter::BINDING;
use crate::jobs::AccountId;
use crate::log;
use serde_json::json;
use worker::{Env, Method, Request, RequestInit};

/// Counts one request of `account` against `limit` per minute. `None` when the limiter is unreachable.
pub async fn take(env: &Env, account: &AccountId, limit: u32, request_id: &str) -> Option<Verdict> {
    let result = async {
        let stub = env.durable_object(BINDING)?.id_from_name(account.as_str())?.get_stub()?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(json!({ "limit": limit }).to_string().into()));
        let mut resp = stub.fetch_with_request(Request::new_with_init("https://limiter/take", &init)?).await?;
        resp.json::<Verdict>().await
    }
    .await;
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            log::error(
                "rate limit: account limiter unreachable; allowing the request",
                json!({ "request_id": request_id, "account_id": account, "error": e.to_string() }),
            );
            None
        }
    }
}
