//! Request limits (docs/adr/0014).
//!
//! - Authenticated routes: the account's plan allows `rate_limit_per_minute` requests in any sliding
//!   minute, counted exactly by the account's `AccountLimiter` Durable Object and shared by every isolate.
//!   Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; over the limit,
//!   429 `rate_limited` with `Retry-After`.
//! - Unauthenticated routes (`/health`, the OpenAPI document, pricing): Cloudflare's Rate Limiting binding
//!   per client IP, a cheap outer gate that is per location and approximate (no headers promised).
//!
//! The active account and its plan's limit are read once per caller and isolate and kept for
//! [`PLAN_CACHE_MS`]: a plan change reaches the limit within a minute.

use crate::adapters::account_limiter;
use crate::adapters::postgrest::Db;
use crate::adapters::rpc;
use crate::api::account_arg;
use crate::api::{header, RequestCtx};
use crate::auth::Authenticated;
use crate::config::bindings;
use crate::contract::error::ApiError;
use crate::jobs::AccountId;
use crate::{log, platform};
use serde_json::json;
use std::cell::RefCell;
use std::collections::HashMap;
use worker::Request;

pub const PLAN_CACHE_MS: f64 = 60_000.0;
/// Entries kept per isolate before the cache is emptied (a bound on memory, not a tuning knob).
const PLAN_CACHE_MAX: usize = 10_000;

/// (user id, selected account or none) → (active account, requests per minute, fetched at).
type PlanCache = HashMap<(String, Option<String>), (AccountId, u32, f64)>;

thread_local! {
    static PLANS: RefCell<PlanCache> = RefCell::new(HashMap::new());
}

async fn account_limit(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<(AccountId, u32), ApiError> {
    let key = (who.principal.user_id.clone(), account_arg(who));
    let now = platform::now_ms();
    if let Some((account, limit, at)) = PLANS.with(|p| p.borrow().get(&key).cloned()) {
        if now - at < PLAN_CACHE_MS {
            return Ok((account, limit));
        }
    }
    let l = Db::as_user(ctx.cfg, &who.token).call(&rpc::RequestLimits { p_account_id: key.1.clone() }).await?;
    PLANS.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() >= PLAN_CACHE_MAX {
            p.clear();
        }
        p.insert(key, (l.account_id.clone(), l.rate_limit_per_minute, now));
    });
    Ok((l.account_id, l.rate_limit_per_minute))
}

/// Counts the request against the account's plan; the `RateLimit-*` fields go on every answer.
pub async fn per_account(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<(), ApiError> {
    if !ctx.cfg.feature("FF_RATE_LIMITS_ENABLED") {
        return Ok(());
    }
    let (account, limit) = account_limit(ctx, who).await?;
    let Some(verdict) = account_limiter::take(ctx.env, &account, limit, ctx.request_id).await else {
        return Ok(());
    };
    ctx.response_headers.borrow_mut().extend(verdict.headers().into_iter().filter(|(k, _)| *k != "Retry-After"));
    if verdict.allowed {
        Ok(())
    } else {
        log::info(
            "rate limit: request refused",
            json!({ "event": "rate_limited", "request_id": ctx.request_id, "account_id": account, "limit": limit }),
        );
        Err(ApiError::RateLimited { retry_after_secs: verdict.reset_secs.max(1), limit })
    }
}

/// The outer gate for unauthenticated routes: per client IP, through Cloudflare's Rate Limiting binding.
/// Without the binding (or when it fails) the request goes on.
pub async fn per_client_ip(req: &Request, ctx: &RequestCtx<'_>) -> Result<(), ApiError> {
    if !ctx.cfg.feature("FF_RATE_LIMITS_ENABLED") {
        return Ok(());
    }
    let Ok(limiter) = ctx.env.rate_limiter(bindings::IP_RATE_LIMITER) else { return Ok(()) };
    let ip = header(req, "CF-Connecting-IP").unwrap_or_else(|| "unknown".into());
    match limiter.limit(ip).await {
        Ok(outcome) if !outcome.success => {
            log::info("rate limit: client IP refused", json!({ "event": "rate_limited_ip", "request_id": ctx.request_id }));
            Err(ApiError::RateLimited { retry_after_secs: 60, limit: IP_LIMIT_PER_MINUTE })
        }
        Ok(_) => Ok(()),
        Err(e) => {
            log::warn("rate limit: IP limiter failed; allowing", json!({ "request_id": ctx.request_id, "error": e.to_string() }));
            Ok(())
        }
    }
}

/// The `[ratelimits.simple]` limit of `IP_RATE_LIMITER` in `wrangler.toml` (a host test keeps them equal).
pub const IP_LIMIT_PER_MINUTE: u32 = 300;

#[cfg(test)]
mod tests {
    #[test]
    fn the_ip_limit_matches_wrangler_toml() {
        let toml = include_str!("../../wrangler.toml");
        let block = toml.split("[[ratelimits]]").nth(1).expect("a [[ratelimits]] binding");
        assert!(block.contains(&format!("name = \"{}\"", super::bindings::IP_RATE_LIMITER)));
        assert!(block.contains(&format!("limit = {}", super::IP_LIMIT_PER_MINUTE)), "{block}");
        assert!(block.contains("period = 60"));
    }
}
