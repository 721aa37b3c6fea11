//! Jobs: the task-type registry with strict payload parsing, the queue envelope, list queries, retry
//! backoff and the SSE frame of a job (API.md "The job", "Server-Sent Events").

use super::error::ApiError;
use super::ssrf::DenyList;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Largest accepted `payload`, serialised.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// `http.request` results keep at most this much of the response body.
pub const MAX_RESULT_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const MAX_MAX_ATTEMPTS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskType {
    HttpRequest,
    BrowserExtractText,
}

/// Every task type's canonical name, for error messages.
pub const TASK_TYPE_NAMES: &str = "http.request, browser.extract_text (alias navigate_and_extract_text)";

impl TaskType {
    /// The registry. Unknown names are `None` (400 at submission). Aliases map to the canonical type,
    /// which is what is stored and queued.
    pub fn parse(name: &str) -> Option<TaskType> {
        match name {
            "http.request" => Some(TaskType::HttpRequest),
            "browser.extract_text" | "navigate_and_extract_text" => Some(TaskType::BrowserExtractText),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::HttpRequest => "http.request",
            TaskType::BrowserExtractText => "browser.extract_text",
        }
    }

    /// The queue producer binding a task type's envelopes go to.
    pub fn queue_binding(self) -> &'static str {
        match self {
            TaskType::HttpRequest => "JOBS_QUEUE",
            TaskType::BrowserExtractText => "BROWSER_JOBS_QUEUE",
        }
    }

    /// The feature flags that must all be on for this task type to be submitted or run.
    pub fn required_flags(self) -> &'static [&'static str] {
        match self {
            TaskType::HttpRequest => &[],
            TaskType::BrowserExtractText => &["FF_BROWSER_WORKER_ENABLED", "FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"],
        }
    }
}

/// The first of `task`'s required flags that is off, given the configured flags.
pub fn disabled_flag(task: TaskType, flags: &[(&'static str, bool)]) -> Option<&'static str> {
    task.required_flags().iter().copied().find(|f| !flags.iter().any(|(name, on)| name == f && *on))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Head,
    Post,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
        }
    }
}

/// A validated `http.request` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRequestPayload {
    pub url: String,
    pub method: HttpMethod,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub timeout_ms: u32,
}

pub const HTTP_TIMEOUT_MS: std::ops::RangeInclusive<i64> = 100..=30_000;
pub const HTTP_DEFAULT_TIMEOUT_MS: u32 = 10_000;
const MAX_HEADERS: usize = 32;
const MAX_REQUEST_BODY: usize = 16 * 1024;
/// Headers a job may not set: hop-by-hop, framing, and the platform's own.
const FORBIDDEN_HEADERS: &[&str] =
    &["host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "proxy-authorization"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpPayload {
    url: Option<Value>,
    method: Option<Value>,
    headers: Option<Value>,
    body: Option<Value>,
    timeout_ms: Option<Value>,
}

/// Collects field errors under `payload.<field>`.
struct Fields(Map<String, Value>);

impl Fields {
    fn bad(&mut self, field: &str, why: &str) {
        self.0.insert(format!("payload.{field}"), Value::from(why));
    }

    /// `timeout_ms`: absent means `default`; otherwise an integer within `range`.
    fn timeout(&mut self, raw: Option<Value>, range: std::ops::RangeInclusive<i64>, default: u32) -> Option<u32> {
        match raw {
            None => Some(default),
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Some(n as u32),
                _ => {
                    self.bad("timeout_ms", &format!("must be an integer from {} to {}", range.start(), range.end()));
                    None
                }
            },
        }
    }
}

/// Parses a URL for a job: http/https only, a host, no embedded credentials, at most 2,048 characters.
pub fn parse_job_url(raw: &str) -> Result<url::Url, &'static str> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    let u = url::Url::parse(raw).map_err(|_| "must be an absolute http or https URL")?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err("only http and https URLs are allowed");
    }
    if u.host().is_none() {
        return Err("must have a host");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not embed credentials");
    }
    Ok(u)
}

