//! Pure domain logic: nothing here imports `worker`, so `cargo test` exercises it on the host.

pub mod backoff;
pub mod breaker;
pub mod browser;
pub mod jwks_cache;
pub mod jwt;
pub mod metering;
pub mod rate_limit;
pub mod ssrf;
pub mod verified_tokens;
