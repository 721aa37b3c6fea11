//! `GET /health`: version, feature flags, a real database round trip through PostgREST, and the state of
//! the circuit breaker around Browser Rendering.
//!
//! 200 with `status: "ok"` when every required dependency answers; 503 `unavailable` with the same
//! report in `error.details` (`status: "degraded"`) when one does not, so load balancers and humans
//! read the same document. The database check calls `public.health_check()` as `anon`. Browser
//! Rendering is not required for the API: an open breaker shows in `checks.browser_rendering` ("open",
//! with `circuits.browser_rendering.reason`) without turning the status to degraded.
//!
//! `/health` is public, and each check costs three subrequests (PostgREST and two Durable Objects): an
//! isolate checks at most once per `HEALTH_CACHE_MS` (1 s by default) and answers from that check in
//! between, so a flood of probes cannot multiply into load on the database (docs/adr/0021).

use crate::adapters::breaker::{self, BreakerClient};
use crate::adapters::postgrest::Db;
use crate::adapters::rpc;
use crate::api::{Reply, RequestCtx};
use crate::contract::error::ApiError;
use crate::log;
use serde_json::{json, Map, Value};
use std::cell::RefCell;

thread_local! {
    /// The last check: when it was made (ms) and its report.
    static LAST: RefCell<Option<(f64, Value)>> = const { RefCell::new(None) };
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn get(ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    let now = crate::platform::now_ms();
    let fresh = |at: f64| now - at < f64::from(ctx.cfg.health_cache_ms);
    let report = match LAST.with(|l| l.borrow().as_ref().filter(|(at, _)| fresh(*at)).map(|(_, r)| r.clone())) {
        Some(r) => r,
        None => {
            let r = check(ctx).await;
            LAST.with(|l| *l.borrow_mut() = Some((now, r.clone())));
            r
        }
    };
    if report["status"] == "ok" {
        Ok(Reply::ok(report))
    } else {
        Ok(Reply::Degraded { error: ApiError::Unavailable { dependency: "database", retry_after_secs: 5 }, data: report })
    }
}

/// Checks the dependencies now.
async fn check(ctx: &RequestCtx<'_>) -> Value {
    let db = Db::anon(ctx.cfg);
    let browser = BreakerClient::new(ctx.env, breaker::BROWSER_RENDERING);
    let ai = BreakerClient::new(ctx.env, breaker::AI_PROVIDER);
    let (database, circuit, ai_circuit) = futures_util::join!(db.call(&rpc::HealthCheck {}), browser.state(), ai.state());
    let circuit = circuit.unwrap_or_else(|| json!({ "state": "unknown" }));
    let ai_circuit = ai_circuit.unwrap_or_else(|| json!({ "state": "unknown" }));
    let database_ok = match database {
        Ok(_) => true,
        Err(e) => {
            log::warn("health: database check failed", json!({ "request_id": ctx.request_id, "error": e.to_string() }));
            false
        }
    };
    let features: Map<String, Value> = ctx.cfg.features.iter().map(|(k, v)| ((*k).to_string(), Value::Bool(*v))).collect();
    json!({
        "status": if database_ok { "ok" } else { "degraded" },
        "version": VERSION,
        "environment": ctx.cfg.environment,
        "checks": {
            "database": if database_ok { "ok" } else { "error" },
            "browser_rendering": circuit["state"],
            "ai_provider": ai_circuit["state"],
        },
        "circuits": { "browser_rendering": circuit, "ai_provider": ai_circuit },
        "features": features,
    })
}
