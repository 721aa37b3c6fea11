//! Server-Sent Events framing (API.md "Server-Sent Events").

use serde::Serialize;

/// One SSE frame: `id`, `event` and a single `data:` line of compact JSON.
pub fn sse_frame<T: Serialize + ?Sized>(id: i64, event: &str, data: &T) -> String {
    // serde_json's compact output never contains a newline, so one `data:` line is enough.
    sse_frame_json(id, event, &serde_json::to_string(data).unwrap_or_else(|_| "null".into()))
}

/// One SSE frame around compact JSON text (no newlines) that is already serialised.
pub fn sse_frame_json(id: i64, event: &str, json: &str) -> String {
    format!("id: {id}\nevent: {event}\ndata: {json}\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sse_frames_are_single_data_lines() {
        let f = sse_frame(42, "job", &json!({"id": "x", "last_error": "a\nb"}));
        assert_eq!(f, "id: 42\nevent: job\ndata: {\"id\":\"x\",\"last_error\":\"a\\nb\"}\n\n");
    }
}
