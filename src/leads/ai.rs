//! The AI side of an analysis: one chat-completions request per [`Call`], each with a strict JSON schema
//! (`response_format: json_schema`), and the Worker's own validation of every answer before anything is
//! stored: a typed parse that refuses unknown fields, then ranges and lengths.
//!
//! Prompts put the business context first and identically in every call (the system message), then the
//! profile, then the call's task: providers cache the longest shared prefix (docs/adr/0018).

use super::profile::ScrapedProfile;
use super::Tier;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Longest text field of an answer, in characters.
const TEXT_MAX: usize = 2_000;
/// Largest list of an answer, and longest list item.
const LIST_MAX: usize = 12;
const ITEM_MAX: usize = 500;
/// `max_completion_tokens` per call.
pub const MAX_COMPLETION_TOKENS: u32 = 1_500;

/// One AI call of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Call {
    /// LIGHT: a quick fit score.
    Fit,
    /// DEEP and XRAY: the detailed assessment.
    Core,
    /// DEEP and XRAY: outreach suggestions.
    Outreach,
    /// XRAY: the psychographic deep dive.
    Psychographic,
}

impl Call {
    pub fn name(self) -> &'static str {
        match self {
            Call::Fit => "lead_fit",
            Call::Core => "lead_assessment",
            Call::Outreach => "lead_outreach",
            Call::Psychographic => "lead_psychographic",
        }
    }

    fn task(self) -> &'static str {
        match self {
            Call::Fit => "Score how well this lead fits the business (0-100) and say why in a few words: strengths and concerns.",
            Call::Core => {
                "Assess this lead in depth for the business: a fit score (0-100), a summary, strengths, concerns, buying signals \
                 and the approach you recommend."
            }
            Call::Outreach => "Suggest how to reach out to this lead: the channel, a subject line, an opening line and talking points.",
            Call::Psychographic => {
                "Describe this lead's psychographic profile as far as the public page supports it: personality traits, values, \
                 communication style, decision drivers and risk tolerance."
            }
        }
    }

    /// The strict JSON schema of this call's answer (OpenAI structured outputs: every property required,
    /// no additional properties).
    pub fn schema(self) -> Value {
        let text = json!({ "type": "string" });
        let list = json!({ "type": "array", "items": { "type": "string" } });
        let score = json!({ "type": "integer", "minimum": 0, "maximum": 100 });
        let (props, required): (Value, Vec<&str>) = match self {
            Call::Fit => (
                json!({ "fit_score": score, "summary": text, "strengths": list, "concerns": list }),
                vec!["fit_score", "summary", "strengths", "concerns"],
            ),
            Call::Core => (
                json!({ "fit_score": score, "summary": text, "strengths": list, "concerns": list, "buying_signals": list,
                        "recommended_approach": text }),
                vec!["fit_score", "summary", "strengths", "concerns", "buying_signals", "recommended_approach"],
            ),
            Call::Outreach => (
                json!({ "channel": { "type": "string", "enum": ["email", "linkedin", "phone", "other"] }, "subject": text,
                        "opening_line": text, "talking_points": list }),
                vec!["channel", "subject", "opening_line", "talking_points"],
            ),
            Call::Psychographic => (
                json!({ "personality_traits": list, "values": list, "communication_style": text, "decision_drivers": list,
                        "risk_tolerance": { "type": "string", "enum": ["low", "medium", "high"] } }),
                vec!["personality_traits", "values", "communication_style", "decision_drivers", "risk_tolerance"],
            ),
        };
        json!({ "type": "object", "properties": props, "required": required, "additionalProperties": false })
    }
}

/// What the prompt says about the user's business.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BusinessContext {
    pub name: String,
    pub description: String,
    #[serde(default)]
    pub ideal_customer: String,
    #[serde(default)]
    pub website: Option<String>,
}

fn system_prompt(b: &BusinessContext) -> String {
    let mut s = format!(
        "You are a B2B sales analyst. You assess leads for the business below from their public profile page, and you answer \
         only with JSON that matches the given schema. Base every statement on the page; say so when it does not tell.\n\n\
         Business: {}\nWhat it offers: {}\n",
        b.name, b.description
    );
    if !b.ideal_customer.is_empty() {
        s.push_str(&format!("Ideal customer: {}\n", b.ideal_customer));
    }
    if let Some(w) = &b.website {
        s.push_str(&format!("Website: {w}\n"));
    }
    s
}

fn profile_prompt(p: &ScrapedProfile, tier: Tier, call: Call) -> String {
    let text: String = p.text.chars().take(tier.text_budget_chars()).collect();
    format!(
        "Lead profile: {}\nName: {}\nHeadline: {}\nPage text:\n{}\n\nTask: {}",
        p.url,
        p.display_name.as_deref().unwrap_or("(unknown)"),
        p.headline.as_deref().unwrap_or("(none)"),
        text,
        call.task()
    )
}

