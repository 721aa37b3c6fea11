//! Cloudflare AI Gateway's OpenAI-compatible chat completions (`AI_GATEWAY_*`, docs/adr/0018): one
//! request, bounded by `AI_TIMEOUT_MS`, classified by [`crate::leads::ai::classify`]. Locally the URL
//! points at `scripts/ai-server.mjs`.

use crate::config::AiConfig;
use crate::leads::ai::{classify, AiOutcome};
use serde_json::Value;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub async fn chat(cfg: &AiConfig, body: &Value) -> AiOutcome {
    if cfg.chat_url.is_empty() {
        return AiOutcome::Refused("AI Gateway is not configured (AI_GATEWAY_ACCOUNT_ID, AI_GATEWAY_ID)".into());
    }
    let headers = Headers::new();
    let _ = headers.set("Content-Type", "application/json");
    if let Some(key) = &cfg.api_key {
        let _ = headers.set("Authorization", &format!("Bearer {}", key.expose()));
    }
    if let Some(token) = &cfg.gateway_token {
        let _ = headers.set("cf-aig-authorization", &format!("Bearer {}", token.expose()));
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some(body.to_string().into()));
    let req = match Request::new_with_init(&cfg.chat_url, &init) {
        Ok(r) => r,
        Err(e) => return AiOutcome::Refused(format!("invalid AI Gateway URL: {e}")),
    };
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(cfg.timeout_ms));
    let resp = match Fetch::Request(req).send_with_signal(&signal).await {
        Ok(r) => r,
        Err(_) if signal.aborted() => {
            return AiOutcome::Unavailable(format!("the AI provider did not answer within {} ms", cfg.timeout_ms))
        }
        Err(e) => return AiOutcome::Unavailable(format!("the AI gateway is unreachable: {e}")),
    };
    let status = resp.status_code();
    let retry_after = resp.headers().get("Retry-After").ok().flatten();
    let text = match crate::platform::response_text(resp).await {
        Ok(t) => t,
        Err(e) => return AiOutcome::Unavailable(format!("reading the AI provider's answer: {e}")),
    };
    classify(status, retry_after.as_deref(), serde_json::from_str::<Value>(&text).ok().as_ref())
}