impl HttpRequestPayload {
    pub fn parse(payload: &Value, deny: &DenyList) -> Result<HttpRequestPayload, ApiError> {
        let raw: RawHttpPayload = strict(payload)?;
        let mut f = Fields(Map::new());
        let url = checked_url(raw.url.as_ref(), deny, &mut f);
        let method = match raw.method {
            None => Some(HttpMethod::Get),
            Some(v) => serde_json::from_value::<HttpMethod>(v).ok().or_else(|| {
                f.bad("method", "must be GET, HEAD or POST");
                None
            }),
        };
        let mut headers = BTreeMap::new();
        match raw.headers {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.len() <= MAX_HEADERS => {
                for (k, v) in m {
                    let name_ok = !k.is_empty()
                        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
                        && !FORBIDDEN_HEADERS.contains(&k.to_ascii_lowercase().as_str())
                        && !k.to_ascii_lowercase().starts_with("cf-");
                    match v.as_str() {
                        Some(s) if name_ok && s.len() <= 4096 && !s.contains(['\r', '\n', '\0']) => {
                            headers.insert(k, s.to_string());
                        }
                        _ => f.bad(&format!("headers.{k}"), "invalid or forbidden header"),
                    }
                }
            }
            Some(_) => f.bad("headers", "must be an object of at most 32 string headers"),
        }
        let body = match raw.body {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= MAX_REQUEST_BODY => Some(s),
            Some(_) => {
                f.bad("body", "must be a string of at most 16384 bytes");
                None
            }
        };
        if body.is_some() && method.is_some_and(|m| m != HttpMethod::Post) {
            f.bad("body", "only POST requests carry a body");
        }
        let timeout_ms = f.timeout(raw.timeout_ms, HTTP_TIMEOUT_MS, HTTP_DEFAULT_TIMEOUT_MS);
        if !f.0.is_empty() {
            return Err(ApiError::invalid_fields(f.0));
        }
        Ok(HttpRequestPayload {
            url: url.expect("checked").to_string(),
            method: method.expect("checked"),
            headers,
            body,
            timeout_ms: timeout_ms.expect("checked"),
        })
    }
}

/// A validated `browser.extract_text` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserExtractPayload {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for_selector: Option<String>,
    pub timeout_ms: u32,
}

pub const BROWSER_TIMEOUT_MS: std::ops::RangeInclusive<i64> = 1_000..=60_000;
pub const BROWSER_DEFAULT_TIMEOUT_MS: u32 = 30_000;
const MAX_SELECTOR_CHARS: usize = 512;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBrowserPayload {
    url: Option<Value>,
    selector: Option<Value>,
    wait_for_selector: Option<Value>,
    timeout_ms: Option<Value>,
}

/// Parses a payload object strictly: unknown fields are named, anything else is "must be an object".
fn strict<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, ApiError> {
    serde_json::from_value(payload.clone()).map_err(|e| {
        let msg = e.to_string();
        let mut f = Fields(Map::new());
        match msg.split('`').nth(1) {
            Some(name) if msg.starts_with("unknown field") => f.bad(name, "unknown field"),
            _ => {
                f.0.insert("payload".into(), Value::from("must be an object"));
            }
        }
        ApiError::invalid_fields(f.0)
    })
}

/// A job URL that must also pass the deny-list.
fn checked_url(raw: Option<&Value>, deny: &DenyList, f: &mut Fields) -> Option<url::Url> {
    match raw.and_then(Value::as_str) {
        None => {
            f.bad("url", "required string");
            None
        }
        Some(s) => match parse_job_url(s) {
            Err(why) => {
                f.bad("url", why);
                None
            }
            Ok(u) if !deny.allows(&u) => {
                f.bad("url", "destination not allowed (private, loopback or internal address)");
                None
            }
            Ok(u) => Some(u),
        },
    }
}

impl BrowserExtractPayload {
    pub fn parse(payload: &Value, deny: &DenyList) -> Result<BrowserExtractPayload, ApiError> {
        let raw: RawBrowserPayload = strict(payload)?;
        let mut f = Fields(Map::new());
        let url = checked_url(raw.url.as_ref(), deny, &mut f);
        let mut selector_field = |name: &str, v: Option<Value>| -> Option<String> {
            match v {
                None | Some(Value::Null) => None,
                Some(Value::String(s))
                    if !s.trim().is_empty() && s.chars().count() <= MAX_SELECTOR_CHARS && !s.chars().any(char::is_control) =>
                {
                    Some(s)
                }
                Some(_) => {
                    f.bad(name, "must be a non-empty CSS selector of at most 512 characters");
                    None
                }
            }
        };
        let selector = selector_field("selector", raw.selector);
        let wait_for_selector = selector_field("wait_for_selector", raw.wait_for_selector);
        let timeout_ms = f.timeout(raw.timeout_ms, BROWSER_TIMEOUT_MS, BROWSER_DEFAULT_TIMEOUT_MS);
        if !f.0.is_empty() {
            return Err(ApiError::invalid_fields(f.0));
        }
        Ok(BrowserExtractPayload {
            url: url.expect("checked").to_string(),
            selector,
            wait_for_selector,
            timeout_ms: timeout_ms.expect("checked"),
        })
    }
}

