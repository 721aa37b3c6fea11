//! The typed database boundary: one Rust type per SQL function the Worker calls, with its argument
//! names and types (serialised as PostgREST's named arguments) and its decoded answer.
//!
//! [`FUNCTIONS`] lists every function with its SQL argument types; `sql/tests/05_rust_boundary.sql`
//! checks with pgTAP that each exists with exactly that signature, and the host test
//! `the_pgtap_boundary_test_lists_every_function` keeps that file and this list equal. Optional arguments
//! are omitted when `None` so the SQL default applies.

use crate::jobs::batches::{BatchDetail, BatchView};
use crate::jobs::{AccountId, JobId, JobRow, JobStatus, JobSummary};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A SQL function reachable through `POST /rpc/{NAME}`.
pub trait Rpc: Serialize {
    const NAME: &'static str;
    /// The SQL argument types, in order, as `pg_proc` spells them.
    const ARGS: &'static [&'static str];
    type Output: DeserializeOwned;
}

macro_rules! functions {
    ($( $ty:ident $(<$lt:lifetime>)? => $name:literal ($($arg:literal),*) -> $out:ty; )*) => {
        $(
            impl$(<$lt>)? Rpc for $ty$(<$lt>)? {
                const NAME: &'static str = $name;
                const ARGS: &'static [&'static str] = &[$($arg),*];
                type Output = $out;
            }
        )*
        /// Every SQL function the Worker calls, with its argument types.
        pub const FUNCTIONS: &[(&str, &[&str])] = &[$(($name, &[$($arg),*])),*];
    };
}

