//! Request ids: the caller's `X-Request-Id` when it is well formed, otherwise a fresh UUID.
//!
//! Well formed means 1..=128 characters of `[A-Za-z0-9._:-]`: enough for UUIDs, ULIDs and most
//! tracing ids, and nothing that could inject into a log line or a header.

pub const MAX_LEN: usize = 128;

/// Returns the caller's id if it is acceptable, `None` if a fresh one must be generated.
pub fn accept(candidate: Option<&str>) -> Option<String> {
    let c = candidate?.trim();
    let ok = !c.is_empty() && c.len() <= MAX_LEN && c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then(|| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_uuids_and_simple_ids() {
        assert_eq!(accept(Some("3f1c2a9e-1b2c-4d5e-8f90-123456789abc")).as_deref(), Some("3f1c2a9e-1b2c-4d5e-8f90-123456789abc"));
        assert_eq!(accept(Some("req_01:abc.def")).as_deref(), Some("req_01:abc.def"));
    }

    #[test]
    fn rejects_missing_empty_long_or_unsafe_ids() {
        assert_eq!(accept(None), None);
        assert_eq!(accept(Some("")), None);
        assert_eq!(accept(Some(&"a".repeat(MAX_LEN + 1))), None);
        assert_eq!(accept(Some("abc\ndef")), None);
        assert_eq!(accept(Some("a b")), None);
        assert_eq!(accept(Some("<script>")), None);
        assert_eq!(accept(Some("{\"x\":1}")), None);
    }

    proptest! {
        #[test]
        fn accepted_ids_are_always_log_and_header_safe(s in ".{0,200}") {
            if let Some(id) = accept(Some(&s)) {
                prop_assert!(id.len() <= MAX_LEN && !id.is_empty());
                prop_assert!(id.bytes().all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'));
            }
        }
    }
}
