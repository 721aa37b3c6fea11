//! The job: one home for its types and its lifecycle.
//!
//! - [`model`]: `JobId`, `AccountId`, `JobStatus`, `FailureReason`, the typed row and the public view.
//! - [`task_types`]: the task-type registry (queue binding, feature flags).
//! - [`payloads`]: strict payload parsing and the submission body.
//! - [`envelope`]: the queue message.
//! - [`lifecycle`]: the pure decision the consumer follows ([`lifecycle::decide`]).
//! - [`list`]: the list query.
//! - [`batches`]: the batch body, the batch view and queue batch sizing.
//!
//! Pure: nothing here imports `worker`, so the whole lifecycle is tested on the host.

pub mod batches;
pub mod envelope;
pub mod lifecycle;
pub mod list;
pub mod model;
pub mod payloads;
pub mod task_types;

#[cfg(test)]
mod sql_vocabulary;

pub use model::{AccountId, FailureReason, JobId, JobRow, JobStatus, JobSummary, PublicJob};
pub use task_types::TaskType;
