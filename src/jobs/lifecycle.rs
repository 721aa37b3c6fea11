//! The job lifecycle as one pure decision: given what the database says of the job, the gates in front
//! of it and how far the consumer got, what happens next. The consumer (`queues/jobs.rs`) only parses,
//! runs the task, asks [`decide`], makes the one adapter call the [`Decision`] names, and acks or
//! retries the message. The SQL functions (`job_start`, `job_retry`, `job_defer`, `job_finish`) apply each
//! transition once; this module chooses it.
//!
//! ```text
//!  queued ──flag off──────────────────────────────▶ FAILED feature_flag_disabled
//!    │ ──breaker open─────────────────────────────▶ (waits: job_defer, retry later; no attempt spent)
//!    ▼ job_start (attempts + 1; or FAILED expired past the TTL; or no slot free: PENDING waiting_for_slot)
//!  started ─missing / already finished────────────▶ skip (ack)
//!    │ ────cancel requested───────────────────────▶ CANCELLED
//!    │ ────no slot free (still PENDING)───────────▶ wait: redeliver later, no attempt spent
//!    ▼ run the task
//!  ran ──cancel requested (step boundary)─────────▶ CANCELLED
//!    │ ──ok───────────────────────────────────────▶ COMPLETED
//!    │ ──final error──────────────────────────────▶ FAILED task_error
//!    │ ──service unavailable──────────────────────▶ PENDING (job_defer: attempt handed back)
//!    │ ──retryable, attempts left─────────────────▶ PENDING (job_retry), redelivered after backoff
//!    └ ──retryable, none left─────────────────────▶ FAILED timeout | max_attempts_exceeded + dead letter
//! ```

use super::model::{FailureReason, JobRow, JobStatus};
pub use crate::domain::backoff::retry_delay_secs;
use serde_json::Value;

/// How a task attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// Worth another attempt (5xx, timeout, network error). `timeout` says which.
    Retryable { message: String, timeout: bool },
    /// Final: retrying cannot help (4xx, invalid payload, a result that cannot be stored).
    Final(String),
    /// The service the task needs is unavailable or rate limiting: the attempt is handed back and the
    /// message redelivered after `retry_in_secs`.
    Deferred { message: String, retry_in_secs: u32 },
    /// Worth another attempt, not before `retry_after_secs` (a provider's 429 with `Retry-After`): spends
    /// the attempt like [`TaskError::Retryable`].
    RateLimited { message: String, retry_after_secs: u32 },
    /// Final, with its own failure reason (e.g. `ai_invalid_output`).
    FinalWith { reason: FailureReason, message: String },
}

/// How far the consumer got with this delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing done yet: the job has not been started for this delivery.
    Queued,
    /// `job_start` answered (the row passed to [`decide`]; `None` when the job no longer exists).
    Started,
    /// The task ran and ended so.
    Ran(Result<Value, TaskError>),
}

/// What stands in front of the job, read from configuration and the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    /// The first required feature flag that is off.
    pub flag_disabled: Option<&'static str>,
    /// The dependency's circuit breaker refused; retry after this many seconds.
    pub breaker_refused_secs: Option<u32>,
    /// Cancellation was requested (JobHub's flag; the row's `cancel_requested_at` is read from the row).
    pub cancel_requested: bool,
}

/// Retry policy: exponential backoff from `base_secs`, capped at `max_secs`, plus jitter in [0, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    pub retry_base_secs: u32,
    pub retry_max_secs: u32,
    pub jitter: f64,
}

/// A terminal transition (`job_finish`).
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub status: JobStatus,
    pub failure_reason: Option<FailureReason>,
    pub result: Option<Value>,
    pub last_error: Option<String>,
}

impl Finish {
    fn failed(reason: FailureReason, last_error: impl Into<String>) -> Finish {
        Finish { status: JobStatus::Failed, failure_reason: Some(reason), result: None, last_error: Some(last_error.into()) }
    }

    fn cancelled() -> Finish {
        Finish { status: JobStatus::Cancelled, failure_reason: Some(FailureReason::Cancelled), result: None, last_error: None }
    }
}

/// Why a delivery is acked without touching the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The job row is gone (account deleted).
    Missing,
    /// A duplicate delivery of a job that already finished.
    AlreadyFinished(JobStatus),
}