/// `POST /api/v1/jobs` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    pub task_type: String,
    pub payload: Value,
    #[serde(default)]
    pub max_attempts: Option<i64>,
}

/// A submission that passed validation: the canonical payload is what is stored and queued.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSubmission {
    pub task_type: TaskType,
    pub payload: Value,
    pub max_attempts: u32,
}

impl SubmitJob {
    pub fn validate(self, deny: &DenyList) -> Result<ValidSubmission, ApiError> {
        let task_type = TaskType::parse(&self.task_type).ok_or_else(|| {
            let mut f = Map::new();
            f.insert("task_type".into(), Value::from(format!("unknown task type; known: {TASK_TYPE_NAMES}")));
            ApiError::invalid_fields(f)
        })?;
        let max_attempts = match self.max_attempts {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(n) if (1..=MAX_MAX_ATTEMPTS as i64).contains(&n) => n as u32,
            Some(_) => {
                let mut f = Map::new();
                f.insert("max_attempts".into(), Value::from("must be an integer from 1 to 10"));
                return Err(ApiError::invalid_fields(f));
            }
        };
        if self.payload.to_string().len() > MAX_PAYLOAD_BYTES {
            let mut f = Map::new();
            f.insert("payload".into(), Value::from(format!("must be at most {MAX_PAYLOAD_BYTES} bytes")));
            return Err(ApiError::invalid_fields(f));
        }
        let payload = match task_type {
            TaskType::HttpRequest => serde_json::to_value(HttpRequestPayload::parse(&self.payload, deny)?).expect("serialisable"),
            TaskType::BrowserExtractText => serde_json::to_value(BrowserExtractPayload::parse(&self.payload, deny)?).expect("serialisable"),
        };
        Ok(ValidSubmission { task_type, payload, max_attempts })
    }
}

/// `Idempotency-Key`: 1..=255 visible ASCII characters.
pub fn parse_idempotency_key(v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(Some(k.to_string())),
        Some(_) => {
            let mut f = Map::new();
            f.insert("Idempotency-Key".into(), Value::from("must be 1 to 255 visible ASCII characters"));
            Err(ApiError::invalid_fields(f))
        }
    }
}

/// The message a queue carries (API.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnvelope {
    pub job_id: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub correlation_id: String,
    pub task_type: String,
    pub payload: Value,
    pub meta: EnvelopeMeta,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeMeta {
    pub enqueue_ts: String,
    pub user_id: String,
    pub account_id: String,
    pub source: String,
}

/// `GET /api/v1/jobs` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: u32,
    pub page_size: u32,
    pub status: Option<String>,
    pub task_type: Option<String>,
}

pub const STATUSES: &[&str] = &["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"];

impl ListQuery {
    pub fn parse<'a>(pairs: impl Iterator<Item = (String, String)> + 'a) -> Result<ListQuery, ApiError> {
        let mut q = ListQuery { page: 1, page_size: 50, status: None, task_type: None };
        let mut f = Map::new();
        for (k, v) in pairs {
            match k.as_str() {
                "page" => match v.parse::<u32>() {
                    Ok(n) if n >= 1 => q.page = n,
                    _ => {
                        f.insert("page".into(), Value::from("must be an integer >= 1"));
                    }
                },
                "page_size" => match v.parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => q.page_size = n,
                    _ => {
                        f.insert("page_size".into(), Value::from("must be an integer from 1 to 100"));
                    }
                },
                "status" if STATUSES.contains(&v.as_str()) => q.status = Some(v),
                "status" => {
                    f.insert("status".into(), Value::from("must be one of PENDING, RUNNING, COMPLETED, FAILED, CANCELLED"));
                }
                "task_type" if TaskType::parse(&v).is_some() => q.task_type = Some(v),
                "task_type" => {
                    f.insert("task_type".into(), Value::from("unknown task type"));
                }
                other => {
                    f.insert(other.to_string(), Value::from("unknown query parameter"));
                }
            }
        }
        if f.is_empty() {
            Ok(q)
        } else {
            Err(ApiError::invalid_fields(f))
        }
    }

    pub fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.page_size as u64
    }
}

