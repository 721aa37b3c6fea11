//! `http.request`: one HTTP request with a timeout. Result `{status, headers, body, encoding, truncated}`
//! with the body cut at 64 KiB (`truncated` says so). A body that is text is stored as it is
//! (`encoding: "utf-8"`); anything else (invalid UTF-8, or NUL characters, which Postgres `jsonb` refuses)
//! is stored base64 (`encoding: "base64"`), so every result can be stored. 5xx, timeouts and network errors are retryable; 4xx is final.
//! Redirects are not followed (the 3xx is the result), so a redirect cannot lead past the SSRF checks.

use super::TaskError;
use crate::jobs::payloads::{HttpRequestPayload, MAX_RESULT_BODY_BYTES};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use worker::{Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

pub async fn run(p: &HttpRequestPayload) -> Result<Value, TaskError> {
    let headers = Headers::new();
    for (k, v) in &p.headers {
        headers.set(k, v).map_err(|e| TaskError::Final(format!("invalid header {k}: {e}")))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::from(p.method.as_str().to_string())).with_headers(headers).with_redirect(RequestRedirect::Manual);
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
    let (body, encoding) = encode_body(&body, truncated);
    Ok(json!({
        "status": status,
        "headers": out_headers,
        "body": body,
        "encoding": encoding,
        "truncated": truncated,
    }))
}

/// A body as text when it is UTF-8 without NUL characters, else base64. A body cut at the size limit
/// may end inside a character: that partial character is dropped rather than the text given up.
pub fn encode_body(bytes: &[u8], truncated: bool) -> (String, &'static str) {
    use base64::Engine;
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => Some(t),
        Err(e) if truncated && e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    match text {
        Some(t) if !t.contains('\0') => (t.to_string(), "utf-8"),
        _ => (base64::engine::general_purpose::STANDARD.encode(bytes), "base64"),
    }
}

#[cfg(test)]
mod tests {
    use super::encode_body;

    #[test]
    fn bodies_that_are_not_storable_text_are_base64() {
        assert_eq!(encode_body(b"hello", false), ("hello".to_string(), "utf-8"));
        assert_eq!(encode_body("é".as_bytes(), false), ("é".to_string(), "utf-8"));
        assert_eq!(encode_body(b"", false), (String::new(), "utf-8"));
        assert_eq!(encode_body(b"a\0b", false), ("YQBi".to_string(), "base64"), "NUL: jsonb refuses \\u0000");
        assert_eq!(encode_body(&[0x89, b'P', b'N', b'G'], false), ("iVBORw==".to_string(), "base64"), "binary");
        let cut = &"aé".as_bytes()[..2];
        assert_eq!(encode_body(cut, true), ("a".to_string(), "utf-8"), "a cut character is dropped");
        assert_eq!(encode_body(cut, false).1, "base64", "but an untruncated body that ends badly is not text");
    }
}
