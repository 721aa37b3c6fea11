//! AccountLimiter: one Durable Object per account (named by the account id) that counts its requests, so
//! every isolate and location shares one exact window (docs/adr/0014). The policy is
//! [`crate::domain::rate_limit`]; this object only holds the window and stamps the clock.
//!
//! The window lives in memory: it is a minute long and the object stays alive while requests arrive, so
//! there is nothing worth a storage write per request. An evicted (idle) object starts with an empty
//! window, which only ever follows a quiet period.
//!
//! Internal route, reached only through [`crate::adapters::account_limiter`]:
//! - `POST /take {limit}` → `{allowed, limit, remaining, reset_secs}`

use crate::domain::rate_limit::SlidingWindow;
use serde::Deserialize;
use serde_json::json;
use std::cell::RefCell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = crate::config::bindings::ACCOUNT_LIMITER;

#[durable_object]
pub struct AccountLimiter {
    window: RefCell<SlidingWindow>,
}

#[derive(Deserialize)]
struct TakeReq {
    limit: u32,
}

impl DurableObject for AccountLimiter {
    fn new(_state: State, _env: Env) -> Self {
        AccountLimiter { window: RefCell::new(SlidingWindow::default()) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        if req.path() != "/take" {
            return Ok(Response::from_json(&json!({ "error": "not found" }))?.with_status(404));
        }
        let Ok(TakeReq { limit }) = req.json::<TakeReq>().await else {
            return Ok(Response::from_json(&json!({ "error": "limit required" }))?.with_status(400));
        };
        let verdict = self.window.borrow_mut().take(worker::Date::now().as_millis() as f64, limit);
        Response::from_json(&verdict)
    }
}