/// The chat-completions request body of `call`.
pub fn request_body(model: &str, b: &BusinessContext, p: &ScrapedProfile, tier: Tier, call: Call) -> Value {
    json!({
        "model": model,
        "messages": [
            { "role": "system", "content": system_prompt(b) },
            { "role": "user", "content": profile_prompt(p, tier, call) },
        ],
        "response_format": { "type": "json_schema", "json_schema": { "name": call.name(), "strict": true, "schema": call.schema() } },
        "max_completion_tokens": MAX_COMPLETION_TOKENS,
    })
}

/// The repair request: the first request, the invalid answer, and what was wrong with it.
pub fn repair_body(first: &Value, invalid_content: &str, problem: &str) -> Value {
    let mut body = first.clone();
    if let Some(messages) = body["messages"].as_array_mut() {
        messages.push(json!({ "role": "assistant", "content": invalid_content }));
        messages.push(json!({
            "role": "user",
            "content": format!("That answer is invalid: {problem}. Answer again with JSON that matches the schema exactly."),
        }));
    }
    body
}

/// Token counts of one completion (`usage`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Prompt tokens the provider served from its cache (`prompt_tokens_details.cached_tokens`).
    #[serde(default)]
    pub cached_tokens: u64,
}

impl Usage {
    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            prompt_tokens: self.prompt_tokens + o.prompt_tokens,
            completion_tokens: self.completion_tokens + o.completion_tokens,
            cached_tokens: self.cached_tokens + o.cached_tokens,
        }
    }
}

/// A chat-completions answer reduced to what the Worker uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub content: Option<String>,
    pub refusal: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Usage,
}

