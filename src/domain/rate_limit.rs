//! The per-account request limit (docs/adr/0014): a sliding window log. A request is allowed when fewer
//! than `limit` requests were allowed in the last `window_ms`; so no 60-second span ever holds more than
//! the plan's `rate_limit_per_minute`, which a fixed window (twice the limit across a boundary) or a token
//! bucket (a full burst, then a steady trickle) would not promise.
//!
//! Response header fields follow draft-ietf-httpapi-ratelimit-headers-07 (separate `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` fields, the reset in delta-seconds): `Reset` is when the
//! oldest request in the window leaves it, that is when `Remaining` next grows.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

pub const WINDOW_MS: f64 = 60_000.0;

/// The allowed requests of the current window, oldest first (ms since the epoch).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SlidingWindow {
    hits: VecDeque<f64>,
}

/// What one request was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the oldest request in the window leaves it (0 when the window is empty).
    pub reset_secs: u32,
}

impl Verdict {
    /// The `RateLimit-*` header fields, and `Retry-After` when refused.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("RateLimit-Limit", self.limit.to_string()),
            ("RateLimit-Remaining", self.remaining.to_string()),
            ("RateLimit-Reset", self.reset_secs.to_string()),
        ];
        if !self.allowed {
            h.push(("Retry-After", self.reset_secs.max(1).to_string()));
        }
        h
    }
}

impl SlidingWindow {
    /// Counts a request at `now_ms` against `limit` per [`WINDOW_MS`], if there is room.
    pub fn take(&mut self, now_ms: f64, limit: u32) -> Verdict {
        while self.hits.front().is_some_and(|t| *t <= now_ms - WINDOW_MS) {
            self.hits.pop_front();
        }
        // A plan lowered since: forget the oldest hits beyond the new limit's worth.
        while self.hits.len() > limit as usize {
            self.hits.pop_front();
        }
        let allowed = (self.hits.len() as u32) < limit;
        if allowed {
            self.hits.push_back(now_ms);
        }
        let reset_secs = self.hits.front().map_or(0.0, |oldest| ((oldest + WINDOW_MS - now_ms) / 1000.0).ceil().max(0.0)) as u32;
        Verdict { allowed, limit, remaining: limit - self.hits.len() as u32, reset_secs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_holds_over_any_sliding_minute() {
        let mut w = SlidingWindow::default();
        for i in 0..60 {
            let v = w.take(1_000.0 + i as f64 * 100.0, 60);
            assert!(v.allowed, "request {i}");
            assert_eq!(v.remaining, 59 - i);
        }
        let v = w.take(7_000.0, 60);
        assert_eq!(v, Verdict { allowed: false, limit: 60, remaining: 0, reset_secs: 54 }, "the 61st is refused until the first leaves");
        assert_eq!(v.headers().last().unwrap(), &("Retry-After", "54".to_string()));
        assert!(!w.take(60_999.0, 60).allowed, "just before the first request's minute ends");
        let v = w.take(61_000.0, 60);
        assert!(v.allowed, "the first request has left the window");
        assert_eq!(v.remaining, 0);
        assert!(!w.take(61_050.0, 60).allowed, "one slot freed, one taken");
        assert!(w.take(61_100.0, 60).allowed, "the second request has left too");
    }

    #[test]
    fn refused_requests_do_not_count_and_an_idle_window_resets() {
        let mut w = SlidingWindow::default();
        assert!(w.take(0.0, 1).allowed);
        for t in 1..100 {
            assert!(!w.take(t as f64 * 100.0, 1).allowed);
        }
        assert!(w.take(60_000.0, 1).allowed, "refusals did not extend the window");
        let v = w.take(500_000.0, 5);
        assert_eq!((v.allowed, v.remaining, v.reset_secs), (true, 4, 60));
    }

    #[test]
    fn a_lower_limit_applies_at_once() {
        let mut w = SlidingWindow::default();
        for t in 0..10 {
            assert!(w.take(t as f64, 600).allowed);
        }
        let v = w.take(20.0, 5);
        assert!(!v.allowed);
        assert_eq!(v.remaining, 0);
        let headers = v.headers();
        assert_eq!(headers[0], ("RateLimit-Limit", "5".to_string()));
    }
}
