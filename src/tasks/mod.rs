//! Task executors: what a job of each task type does when its queue message is consumed.

pub mod browser_extract_text;
pub mod http_request;

/// How a task attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// Worth another attempt (5xx, timeout, network error). `timeout` says which.
    Retryable { message: String, timeout: bool },
    /// Final: retrying cannot help (4xx, invalid payload).
    Final(String),
    /// The service the task needs is unavailable or rate limiting: the attempt is handed back and the
    /// message redelivered after `retry_in_secs`.
    Deferred { message: String, retry_in_secs: u32 },
}
