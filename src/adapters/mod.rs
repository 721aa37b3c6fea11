//! Adapters to the outside world, each behind a small type that wraps its URL and credentials.

pub mod account_limiter;
pub mod ai_gateway;
pub mod breaker;
pub mod browser_rendering;
pub mod job_hub;
pub mod metrics;
pub mod postgrest;
pub mod profile_cache;
pub mod queue;
pub mod rpc;
pub mod sentry;
pub mod stripe;
