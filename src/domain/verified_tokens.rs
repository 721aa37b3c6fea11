//! The isolate's memory of access tokens whose signature it has already verified (pure; docs/adr/0021).
//!
//! A browser or API client sends the same access token with every request for up to an hour, and
//! verifying its ES256/RS256 signature with WebCrypto is the most expensive step of an authenticated
//! request. A token whose signature verified is remembered, so the next request with the *same bytes*
//! skips only the signature check: its header and claims are still parsed and validated on every request
//! (expiry, `nbf`, issuer, audience, role), so an expired token is refused exactly as before.
//!
//! What bounds it:
//! - an entry lives at most [`MAX_AGE_MS`] and never past the token's own `exp`;
//! - the whole memory is dropped whenever the isolate refetches the JWKS, and a remembered token is used
//!   only while its key is still in a fresh JWKS (`auth::key_still_usable`); otherwise the request takes
//!   the full path with the JWKS's refetch, stale-window and fail-closed rules, so the key policy is the
//!   same as without this memory;
//! - at most [`CAPACITY`] tokens; when full, expired entries go, and if none had, everything goes;
//! - only tokens that verified are stored, keyed by the whole token, so a caller cannot put an entry in
//!   that another token could match.

use std::collections::HashMap;

/// How long a verified signature is trusted without checking it again.
pub const MAX_AGE_MS: f64 = 60_000.0;
/// Tokens remembered per isolate (an access token is about 1 KB).
pub const CAPACITY: usize = 512;

#[derive(Debug, Default)]
pub struct VerifiedTokens {
    until_ms: HashMap<String, f64>,
}

impl VerifiedTokens {
    /// Whether `token`'s signature verified within its entry's lifetime.
    pub fn contains(&self, token: &str, now_ms: f64) -> bool {
        self.until_ms.get(token).is_some_and(|until| now_ms < *until)
    }

    /// Remembers a token whose signature just verified; `exp_secs` is its `exp` claim.
    pub fn insert(&mut self, token: &str, exp_secs: Option<f64>, now_ms: f64) {
        let until = match exp_secs {
            Some(exp) => (now_ms + MAX_AGE_MS).min(exp * 1000.0),
            None => now_ms + MAX_AGE_MS,
        };
        if until <= now_ms {
            return;
        }
        if self.until_ms.len() >= CAPACITY && !self.until_ms.contains_key(token) {
            self.until_ms.retain(|_, u| now_ms < *u);
            if self.until_ms.len() >= CAPACITY {
                self.until_ms.clear();
            }
        }
        self.until_ms.insert(token.to_string(), until);
    }

    /// Forgets every token (the signing keys were refetched).
    pub fn clear(&mut self) {
        self.until_ms.clear();
    }

    pub fn len(&self) -> usize {
        self.until_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.until_ms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_token_is_remembered_for_at_most_max_age() {
        let mut v = VerifiedTokens::default();
        v.insert("a", Some(10_000.0), 1_000.0);
        assert!(v.contains("a", 1_000.0));
        assert!(v.contains("a", 1_000.0 + MAX_AGE_MS - 1.0));
        assert!(!v.contains("a", 1_000.0 + MAX_AGE_MS));
        assert!(!v.contains("b", 1_000.0), "only the same bytes match");
        assert!(!v.contains("", 1_000.0));
    }

    #[test]
    fn never_past_the_tokens_expiry() {
        let mut v = VerifiedTokens::default();
        // exp 5 s after now: remembered 5 s, not 60.
        v.insert("a", Some(6.0), 1_000.0);
        assert!(v.contains("a", 5_999.0));
        assert!(!v.contains("a", 6_000.0));
        // Already expired: not stored at all.
        v.insert("b", Some(1.0), 1_000.0);
        assert!(!v.contains("b", 1_000.0));
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn clear_forgets_everything() {
        let mut v = VerifiedTokens::default();
        v.insert("a", None, 0.0);
        v.insert("b", None, 0.0);
        v.clear();
        assert!(v.is_empty());
        assert!(!v.contains("a", 1.0));
    }

    #[test]
    fn capacity_is_bounded_expired_entries_go_first() {
        let mut v = VerifiedTokens::default();
        // Half expire early, half late.
        for i in 0..CAPACITY {
            let exp = if i % 2 == 0 { 2.0 } else { 1_000.0 };
            v.insert(&format!("t{i}"), Some(exp), 0.0);
        }
        assert_eq!(v.len(), CAPACITY);
        // At 3 s the early half has expired: inserting drops them and keeps the rest.
        v.insert("new", Some(1_000.0), 3_000.0);
        assert_eq!(v.len(), CAPACITY / 2 + 1);
        assert!(v.contains("t1", 3_000.0) && v.contains("new", 3_000.0));
        // Full of live entries: everything goes, the new one stays, the bound holds.
        for i in 0..CAPACITY {
            v.insert(&format!("u{i}"), Some(1_000.0), 3_000.0);
        }
        assert!(v.len() <= CAPACITY);
        // Re-inserting a present token never evicts.
        let before = v.len();
        v.insert(&format!("u{}", CAPACITY - 1), Some(1_000.0), 3_000.0);
        assert_eq!(v.len(), before);
    }
}
