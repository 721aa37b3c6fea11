//! Error reports in Sentry's envelope format, built without an SDK (none runs in a Rust Worker): the DSN,
//! the `X-Sentry-Auth` header, and one `event` item per report. Pure; the transport is
//! [`crate::adapters::sentry`]. Formats: <https://develop.sentry.dev/sdk/foundations/transport/envelopes/>.

use super::scrub::scrub;
use serde_json::{json, Map, Value};

/// A parsed DSN, `https://<public key>@<host>[:port]/<project id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    pub public_key: String,
    /// `https://<host>[:port]/api/<project id>/envelope/`
    pub envelope_url: String,
}

impl Dsn {
    pub fn parse(raw: &str) -> Option<Dsn> {
        let url = url::Url::parse(raw.trim()).ok()?;
        if !matches!(url.scheme(), "https" | "http") || url.username().is_empty() {
            return None;
        }
        let project = url.path().trim_matches('/');
        let (prefix, project_id) = match project.rsplit_once('/') {
            Some((p, id)) => (format!("/{p}"), id),
            None => (String::new(), project),
        };
        if project_id.is_empty() || !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let host = url.host_str()?;
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        Some(Dsn {
            public_key: url.username().to_string(),
            envelope_url: format!("{}://{host}{port}{prefix}/api/{project_id}/envelope/", url.scheme()),
        })
    }

    /// The `X-Sentry-Auth` header value.
    pub fn auth_header(&self) -> String {
        format!("Sentry sentry_version=7, sentry_key={}, sentry_client={}", self.public_key, client())
    }
}

fn client() -> String {
    format!("edge-saas/{}", env!("CARGO_PKG_VERSION"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Fatal,
    Error,
    Warning,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Fatal => "fatal",
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// What happened. `kind` groups reports in Sentry (the exception type); `message` is the instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub level: Level,
    pub kind: &'static str,
    pub message: String,
    /// Searchable tags: `request_id` always when there is one, then `route`, `job_id`, `queue`, ...
    pub tags: Vec<(&'static str, String)>,
    pub extra: Value,
}

impl Report {
    pub fn new(level: Level, kind: &'static str, message: impl Into<String>) -> Report {
        Report { level, kind, message: message.into(), tags: Vec::new(), extra: Value::Null }
    }

    pub fn tag(mut self, k: &'static str, v: impl Into<String>) -> Report {
        self.tags.push((k, v.into()));
        self
    }

    pub fn extra(mut self, extra: Value) -> Report {
        self.extra = extra;
        self
    }
}

/// Where the reports come from: the deployment's environment and release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub environment: String,
    pub release: String,
}

/// The envelope for `report`: a header line, an item header, the event. Everything but the ids passes
/// through [`scrub`], so no token, secret or e-mail address leaves in a report.
pub fn envelope(report: &Report, source: &Source, event_id: &str, now_rfc3339: &str) -> String {
    let mut tags = Map::new();
    for (k, v) in &report.tags {
        tags.insert((*k).to_string(), Value::from(v.as_str()));
    }
    let event = json!({
        "event_id": event_id,
        "timestamp": now_rfc3339,
        "platform": "other",
        "level": report.level.as_str(),
        "logger": "edge-saas",
        "environment": source.environment,
        "release": source.release,
        "tags": tags,
        "exception": { "values": [{ "type": report.kind, "value": report.message }] },
        "extra": report.extra,
        "sdk": { "name": "edge-saas.envelope", "version": env!("CARGO_PKG_VERSION") },
    });
    let payload = scrub(&event.to_string()).into_owned();
    let header = json!({ "event_id": event_id, "sent_at": now_rfc3339 });
    let item = json!({ "type": "event", "length": payload.len(), "content_type": "application/json" });
    format!("{header}\n{item}\n{payload}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_give_the_envelope_endpoint_and_key() {
        let d = Dsn::parse("https://abc123@o42.ingest.sentry.io/4505").unwrap();
        assert_eq!(d.public_key, "abc123");
        assert_eq!(d.envelope_url, "https://o42.ingest.sentry.io/api/4505/envelope/");
        let local = Dsn::parse("http://devkey@127.0.0.1:54340/1").unwrap();
        assert_eq!(local.envelope_url, "http://127.0.0.1:54340/api/1/envelope/");
        let prefixed = Dsn::parse("https://k@sentry.example.com/sentry/7").unwrap();
        assert_eq!(prefixed.envelope_url, "https://sentry.example.com/sentry/api/7/envelope/");
        for bad in ["", "nope", "https://o42.ingest.sentry.io/4505", "https://k@host/", "https://k@host/abc", "ftp://k@host/1"] {
            assert!(Dsn::parse(bad).is_none(), "{bad}");
        }
        assert!(d.auth_header().starts_with("Sentry sentry_version=7, sentry_key=abc123, sentry_client=edge-saas/"));
    }

    #[test]
    fn an_envelope_is_three_lines_tagged_and_scrubbed() {
        let report = Report::new(Level::Error, "http_5xx", "database said: user jane@example.com, token eyJhbGciOi.eyJzdWIiOi.sig")
            .tag("request_id", "req-1")
            .tag("route", "GET /api/v1/me")
            .extra(json!({ "status": 503, "header": "Bearer abc.def" }));
        let source = Source { environment: "staging".into(), release: "edge-saas@0.1.0".into() };
        let text = envelope(&report, &source, "0123456789abcdef0123456789abcdef", "2026-12-01T00:00:00.000Z");
        let lines: Vec<&str> = text.trim_end().split('\n').collect();
        assert_eq!(lines.len(), 3);
        let header: Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(header["event_id"], "0123456789abcdef0123456789abcdef");
        assert!(header.get("dsn").is_none(), "the DSN is configuration, not report content");
        let item: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!((item["type"].as_str(), item["length"].as_u64()), (Some("event"), Some(lines[2].len() as u64)));
        let event: Value = serde_json::from_str(lines[2]).unwrap();
        assert_eq!((event["level"].as_str(), event["environment"].as_str()), (Some("error"), Some("staging")));
        assert_eq!(event["tags"], json!({ "request_id": "req-1", "route": "GET /api/v1/me" }));
        assert_eq!(event["exception"]["values"][0]["type"], "http_5xx");
        assert_eq!(event["exception"]["values"][0]["value"], "database said: user [redacted], token [redacted]");
        assert_eq!(event["extra"]["header"], "Bearer [redacted]");
    }
}
