//! The response envelope every JSON response uses (`API.md` § Envelope).

use super::error::ApiError;
use serde::Serialize;
use serde_json::{json, Value};

/// Pagination block for list responses (cursor pagination like Stripe's, docs/adr/0015): the page's
/// `limit` and whether more items lie past its last one (or before its first, for `ending_before`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pagination {
    pub limit: u32,
    pub has_more: bool,
}

pub fn success(data: Value, request_id: &str, timestamp: &str) -> Value {
    json!({ "success": true, "data": data, "request_id": request_id, "timestamp": timestamp })
}

pub fn success_list(data: Value, pagination: Pagination, request_id: &str, timestamp: &str) -> Value {
    json!({
        "success": true, "data": data, "pagination": pagination,
        "request_id": request_id, "timestamp": timestamp,
    })
}

pub fn failure(err: &ApiError, request_id: &str, timestamp: &str) -> Value {
    json!({
        "success": false,
        "error": { "code": err.code(), "message": err.public_message(), "details": err.details() },
        "request_id": request_id,
        "timestamp": timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_envelope_has_the_contract_fields() {
        let v = success(json!({"a": 1}), "rid", "2026-11-24T12:00:00Z");
        assert_eq!(v["success"], true);
        assert_eq!(v["data"]["a"], 1);
        assert_eq!(v["request_id"], "rid");
        assert_eq!(v["timestamp"], "2026-11-24T12:00:00Z");
        assert!(v.get("error").is_none());
    }

    #[test]
    fn failure_envelope_carries_code_message_details() {
        let v = failure(&ApiError::NotFound, "rid", "t");
        assert_eq!(v["success"], false);
        assert_eq!(v["error"]["code"], "not_found");
        assert!(v["error"]["message"].is_string());
        assert!(v["error"]["details"].is_object());
        assert!(v.get("data").is_none());
    }

    #[test]
    fn list_envelope_carries_pagination() {
        let p = Pagination { limit: 50, has_more: true };
        let v = success_list(json!([]), p, "rid", "t");
        assert_eq!(v["pagination"], json!({"limit": 50, "has_more": true}));
    }
}
