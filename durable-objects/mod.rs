//! Durable Object classes: one place of truth for state that must not be split across isolates.

pub mod account_limiter;
pub mod circuit_breaker;
pub mod job_hub;