/// Reads a 200 answer of `/chat/completions`; `None` if it is not that shape.
pub fn parse_completion(body: &Value) -> Option<Completion> {
    let choice = body["choices"].as_array()?.first()?;
    let message = choice.get("message")?;
    let u = &body["usage"];
    Some(Completion {
        content: message["content"].as_str().map(String::from),
        refusal: message["refusal"].as_str().map(String::from),
        finish_reason: choice["finish_reason"].as_str().map(String::from),
        usage: Usage {
            prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
            completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
            cached_tokens: u["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap_or(0),
        },
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fit {
    pub fit_score: u8,
    pub summary: String,
    pub strengths: Vec<String>,
    pub concerns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    pub fit_score: u8,
    pub summary: String,
    pub strengths: Vec<String>,
    pub concerns: Vec<String>,
    pub buying_signals: Vec<String>,
    pub recommended_approach: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Email,
    Linkedin,
    Phone,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outreach {
    pub channel: Channel,
    pub subject: String,
    pub opening_line: String,
    pub talking_points: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Psychographic {
    pub personality_traits: Vec<String>,
    pub values: Vec<String>,
    pub communication_style: String,
    pub decision_drivers: Vec<String>,
    pub risk_tolerance: Level,
}

/// One validated answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Fit(Fit),
    Assessment(Assessment),
    Outreach(Outreach),
    Psychographic(Psychographic),
}

fn text_ok(field: &str, s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err(format!("{field} is empty"));
    }
    if s.chars().count() > TEXT_MAX || s.contains('\0') {
        return Err(format!("{field} is longer than {TEXT_MAX} characters"));
    }
    Ok(())
}

fn list_ok(field: &str, v: &[String]) -> Result<(), String> {
    if v.len() > LIST_MAX {
        return Err(format!("{field} has more than {LIST_MAX} items"));
    }
    for (i, s) in v.iter().enumerate() {
        if s.trim().is_empty() || s.chars().count() > ITEM_MAX || s.contains('\0') {
            return Err(format!("{field}[{i}] must be 1 to {ITEM_MAX} characters"));
        }
    }
    Ok(())
}

fn score_ok(n: u8) -> Result<(), String> {
    if n > 100 {
        return Err(format!("fit_score {n} is outside 0-100"));
    }
    Ok(())
}

/// Validates `content` as `call`'s answer: JSON, exactly the schema's fields, ranges and lengths.
/// The error says what is wrong (it goes back to the model in the repair request).
pub fn validate(call: Call, content: &str) -> Result<Answer, String> {
    let v: Value = serde_json::from_str(content).map_err(|e| format!("not valid JSON ({e})"))?;
    let typed = |e: serde_json::Error| format!("does not match the schema ({e})");
    match call {
        Call::Fit => {
            let a: Fit = serde_json::from_value(v).map_err(typed)?;
            score_ok(a.fit_score)?;
            text_ok("summary", &a.summary)?;
            list_ok("strengths", &a.strengths)?;
            list_ok("concerns", &a.concerns)?;
            Ok(Answer::Fit(a))
        }
        Call::Core => {
            let a: Assessment = serde_json::from_value(v).map_err(typed)?;
            score_ok(a.fit_score)?;
            text_ok("summary", &a.summary)?;
            text_ok("recommended_approach", &a.recommended_approach)?;
            list_ok("strengths", &a.strengths)?;
            list_ok("concerns", &a.concerns)?;
            list_ok("buying_signals", &a.buying_signals)?;
            Ok(Answer::Assessment(a))
        }
        Call::Outreach => {
            let a: Outreach = serde_json::from_value(v).map_err(typed)?;
            text_ok("subject", &a.subject)?;
            text_ok("opening_line", &a.opening_line)?;
            list_ok("talking_points", &a.talking_points)?;
            Ok(Answer::Outreach(a))
        }
        Call::Psychographic => {
            let a: Psychographic = serde_json::from_value(v).map_err(typed)?;
            text_ok("communication_style", &a.communication_style)?;
            list_ok("personality_traits", &a.personality_traits)?;
            list_ok("values", &a.values)?;
            list_ok("decision_drivers", &a.decision_drivers)?;
            Ok(Answer::Psychographic(a))
        }
    }
}

/// The structured result of an analysis (`Analysis.result` in docs/openapi.json).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnalysisResult {
    pub fit_score: u8,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<Fit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outreach: Option<Outreach>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psychographic: Option<Psychographic>,
}

impl AnalysisResult {
    /// Combines a tier's answers (one per call, each validated).
    pub fn combine(answers: Vec<Answer>) -> AnalysisResult {
        let mut r = AnalysisResult::default();
        for a in answers {
            match a {
                Answer::Fit(f) => {
                    r.fit_score = f.fit_score;
                    r.summary = f.summary.clone();
                    r.fit = Some(f);
                }
                Answer::Assessment(a) => {
                    r.fit_score = a.fit_score;
                    r.summary = a.summary.clone();
                    r.assessment = Some(a);
                }
                Answer::Outreach(o) => r.outreach = Some(o),
                Answer::Psychographic(p) => r.psychographic = Some(p),
            }
        }
        r
    }
}

/// How one chat-completions request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AiOutcome {
    Ok(Completion),
    /// 429: the provider or the gateway is rate limiting; `Retry-After` (seconds), default 10.
    RateLimited {
        retry_after_secs: u32,
        message: String,
    },
    /// 5xx, a timeout or a network error: worth another attempt.
    Unavailable(String),
    /// 401/403: the gateway or provider refused the credentials (configuration, not the request).
    Refused(String),
    /// Another 4xx: the request itself was refused; retrying cannot help.
    Rejected(String),
}

impl AiOutcome {
    /// The `ai-provider` circuit breaker's verdict: the provider failing counts, our request being
    /// refused does not, and rate limits say nothing about its health.
    pub fn breaker_verdict(&self) -> Option<bool> {
        match self {
            AiOutcome::Ok(_) | AiOutcome::Rejected(_) => Some(true),
            AiOutcome::Unavailable(_) | AiOutcome::Refused(_) => Some(false),
            AiOutcome::RateLimited { .. } => None,
        }
    }
}

fn error_message(body: Option<&Value>) -> String {
    let b = match body {
        Some(b) => b,
        None => return String::new(),
    };
    // OpenAI: {error: {message}}; AI Gateway: {success: false, error: [{message}]}.
    b["error"]["message"]
        .as_str()
        .or_else(|| b["error"][0]["message"].as_str())
        .or_else(|| b["errors"][0]["message"].as_str())
        .map(|m| format!(": {}", m.chars().take(300).collect::<String>()))
        .unwrap_or_default()
}

/// Classifies a chat-completions answer.
pub fn classify(status: u16, retry_after: Option<&str>, body: Option<&Value>) -> AiOutcome {
    let msg = error_message(body);
    match status {
        200 => match body.and_then(parse_completion) {
            Some(c) => AiOutcome::Ok(c),
            None => AiOutcome::Unavailable("the AI provider answered 200 without a completion".into()),
        },
        429 => AiOutcome::RateLimited {
            retry_after_secs: crate::domain::browser::retry_after_secs(retry_after, 10),
            message: format!("the AI provider is rate limiting (HTTP 429){msg}"),
        },
        401 | 403 => AiOutcome::Refused(format!(
            "the AI gateway refused the credentials (HTTP {status}){msg}: check AI_PROVIDER_API_KEY and AI_GATEWAY_TOKEN"
        )),
        400..=499 => AiOutcome::Rejected(format!("the AI provider rejected the request (HTTP {status}){msg}")),
        _ => AiOutcome::Unavailable(format!("the AI provider failed (HTTP {status}){msg}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> ScrapedProfile {
        ScrapedProfile {
            url: "https://p.example/ann".into(),
            display_name: Some("Ann".into()),
            headline: Some("CTO at Rockets".into()),
            image_url: None,
            text: "x".repeat(20_000),
            scraped_at_ms: 0.0,
            browser_ms: 0,
        }
    }

    fn business() -> BusinessContext {
        BusinessContext { name: "Acme".into(), description: "Rockets".into(), ideal_customer: "Space startups".into(), website: None }
    }

    #[test]
    fn schemas_are_strict() {
        for call in [Call::Fit, Call::Core, Call::Outreach, Call::Psychographic] {
            let s = call.schema();
            assert_eq!(s["additionalProperties"], false);
            let props: Vec<&String> = s["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> = s["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(props.len(), required.len(), "{} requires every property", call.name());
        }
    }

    #[test]
    fn prompts_share_the_business_prefix_and_respect_the_text_budget() {
        let a = request_body("m", &business(), &profile(), Tier::Deep, Call::Core);
        let b = request_body("m", &business(), &profile(), Tier::Deep, Call::Outreach);
        assert_eq!(a["messages"][0], b["messages"][0], "the system message is identical across calls");
        assert_eq!(a["response_format"]["json_schema"]["strict"], true);
        let light = request_body("m", &business(), &profile(), Tier::Light, Call::Fit);
        assert!(light["messages"][1]["content"].as_str().unwrap().len() < 4_000 + 500);
        let repair = repair_body(&a, "{}", "missing field");
        assert_eq!(repair["messages"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn answers_are_validated() {
        let ok = r#"{"fit_score": 80, "summary": "Good", "strengths": ["a"], "concerns": []}"#;
        assert!(matches!(validate(Call::Fit, ok), Ok(Answer::Fit(f)) if f.fit_score == 80));
        assert!(validate(Call::Fit, "not json").unwrap_err().contains("not valid JSON"));
        assert!(validate(Call::Fit, r#"{"fit_score": 101, "summary": "s", "strengths": [], "concerns": []}"#)
            .unwrap_err()
            .contains("0-100"));
        assert!(
            validate(Call::Fit, r#"{"fit_score": 1, "summary": "s", "strengths": [], "concerns": [], "x": 1}"#).is_err(),
            "unknown field"
        );
        assert!(validate(Call::Fit, r#"{"fit_score": 1, "summary": " ", "strengths": [], "concerns": []}"#).is_err(), "empty text");
        assert!(validate(Call::Outreach, r#"{"channel": "fax", "subject": "s", "opening_line": "o", "talking_points": []}"#).is_err());
        let many: Vec<String> = (0..13).map(|i| i.to_string()).collect();
        let body = json!({"fit_score": 1, "summary": "s", "strengths": many, "concerns": []}).to_string();
        assert!(validate(Call::Fit, &body).unwrap_err().contains("more than"));
    }

    #[test]
    fn provider_answers_are_classified() {
        let err = json!({"error": {"message": "Rate limit reached", "type": "requests"}});
        assert!(matches!(classify(429, Some("7"), Some(&err)), AiOutcome::RateLimited { retry_after_secs: 7, .. }));
        assert!(matches!(classify(503, None, None), AiOutcome::Unavailable(_)));
        assert!(
            matches!(classify(401, None, Some(&json!({"success": false, "error": [{"code": 2009, "message": "Unauthorized"}]}))), AiOutcome::Refused(m) if m.contains("Unauthorized"))
        );
        assert!(matches!(classify(400, None, Some(&err)), AiOutcome::Rejected(_)));
        assert!(matches!(classify(200, None, Some(&json!({}))), AiOutcome::Unavailable(_)));
        assert_eq!(classify(500, None, None).breaker_verdict(), Some(false));
        assert_eq!(classify(429, None, None).breaker_verdict(), None);
        assert_eq!(classify(400, None, None).breaker_verdict(), Some(true));
    }

    #[test]
    fn completions_are_read() {
        let body = json!({"choices": [{"message": {"content": "{}", "refusal": null}, "finish_reason": "stop"}],
                          "usage": {"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 4}}});
        let c = parse_completion(&body).unwrap();
        assert_eq!(c.usage, Usage { prompt_tokens: 10, completion_tokens: 5, cached_tokens: 4 });
        assert_eq!(c.content.as_deref(), Some("{}"));
        assert!(parse_completion(&json!({"choices": []})).is_none());
    }
}
