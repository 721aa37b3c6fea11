//! `http.request`: one HTTP request with a timeout. Result `{status, headers, body}` with the body cut at
//! 64 KiB (`truncated` says so). 5xx, timeouts and network errors are retryable; 4xx is final.
//! Redirects are not followed (the 3xx is the result), so a redirect cannot lead past the SSRF checks.

use super::TaskError;
use crate::domain::jobs::{HttpRequestPayload, MAX_RESULT_BODY_BYTES};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

pub async fn run(p: &HttpRequestPayload) -> Result<Value, TaskError> {
    let headers = Headers::new();
    for (k, v) in &p.headers {
        headers.set(k, v).map_err(|e| TaskError::Final(format!("invalid header {k}: {e}")))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(p.method.as_str().to_string()))
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    if let Some(b) = &p.body {
        init.with_body(Some(b.as_str().into()));
    }
    let req = Request::new_with_init(&p.url, &init).map_err(|e| TaskError::Final(format!("invalid request: {e}")))?;
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(p.timeout_ms));
    let mut resp = match Fetch::Request(req).send_with_signal(&signal).await {
        Ok(r) => r,
        Err(_) if signal.aborted() => {
            return Err(TaskError::Retryable { message: format!("timed out after {} ms", p.timeout_ms), timeout: true })
        }
        Err(e) => return Err(TaskError::Retryable { message: format!("request failed: {e}"), timeout: false }),
    };
    let status = resp.status_code();
    if (500..=599).contains(&status) {
        return Err(TaskError::Retryable { message: format!("HTTP {status}"), timeout: false });
    }
    if (400..=499).contains(&status) {
        return Err(TaskError::Final(format!("HTTP {status}")));
    }
    let mut out_headers = Map::new();
    for (k, v) in resp.headers().entries() {
        if k != "set-cookie" {
            out_headers.insert(k, Value::from(v));
        }
    }
    let mut body = Vec::new();
    let mut truncated = false;
    if let Ok(mut stream) = resp.stream() {
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| TaskError::Retryable { message: format!("reading body: {e}"), timeout: signal.aborted() })?;
            let room = MAX_RESULT_BODY_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(json!({
        "status": status,
        "headers": out_headers,
        "body": String::from_utf8_lossy(&body),
        "truncated": truncated,
    }))
}
