//! Strict payload parsing for each task type, and the `POST /api/v1/jobs` body (API.md "Jobs"). A parsed
//! payload is canonical: it is what is stored and queued.

use super::task_types::{TaskType, TASK_TYPE_NAMES};
use crate::contract::error::ApiError;
use crate::domain::ssrf::DenyList;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest accepted `payload`, serialised.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// `http.request` results keep at most this much of the response body.
pub const MAX_RESULT_BODY_BYTES: usize = 64 * 1024;
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
pub const MAX_MAX_ATTEMPTS: u32 = 10;
/// Longest `Idempotency-Key` (the `jobs.idempotency_key` check constraint).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

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

/// A JSON number that is an integer (`3` or `3.0`, as JSON Schema's `integer` allows).
pub fn json_integer(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0).map(|f| f as i64))
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
            Some(v) => match json_integer(&v) {
                Some(n) if range.contains(&n) => Some(n as u32),
                _ => {
                    self.bad("timeout_ms", &format!("must be an integer from {} to {}", range.start(), range.end()));
                    None
                }
            },
        }
    }
}

fn all(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(ok)
}

/// A domain name as the contract spells it: labels of letters and digits joined by single hyphens,
/// at least two labels, the last one alphabetic (2-63 letters).
fn is_contract_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let (last, rest) = labels.split_last().expect("split yields one item");
    !rest.is_empty()
        && (2..=63).contains(&last.len())
        && all(last, |b| b.is_ascii_alphabetic())
        && rest.iter().all(|l| !l.is_empty() && l.split('-').all(|part| !part.is_empty() && all(part, |b| b.is_ascii_alphanumeric())))
}

/// A dotted-quad IPv4 address without leading zeros.
fn is_contract_ipv4(host: &str) -> bool {
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && all(o, |b| b.is_ascii_digit())
                && (o.len() == 1 || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// The job URL grammar of the contract (`HttpRequestPayload.url` in docs/openapi.json): `http` or `https`,
/// `://`, a domain name or IPv4 address, an optional port 1-65535, an optional path and query of URL
/// characters; no credentials, fragment, IPv6 literal or whitespace. Checked before the WHATWG parse so
/// the server accepts exactly what the published pattern accepts.
pub fn matches_url_grammar(raw: &str) -> bool {
    let Some(rest) = raw.strip_prefix("http://").or_else(|| raw.strip_prefix("https://")) else { return false };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && all(p, |b| b.is_ascii_digit())
            && !p.starts_with('0')
            && p.parse::<u32>().is_ok_and(|n| n <= 65_535)
    });
    let url_char = |b: u8| b.is_ascii_alphanumeric() || b"._~!$&'()*+,;=:@%/-".contains(&b);
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    port_ok
        && (is_contract_domain(host) || is_contract_ipv4(host))
        && all(path, url_char)
        && query.is_none_or(|q| all(q, |b| url_char(b) || b == b'?'))
}

/// Parses a URL for a job: the contract's grammar ([`matches_url_grammar`]), at most 2,048 characters,
/// and a WHATWG URL.
pub fn parse_job_url(raw: &str) -> Result<url::Url, &'static str> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    if !matches_url_grammar(raw) {
        return Err("must be an http or https URL with a domain name or IPv4 host, without credentials or a fragment");
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
                        Some(s) if name_ok && s.len() <= 4096 && s.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) => {
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

/// Parses a payload object strictly: unknown fields are named, a field given as `null` is refused (the
/// contract has no nullable payload field; leave it out for the default), anything else is "must be an
/// object".
fn strict<T: serde::de::DeserializeOwned>(payload: &Value) -> Result<T, ApiError> {
    if let Some(m) = payload.as_object() {
        let nulls: Map<String, Value> =
            m.iter().filter(|(_, v)| v.is_null()).map(|(k, _)| (format!("payload.{k}"), Value::from("must not be null"))).collect();
        if !nulls.is_empty() {
            return Err(ApiError::invalid_fields(nulls));
        }
    }
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
    pub max_attempts: Option<Value>,
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
        let max_attempts = match self.max_attempts.as_ref().map(json_integer) {
            None => DEFAULT_MAX_ATTEMPTS,
            Some(Some(n)) if (1..=MAX_MAX_ATTEMPTS as i64).contains(&n) => n as u32,
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
            TaskType::LeadAnalyze => {
                let mut f = Map::new();
                f.insert("task_type".into(), Value::from(super::task_types::LEAD_ANALYZE_ROUTE));
                return Err(ApiError::invalid_fields(f));
            }
        };
        Ok(ValidSubmission { task_type, payload, max_attempts })
    }
}

/// An idempotency key: 1..=255 visible ASCII characters.
fn is_idempotency_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN && k.bytes().all(|b| b.is_ascii_graphic())
}

const IDEMPOTENCY_KEY_RULE: &str = "must be 1 to 255 visible ASCII characters";