functions! {
    HealthCheck => "health_check"() -> String;
    Me => "me"("uuid") -> Value;
    SubmitJob<'a> => "submit_job"("uuid", "text", "jsonb", "integer", "text", "text", "uuid") -> Submitted;
    FailUnqueuedJob<'a> => "fail_unqueued_job"("uuid") -> JobRow;
    ListJobs<'a> => "list_jobs"("integer", "uuid", "uuid", "text", "text", "uuid") -> JobPage;
    GetJob<'a> => "get_job"("uuid") -> Option<JobRow>;
    SubmitBatch<'a> => "submit_batch"("uuid", "jsonb", "text", "text", "uuid") -> BatchSubmitted;
    FailUnqueuedJobs<'a> => "fail_unqueued_jobs"("uuid[]") -> Vec<JobRow>;
    GetBatch<'a> => "get_batch"("uuid", "integer", "uuid") -> BatchDetail;
    ListBatches<'a> => "list_batches"("integer", "uuid", "uuid", "uuid") -> BatchPage;
    CancelBatch<'a> => "cancel_batch"("uuid") -> BatchChanged;
    BatchStreamContext<'a> => "batch_stream_context"("uuid") -> BatchStreamCtx;
    CancelJob<'a> => "cancel_job"("uuid") -> JobRow;
    StreamContext<'a> => "stream_context"("uuid", "uuid") -> StreamCtx;
    RequestLimits => "request_limits"("uuid") -> Limits;
    JobStart<'a> => "job_start"("uuid", "integer") -> Option<JobRow>;
    ExpirePendingJobs => "expire_pending_jobs"("integer") -> Vec<Option<JobRow>>;
    JobRetry<'a> => "job_retry"("uuid", "text") -> Option<JobRow>;
    JobDefer<'a> => "job_defer"("uuid", "text") -> Option<JobRow>;
    JobFinish<'a> => "job_finish"("uuid", "text", "jsonb", "text", "text") -> Option<JobRow>;
    RecordDeadLetter<'a> => "record_dead_letter"("uuid", "text", "jsonb", "text") -> Option<JobRow>;
    SweepStuckJobs => "sweep_stuck_jobs"("integer", "integer") -> Vec<Option<JobRow>>;
    StoreWebhookEvent<'a> => "store_webhook_event"("jsonb") -> Option<String>;
    BillingOverview => "billing_overview"("uuid") -> Value;
    ListCreditTransactions<'a> => "list_credit_transactions"("integer", "uuid", "uuid", "uuid") -> Value;
    Pricing => "pricing"() -> Value;
    UsageDaily => "usage_daily"("integer", "uuid") -> Option<Vec<UsageDay>>;
    ApplyIgnoredEvent<'a> => "apply_ignored_event"("jsonb") -> String;
    ApplyCheckoutCompleted<'a> => "apply_checkout_completed"("jsonb", "integer") -> String;
    ApplyCustomerEvent<'a> => "apply_customer_event"("jsonb") -> String;
    ApplyCustomerSnapshot<'a> => "apply_customer_snapshot"("jsonb", "jsonb") -> String;
    ApplySubscriptionEvent<'a> => "apply_subscription_event"("jsonb", "text") -> String;
    ApplySubscriptionSnapshot<'a> => "apply_subscription_snapshot"("jsonb", "jsonb", "text") -> String;
    ApplyInvoicePaid<'a> => "apply_invoice_paid"("jsonb", "text", "bigint", "bigint") -> String;
    ApplyInvoicePaymentFailed<'a> => "apply_invoice_payment_failed"("jsonb", "text") -> String;
    RecordWebhookFailure<'a> => "record_webhook_failure"("jsonb", "text", "boolean", "integer") -> String;
    PendingWebhookEvents => "pending_webhook_events"("integer") -> Option<Vec<Value>>;
    CronRunStart<'a> => "cron_run_start"("text") -> Option<String>;
    CronRunFinish<'a> => "cron_run_finish"("uuid", "text", "jsonb", "text") -> ();
    UnreportedMeterUsage<'a> => "unreported_meter_usage"("text[]", "integer") -> Option<Vec<Value>>;
    MarkUsageReported<'a> => "mark_usage_reported"("uuid[]") -> i64;
    MeteredPeriods<'a> => "metered_periods"("text[]") -> Option<Vec<Value>>;
    RecordReconciliation<'a> => "record_reconciliation"("uuid", "uuid", "text", "timestamp with time zone", "timestamp with time zone", "bigint", "bigint") -> String;
    RenewMonthlyCredits => "renew_monthly_credits"() -> i64;
    ApplyRetention => "apply_retention"("integer", "integer", "integer", "integer") -> Value;
    SubmitLeadAnalyses<'a> => "submit_lead_analyses"("uuid", "uuid", "text", "text[]", "boolean", "text", "text", "uuid") -> LeadsSubmitted;
    LeadAnalysisContext<'a> => "lead_analysis_context"("uuid") -> Option<LeadContext>;
    ListLeads<'a> => "list_leads"("integer", "uuid", "uuid", "integer", "boolean", "uuid") -> ValuePage;
    GetLead<'a> => "get_lead"("uuid") -> Option<Value>;
    ListLeadAnalyses<'a> => "list_lead_analyses"("uuid", "integer", "uuid", "uuid") -> ValuePage;
    GetAnalysis<'a> => "get_analysis"("uuid") -> Option<Value>;
    DeleteLead<'a> => "delete_lead"("uuid") -> Value;
    RestoreLead<'a> => "restore_lead"("uuid", "integer") -> Value;
    PurgeDeletedLeads => "purge_deleted_leads"("integer") -> i64;
    ListBusinessProfiles<'a> => "list_business_profiles"("integer", "uuid", "uuid", "uuid") -> ValuePage;
    GetBusinessProfile<'a> => "get_business_profile"("uuid") -> Option<Value>;
    CreateBusinessProfile<'a> => "create_business_profile"("text", "text", "text", "text", "uuid") -> Value;
    UpdateBusinessProfile<'a> => "update_business_profile"("uuid", "text", "text", "text", "text") -> Value;
}

// ---- health and identity ----

#[derive(Serialize)]
pub struct HealthCheck {}

#[derive(Serialize)]
pub struct Me {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

/// The active account and its plan's request rate (`sql/migrations/*_plan_limits.sql`).
#[derive(Serialize)]
pub struct RequestLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Limits {
    pub account_id: AccountId,
    pub rate_limit_per_minute: u32,
}

// ---- jobs (sql/migrations/*_job_lifecycle.sql, *_browser_jobs.sql) ----

/// Creates a job (service role only: the Worker's verified user is `p_user_id`; docs/adr/0015).
#[derive(Serialize)]
pub struct SubmitJob<'a> {
    pub p_user_id: &'a str,
    pub p_task_type: &'a str,
    pub p_payload: &'a Value,
    pub p_max_attempts: u32,
    pub p_correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_idempotency_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

/// `submit_job`'s answer: a new job, or the one an `Idempotency-Key` already created.
#[derive(Debug, Deserialize)]
pub struct Submitted {
    pub outcome: SubmitOutcome,
    pub job: JobRow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmitOutcome {
    Created,
    Existing,
}

#[derive(Serialize)]
pub struct FailUnqueuedJob<'a> {
    pub p_job_id: &'a JobId,
}

#[derive(Serialize)]
pub struct ListJobs<'a> {
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_status: Option<JobStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_task_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct JobPage {
    pub has_more: bool,
    pub items: Vec<JobSummary>,
}

#[derive(Serialize)]
pub struct GetJob<'a> {
    pub p_job_id: &'a JobId,
}

