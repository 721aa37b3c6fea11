//! Request bodies: size caps (413), media type (415) and strict JSON parsing (400 with field details).

use super::error::ApiError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Checks a declared `Content-Length` against the cap before anything is read.
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), ApiError> {
    match content_length.map(|v| v.trim().parse::<u64>()) {
        Some(Ok(n)) if n > limit as u64 => Err(ApiError::PayloadTooLarge { limit }),
        Some(Err(_)) => Err(ApiError::invalid("malformed Content-Length header")),
        _ => Ok(()),
    }
}

/// Checks the bytes actually read (a chunked body declares no length).
pub fn check_read_length(len: usize, limit: usize) -> Result<(), ApiError> {
    if len > limit {
        Err(ApiError::PayloadTooLarge { limit })
    } else {
        Ok(())
    }
}

/// Accepts `application/json` with optional parameters (`; charset=utf-8`), nothing else.
pub fn check_json_media_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let essence = content_type.and_then(|ct| ct.split(';').next()).map(|s| s.trim().to_ascii_lowercase());
    match essence.as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// Parses a JSON body into `T`. Syntax errors and type or unknown-field errors are both 400; the
/// latter name the offending field in `details.fields` when serde reports it.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::InvalidRequest {
        message: "request body is not valid JSON".into(),
        details: Some(serde_json::json!({ "line": e.line(), "column": e.column() })),
    })?;
    if let Some(path) = nul_at(&value, "body") {
        let mut fields = Map::new();
        fields.insert(path, Value::from("must not contain the NUL character (\\u0000)"));
        return Err(ApiError::invalid_fields(fields));
    }
    serde_json::from_value(value).map_err(|e| {
        let msg = e.to_string();
        let mut fields = Map::new();
        let field = field_from_serde_message(&msg).unwrap_or_else(|| "body".into());
        fields.insert(field, Value::String(msg));
        ApiError::invalid_fields(fields)
    })
}

/// Where a string (or a key) holds U+0000, which Postgres cannot store in text or `jsonb`: the first
/// such path, `body.a.b` or `body.items[2]`.
fn nul_at(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) if s.contains('\0') => Some(path.to_string()),
        Value::Array(a) => a.iter().enumerate().find_map(|(i, x)| nul_at(x, &format!("{path}[{i}]"))),
        Value::Object(m) => {
            m.iter().find_map(|(k, x)| if k.contains('\0') { Some(path.to_string()) } else { nul_at(x, &format!("{path}.{k}")) })
        }
        _ => None,
    }
}

/// Pulls the field name out of serde's "unknown field `x`" / "missing field `x`" messages.
fn field_from_serde_message(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_character_anywhere_in_a_json_body_is_a_field_error() {
        let e = parse_json::<serde_json::Value>(br#"{"task_type":"x","payload":{"headers":{"a":"b\u0000c"}}}"#).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.details()["fields"]["body.payload.headers.a"].is_string(), "{:?}", e.details());
        let e = parse_json::<serde_json::Value>(br#"{"items":[1,"\u0000"]}"#).unwrap_err();
        assert!(e.details()["fields"]["body.items[1]"].is_string(), "{:?}", e.details());
        let e = parse_json::<serde_json::Value>(br#"{"a\u0000":1}"#).unwrap_err();
        assert!(e.details()["fields"]["body"].is_string());
        assert!(parse_json::<serde_json::Value>(br#"{"a":"\\u0000 is only text here"}"#).is_ok(), "an escaped backslash is not a NUL");
    }
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: Option<u32>,
    }

    #[test]
    fn declared_length_over_the_cap_is_413() {
        assert!(matches!(check_declared_length(Some("1025"), 1024), Err(ApiError::PayloadTooLarge { limit: 1024 })));
        assert!(check_declared_length(Some("1024"), 1024).is_ok());
        assert!(check_declared_length(None, 1024).is_ok());
        assert!(matches!(check_declared_length(Some("-1"), 1024), Err(ApiError::InvalidRequest { .. })));
    }

    #[test]
    fn only_json_media_types_are_accepted() {
        assert!(check_json_media_type(Some("application/json")).is_ok());
        assert!(check_json_media_type(Some("Application/JSON; charset=utf-8")).is_ok());
        assert!(matches!(check_json_media_type(Some("text/plain")), Err(ApiError::UnsupportedMediaType)));
        assert!(matches!(check_json_media_type(None), Err(ApiError::UnsupportedMediaType)));
    }

    #[test]
    fn malformed_json_is_400() {
        let e = parse_json::<Sample>(b"{\"name\": ").unwrap_err();
        assert_eq!(e.status(), 400);
        assert_eq!(e.public_message(), "request body is not valid JSON");
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = parse_json::<Sample>(br#"{"name":"a","extra":1}"#).unwrap_err();
        assert!(e.details()["fields"]["extra"].is_string(), "{:?}", e.details());
        let e = parse_json::<Sample>(br#"{"count":1}"#).unwrap_err();
        assert!(e.details()["fields"]["name"].is_string(), "{:?}", e.details());
    }

    #[test]
    fn valid_json_parses() {
        let s: Sample = parse_json(br#"{"name":"a","count":2}"#).unwrap();
        assert_eq!(s.name, "a");
    }
}
