//! SQL owns the vocabularies and limits it enforces (`check` constraints, seeded rows); the Rust side
//! names the same values to validate early and to type its rows. These host tests read the migrations
//! and fail when the two drift apart.

use super::model::{FailureReason, JobStatus};
use super::payloads::{MAX_IDEMPOTENCY_KEY_LEN, MAX_MAX_ATTEMPTS};
use super::task_types::TaskType;

const JOBS: &str = include_str!("../../sql/migrations/20261124000400_jobs.sql");
const ACCOUNTS: &str = include_str!("../../sql/migrations/20261124000200_accounts.sql");
const BILLING: &str = include_str!("../../sql/migrations/20261124000900_billing_logic.sql");
/// The latest definition of the jobs' failure-reason constraint.
const LEAD_ANALYSIS: &str = include_str!("../../sql/migrations/20261203000100_lead_analysis.sql");

/// The quoted values after `anchor` up to the closing `)`.
fn quoted_after(sql: &str, anchor: &str) -> Vec<String> {
    let rest = &sql[sql.find(anchor).unwrap_or_else(|| panic!("`{anchor}` not found in the migration")) + anchor.len()..];
    let list = &rest[..rest.find(')').expect("a closing parenthesis")];
    list.split('\'').skip(1).step_by(2).map(String::from).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn job_statuses_match_the_jobs_check_constraint() {
    let sql = quoted_after(JOBS, "check (status in (");
    let rust: Vec<String> = JobStatus::ALL.iter().map(|s| s.as_str().to_string()).collect();
    assert_eq!(sorted(sql), sorted(rust));
}

#[test]
fn failure_reasons_match_the_jobs_check_constraint() {
    // The constraint's latest definition.
    let sql = quoted_after(LEAD_ANALYSIS, "check (failure_reason in (");
    let rust: Vec<String> = FailureReason::ALL.iter().map(|r| r.as_str().to_string()).collect();
    assert_eq!(sorted(sql), sorted(rust));
}

#[test]
fn task_types_match_the_priced_task_types() {
    let sql: Vec<String> = [BILLING, LEAD_ANALYSIS]
        .iter()
        .flat_map(|m| m.lines().filter(|l| l.starts_with("insert into public.task_types")))
        .flat_map(|seeded| seeded.split("values").nth(1).unwrap().split('\'').skip(1).step_by(2).map(String::from).collect::<Vec<_>>())
        .collect();
    let rust: Vec<String> = TaskType::ALL.iter().map(|t| t.as_str().to_string()).collect();
    assert_eq!(sorted(sql), sorted(rust), "every task type has a price, and every priced type is registered");
}

#[test]
fn plan_codes_match_the_plans_check_constraint() {
    let sql = quoted_after(ACCOUNTS, "check (code in (");
    let rust: Vec<String> = crate::billing::policy::PLANS.iter().map(|p| p.to_string()).collect();
    assert_eq!(sorted(sql), sorted(rust));
}

#[test]
fn limits_match_the_jobs_table() {
    assert!(JOBS.contains(&format!("check (max_attempts between 1 and {MAX_MAX_ATTEMPTS})")), "max_attempts bound");
    assert!(JOBS.contains(&format!("check (length(idempotency_key) between 1 and {MAX_IDEMPOTENCY_KEY_LEN})")), "Idempotency-Key bound");
}