#[derive(Serialize)]
pub struct CancelJob<'a> {
    pub p_job_id: &'a JobId,
}

/// One job's stream (`p_job_id`) or the account's (`p_account_id`, or the personal account).
#[derive(Serialize)]
pub struct StreamContext<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_job_id: Option<&'a JobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StreamCtx {
    pub account_id: AccountId,
    /// The plan's stream cap; `None` only if the account has no plan row (a broken invariant).
    pub max_streams: Option<u32>,
    pub job: Option<JobRow>,
}

// ---- batches (sql/migrations/*_batches.sql, docs/adr/0016) ----

/// Creates a batch (service role only, like `submit_job`). `p_items` is the validated list
/// ([`crate::jobs::batches::ValidItem::to_sql`]).
#[derive(Serialize)]
pub struct SubmitBatch<'a> {
    pub p_user_id: &'a str,
    pub p_items: &'a Value,
    pub p_correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_idempotency_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

/// `submit_batch`'s answer: the batch and its jobs in item order.
#[derive(Debug, Deserialize)]
pub struct BatchSubmitted {
    pub outcome: SubmitOutcome,
    pub batch: BatchView,
    pub jobs: Vec<JobRow>,
}

#[derive(Serialize)]
pub struct FailUnqueuedJobs<'a> {
    pub p_job_ids: &'a [&'a JobId],
}

#[derive(Serialize)]
pub struct GetBatch<'a> {
    pub p_batch_id: &'a str,
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
}

#[derive(Serialize)]
pub struct ListBatches<'a> {
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct BatchPage {
    pub has_more: bool,
    pub items: Vec<BatchView>,
}

#[derive(Serialize)]
pub struct CancelBatch<'a> {
    pub p_batch_id: &'a str,
}

/// `cancel_batch`'s answer: the batch and the items it changed.
#[derive(Debug, Deserialize)]
pub struct BatchChanged {
    pub batch: BatchView,
    pub jobs: Vec<JobRow>,
}

#[derive(Serialize)]
pub struct BatchStreamContext<'a> {
    pub p_batch_id: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct BatchStreamCtx {
    pub account_id: AccountId,
    pub max_streams: Option<u32>,
    pub batch: BatchView,
    pub jobs: Vec<JobRow>,
}

#[derive(Serialize)]
pub struct JobStart<'a> {
    pub p_job_id: &'a JobId,
    /// A PENDING job older than this expires instead of starting.
    pub p_pending_ttl_secs: u32,
}

#[derive(Serialize)]
pub struct ExpirePendingJobs {
    pub p_ttl_secs: u32,
}

#[derive(Serialize)]
pub struct JobRetry<'a> {
    pub p_job_id: &'a JobId,
    pub p_last_error: &'a str,
}

#[derive(Serialize)]
pub struct JobDefer<'a> {
    pub p_job_id: &'a JobId,
    pub p_reason: &'a str,
}

#[derive(Serialize)]
pub struct JobFinish<'a> {
    pub p_job_id: &'a JobId,
    pub p_status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_last_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_failure_reason: Option<crate::jobs::FailureReason>,
}

#[derive(Serialize)]
pub struct RecordDeadLetter<'a> {
    pub p_job_id: Option<&'a JobId>,
    pub p_queue: &'a str,
    pub p_envelope: &'a Value,
    pub p_reason: &'a str,
}

#[derive(Serialize)]
pub struct SweepStuckJobs {
    pub p_pending_secs: u32,
    pub p_running_secs: u32,
}

// ---- billing (sql/migrations/*_billing_logic.sql, *_billing_order_proof.sql) ----

#[derive(Serialize)]
pub struct StoreWebhookEvent<'a> {
    pub p_event: &'a Value,
}

#[derive(Serialize)]
pub struct BillingOverview {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Serialize)]
pub struct ListCreditTransactions<'a> {
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Serialize)]
pub struct Pricing {}

