//! Cloudflare Browser Rendering's REST API: one call per job attempt, classified by
//! [`crate::domain::browser::classify`]. The base URL and token are configuration only
//! (`BROWSER_RENDERING_URL`, `CLOUDFLARE_API_TOKEN`); locally they point at `scripts/browser-rendering-server.mjs`.

use crate::config::Config;
use crate::domain::browser::{classify, reject_patterns, request_for, Outcome, REQUEST_MARGIN_MS};
use crate::jobs::payloads::BrowserExtractPayload;
use crate::leads::profile::{parse_scrape, scrape_request, ScrapedProfile, SCRAPE_TIMEOUT_MS};
use serde_json::Value;
use worker::{Fetch, Headers, Method, Request, RequestInit};

/// A raw answer of the API.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    /// `X-Browser-Ms-Used`: the browser time the call was billed for.
    browser_ms: u64,
    json: Option<Value>,
}

async fn post(cfg: &Config, endpoint: &str, body: &Value, timeout_ms: u32) -> Result<Answer, Outcome> {
    let Some(token) = &cfg.cloudflare_api_token else {
        return Err(Outcome::ServiceFailure("CLOUDFLARE_API_TOKEN is not configured".into()));
    };
    if cfg.browser_rendering_url.is_empty() {
        return Err(Outcome::ServiceFailure("BROWSER_RENDERING_URL is not configured".into()));
    }
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    let _ = headers.set("Authorization", &format!("Bearer {}", token.expose()));
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let url = format!("{}{endpoint}", cfg.browser_rendering_url);
    let req = Request::new_with_init(&url, &init).map_err(|e| Outcome::ServiceFailure(format!("invalid BROWSER_RENDERING_URL: {e}")))?;
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout_ms + REQUEST_MARGIN_MS));
    let resp = match Fetch::Request(req).send_with_signal(&signal).await {
        Ok(r) => r,
        Err(_) if signal.aborted() => {
            return Err(Outcome::ServiceFailure(format!("browser rendering did not answer within {} ms", timeout_ms + REQUEST_MARGIN_MS)))
        }
        Err(e) => return Err(Outcome::ServiceFailure(format!("browser rendering unreachable: {e}"))),
    };
    let status = resp.status_code();
    let retry_after = resp.headers().get("Retry-After").ok().flatten();
    let browser_ms = resp.headers().get("X-Browser-Ms-Used").ok().flatten().and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0);
    let text = crate::platform::response_text(resp)
        .await
        .map_err(|e| Outcome::ServiceFailure(format!("reading the browser rendering answer: {e}")))?;
    Ok(Answer { status, retry_after, browser_ms: browser_ms.max(0.0) as u64, json: serde_json::from_str(&text).ok() })
}

pub async fn extract(cfg: &Config, p: &BrowserExtractPayload) -> Outcome {
    let (endpoint, body) = request_for(p, !cfg.ssrf_deny.is_empty());
    match post(cfg, endpoint, &body, p.timeout_ms).await {
        Ok(a) => classify(endpoint, a.status, a.retry_after.as_deref(), a.json.as_ref()),
        Err(o) => o,
    }
}

/// Reads a lead's profile page with `/scrape` (metadata and text in one call). `Err` carries the
/// classified failure, `Ok` the profile.
pub async fn scrape_profile(cfg: &Config, url: &str) -> Result<ScrapedProfile, Outcome> {
    let reject = if cfg.ssrf_deny.is_empty() { Vec::new() } else { reject_patterns(url) };
    let a = post(cfg, "/scrape", &scrape_request(url, reject), SCRAPE_TIMEOUT_MS).await?;
    match classify("/scrape", a.status, a.retry_after.as_deref(), a.json.as_ref()) {
        Outcome::Ok { .. } => a
            .json
            .as_ref()
            .and_then(|j| parse_scrape(url, &j["result"], crate::platform::now_ms(), a.browser_ms))
            .ok_or_else(|| Outcome::ServiceFailure("browser rendering /scrape answered without a result".into())),
        other => Err(other),
    }
}
