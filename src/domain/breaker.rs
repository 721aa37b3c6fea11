//! A circuit breaker's policy as a pure state machine; the `CircuitBreaker` Durable Object persists it so
//! every isolate sees one state per dependency (docs/adr/0010).
//!
//! - Closed: calls pass. Each outcome is remembered in a window of the last `window` calls. The breaker
//!   opens after `failure_threshold` consecutive failures, or when at least `min_calls` are in the window
//!   and the failure share reaches `failure_rate`.
//! - Open: calls are refused until `cooldown_ms` has passed since opening.
//! - Half-open: the first caller after the cool-down gets the single probe; everyone else is refused. The
//!   probe's success closes the breaker (window cleared), its failure reopens it for another cool-down.
//!   A probe that never reports (its isolate died) is given up after `probe_lease_ms` and another
//!   caller probes.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub failure_threshold: u32,
    pub failure_rate: f64,
    pub min_calls: u32,
    pub window: u32,
    pub cooldown_ms: f64,
    pub probe_lease_ms: f64,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { failure_threshold: 5, failure_rate: 0.5, min_calls: 10, window: 20, cooldown_ms: 30_000.0, probe_lease_ms: 120_000.0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Closed,
    Open,
    HalfOpen,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Closed => "closed",
            Mode::Open => "open",
            Mode::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    pub mode: Mode,
    /// When the breaker last opened (ms since the epoch).
    pub opened_at: f64,
    /// While half-open: until when the probe handed out is waited for.
    pub probe_until: Option<f64>,
    pub consecutive_failures: u32,
    /// Recent outcomes, oldest first: `true` = success.
    pub recent: VecDeque<bool>,
    /// Why it last opened.
    pub reason: Option<String>,
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker { mode: Mode::Closed, opened_at: 0.0, probe_until: None, consecutive_failures: 0, recent: VecDeque::new(), reason: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Admission {
    /// Go ahead; `probe` says this call decides a half-open breaker.
    Allowed { probe: bool },
    /// Refused; try again in this many ms.
    Refused { retry_in_ms: f64 },
}

/// A state change, for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: Mode,
    pub to: Mode,
    pub reason: String,
}

impl Breaker {
    fn go(&mut self, to: Mode, reason: String, now: f64) -> Option<Transition> {
        let from = self.mode;
        self.mode = to;
        match to {
            Mode::Open => {
                self.opened_at = now;
                self.probe_until = None;
                self.reason = Some(reason.clone());
            }
            Mode::Closed => {
                self.probe_until = None;
                self.consecutive_failures = 0;
                self.recent.clear();
                self.reason = None;
            }
            Mode::HalfOpen => {}
        }
        (from != to).then_some(Transition { from, to, reason })
    }

    pub fn acquire(&mut self, now: f64, p: &Policy) -> (Admission, Option<Transition>) {
        match self.mode {
            Mode::Closed => (Admission::Allowed { probe: false }, None),
            Mode::Open => {
                let until = self.opened_at + p.cooldown_ms;
                if now < until {
                    return (Admission::Refused { retry_in_ms: until - now }, None);
                }
                let t = self.go(Mode::HalfOpen, "cool-down over; probing".into(), now);
                self.probe_until = Some(now + p.probe_lease_ms);
                (Admission::Allowed { probe: true }, t)
            }
            Mode::HalfOpen => match self.probe_until {
                Some(until) if now < until => (Admission::Refused { retry_in_ms: (until - now).min(p.cooldown_ms) }, None),
                _ => {
                    self.probe_until = Some(now + p.probe_lease_ms);
                    (Admission::Allowed { probe: true }, None)
                }
            },
        }
    }

    /// Records a call's outcome: `Some(true)` success, `Some(false)` failure, `None` no verdict (the
    /// probe is handed back).
    pub fn record(&mut self, verdict: Option<bool>, probe: bool, now: f64, p: &Policy) -> Option<Transition> {
        let Some(ok) = verdict else {
            if probe && self.mode == Mode::HalfOpen {
                self.probe_until = None;
            }
            return None;
        };
        if self.mode == Mode::HalfOpen {
            // Only the probe decides; late reports from calls admitted before the breaker opened do not.
            if !probe {
                return None;
            }
            return if ok { self.go(Mode::Closed, "probe succeeded".into(), now) } else { self.go(Mode::Open, "probe failed".into(), now) };
        }
        if self.mode == Mode::Open {
            return None;
        }
        self.recent.push_back(ok);
        while self.recent.len() > p.window.max(1) as usize {
            self.recent.pop_front();
        }
        if ok {
            self.consecutive_failures = 0;
            return None;
        }
        self.consecutive_failures += 1;
        let failures = self.recent.iter().filter(|o| !**o).count();
        if self.consecutive_failures >= p.failure_threshold.max(1) {
            let why = format!("{} consecutive failures", self.consecutive_failures);
            return self.go(Mode::Open, why, now);
        }
        if self.recent.len() >= p.min_calls.max(1) as usize && failures as f64 >= p.failure_rate * self.recent.len() as f64 {
            let why = format!("{failures} of the last {} calls failed", self.recent.len());
            return self.go(Mode::Open, why, now);
        }
        None
    }

    /// The mode as observers should see it: an open breaker whose cool-down has passed reads half-open.
    pub fn observed_mode(&self, now: f64, p: &Policy) -> Mode {
        if self.mode == Mode::Open && now >= self.opened_at + p.cooldown_ms {
            Mode::HalfOpen
        } else {
            self.mode
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { failure_threshold: 3, failure_rate: 0.5, min_calls: 6, window: 10, cooldown_ms: 1000.0, probe_lease_ms: 5000.0 }
    }

    #[test]
    fn consecutive_failures_open_it_and_a_success_resets_the_count() {
        let p = policy();
        let mut b = Breaker::default();
        assert!(b.record(Some(false), false, 0.0, &p).is_none());
        assert!(b.record(Some(false), false, 0.0, &p).is_none());
        assert!(b.record(Some(true), false, 0.0, &p).is_none());
        assert!(b.record(Some(false), false, 0.0, &p).is_none());
        assert!(b.record(Some(false), false, 0.0, &p).is_none());
        let t = b.record(Some(false), false, 10.0, &p).expect("opens");
        assert_eq!((t.from, t.to), (Mode::Closed, Mode::Open));
        assert_eq!(b.acquire(500.0, &p).0, Admission::Refused { retry_in_ms: 510.0 });
    }

    #[test]
    fn a_failure_rate_opens_it() {
        let p = policy();
        let mut b = Breaker::default();
        let mut opened = None;
        for i in 0..10 {
            // alternate: never 3 in a row, but half fail
            if let Some(t) = b.record(Some(i % 2 == 0), false, 0.0, &p) {
                opened = Some((i, t));
                break;
            }
        }
        let (i, t) = opened.expect("opens on the rate");
        assert_eq!(i, 5, "at the sixth call, the minimum volume");
        assert!(t.reason.contains("3 of the last 6"), "{}", t.reason);
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let p = policy();
        let mut b = Breaker { mode: Mode::Open, opened_at: 0.0, ..Breaker::default() };
        assert!(matches!(b.acquire(999.0, &p).0, Admission::Refused { .. }));
        let (a, t) = b.acquire(1000.0, &p);
        assert_eq!(a, Admission::Allowed { probe: true });
        assert_eq!(t.unwrap().to, Mode::HalfOpen);
        assert!(matches!(b.acquire(1001.0, &p).0, Admission::Refused { .. }));
        // A late failure from before does not decide.
        assert!(b.record(Some(false), false, 1002.0, &p).is_none());
        let t = b.record(Some(true), true, 1003.0, &p).unwrap();
        assert_eq!((t.from, t.to), (Mode::HalfOpen, Mode::Closed));
        assert_eq!(b.acquire(1004.0, &p).0, Admission::Allowed { probe: false });
        assert_eq!(b.consecutive_failures, 0);
        assert!(b.recent.is_empty());
    }

    #[test]
    fn a_failed_probe_reopens_and_a_lost_probe_is_reissued() {
        let p = policy();
        let mut b = Breaker { mode: Mode::Open, opened_at: 0.0, ..Breaker::default() };
        b.acquire(1000.0, &p);
        let t = b.record(Some(false), true, 1100.0, &p).unwrap();
        assert_eq!(t.to, Mode::Open);
        assert!(matches!(b.acquire(2000.0, &p).0, Admission::Refused { .. }), "a fresh cool-down from 1100");
        assert_eq!(b.acquire(2100.0, &p).0, Admission::Allowed { probe: true });
        // the probe never reports: after its lease another caller probes
        assert!(matches!(b.acquire(7000.0, &p).0, Admission::Refused { .. }));
        assert_eq!(b.acquire(7100.0, &p).0, Admission::Allowed { probe: true });
        // a probe without a verdict (rate limited) hands the probe back at once
        assert!(b.record(None, true, 7200.0, &p).is_none());
        assert_eq!(b.acquire(7201.0, &p).0, Admission::Allowed { probe: true });
    }

    #[test]
    fn observers_see_half_open_after_the_cool_down() {
        let p = policy();
        let b = Breaker { mode: Mode::Open, opened_at: 0.0, ..Breaker::default() };
        assert_eq!(b.observed_mode(10.0, &p), Mode::Open);
        assert_eq!(b.observed_mode(1000.0, &p), Mode::HalfOpen);
    }

    #[test]
    fn state_round_trips_through_json() {
        let mut b = Breaker::default();
        b.record(Some(false), false, 0.0, &policy());
        let s = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<Breaker>(&s).unwrap(), b);
    }
}