#[derive(Serialize)]
pub struct UsageDaily {
    pub p_days: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

/// One UTC day of `usage_daily`.
#[derive(Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UsageDay {
    pub date: String,
    pub jobs_submitted: i64,
    pub jobs_completed: i64,
    pub jobs_failed: i64,
    pub credits_spent: i64,
    pub credits_added: i64,
    pub balance: i64,
}

#[derive(Serialize)]
pub struct ApplyIgnoredEvent<'a> {
    pub p_event: &'a Value,
}

#[derive(Serialize)]
pub struct ApplyCheckoutCompleted<'a> {
    pub p_event: &'a Value,
    pub p_pack_credits: u32,
}

#[derive(Serialize)]
pub struct ApplyCustomerEvent<'a> {
    pub p_event: &'a Value,
}

#[derive(Serialize)]
pub struct ApplyCustomerSnapshot<'a> {
    pub p_event: &'a Value,
    pub p_customer: &'a Value,
}

#[derive(Serialize)]
pub struct ApplySubscriptionEvent<'a> {
    pub p_event: &'a Value,
    pub p_plan: &'a str,
}

#[derive(Serialize)]
pub struct ApplySubscriptionSnapshot<'a> {
    pub p_event: &'a Value,
    pub p_subscription: &'a Value,
    pub p_plan: &'a str,
}

#[derive(Serialize)]
pub struct ApplyInvoicePaid<'a> {
    pub p_event: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_grant_plan: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_period_start: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_period_end: Option<i64>,
}

#[derive(Serialize)]
pub struct ApplyInvoicePaymentFailed<'a> {
    pub p_event: &'a Value,
    pub p_note: &'a str,
}

#[derive(Serialize)]
pub struct RecordWebhookFailure<'a> {
    pub p_event: &'a Value,
    pub p_error: &'a str,
    pub p_permanent: bool,
    pub p_max_attempts: u32,
}

#[derive(Serialize)]
pub struct PendingWebhookEvents {
    pub p_limit: u32,
}

// ---- cron (sql/migrations/*_cron.sql) ----

#[derive(Serialize)]
pub struct CronRunStart<'a> {
    pub p_job: &'a str,
}

#[derive(Serialize)]
pub struct CronRunFinish<'a> {
    pub p_run: &'a str,
    pub p_outcome: &'a str,
    pub p_counts: &'a Value,
    pub p_message: &'a str,
}

#[derive(Serialize)]
pub struct UnreportedMeterUsage<'a> {
    pub p_metered_prices: &'a [String],
    pub p_limit: u32,
}

#[derive(Serialize)]
pub struct MarkUsageReported<'a> {
    pub p_ids: &'a [String],
}

#[derive(Serialize)]
pub struct MeteredPeriods<'a> {
    pub p_metered_prices: &'a [String],
}

#[derive(Serialize)]
pub struct RecordReconciliation<'a> {
    pub p_run: Option<&'a str>,
    pub p_account: &'a Value,
    pub p_customer: &'a str,
    pub p_period_start: &'a Value,
    pub p_period_end: &'a Value,
    pub p_internal: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_stripe: Option<i64>,
}

#[derive(Serialize)]
pub struct RenewMonthlyCredits {}

#[derive(Serialize)]
pub struct ApplyRetention {
    pub p_usage_days: u32,
    pub p_webhook_days: u32,
    pub p_payload_days: u32,
    pub p_soft_deleted_days: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PGTAP: &str = include_str!("../../sql/tests/05_rust_boundary.sql");

    #[test]
    fn the_pgtap_boundary_test_lists_every_function() {
        let mut listed = Vec::new();
        for line in PGTAP.lines().filter(|l| l.contains("has_function(")) {
            let name = line.split('\'').nth(3).expect("has_function('public', 'name', array[...])");
            let args: Vec<&str> = line
                .split_once("array[")
                .and_then(|(_, rest)| rest.split_once("]::text[]"))
                .map(|(inside, _)| inside)
                .map(|a| a.split(',').map(|x| x.trim().trim_matches('\'')).filter(|x| !x.is_empty()).collect())
                .unwrap_or_default();
            listed.push((name.to_string(), args));
        }
        for (name, args) in FUNCTIONS {
            let want: Vec<&str> = args.to_vec();
            assert!(
                listed.iter().any(|(n, a)| n == name && a.iter().map(|s| &**s).eq(want.iter().copied())),
                "sql/tests/05_rust_boundary.sql must check {name}({})",
                want.join(", ")
            );
        }
        assert_eq!(listed.len(), FUNCTIONS.len(), "the pgTAP file checks exactly the functions the Worker calls");
    }

