//! Structured logs: one JSON object per line, with the request id on every line a request causes
//! (docs/observability.md).
//!
//! Workers Logs indexes the fields of JSON lines. Every line has `level`, `msg`, `event` (the `event`
//! field given, else derived from `msg`: `"jobs: submitted"` → `jobs.submitted`) and `ts`; callers add
//! `request_id`, `account_id`, `job_id`, `batch_id`, `route`, `status`, `duration_ms` where they apply.
//! Every line passes through [`crate::observability::scrub`], so a token, secret or e-mail address that
//! slipped into a field never reaches the log. Info lines are head-sampled per request id
//! (`LOG_SAMPLE_RATE`, [`set_sample_rate`]); warnings and errors are always written.

use crate::observability::{sampling, scrub};
use serde_json::{Map, Value};
use std::cell::Cell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

thread_local! {
    static SAMPLE_RATE: Cell<f64> = const { Cell::new(1.0) };
}

/// Sets the share of requests whose info lines are written (from configuration, once per isolate).
pub fn set_sample_rate(rate: f64) {
    SAMPLE_RATE.with(|r| r.set(rate.clamp(0.0, 1.0)));
}

/// `"jobs: enqueue failed"` → `jobs.enqueue_failed`.
pub fn event_name(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for part in msg.split(": ") {
        if !out.is_empty() {
            out.push('.');
        }
        let words: Vec<&str> = part.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        out.push_str(&words.join("_").to_ascii_lowercase());
    }
    out
}

/// The line for `msg` and `fields` (`None` when sampled out): pure, so the host tests check it.
pub fn line(level: Level, msg: &str, fields: Value, ts: &str, rate: f64) -> Option<String> {
    let mut obj = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if level == Level::Info {
        if let Some(id) = obj.get("request_id").and_then(Value::as_str) {
            if !sampling::keep(id, rate) {
                return None;
            }
        }
    }
    obj.insert(
        "level".into(),
        Value::from(match level {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }),
    );
    obj.insert("msg".into(), Value::from(msg));
    if !obj.contains_key("event") {
        obj.insert("event".into(), Value::from(event_name(msg)));
    }
    obj.insert("ts".into(), Value::from(ts));
    let text = Value::Object(obj).to_string();
    Some(scrub::scrub(&text).into_owned())
}

pub fn emit(level: Level, msg: &str, fields: Value) {
    let rate = SAMPLE_RATE.with(Cell::get);
    let Some(line) = line(level, msg, fields, &crate::platform::now_rfc3339(), rate) else { return };
    match level {
        Level::Error => worker::console_error!("{}", line),
        Level::Warn => worker::console_warn!("{}", line),
        Level::Info => worker::console_log!("{}", line),
    }
}

pub fn info(msg: &str, fields: Value) {
    emit(Level::Info, msg, fields)
}
pub fn warn(msg: &str, fields: Value) {
    emit(Level::Warn, msg, fields)
}
pub fn error(msg: &str, fields: Value) {
    emit(Level::Error, msg, fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_carry_level_msg_event_and_are_scrubbed() {
        let l = line(Level::Warn, "jobs: enqueue failed", json!({ "request_id": "r1", "error": "Bearer abc123 for a@b.io" }), "t", 1.0)
            .unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(
            (v["level"].as_str(), v["event"].as_str(), v["msg"].as_str()),
            (Some("warn"), Some("jobs.enqueue_failed"), Some("jobs: enqueue failed"))
        );
        assert_eq!(v["error"], "Bearer [redacted] for [redacted]");
        let l = line(Level::Info, "request", json!({ "event": "http.request" }), "t", 1.0).unwrap();
        assert!(l.contains("\"event\":\"http.request\""), "an explicit event wins: {l}");
        assert_eq!(event_name("dlq: could not record; will retry"), "dlq.could_not_record_will_retry");
    }

    #[test]
    fn info_lines_are_sampled_per_request_and_errors_never() {
        let ids: Vec<String> = (0..200).map(|i| format!("req-{i}")).collect();
        let kept = ids.iter().filter(|id| line(Level::Info, "x", json!({ "request_id": id }), "t", 0.5).is_some()).count();
        assert!((50..150).contains(&kept), "{kept}");
        assert!(ids.iter().all(|id| line(Level::Error, "x", json!({ "request_id": id }), "t", 0.0).is_some()));
        assert!(line(Level::Info, "x", json!({ "request_id": "r" }), "t", 0.0).is_none());
        assert!(line(Level::Info, "no request", json!({}), "t", 0.0).is_some(), "lines outside a request are not sampled");
    }
}
