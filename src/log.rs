//! Structured logs: one JSON object per line, with the request id on every line a request causes.
//!
//! Workers Logs and `wrangler tail` index JSON lines. Never pass a token, key or secret in `fields`.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy)]
pub enum Level {
    Info,
    Warn,
    Error,
}

pub fn emit(level: Level, msg: &str, fields: Value) {
    let mut obj = match fields {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    obj.insert(
        "level".into(),
        Value::from(match level {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }),
    );
    obj.insert("msg".into(), Value::from(msg));
    obj.insert("ts".into(), Value::from(crate::platform::now_rfc3339()));
    let line = Value::Object(obj).to_string();
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