/// What the consumer does next. Each variant is one adapter call (or none) and an ack or a retry.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Go on: start the job (`job_start`).
    Start,
    /// Go on: run the task.
    Run,
    /// Ack without a change.
    Skip(Skip),
    /// The account is at its concurrent-job cap: redeliver later ([`slot_poll_delay_secs`]).
    WaitForSlot,
    /// `job_finish` with this, then ack.
    Finish(Finish),
    /// `job_retry` with this error, then redeliver after `delay_secs`.
    Retry { delay_secs: u32, last_error: String },
    /// `job_defer` (the attempt is handed back), then redeliver after `retry_in_secs`.
    Defer { retry_in_secs: u32, reason: String },
    /// `job_finish` with this, send the envelope to the dead-letter queue, then ack.
    DeadLetter(Finish),
}

/// How long a message whose job waits for a slot is held before it asks again, from how long ago it was
/// queued: about a fifth of its age, 1 s to 120 s. A slot is taken up within seconds while queues are
/// short, and a job waiting an hour is redelivered about 55 times (within the queue's `max_retries`).
pub fn slot_poll_delay_secs(queued_for_secs: f64) -> u32 {
    (queued_for_secs / 5.0).clamp(1.0, 120.0) as u32
}

pub const BREAKER_WAIT_REASON: &str = "browser rendering circuit open; waiting for it to recover";