/// `Idempotency-Key`: 1..=255 visible ASCII characters.
pub fn parse_idempotency_key(v: Option<&str>) -> Result<Option<String>, ApiError> {
    match v {
        None => Ok(None),
        Some(k) if is_idempotency_key(k) => Ok(Some(k.to_string())),
        Some(_) => {
            let mut f = Map::new();
            f.insert("Idempotency-Key".into(), Value::from(IDEMPOTENCY_KEY_RULE));
            Err(ApiError::invalid_fields(f))
        }
    }
}

/// An idempotency key in a JSON body (a batch item's `idempotency_key`): a string by the same rule.
pub fn parse_idempotency_key_value(v: &Value) -> Result<String, &'static str> {
    match v.as_str() {
        Some(k) if is_idempotency_key(k) => Ok(k.to_string()),
        _ => Err(IDEMPOTENCY_KEY_RULE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ssrf::DEFAULT_DENY;
    use crate::jobs::task_types::disabled_flag;
    use serde_json::json;

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
    fn the_url_grammar_is_the_published_pattern() {
        for ok in [
            "http://a.bc",
            "https://example.com/path?q=1&r=%20",
            "http://127.0.0.1:8080/ok/x",
            "https://sub-domain.example.co.uk:443/a/b/?c?d",
            "http://1.2.3.4",
        ] {
            assert!(matches_url_grammar(ok), "{ok}");
            assert!(parse_job_url(ok).is_ok(), "every URL the grammar accepts parses: {ok}");
        }
        for bad in [
            "ftp://example.com/",
            "HTTP://example.com/",
            "http://example/",
            "http://example.c0m/",
            "http://-a.com/",
            "http://a--b.com/",
            "http://user:pw@example.com/",
            "http://example.com/#frag",
            "http://[::1]/",
            "http://01.2.3.4/",
            "http://256.1.1.1/",
            "http://example.com:0/",
            "http://example.com:65536/",
            "http://example.com:/",
            "http://example.com/a b",
            "http://exa_mple.com/",
            "",
        ] {
            assert!(!matches_url_grammar(bad), "{bad}");
        }
    }

    #[test]
    fn bad_submissions_name_their_fields() {
        let f = field_errors(submit(json!({"task_type": "nope", "payload": {}})));
        assert!(f["task_type"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "extra": 1}})));
        assert!(f["payload.extra"].is_string(), "{f}");
        for url in ["ftp://a.b/x", "javascript:alert(1)", "not a url", "https://user:pw@a.b/", "file:///etc/passwd"] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": url}})));
            assert!(f["payload.url"].is_string(), "{url}: {f}");
        }
        for t in [-1, 0, 99, 30_001] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "timeout_ms": t}})));
            assert!(f["payload.timeout_ms"].is_string(), "{t}");
        }
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "method": "DELETE"}})));
        assert!(f["payload.method"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "body": "x"}})));
        assert!(f["payload.body"].is_string(), "a GET with a body");
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "headers": {"Host": "evil"}}})));
        assert!(f["payload.headers.Host"].is_string(), "{f}");
        for n in [0, 11, -3] {
            let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc"}, "max_attempts": n})));
            assert!(f["max_attempts"].is_string());
        }
        let big = "x".repeat(MAX_PAYLOAD_BYTES);
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": {"url": "https://a.bc", "body": big}})));
        assert!(f["payload"].is_string());
        let f = field_errors(submit(json!({"task_type": "http.request", "payload": []})));
        assert!(f["payload"].is_string(), "{f}");
    }

    #[test]
    fn browser_payloads_are_strict_and_the_alias_maps_to_the_canonical_type() {
        let v =
            submit(json!({"task_type": "navigate_and_extract_text", "payload": {"url": "https://a.bc/x", "selector": "#main"}})).unwrap();
        assert_eq!(v.task_type, TaskType::BrowserExtractText);
        assert_eq!(v.task_type.as_str(), "browser.extract_text");
        assert_eq!(v.payload, json!({"url": "https://a.bc/x", "selector": "#main", "timeout_ms": 30000}));
        let v = submit(
            json!({"task_type": "browser.extract_text", "payload": {"url": "http://a.bc", "wait_for_selector": ".x", "timeout_ms": 1000}}),
        )
        .unwrap();
        assert_eq!(v.payload["wait_for_selector"], ".x");
        for url in ["ftp://a.b/x", "javascript:alert(1)", "data:text/html,hi", "file:///etc/passwd"] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": url}})));
            assert!(f["payload.url"].is_string(), "{url}: {f}");
        }
        for t in [json!(999), json!(60_001), json!(0), json!("5000"), json!(1.5)] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.bc", "timeout_ms": t}})));
            assert!(f["payload.timeout_ms"].is_string(), "{t}");
        }
        let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.bc", "script": "x"}})));
        assert!(f["payload.script"].is_string(), "{f}");
        for sel in [json!(""), json!("  "), json!(5), json!("a\nb"), json!("x".repeat(513))] {
            let f = field_errors(submit(json!({"task_type": "browser.extract_text", "payload": {"url": "https://a.bc", "selector": sel}})));
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
}
