//! Observability (docs/observability.md): what leaves the Worker about itself.
//!
//! - [`scrub`]: secrets and e-mail addresses removed from every log line and error report.
//! - [`sampling`]: head sampling of info lines, decided per request id.
//! - [`sentry`]: error reports as Sentry envelopes (the transport is `adapters::sentry`).
//! - [`metrics`]: Analytics Engine data points (written by `adapters::metrics`).
//!
//! Pure: nothing here imports `worker`.

pub mod metrics;
pub mod sampling;
pub mod scrub;
pub mod sentry;
