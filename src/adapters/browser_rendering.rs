//! Cloudflare Browser Rendering's REST API: one call per job attempt, classified by
//! [`crate::domain::browser::classify`]. The base URL and token are configuration only
//! (`BROWSER_RENDERING_URL`, `CLOUDFLARE_API_TOKEN`); locally they point at `scripts/browser-rendering-server.mjs`.

use crate::config::Config;
use crate::domain::browser::{classify, request_for, Outcome, REQUEST_MARGIN_MS};
use crate::jobs::payloads::BrowserExtractPayload;
use serde_json::Value;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub async fn extract(cfg: &Config, p: &BrowserExtractPayload) -> Outcome {
    let Some(token) = &cfg.cloudflare_api_token else {
        return Outcome::ServiceFailure("CLOUDFLARE_API_TOKEN is not configured".into());
    };
    if cfg.browser_rendering_url.is_empty() {
        return Outcome::ServiceFailure("BROWSER_RENDERING_URL is not configured".into());
    }
    let (endpoint, body) = request_for(p, !cfg.ssrf_deny.is_empty());
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Authorization", &format!("Bearer {}", token.expose()));
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let url = format!("{}{endpoint}", cfg.browser_rendering_url);
    let req = match Request::new_with_init(&url, &init) {
        Ok(r) => r,
        Err(e) => return Outcome::ServiceFailure(format!("invalid BROWSER_RENDERING_URL: {e}")),
    };
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(p.timeout_ms + REQUEST_MARGIN_MS));
    let mut resp = match Fetch::Request(req).send_with_signal(&signal).await {
        Ok(r) => r,
        Err(_) if signal.aborted() => {
            return Outcome::ServiceFailure(format!("browser rendering did not answer within {} ms", p.timeout_ms + REQUEST_MARGIN_MS))
        }
        Err(e) => return Outcome::ServiceFailure(format!("browser rendering unreachable: {e}")),
    };
    let status = resp.status_code();
    let retry_after = resp.headers().get("Retry-After").ok().flatten();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) => return Outcome::ServiceFailure(format!("reading the browser rendering answer: {e}")),
    };
    let json: Option<Value> = serde_json::from_str(&text).ok();
    classify(endpoint, status, retry_after.as_deref(), json.as_ref())
}