    #[test]
    fn optional_arguments_are_omitted_so_sql_defaults_apply() {
        let id = JobId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        let v = serde_json::to_value(JobFinish {
            p_job_id: &id,
            p_status: JobStatus::Cancelled,
            p_result: None,
            p_last_error: None,
            p_failure_reason: Some(crate::jobs::FailureReason::Cancelled),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"p_job_id": "00000000-0000-4000-8000-000000000001", "p_status": "CANCELLED", "p_failure_reason": "cancelled"})
        );
        assert_eq!(serde_json::to_value(StreamContext { p_job_id: None, p_account_id: None }).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn a_void_function_s_empty_answer_decodes() {
        let unit: () = crate::adapters::postgrest::decode_output::<<CronRunFinish as Rpc>::Output>("cron_run_finish", "").unwrap();
        assert_eq!(unit, ());
        let none: Option<JobRow> = crate::adapters::postgrest::decode_output("job_start", "null").unwrap();
        assert!(none.is_none());
    }
}

// ---- lead analysis (sql/migrations/*_lead_analysis.sql, docs/adr/0018) ----

/// Creates the leads, jobs and analyses of an analyze request (service role, for the verified user).
#[derive(Serialize)]
pub struct SubmitLeadAnalyses<'a> {
    pub p_user_id: &'a str,
    pub p_business_profile_id: &'a str,
    pub p_tier: crate::leads::Tier,
    pub p_profile_urls: &'a [String],
    pub p_bulk: bool,
    pub p_correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_idempotency_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

/// `submit_lead_analyses`' answer: a job (one URL) or a batch and its jobs (bulk), and the analyses.
#[derive(Debug, Deserialize)]
pub struct LeadsSubmitted {
    pub outcome: SubmitOutcome,
    #[serde(default)]
    pub job: Option<JobRow>,
    #[serde(default)]
    pub batch: Option<BatchView>,
    #[serde(default)]
    pub jobs: Vec<JobRow>,
    pub analyses: Vec<Value>,
}

#[derive(Serialize)]
pub struct LeadAnalysisContext<'a> {
    pub p_job_id: &'a JobId,
}

/// What a `lead.analyze` job reads before it runs.
#[derive(Debug, Deserialize)]
pub struct LeadContext {
    pub analysis_id: String,
    pub lead_id: String,
    pub profile_url: String,
    pub business_profile: Option<crate::leads::ai::BusinessContext>,
}

/// A page of a list whose items the SQL function already shaped for clients.
#[derive(Debug, Deserialize)]
pub struct ValuePage {
    pub has_more: bool,
    pub items: Vec<Value>,
}

#[derive(Serialize)]
pub struct ListLeads<'a> {
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_min_score: Option<u8>,
    pub p_deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Serialize)]
pub struct GetLead<'a> {
    pub p_lead_id: &'a str,
}

#[derive(Serialize)]
pub struct ListLeadAnalyses<'a> {
    pub p_lead_id: &'a str,
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
}

#[derive(Serialize)]
pub struct GetAnalysis<'a> {
    pub p_analysis_id: &'a str,
}

#[derive(Serialize)]
pub struct DeleteLead<'a> {
    pub p_lead_id: &'a str,
}

#[derive(Serialize)]
pub struct RestoreLead<'a> {
    pub p_lead_id: &'a str,
    pub p_window_days: u32,
}

#[derive(Serialize)]
pub struct PurgeDeletedLeads {
    pub p_window_days: u32,
}

#[derive(Serialize)]
pub struct ListBusinessProfiles<'a> {
    pub p_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_starting_after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_ending_before: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Serialize)]
pub struct GetBusinessProfile<'a> {
    pub p_id: &'a str,
}

#[derive(Serialize)]
pub struct CreateBusinessProfile<'a> {
    pub p_name: &'a str,
    pub p_description: &'a str,
    pub p_ideal_customer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_website: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_account_id: Option<String>,
}

#[derive(Serialize)]
pub struct UpdateBusinessProfile<'a> {
    pub p_id: &'a str,
    pub p_name: &'a str,
    pub p_description: &'a str,
    pub p_ideal_customer: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_website: Option<&'a str>,
}
