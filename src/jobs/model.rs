//! The job's types: identifiers, status, failure reason, the row as the database returns it, and the one
//! allow-listed public view that REST and SSE both serve (API.md "The job").
//!
//! The status and failure-reason vocabularies are SQL's (`check` constraints in `sql/migrations`); the
//! host test `sql_vocabulary` keeps these enums and the migrations equal.

use crate::contract::time as utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses any UUID form; the id is kept hyphenated and lower case, as Postgres prints it.
            pub fn parse(raw: &str) -> Option<$name> {
                uuid::Uuid::parse_str(raw).ok().map(|u| $name(u.hyphenated().to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_id!(
    /// A job's id.
    JobId
);
uuid_id!(
    /// An account's id (the tenant: jobs, credits and plans belong to it).
    AccountId
);

/// Where a job is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum JobStatus {
    Pending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [JobStatus::Pending, JobStatus::Running, JobStatus::Completed, JobStatus::Failed, JobStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "PENDING",
            JobStatus::Running => "RUNNING",
            JobStatus::Completed => "COMPLETED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// A finished job never moves again: the database's transitions and JobHub both rely on this.
    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Completed | JobStatus::Failed | JobStatus::Cancelled)
    }
}

/// Why a job ended FAILED or CANCELLED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    TaskError,
    Timeout,
    MaxAttemptsExceeded,
    FeatureFlagDisabled,
    Cancelled,
    Stuck,
    /// Still PENDING (waiting for a slot or a service) past `JOB_PENDING_TTL_SECS`.
    Expired,
    /// The AI answered with output that failed validation twice (the answer and its repair).
    AiInvalidOutput,
}

impl FailureReason {
    pub const ALL: [FailureReason; 8] = [
        FailureReason::TaskError,
        FailureReason::Timeout,
        FailureReason::MaxAttemptsExceeded,
        FailureReason::FeatureFlagDisabled,
        FailureReason::Cancelled,
        FailureReason::Stuck,
        FailureReason::Expired,
        FailureReason::AiInvalidOutput,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::TaskError => "task_error",
            FailureReason::Timeout => "timeout",
            FailureReason::MaxAttemptsExceeded => "max_attempts_exceeded",
            FailureReason::FeatureFlagDisabled => "feature_flag_disabled",
            FailureReason::Cancelled => "cancelled",
            FailureReason::Stuck => "stuck",
            FailureReason::Expired => "expired",
            FailureReason::AiInvalidOutput => "ai_invalid_output",
        }
    }
}

/// A `public.jobs` row as the job functions return it (`to_jsonb(job)`). Columns this type does not
/// name are ignored, so a new column never reaches a client by accident: only [`PublicJob`] is served.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct JobRow {
    pub id: JobId,
    pub account_id: AccountId,
    #[serde(default)]
    pub user_id: Option<String>,
    pub task_type: String,
    pub status: JobStatus,
    pub progress: u8,
    pub step: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub correlation_id: String,
    #[serde(default)]
    pub payload: Value,
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<FailureReason>,
    pub credit_cost: i64,
    #[serde(deserialize_with = "utc::de_utc")]
    pub created_at: String,
    #[serde(deserialize_with = "utc::de_utc")]
    pub updated_at: String,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub finished_at: Option<String>,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub cancel_requested_at: Option<String>,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub scrubbed_at: Option<String>,
    /// The batch the job was submitted in, and its place there (docs/adr/0016).
    #[serde(default)]
    pub batch_id: Option<String>,
    #[serde(default)]
    pub batch_index: Option<u8>,
}

impl JobRow {
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// The same row at a named step of a running task (what JobHub shows between database writes).
    pub fn at_step(&self, step: &str, progress: u8) -> JobRow {
        JobRow { step: step.to_string(), progress, ..self.clone() }
    }

    /// The row as a list shows it (`private.job_summary` in SQL builds the same).
    pub fn summary(&self) -> JobSummary {
        JobSummary {
            id: self.id.clone(),
            task_type: self.task_type.clone(),
            status: self.status,
            progress: self.progress,
            step: self.step.clone(),
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            failure_reason: self.failure_reason,
            credit_cost: self.credit_cost,
            cancel_requested: self.cancel_requested_at.is_some(),
            batch_id: self.batch_id.clone(),
            batch_index: self.batch_index,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        }
    }

    pub fn public(&self) -> PublicJob {
        PublicJob {
            id: self.id.clone(),
            task_type: self.task_type.clone(),
            status: self.status,
            progress: self.progress,
            step: self.step.clone(),
            attempts: self.attempts,
            max_attempts: self.max_attempts,
            correlation_id: self.correlation_id.clone(),
            payload: self.payload.clone(),
            result: self.result.clone(),
            last_error: self.last_error.clone(),
            failure_reason: self.failure_reason,
            credit_cost: self.credit_cost,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
            scrubbed_at: self.scrubbed_at.clone(),
            cancel_requested: self.cancel_requested_at.is_some() && !self.is_terminal(),
            batch_id: self.batch_id.clone(),
            batch_index: self.batch_index,
        }
    }
}

