//! Pure domain logic: nothing here imports `worker`, so `cargo test` exercises it on the host.

pub mod envelope;
pub mod error;
pub mod request_id;
pub mod cors;
pub mod routes;
pub mod billing;
pub mod breaker;
pub mod browser;
pub mod body;
pub mod jwt;
pub mod jwks_cache;
pub mod jobs;
pub mod metering;
pub mod ssrf;
pub mod stripe_signature;
