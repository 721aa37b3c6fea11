//! The Worker's client for the `CircuitBreaker` Durable Object of one dependency.
//!
//! If the object itself cannot be reached, calls are allowed (fail open): the breaker protects the
//! dependency, and losing it must not stop all work. That is logged.

use crate::durable_objects::circuit_breaker::BINDING;
use crate::log;
use serde_json::{json, Value};
use worker::{Env, Method, Request, RequestInit, Stub};

/// Breaker names, one per guarded dependency.
pub const BROWSER_RENDERING: &str = "browser-rendering";
pub const STRIPE: &str = "stripe";
/// The AI provider behind AI Gateway (lead analyses).
pub const AI_PROVIDER: &str = "ai-provider";

pub struct BreakerClient {
    name: &'static str,
    stub: Option<Stub>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Allowed { probe: bool },
    Refused { retry_in_secs: u32 },
}

impl BreakerClient {
    pub fn new(env: &Env, name: &'static str) -> BreakerClient {
        let stub = env.durable_object(BINDING).and_then(|ns| ns.id_from_name(name)?.get_stub());
        if let Err(e) = &stub {
            log::error("breaker: binding unavailable; failing open", json!({ "breaker": name, "error": e.to_string() }));
        }
        BreakerClient { name, stub: stub.ok() }
    }

    async fn post(&self, path: &str, body: Value) -> Option<Value> {
        let stub = self.stub.as_ref()?;
        let mut init = RequestInit::new();
        let headers = worker::Headers::new();
        headers.set("x-breaker-name", self.name).ok()?;
        init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
        let req = Request::new_with_init(&format!("https://breaker{path}"), &init).ok()?;
        match stub.fetch_with_request(req).await {
            Ok(r) if r.status_code() == 200 => crate::platform::response_json(r).await,
            Ok(r) => {
                log::error("breaker: object refused", json!({ "breaker": self.name, "path": path, "status": r.status_code() }));
                None
            }
            Err(e) => {
                log::error("breaker: object unreachable", json!({ "breaker": self.name, "path": path, "error": e.to_string() }));
                None
            }
        }
    }

    pub async fn acquire(&self) -> Gate {
        match self.post("/acquire", json!({})).await {
            Some(v) if v["allowed"] == false => {
                let ms = v["retry_in_ms"].as_f64().unwrap_or(1000.0);
                Gate::Refused { retry_in_secs: ((ms / 1000.0).ceil() as u32).max(1) }
            }
            Some(v) => Gate::Allowed { probe: v["probe"] == true },
            None => Gate::Allowed { probe: false },
        }
    }

    /// `Some(true)` success, `Some(false)` failure, `None` no verdict.
    pub async fn record(&self, verdict: Option<bool>, probe: bool) {
        self.post("/record", json!({ "verdict": verdict, "probe": probe })).await;
    }

    /// `{state, reason, ...}`, or `None` when the object cannot be reached.
    pub async fn state(&self) -> Option<Value> {
        self.post("/state", json!({})).await
    }
}
