//! Head sampling of info log lines (`LOG_SAMPLE_RATE`). The decision is a function of the request id, so
//! every line of one request's story (the request, its job's consumer, its stream frames) is kept or
//! dropped together, in whichever isolate or object writes it. Warnings and errors are never sampled.

/// FNV-1a, 64 bits: stable across isolates and builds (unlike `std`'s randomly keyed hasher).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Whether the lines of `request_id` are kept at `rate` (0 keeps none, 1 keeps all).
pub fn keep(request_id: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    if rate <= 0.0 || rate.is_nan() {
        return false;
    }
    (fnv1a(request_id) as f64 / u64::MAX as f64) < rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decision_is_per_request_id_and_follows_the_rate() {
        assert!(keep("any", 1.0) && !keep("any", 0.0));
        assert_eq!(keep("req-42", 0.3), keep("req-42", 0.3), "the same id, the same decision");
        let kept = (0..10_000).filter(|i| keep(&format!("3f0c2a9e-1b2c-4d5e-8f90-{i:012}"), 0.25)).count();
        assert!((2_000..3_000).contains(&kept), "about a quarter kept: {kept}");
        assert!((0..1000).all(|i| !keep(&i.to_string(), 0.1) || keep(&i.to_string(), 0.5)), "a kept id stays kept at a higher rate");
    }
}