/// The job as clients see it (API.md "The job"): an allow-list of the row's columns. `account_id`,
/// `user_id`, `idempotency_key` and `cancel_requested_at` are internal; `cancel_requested` says a cancel
/// of a RUNNING job is pending (it stops at its next step boundary).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicJob {
    pub id: JobId,
    pub task_type: String,
    pub status: JobStatus,
    pub progress: u8,
    pub step: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub correlation_id: String,
    pub payload: Value,
    pub result: Option<Value>,
    pub last_error: Option<String>,
    pub failure_reason: Option<FailureReason>,
    pub credit_cost: i64,
    pub created_at: String,
    pub updated_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub scrubbed_at: Option<String>,
    pub cancel_requested: bool,
    pub batch_id: Option<String>,
    pub batch_index: Option<u8>,
}

/// A job in a list (`GET /api/v1/jobs`): the summary `list_jobs` builds (no payload, result or error
/// text; those are read by id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: JobId,
    pub task_type: String,
    pub status: JobStatus,
    pub progress: u8,
    pub step: String,
    pub attempts: u32,
    pub max_attempts: u32,
    pub failure_reason: Option<FailureReason>,
    pub credit_cost: i64,
    pub cancel_requested: bool,
    #[serde(default)]
    pub batch_id: Option<String>,
    #[serde(default)]
    pub batch_index: Option<u8>,
    #[serde(deserialize_with = "utc::de_utc")]
    pub created_at: String,
    #[serde(deserialize_with = "utc::de_utc")]
    pub updated_at: String,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub started_at: Option<String>,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub finished_at: Option<String>,
}

/// The `data` of an SSE `job` frame: the fields a progress view needs (API.md "Server-Sent Events").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFrame {
    pub id: JobId,
    pub status: JobStatus,
    pub progress: u8,
    pub step: String,
    pub attempts: u32,
    pub updated_at: String,
    pub last_error: Option<String>,
    pub failure_reason: Option<FailureReason>,
    #[serde(default)]
    pub cancel_requested: bool,
    /// The job's batch: batch streams carry the frames of their items.
    #[serde(default)]
    pub batch_id: Option<String>,
}

impl JobFrame {
    /// Whether two frames show the same state (everything but `updated_at`).
    pub fn same_state(&self, other: &JobFrame) -> bool {
        JobFrame { updated_at: String::new(), ..self.clone() } == JobFrame { updated_at: String::new(), ..other.clone() }
    }
}

impl From<&PublicJob> for JobFrame {
    fn from(j: &PublicJob) -> JobFrame {
        JobFrame {
            id: j.id.clone(),
            status: j.status,
            progress: j.progress,
            step: j.step.clone(),
            attempts: j.attempts,
            updated_at: j.updated_at.clone(),
            last_error: j.last_error.clone(),
            failure_reason: j.failure_reason,
            cancel_requested: j.cancel_requested,
            batch_id: j.batch_id.clone(),
        }
    }
}

/// A job row for host tests.
#[cfg(test)]
pub(crate) fn test_row(status: &str) -> JobRow {
    serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-4000-8000-000000000001", "account_id": "00000000-0000-4000-8000-0000000000aa",
        "user_id": null, "task_type": "http.request", "status": status, "progress": 0, "step": "queued",
        "attempts": 1, "max_attempts": 3, "correlation_id": "req-1", "idempotency_key": "k",
        "payload": {"url": "https://a.b"}, "result": null, "last_error": null, "failure_reason": null,
        "credit_cost": 1, "created_at": "2026-11-30T00:00:00+00:00", "updated_at": "2026-11-30T00:00:00+00:00",
        "started_at": null, "finished_at": null, "cancel_requested_at": null, "scrubbed_at": null,
        "a_column_added_later": "secret"
    }))
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_job_is_an_allow_list() {
        let v = serde_json::to_value(test_row("PENDING").public()).unwrap();
        for internal in ["account_id", "user_id", "idempotency_key", "cancel_requested_at", "a_column_added_later"] {
            assert!(v.get(internal).is_none(), "{internal} must not be public: {v}");
        }
        for public in ["id", "status", "progress", "step", "attempts", "payload", "result", "created_at", "scrubbed_at"] {
            assert!(v.get(public).is_some(), "{public} is public: {v}");
        }
        assert_eq!(v["status"], "PENDING");
        assert_eq!(v["created_at"], "2026-11-30T00:00:00Z", "timestamps are UTC with Z");
        assert_eq!(v["cancel_requested"], false);
    }

    #[test]
    fn statuses_and_reasons_round_trip_their_sql_spelling() {
        for s in JobStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        for r in FailureReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert!(JobStatus::ALL.iter().filter(|s| s.is_terminal()).count() == 3);
        assert_eq!(JobId::parse("00000000-0000-4000-8000-00000000000A").unwrap().as_str(), "00000000-0000-4000-8000-00000000000a");
        assert!(JobId::parse("nope").is_none());
    }
}
