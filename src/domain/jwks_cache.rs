//! The JWKS cache policy (pure): when to use cached keys, refetch, refuse, or fail closed.
//!
//! - Keys are fresh for `ttl` (at most 10 minutes) after a successful fetch.
//! - A token whose `kid` is not in a fresh set triggers one refetch, at most once per `min_refetch`
//!   (so a flood of made-up kids cannot hammer the key server); otherwise it is refused.
//! - When a refetch fails, cached keys keep working until `ttl + stale` after their fetch; past that,
//!   requests fail closed with 503.

use super::jwt::{Alg, Jwk};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub ttl_ms: f64,
    pub stale_ms: f64,
    pub min_refetch_ms: f64,
}

pub const MAX_TTL_MS: f64 = 600_000.0;

impl Default for Policy {
    fn default() -> Self {
        Policy { ttl_ms: MAX_TTL_MS, stale_ms: 3_600_000.0, min_refetch_ms: 30_000.0 }
    }
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub keys: Vec<Jwk>,
    pub fetched_at_ms: f64,
    /// When a refetch was last attempted (successfully or not), for rate limiting.
    pub last_attempt_ms: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Boxed: a key is large next to the other variants.
    Use(Box<Jwk>),
    Refetch,
    Reject,
    Unavailable,
}

fn find(keys: &[Jwk], kid: &str, alg: Alg) -> Option<Jwk> {
    keys.iter().find(|k| k.kid.as_deref() == Some(kid) && k.admits(alg)).cloned()
}

/// What to do for a token with `kid`/`alg` given the cache, before any fetch.
pub fn decide(cache: Option<&Cached>, kid: &str, alg: Alg, now_ms: f64, p: &Policy) -> Decision {
    let Some(c) = cache else { return Decision::Refetch };
    let fresh = now_ms - c.fetched_at_ms <= p.ttl_ms.min(MAX_TTL_MS);
    let may_refetch = now_ms - c.last_attempt_ms >= p.min_refetch_ms;
    match find(&c.keys, kid, alg) {
        Some(k) if fresh => Decision::Use(Box::new(k)),
        // Expired keys: refresh (rate-limited), else fall back to the stale rules.
        Some(_) if may_refetch => Decision::Refetch,
        Some(_) => after_failed_fetch(Some(c), kid, alg, now_ms, p),
        None if may_refetch => Decision::Refetch,
        None if !fresh => after_failed_fetch(Some(c), kid, alg, now_ms, p),
        None => Decision::Reject,
    }
}

/// What to do when a fetch was wanted but failed (or was not allowed yet).
pub fn after_failed_fetch(cache: Option<&Cached>, kid: &str, alg: Alg, now_ms: f64, p: &Policy) -> Decision {
    match cache {
        None => Decision::Unavailable,
        Some(c) if now_ms - c.fetched_at_ms > p.ttl_ms.min(MAX_TTL_MS) + p.stale_ms => Decision::Unavailable,
        Some(c) => find(&c.keys, kid, alg).map(|k| Decision::Use(Box::new(k))).unwrap_or(Decision::Reject),
    }
}

/// What to do after a successful fetch replaced the cache.
pub fn after_fetch(keys: &[Jwk], kid: &str, alg: Alg) -> Decision {
    find(keys, kid, alg).map(|k| Decision::Use(Box::new(k))).unwrap_or(Decision::Reject)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str) -> Jwk {
        serde_json::from_value(serde_json::json!({"kty":"EC","crv":"P-256","x":"a","y":"b","kid":kid})).unwrap()
    }
    const P: Policy = Policy { ttl_ms: 600_000.0, stale_ms: 3_600_000.0, min_refetch_ms: 30_000.0 };

    fn cache(at: f64) -> Cached {
        Cached { keys: vec![key("k1")], fetched_at_ms: at, last_attempt_ms: at }
    }

    #[test]
    fn an_empty_cache_fetches_and_fails_closed_without_keys() {
        assert_eq!(decide(None, "k1", Alg::Es256, 0.0, &P), Decision::Refetch);
        assert_eq!(after_failed_fetch(None, "k1", Alg::Es256, 0.0, &P), Decision::Unavailable);
    }

    #[test]
    fn fresh_keys_are_used_without_a_fetch() {
        assert_eq!(decide(Some(&cache(0.0)), "k1", Alg::Es256, 599_000.0, &P), Decision::Use(Box::new(key("k1"))));
    }

    #[test]
    fn a_key_of_the_wrong_type_is_never_used() {
        assert_eq!(decide(Some(&cache(0.0)), "k1", Alg::Rs256, 100_000.0, &P), Decision::Refetch);
        assert_eq!(after_fetch(&[key("k1")], "k1", Alg::Hs256), Decision::Reject);
    }

    #[test]
    fn an_unknown_kid_refetches_at_most_once_per_interval() {
        let c = cache(0.0);
        assert_eq!(decide(Some(&c), "new", Alg::Es256, 40_000.0, &P), Decision::Refetch);
        let c = Cached { last_attempt_ms: 40_000.0, ..c };
        assert_eq!(decide(Some(&c), "new", Alg::Es256, 50_000.0, &P), Decision::Reject);
        assert_eq!(decide(Some(&c), "new", Alg::Es256, 70_000.0, &P), Decision::Refetch);
    }

    #[test]
    fn expired_keys_refresh_and_survive_a_failed_fetch_within_the_stale_window() {
        let c = cache(0.0);
        assert_eq!(decide(Some(&c), "k1", Alg::Es256, 700_000.0, &P), Decision::Refetch);
        assert_eq!(after_failed_fetch(Some(&c), "k1", Alg::Es256, 700_000.0, &P), Decision::Use(Box::new(key("k1"))));
        assert_eq!(after_failed_fetch(Some(&c), "k1", Alg::Es256, 4_200_000.0, &P), Decision::Use(Box::new(key("k1"))));
        assert_eq!(after_failed_fetch(Some(&c), "k1", Alg::Es256, 4_200_001.0, &P), Decision::Unavailable);
    }

    #[test]
    fn ttl_is_capped_at_ten_minutes() {
        let long = Policy { ttl_ms: 3_600_000.0, ..P };
        assert_eq!(decide(Some(&cache(0.0)), "k1", Alg::Es256, 700_000.0, &long), Decision::Refetch);
    }
}