/// The lifecycle's one decision. `row` is the job as `job_start` returned it (ignored while `Queued`).
pub fn decide(row: Option<&JobRow>, gates: &Gates, outcome: &Outcome, policy: &Policy) -> Decision {
    match outcome {
        Outcome::Queued => {
            if let Some(flag) = gates.flag_disabled {
                Decision::Finish(Finish::failed(FailureReason::FeatureFlagDisabled, format!("{flag} is disabled; the job was not run")))
            } else if let Some(secs) = gates.breaker_refused_secs {
                Decision::Defer { retry_in_secs: secs, reason: BREAKER_WAIT_REASON.into() }
            } else {
                Decision::Start
            }
        }
        Outcome::Started => match row {
            None => Decision::Skip(Skip::Missing),
            Some(j) if j.is_terminal() => Decision::Skip(Skip::AlreadyFinished(j.status)),
            Some(j) if j.cancel_requested_at.is_some() || gates.cancel_requested => Decision::Finish(Finish::cancelled()),
            Some(j) if j.status == JobStatus::Pending => Decision::WaitForSlot,
            Some(_) => Decision::Run,
        },
        Outcome::Ran(result) => {
            // Step boundary: a cancellation requested while the task ran wins over its outcome.
            if gates.cancel_requested {
                return Decision::Finish(Finish::cancelled());
            }
            let attempts = row.map_or(1, |j| j.attempts);
            let max_attempts = row.map_or(1, |j| j.max_attempts);
            match result {
                Ok(result) => Decision::Finish(Finish {
                    status: JobStatus::Completed,
                    failure_reason: None,
                    result: Some(result.clone()),
                    last_error: None,
                }),
                Err(TaskError::Final(msg)) => Decision::Finish(Finish::failed(FailureReason::TaskError, msg.clone())),
                Err(TaskError::FinalWith { reason, message }) => Decision::Finish(Finish::failed(*reason, message.clone())),
                Err(TaskError::RateLimited { message, retry_after_secs }) if attempts < max_attempts => Decision::Retry {
                    delay_secs: retry_delay_secs(attempts, policy.retry_base_secs, policy.retry_max_secs, policy.jitter)
                        .max(*retry_after_secs),
                    last_error: message.clone(),
                },
                Err(TaskError::RateLimited { message, .. }) => {
                    Decision::DeadLetter(Finish::failed(FailureReason::MaxAttemptsExceeded, message.clone()))
                }
                Err(TaskError::Deferred { message, retry_in_secs }) => {
                    Decision::Defer { retry_in_secs: *retry_in_secs, reason: message.clone() }
                }
                Err(TaskError::Retryable { message, .. }) if attempts < max_attempts => Decision::Retry {
                    delay_secs: retry_delay_secs(attempts, policy.retry_base_secs, policy.retry_max_secs, policy.jitter),
                    last_error: message.clone(),
                },
                // The last attempt timing out is reported as such; any other last failure as attempts exhausted.
                Err(TaskError::Retryable { message, timeout }) => Decision::DeadLetter(Finish::failed(
                    if *timeout { FailureReason::Timeout } else { FailureReason::MaxAttemptsExceeded },
                    message.clone(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::test_row;
    use serde_json::json;

    const POLICY: Policy = Policy { retry_base_secs: 5, retry_max_secs: 300, jitter: 0.0 };

    fn running(attempts: u32, max_attempts: u32) -> JobRow {
        JobRow { attempts, max_attempts, ..test_row("RUNNING") }
    }

    fn retryable(timeout: bool) -> Outcome {
        Outcome::Ran(Err(TaskError::Retryable { message: "HTTP 503".into(), timeout }))
    }

    fn failed(reason: FailureReason, err: &str) -> Decision {
        Decision::Finish(Finish { status: JobStatus::Failed, failure_reason: Some(reason), result: None, last_error: Some(err.into()) })
    }

    fn cancelled() -> Decision {
        Decision::Finish(Finish {
            status: JobStatus::Cancelled,
            failure_reason: Some(FailureReason::Cancelled),
            result: None,
            last_error: None,
        })
    }

    #[test]
    fn the_decision_table() {
        let open = Gates::default();
        let flag_off = Gates { flag_disabled: Some("FF_X"), ..Gates::default() };
        let breaker = Gates { breaker_refused_secs: Some(12), ..Gates::default() };
        let flag_and_breaker = Gates { flag_disabled: Some("FF_X"), breaker_refused_secs: Some(12), ..Gates::default() };
        let cancel = Gates { cancel_requested: true, ..Gates::default() };
        let flagged_row = JobRow { cancel_requested_at: Some("t".into()), ..running(1, 3) };
        let ok = Outcome::Ran(Ok(json!({"status": 200})));
        let final_err = Outcome::Ran(Err(TaskError::Final("HTTP 404".into())));
        let deferred = Outcome::Ran(Err(TaskError::Deferred { message: "429".into(), retry_in_secs: 7 }));
        let (failing, timing_out) = (retryable(false), retryable(true));
        #[rustfmt::skip]
        let table: Vec<(&str, Option<JobRow>, &Gates, &Outcome, Decision)> = vec![
            ("queued, gates open", None, &open, &Outcome::Queued, Decision::Start),
            ("queued, flag off", None, &flag_off, &Outcome::Queued, failed(FailureReason::FeatureFlagDisabled, "FF_X is disabled; the job was not run")),
            ("queued, flag off wins over the breaker", None, &flag_and_breaker, &Outcome::Queued, failed(FailureReason::FeatureFlagDisabled, "FF_X is disabled; the job was not run")),
            ("queued, breaker open", None, &breaker, &Outcome::Queued, Decision::Defer { retry_in_secs: 12, reason: BREAKER_WAIT_REASON.into() }),
            ("started, row gone", None, &open, &Outcome::Started, Decision::Skip(Skip::Missing)),
            ("started, completed already", Some(test_row("COMPLETED")), &open, &Outcome::Started, Decision::Skip(Skip::AlreadyFinished(JobStatus::Completed))),
            ("started, failed already", Some(test_row("FAILED")), &cancel, &Outcome::Started, Decision::Skip(Skip::AlreadyFinished(JobStatus::Failed))),
            ("started, cancelled already", Some(test_row("CANCELLED")), &open, &Outcome::Started, Decision::Skip(Skip::AlreadyFinished(JobStatus::Cancelled))),
            ("started, cancel flag in the row", Some(flagged_row), &open, &Outcome::Started, cancelled()),
            ("started, cancel flag in JobHub", Some(running(1, 3)), &cancel, &Outcome::Started, cancelled()),
            ("started, runs", Some(running(1, 3)), &open, &Outcome::Started, Decision::Run),
            ("started, no slot free", Some(JobRow { step: "waiting_for_slot".into(), ..test_row("PENDING") }), &open, &Outcome::Started, Decision::WaitForSlot),
            ("started, no slot free but cancelled", Some(JobRow { step: "waiting_for_slot".into(), ..test_row("PENDING") }), &cancel, &Outcome::Started, cancelled()),
            ("started, expired just now", Some(JobRow { failure_reason: Some(FailureReason::Expired), ..test_row("FAILED") }), &open, &Outcome::Started, Decision::Skip(Skip::AlreadyFinished(JobStatus::Failed))),
            ("ran ok", Some(running(1, 3)), &open, &ok, Decision::Finish(Finish { status: JobStatus::Completed, failure_reason: None, result: Some(json!({"status": 200})), last_error: None })),
            ("ran ok, cancelled meanwhile", Some(running(1, 3)), &cancel, &ok, cancelled()),
            ("ran, final error", Some(running(1, 3)), &open, &final_err, failed(FailureReason::TaskError, "HTTP 404")),
            ("ran, deferred", Some(running(2, 3)), &open, &deferred, Decision::Defer { retry_in_secs: 7, reason: "429".into() }),
            ("ran, retryable, 1 of 3", Some(running(1, 3)), &open, &failing, Decision::Retry { delay_secs: 5, last_error: "HTTP 503".into() }),
            ("ran, retryable, 2 of 3", Some(running(2, 3)), &open, &timing_out, Decision::Retry { delay_secs: 10, last_error: "HTTP 503".into() }),
            ("ran, retryable, 3 of 3", Some(running(3, 3)), &open, &failing, Decision::DeadLetter(Finish { status: JobStatus::Failed, failure_reason: Some(FailureReason::MaxAttemptsExceeded), result: None, last_error: Some("HTTP 503".into()) })),
            ("ran, timed out, 3 of 3", Some(running(3, 3)), &open, &timing_out, Decision::DeadLetter(Finish { status: JobStatus::Failed, failure_reason: Some(FailureReason::Timeout), result: None, last_error: Some("HTTP 503".into()) })),
            ("ran, timed out, 1 of 1", Some(running(1, 1)), &open, &timing_out, Decision::DeadLetter(Finish { status: JobStatus::Failed, failure_reason: Some(FailureReason::Timeout), result: None, last_error: Some("HTTP 503".into()) })),
        ];
        for (name, row, gates, outcome, want) in table {
            assert_eq!(decide(row.as_ref(), gates, outcome, &POLICY), want, "{name}");
        }
    }

    #[test]
    fn waiting_messages_poll_often_at_first_then_rarely() {
        assert_eq!(slot_poll_delay_secs(0.0), 1);
        assert_eq!(slot_poll_delay_secs(9.0), 1);
        assert_eq!(slot_poll_delay_secs(50.0), 10);
        assert_eq!(slot_poll_delay_secs(86_400.0), 120);
        // An hour of waiting stays well within the jobs queue's max_retries (100).
        let (mut t, mut polls) = (0.0, 0);
        while t < 3600.0 {
            t += slot_poll_delay_secs(t) as f64;
            polls += 1;
        }
        assert!(polls < 80, "{polls} redeliveries in an hour");
    }

    #[test]
    fn backoff_grows_exponentially_is_capped_and_jittered() {
        assert_eq!(retry_delay_secs(1, 5, 300, 0.0), 5);
        assert_eq!(retry_delay_secs(2, 5, 300, 0.0), 10);
        assert_eq!(retry_delay_secs(3, 5, 300, 0.0), 20);
        assert_eq!(retry_delay_secs(30, 5, 300, 0.0), 300);
        assert_eq!(retry_delay_secs(1, 5, 300, 0.99), 9);
        let d = decide(Some(&running(9, 10)), &Gates::default(), &retryable(false), &Policy { jitter: 0.5, ..POLICY });
        assert_eq!(d, Decision::Retry { delay_secs: 302, last_error: "HTTP 503".into() }, "capped, plus jitter");
    }

    #[test]
    fn rate_limits_wait_at_least_retry_after_and_spend_attempts() {
        let limited = |secs| Outcome::Ran(Err(TaskError::RateLimited { message: "429".into(), retry_after_secs: secs }));
        assert_eq!(
            decide(Some(&running(1, 3)), &Gates::default(), &limited(30), &POLICY),
            Decision::Retry { delay_secs: 30, last_error: "429".into() }
        );
        assert_eq!(
            decide(Some(&running(1, 3)), &Gates::default(), &limited(1), &POLICY),
            Decision::Retry { delay_secs: 5, last_error: "429".into() },
            "never sooner than the backoff"
        );
        assert_eq!(
            decide(Some(&running(3, 3)), &Gates::default(), &limited(1), &POLICY),
            Decision::DeadLetter(Finish::failed(FailureReason::MaxAttemptsExceeded, "429"))
        );
        let invalid = Outcome::Ran(Err(TaskError::FinalWith { reason: FailureReason::AiInvalidOutput, message: "bad".into() }));
        assert_eq!(
            decide(Some(&running(1, 3)), &Gates::default(), &invalid, &POLICY),
            Decision::Finish(Finish::failed(FailureReason::AiInvalidOutput, "bad"))
        );
    }
}
