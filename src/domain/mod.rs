//! Pure domain logic: nothing here imports `worker`, so `cargo test` exercises it on the host.

pub mod billing;
pub mod body;
pub mod breaker;
pub mod browser;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod jobs;
pub mod jwks_cache;
pub mod jwt;
pub mod metering;
pub mod request_id;
pub mod routes;
pub mod ssrf;
pub mod stripe_signature;
