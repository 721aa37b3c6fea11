//! Scheduled work. One `#[event(scheduled)]` handler; [`CronJob::for_expression`] maps each cron
//! expression declared in `wrangler.toml` to its job so the two cannot drift silently (a test reads
//! `wrangler.toml` and checks every expression maps to a job).
//!
//! Every job records a row in `cron_runs` (started, finished, outcome, counts, message) and is idempotent,
//! so a second run, or one triggered by hand (`curl "$WORKER/__scheduled?cron=30+3+*+*+*"` locally),
//! changes nothing that the first one did.

pub mod maintenance;
pub mod usage;

use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::{ServiceDb, ServiceRole};
use crate::adapters::rpc;
use crate::config::Config;
use serde_json::{json, Value};
use worker::{Env, ScheduledEvent};

/// One job's row in `cron_runs`. If the row cannot be written the job still runs (logged).
pub struct Run<'a> {
    pub id: Option<String>,
    job: &'static str,
    db: &'a ServiceDb,
}

impl<'a> Run<'a> {
    pub async fn start(db: &'a ServiceDb, job: &'static str) -> Run<'a> {
        let id = match db.call(&rpc::CronRunStart { p_job: job }).await {
            Ok(v) => v,
            Err(e) => {
                crate::log::error("cron: could not record the run start", json!({ "job": job, "error": e.to_string() }));
                None
            }
        };
        Run { id, job, db }
    }

    pub async fn finish(&self, outcome: &str, counts: Value, message: &str) {
        crate::log::info(
            "cron: run finished",
            json!({ "job": self.job, "run_id": self.id, "outcome": outcome, "counts": counts, "message": message }),
        );
        let Some(id) = &self.id else { return };
        if let Err(e) = self.db.call(&rpc::CronRunFinish { p_run: id, p_outcome: outcome, p_counts: &counts, p_message: message }).await {
            crate::log::error("cron: could not record the run end", json!({ "job": self.job, "run_id": id, "error": e.to_string() }));
        }
    }
}

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
        // wrangler.toml and this file disagree (a unit test keeps them equal): a deployment bug. The
        // invocation fails (the platform records it as an exception, and `wrangler dev`'s
        // `/__scheduled` answers 500) instead of reporting a run that did nothing.
        crate::log::error("cron: expression maps to no job", json!({ "cron": cron }));
        panic!("cron expression {cron:?} maps to no job");
    };
    let cfg = match Config::load(&env) {
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
            sweep_stuck_jobs(&cfg, &db, &env, &Run::start(&db, "sweep_stuck_jobs").await).await;
            redrive_webhooks(&cfg, &db, &env, &Run::start(&db, "redrive_webhooks").await).await;
        }
        CronJob::ReportUsage => usage::report(&cfg, &db, &env, &Run::start(&db, "report_usage").await).await,
        CronJob::Daily => {
            // Report first, so reconciliation compares what has been sent.
            usage::report(&cfg, &db, &env, &Run::start(&db, "report_usage").await).await;
            usage::reconcile(&cfg, &db, &env, &Run::start(&db, "reconcile_usage").await).await;
            maintenance::renew(&db, &Run::start(&db, "renew_credits").await).await;
            maintenance::retention(&cfg, &db, &Run::start(&db, "retention").await).await;
        }
    }
}

/// Applies Stripe events that are stored instead of applied: the ones the webhook endpoint stored because
/// the queue refused them, and failed ones whose next attempt is due (docs/adr/0012). A failure is
/// stored again with a longer backoff; past `WEBHOOK_REDRIVE_MAX_ATTEMPTS` the event is `dead` and
/// logged at error level (runbook `stripe-webhook-dead-events.md`). Idempotent: each apply function
/// takes over the stored row once.
async fn redrive_webhooks(cfg: &Config, db: &ServiceDb, env: &Env, run: &Run<'_>) {
    use crate::billing::apply::{apply, store_failure};
    let events = match db.call(&rpc::PendingWebhookEvents { p_limit: 100 }).await {
        Ok(a) => a.unwrap_or_default(),
        Err(e) => {
            crate::log::error("cron: webhook re-drive could not list events", json!({ "error": e.to_string() }));
            return run.finish("failed", json!({}), &format!("database: {e}")).await;
        }
    };
    let (mut applied, mut failed, mut dead) = (0, 0, 0);
    for event in &events {
        let failure = match apply(event, cfg, env, db).await {
            Ok(_) => {
                applied += 1;
                continue;
            }
            Err(f) => f,
        };
        failed += 1;
        let ids = json!({ "event_id": event["id"], "type": event["type"], "error": failure.message() });
        match store_failure(event, &failure, cfg, db).await {
            Ok(status) if status == "dead" => {
                dead += 1;
                crate::log::error("cron: Stripe event is dead after its re-drives; see the runbook stripe-webhook-dead-events", ids);
            }
            Ok(_) => crate::log::warn("cron: webhook re-drive failed; retried later with backoff", ids),
            Err(e) => crate::log::error(
                "cron: webhook re-drive failed and could not be stored",
                json!({ "event": ids, "store_error": e.to_string() }),
            ),
        }
    }
    let counts = json!({ "events": events.len(), "applied": applied, "failed": failed, "dead": dead });
    let outcome = if failed == 0 { "ok" } else { "partial" };
    run.finish(outcome, counts, if events.is_empty() { "nothing to re-drive" } else { "re-driven" }).await;
}

/// PENDING or RUNNING jobs past their deadline become FAILED `stuck` (idempotent: a second run finds
/// nothing), and their subscribers get the terminal frame.
async fn sweep_stuck_jobs(cfg: &Config, db: &ServiceDb, env: &Env, run: &Run<'_>) {
    // Jobs nobody has touched for the deadline first: something broke (`stuck`).
    let args = rpc::SweepStuckJobs { p_pending_secs: cfg.stuck_pending_secs, p_running_secs: cfg.stuck_running_secs };
    let swept: Vec<_> = match db.call(&args).await {
        Ok(a) => a.into_iter().flatten().collect(),
        Err(e) => {
            crate::log::error("cron: sweep failed; the next run retries", json!({ "error": e.to_string() }));
            return run.finish("failed", json!({}), &format!("database: {e}")).await;
        }
    };
    // Then work that kept waiting (its message still asks for a slot or a service) past its TTL.
    let expired: Vec<_> = match db.call(&rpc::ExpirePendingJobs { p_ttl_secs: cfg.job_pending_ttl_secs }).await {
        Ok(a) => a.into_iter().flatten().collect(),
        Err(e) => {
            crate::log::error("cron: expiry failed; the next run retries", json!({ "error": e.to_string() }));
            return run.finish("failed", json!({}), &format!("database: {e}")).await;
        }
    };
    for job in expired.iter().chain(&swept) {
        if let Ok(hub) = JobHubClient::for_account(env, &job.account_id) {
            hub.publish(job, &job.correlation_id).await;
        }
    }
    let message = if swept.is_empty() && expired.is_empty() { "no stuck or expired jobs" } else { "swept" };
    run.finish("ok", json!({ "swept": swept.len(), "expired": expired.len() }), message).await;
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
