//! Task executors: what a job of each task type does when its queue message is consumed.

pub mod browser_extract_text;
pub mod http_request;
pub mod lead_analyze;

pub use crate::jobs::lifecycle::TaskError;
