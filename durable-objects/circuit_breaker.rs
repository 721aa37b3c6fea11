//! CircuitBreaker: one Durable Object per guarded dependency (named by it, e.g. `browser-rendering`),
//! so every isolate shares one breaker state (docs/adr/0010). The policy is [`crate::domain::breaker`];
//! this object only persists it, stamps the clock and logs state changes.
//!
//! Internal routes (JSON bodies), reached only through [`crate::adapters::breaker`]:
//! - `POST /acquire` → `{allowed, probe, retry_in_ms?, state}`
//! - `POST /record {verdict: true|false|null, probe}` → `{state}`
//! - `POST /state` → `{state, reason?, consecutive_failures, opened_at?}`

use crate::config::breaker_policy;
use crate::domain::breaker::{Admission, Breaker, Policy, Transition};
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = crate::config::bindings::CIRCUIT_BREAKER;
const KEY: &str = "breaker";

#[durable_object]
pub struct CircuitBreaker {
    state: State,
    policy: Policy,
    /// The stored state, once read (this object is the only writer).
    cached: RefCell<Option<Breaker>>,
    /// Openings are reported (docs/observability.md).
    reporting: crate::config::Reporting,
}

#[derive(Deserialize)]
struct RecordReq {
    verdict: Option<bool>,
    #[serde(default)]
    probe: bool,
}

impl CircuitBreaker {
    async fn load(&self) -> Result<Breaker> {
        if let Some(b) = self.cached.borrow().clone() {
            return Ok(b);
        }
        let stored: Option<String> = self.state.storage().get(KEY).await?;
        let b: Breaker = stored.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
        *self.cached.borrow_mut() = Some(b.clone());
        Ok(b)
    }

    async fn save(&self, b: &Breaker) -> Result<()> {
        let text = serde_json::to_string(b).map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.state.storage().put(KEY, text).await?;
        *self.cached.borrow_mut() = Some(b.clone());
        Ok(())
    }

    fn log_transition(&self, name: &str, t: &Transition, b: &Breaker) {
        let fields = json!({
            "event": "circuit_state_change", "breaker": name, "from": t.from.as_str(), "to": t.to.as_str(),
            "reason": t.reason, "consecutive_failures": b.consecutive_failures,
        });
        match t.to.as_str() {
            "open" => {
                crate::log::error("circuit breaker opened", fields.clone());
                let report = crate::observability::sentry::Report::new(
                    crate::observability::sentry::Level::Error,
                    "circuit_opened",
                    format!("circuit breaker {name} opened: {}", t.reason),
                )
                .tag("breaker", name)
                .extra(fields);
                let reporting = self.reporting.clone();
                self.state.wait_until(async move { crate::adapters::sentry::send(&reporting, report).await });
            }
            "closed" => crate::log::info("circuit breaker closed", fields),
            _ => crate::log::warn("circuit breaker half-open", fields),
        }
    }
}

fn json_response(status: u16, v: &Value) -> Result<Response> {
    Ok(Response::from_json(v)?.with_status(status))
}

impl DurableObject for CircuitBreaker {
    fn new(state: State, env: Env) -> Self {
        CircuitBreaker { state, policy: breaker_policy(&env), cached: RefCell::new(None), reporting: crate::config::reporting(&env) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        let name = req.headers().get("x-breaker-name")?.unwrap_or_default();
        let body: Value = req.json().await.unwrap_or(Value::Null);
        let now = worker::Date::now().as_millis() as f64;
        let mut b = self.load().await?;
        match path.as_str() {
            "/acquire" => {
                let before = b.clone();
                let (admission, t) = b.acquire(now, &self.policy);
                if b != before {
                    self.save(&b).await?;
                }
                if let Some(t) = &t {
                    self.log_transition(&name, t, &b);
                }
                match admission {
                    Admission::Allowed { probe } => {
                        json_response(200, &json!({ "allowed": true, "probe": probe, "state": b.mode.as_str() }))
                    }
                    Admission::Refused { retry_in_ms } => json_response(
                        200,
                        &json!({
                            "allowed": false, "probe": false, "retry_in_ms": retry_in_ms, "state": b.mode.as_str(),
                        }),
                    ),
                }
            }
            "/record" => {
                let Ok(r) = serde_json::from_value::<RecordReq>(body) else {
                    return json_response(400, &json!({ "error": "verdict required" }));
                };
                let before = b.clone();
                let t = b.record(r.verdict, r.probe, now, &self.policy);
                if b != before {
                    self.save(&b).await?;
                }
                if let Some(t) = &t {
                    self.log_transition(&name, t, &b);
                }
                json_response(200, &json!({ "state": b.mode.as_str() }))
            }
            "/state" => json_response(
                200,
                &json!({
                    "state": b.observed_mode(now, &self.policy).as_str(),
                    "reason": b.reason,
                    "consecutive_failures": b.consecutive_failures,
                    "opened_at": (b.opened_at > 0.0).then_some(b.opened_at),
                }),
            ),
            _ => json_response(404, &json!({ "error": "not found" })),
        }
    }
}
