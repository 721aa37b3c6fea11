//! Scheduled work. One `#[event(scheduled)]` handler; [`CronJob::for_expression`] maps each cron
//! expression declared in `wrangler.toml` to its job so the two cannot drift silently (a test reads
//! `wrangler.toml` and checks every expression maps to a job).

use serde_json::json;
use worker::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CronJob {
    /// Every 5 minutes: PENDING/RUNNING jobs past their deadline become FAILED `stuck`.
    SweepStuckJobs,
    /// Hourly: completed-job usage sent to Stripe Billing Meters.
    ReportUsage,
    /// Daily: internal counters vs Stripe meter summaries, renewals, retention.
    Daily,
}

pub const SWEEP_STUCK_JOBS: &str = "*/5 * * * *";
pub const REPORT_USAGE: &str = "0 * * * *";
pub const DAILY: &str = "30 3 * * *";

impl CronJob {
    pub fn for_expression(cron: &str) -> Option<CronJob> {
        match cron.trim() {
            SWEEP_STUCK_JOBS => Some(CronJob::SweepStuckJobs),
            REPORT_USAGE => Some(CronJob::ReportUsage),
            DAILY => Some(CronJob::Daily),
            _ => None,
        }
    }
}

pub async fn dispatch(cron: &str, _env: Env) {
    match CronJob::for_expression(cron) {
        Some(job) => crate::log::info("cron: triggered", json!({ "cron": cron, "job": format!("{job:?}") })),
        None => crate::log::error("cron: expression maps to no job", json!({ "cron": cron })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cron_in_wrangler_toml_maps_to_a_job() {
        let toml = include_str!("../wrangler.toml");
        let mut found = 0;
        for line in toml.lines().filter(|l| l.trim_start().starts_with("crons")) {
            for expr in line.split('"').skip(1).step_by(2) {
                assert!(CronJob::for_expression(expr).is_some(), "cron `{expr}` maps to no job");
                found += 1;
            }
        }
        assert!(found >= 3, "expected the cron triggers in wrangler.toml, found {found}");
    }
}
