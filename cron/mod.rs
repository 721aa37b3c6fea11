//! Scheduled work. One `#[event(scheduled)]` handler; [`CronJob::for_expression`] maps each cron
//! expression declared in `wrangler.toml` to its job so the two cannot drift silently (a test reads
//! `wrangler.toml` and checks every expression maps to a job).

use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::{ServiceDb, ServiceRole};
use crate::config::Config;
use serde_json::{json, Value};
use worker::{Env, ScheduledEvent};

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

pub async fn dispatch(event: &ScheduledEvent, env: Env) {
    let cron = event.cron();
    let Some(job) = CronJob::for_expression(&cron) else {
        crate::log::error("cron: expression maps to no job", json!({ "cron": cron }));
        return;
    };
    let cfg = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => {
            crate::log::error("cron: configuration error", json!({ "cron": cron, "error": e.to_string() }));
            return;
        }
    };
    let db = ServiceDb::new(&cfg, ServiceRole::for_cron(event));
    crate::log::info("cron: triggered", json!({ "cron": cron, "job": format!("{job:?}") }));
    match job {
        CronJob::SweepStuckJobs => {
            sweep_stuck_jobs(&cfg, &db, &env).await;
            redrive_webhooks(&cfg, &db).await;
        }
        // Usage reporting, reconciliation, renewal and retention arrive with the cron issue.
        CronJob::ReportUsage | CronJob::Daily => {}
    }
}

/// Applies Stripe events the webhook endpoint stored because the queue refused them. Idempotent: each
/// apply function takes over the stored row once.
async fn redrive_webhooks(cfg: &Config, db: &ServiceDb) {
    let events = match db.rpc_json("pending_webhook_events", &json!({ "p_limit": 100 })).await {
        Ok(Value::Array(a)) => a,
        Ok(_) => return,
        Err(e) => {
            crate::log::error("cron: webhook re-drive could not list events", json!({ "error": e.to_string() }));
            return;
        }
    };
    for event in &events {
        if let Err(e) = crate::queues::stripe_webhooks::apply(event, cfg, db).await {
            crate::log::warn("cron: webhook re-drive failed; next run retries", json!({ "event_id": event["id"], "error": e }));
        }
    }
    if !events.is_empty() {
        crate::log::info("cron: webhook re-drive finished", json!({ "events": events.len() }));
    }
}

/// PENDING or RUNNING jobs past their deadline become FAILED `stuck` (idempotent: a second run finds
/// nothing), and their subscribers get the terminal frame.
async fn sweep_stuck_jobs(cfg: &Config, db: &ServiceDb, env: &Env) {
    let args = json!({ "p_pending_secs": cfg.stuck_pending_secs, "p_running_secs": cfg.stuck_running_secs });
    let swept = match db.rpc_json("sweep_stuck_jobs", &args).await {
        Ok(Value::Array(a)) => a,
        Ok(other) => {
            crate::log::error("cron: sweep returned an unexpected shape", json!({ "got": other.to_string() }));
            return;
        }
        Err(e) => {
            crate::log::error("cron: sweep failed; the next run retries", json!({ "error": e.to_string() }));
            return;
        }
    };
    for job in &swept {
        if let Some(account) = job["account_id"].as_str() {
            if let Ok(hub) = JobHubClient::for_account(env, account) {
                hub.publish(job, job["correlation_id"].as_str().unwrap_or("cron")).await;
            }
        }
    }
    crate::log::info("cron: stuck-job sweep finished", json!({ "swept": swept.len() }));
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
