//! What a handler is given and gives back: the per-request context, the reply, and request helpers. The
//! pipeline (`crate::http`) builds the context and renders the reply; handlers never see the pipeline.

use crate::config::Config;
use crate::contract::body;
use crate::contract::envelope;
use crate::contract::error::ApiError;
use serde_json::Value;
use std::cell::RefCell;
use worker::{Env, Request, Response};

/// What a handler produces: `data` for the envelope and its status, or a fully-formed response
/// (for streams), plus extra headers.
pub enum Reply {
    Json {
        status: u16,
        data: Value,
        headers: Vec<(&'static str, String)>,
    },
    /// A non-2xx answer that still reports data (e.g. `/health` when degraded): `success: false`,
    /// the error's code and message, and `data` in `error.details`.
    Degraded {
        error: ApiError,
        data: Value,
    },
    /// A JSON document served bare, outside the envelope, for tools that consume it as-is
    /// (the OpenAPI document).
    Document(Value),
    /// A list in the envelope with its pagination block.
    List {
        data: Value,
        pagination: envelope::Pagination,
    },
    /// A Server-Sent Events stream (built by the handler, so its headers are mutable here).
    Stream(Response),
}

impl Reply {
    pub fn ok(data: Value) -> Reply {
        Reply::Json { status: 200, data, headers: vec![] }
    }
}

/// Per-request context handed to handlers.
pub struct RequestCtx<'a> {
    pub cfg: &'a Config,
    pub env: &'a Env,
    pub request_id: &'a str,
    pub params: Vec<String>,
    /// Header fields every answer to this request carries, errors included (e.g. `RateLimit-*`).
    pub response_headers: &'a RefCell<Vec<(&'static str, String)>>,
    /// Fields for the request's log line (`route`, `account_id`, `job_id`, `batch_id`).
    pub annotations: &'a RefCell<serde_json::Map<String, Value>>,
}

impl RequestCtx<'_> {
    /// Adds a field to the request's log line.
    pub fn annotate(&self, key: &str, value: impl Into<Value>) {
        self.annotations.borrow_mut().insert(key.to_string(), value.into());
    }
}

/// A request header's value, if present and readable.
pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Converts a body read into bytes, enforcing the cap on what is actually read.
pub async fn read_body(req: &mut Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = req.bytes().await.map_err(|e| ApiError::invalid(format!("could not read body: {e}")))?;
    body::check_read_length(bytes.len(), limit)?;
    Ok(bytes)
}