/// Delay before redelivering attempt `attempt` (1-based) that failed: exponential from `base_secs`,
/// capped at `max_secs`, plus up to one `base_secs` of jitter (`jitter` in [0, 1)).
pub fn retry_delay_secs(attempt: u32, base_secs: u32, max_secs: u32, jitter: f64) -> u32 {
    let exp = base_secs.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX));
    exp.min(max_secs) + (jitter.clamp(0.0, 0.999) * base_secs as f64) as u32
}

pub fn is_terminal(status: &str) -> bool {
    matches!(status, "COMPLETED" | "FAILED" | "CANCELLED")
}

/// The `data` of an SSE `job` frame, from a job row.
pub fn frame_data(job: &Value) -> Value {
    json!({
        "id": job["id"], "status": job["status"], "progress": job["progress"], "step": job["step"],
        "attempts": job["attempts"], "updated_at": job["updated_at"], "last_error": job["last_error"],
        "failure_reason": job["failure_reason"],
    })
}

/// One SSE frame.
pub fn sse_frame(id: i64, event: &str, data: &Value) -> String {
    // serde_json's compact output never contains a newline, so one `data:` line is enough.
    format!("id: {id}\nevent: {event}\ndata: {data}\n\n")
}

/// The public job object (API.md): the row without internal columns.
pub fn public_job(row: &Value) -> Value {
    let mut j = row.clone();
    if let Some(o) = j.as_object_mut() {
        for k in ["account_id", "user_id", "idempotency_key", "cancel_requested_at"] {
            o.remove(k);
        }
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ssrf::DEFAULT_DENY;

    fn open() -> DenyList {
        DenyList::default()
    }

    fn submit(v: Value) -> Result<ValidSubmission, ApiError> {
        let s: SubmitJob = serde_json::from_value(v).map_err(|e| ApiError::invalid(e.to_string()))?;
        s.validate(&open())
    }

    fn field_errors(r: Result<ValidSubmission, ApiError>) -> Value {
        let e = r.unwrap_err();
        assert_eq!(e.status(), 400, "{e:?}");
        e.details()["fields"].clone()
    }

    #[test]
    fn a_minimal_http_request_gets_defaults() {
        let v = submit(json!({"task_type": "http.request", "payload": {"url": "https://example.com/x"}})).unwrap();
        assert_eq!(v.task_type, TaskType::HttpRequest);
        assert_eq!(v.max_attempts, 3);
        assert_eq!(v.payload, json!({"url": "https://example.com/x", "method": "GET", "timeout_ms": 10000}));
    }

    #[test]
    fn bad_submissions_name_their_fields() {
        let f = field_errors(submit(json!({"task_type": "nope", "payload": {}})));
        assert!(f["task_type"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "extra": 1}})));
        assert!(f["payload.extra"].is_string(), "{f}");
        for url in ["ftp://a.b/x", "javascript:alert(1)", "not a url", "https://user:pw@a.b/", "file:///etc/passwd"] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": url}})));
            assert!(f["payload.url"].is_string(), "{url}: {f}");
        }
        for t in [-1, 0, 99, 30_001] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "timeout_ms": t}})));
            assert!(f["payload.timeout_ms"].is_string(), "{t}");
        }
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "method": "DELETE"}})));
        assert!(f["payload.method"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "body": "x"}})));
        assert!(f["payload.body"].is_string(), "a GET with a body");
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "headers": {"Host": "evil"}}})));
        assert!(f["payload.headers.Host"].is_string(), "{f}");
        for n in [0, 11, -3] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b"}, "max_attempts": n})));
            assert!(f["max_attempts"].is_string());
        }
        let big = "x".repeat(MAX_PAYLOAD_BYTES);
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.b", "body": big}})));
        assert!(f["payload"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": []})));
        assert!(f["payload"].is_string(), "{f}");
    }

    #[test]
    fn browser_payloads_are_strict_and_the_alias_maps_to_the_canonical_type() {
        let v =
            submit(json!({"task_type": "navigate_and_extract_text", "payload": {"url": "https://a.b/x", "selector": "#main"}})).unwrap();
        assert_eq!(v.task_type, TaskType::BrowserExtractText);
        assert_eq!(v.task_type.as_str(), "browser.extract_text");
        assert_eq!(v.payload, json!({"url": "https://a.b/x", "selector": "#main", "timeout_ms": 30000}));
        let v = submit(
            json!({"task_type": "browser.extract_text", "payload": {"url": "http://a.b", "wait_for_selector": ".x", "timeout_ms": 1000}}),
        )
        .unwrap();
        assert_eq!(v.payload["wait_for_selector"], ".x");
        for url in ["ftp://a.b/x", "javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd"] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": url}})));
            assert!(f["payload.url"].is_string(), "{url}: {f}");
        }
        for t in [json!(999), json!(60_001), json!(0), json!("5000"), json!(1.5)] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.b", "timeout_ms": t}})));
            assert!(f["payload.timeout_ms"].is_string(), "{t}");
        }
        let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.b", "script": "x"}})));
        assert!(f["payload.script"].is_string(), "{f}");
        for sel in [json!(""), json!("  "), json!(5), json!("a\nb"), json!("x".repeat(513))] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.b", "selector": sel}})));
            assert!(f["payload.selector"].is_string(), "{f}");
        }
    }

    #[test]
    fn flags_gate_only_the_task_types_that_need_them() {
        let on = [("FF_BROWSER_WORKER_ENABLED", true), ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", true)];
        assert_eq!(disabled_flag(TaskType::BrowserExtractText, &on), None);
        assert_eq!(disabled_flag(TaskType::HttpRequest, &[]), None);
        let worker_off = [("FF_BROWSER_WORKER_ENABLED", false), ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", true)];
        assert_eq!(disabled_flag(TaskType::BrowserExtractText, &worker_off), Some("FF_BROWSER_WORKER_ENABLED"));
        let task_off = [("FF_BROWSER_WORKER_ENABLED", true), ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", false)];
        assert_eq!(disabled_flag(TaskType::BrowserExtractText, &task_off), Some("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"));
        for t in [TaskType::HttpRequest, TaskType::BrowserExtractText] {
            for f in t.required_flags() {
                assert!(crate::config::FEATURE_FLAGS.iter().any(|(n, _)| n == f), "{f} is reported by /health");
            }
        }
    }

    #[test]
    fn the_deny_list_applies_at_submission() {
        let deny = DenyList::parse(DEFAULT_DENY).unwrap();
        let s: SubmitJob =
            serde_json::from_value(json!({"task_type": "http.request", "payload": {"url": "http://169.254.169.254/"}})).unwrap();
        let e = s.validate(&deny).unwrap_err();
        assert!(e.details()["fields"]["payload.url"].as_str().unwrap().contains("not allowed"));
    }

    #[test]
    fn envelope_round_trips() {
        let e = JobEnvelope {
            job_id: "j".into(),
            attempt: 0,
            max_attempts: 3,
            correlation_id: "c".into(),
            task_type: "http.request".into(),
            payload: json!({"url": "https://a.b"}),
            meta: EnvelopeMeta { enqueue_ts: "t".into(), user_id: "u".into(), account_id: "a".into(), source: "api".into() },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["meta"]["source"], "api");
        assert_eq!(serde_json::from_value::<JobEnvelope>(v).unwrap(), e);
    }

    #[test]
    fn list_query_defaults_caps_and_rejects() {
        let q = ListQuery::parse(std::iter::empty()).unwrap();
        assert_eq!((q.page, q.page_size), (1, 50));
        let q = ListQuery::parse(vec![("page".into(), "3".into()), ("page_size".into(), "20".into())].into_iter()).unwrap();
        assert_eq!(q.offset(), 40);
        for (k, v) in [("page", "0"), ("page_size", "101"), ("page_size", "x"), ("status", "DONE"), ("sort", "id")] {
            assert!(ListQuery::parse(vec![(k.to_string(), v.to_string())].into_iter()).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        assert_eq!(retry_delay_secs(1, 5, 300, 0.0), 5);
        assert_eq!(retry_delay_secs(2, 5, 300, 0.0), 10);
        assert_eq!(retry_delay_secs(3, 5, 300, 0.0), 20);
        assert_eq!(retry_delay_secs(30, 5, 300, 0.0), 300);
        assert_eq!(retry_delay_secs(1, 5, 300, 0.99), 9);
    }

    #[test]
    fn sse_frames_are_single_data_lines() {
        let f = sse_frame(42, "job", &json!({"id": "x", "last_error": "a\nb"}));
        assert_eq!(f, "id: 42\nevent: job\ndata: {\"id\":\"x\",\"last_error\":\"a\\nb\"}\n\n");
    }
}
