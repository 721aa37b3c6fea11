//! The `jobs` and `browser-jobs` consumers: at-least-once delivery turned into exactly-once effects.
//!
//! Per message: start the job (`job_start`: RUNNING, attempt + 1; a terminal job means a duplicate
//! delivery, acked and skipped), honour cancellation, run the task, persist the outcome, then ack.
//! Retryable failures go back to PENDING and the message is retried with exponential backoff and jitter;
//! after `max_attempts` the job is FAILED `max_attempts_exceeded` and its envelope is sent to the
//! dead-letter queue, whose consumer records it. Database trouble retries the message (nothing is lost;
//! the job's state machine makes the redelivery safe).
//!
//! Browser jobs add, before the job starts: their feature flags (off: FAILED `feature_flag_disabled`) and
//! the `browser-rendering` circuit breaker (open: the message waits, the job is untouched but for its
//! step). A deferred attempt (the service failed or rate limited) is handed back with `job_defer`.

use crate::adapters::breaker::{self, BreakerClient, Gate};
use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::{DbError, ServiceDb};
use crate::config::Config;
use crate::domain::jobs::{disabled_flag, is_terminal, retry_delay_secs, BrowserExtractPayload, HttpRequestPayload, JobEnvelope, TaskType};
use crate::log;
use crate::tasks::{self, TaskError};
use serde_json::{json, Value};
use worker::{Env, MessageExt, QueueRetryOptionsBuilder, RawMessage};

/// Where a consumer sends an envelope whose attempts are exhausted: (producer binding, queue name as
/// recorded).
#[derive(Clone, Copy)]
pub struct DeadLetters {
    pub binding: &'static str,
    pub queue: &'static str,
}

pub const JOBS_DLQ: DeadLetters = DeadLetters { binding: "JOBS_DLQ", queue: "jobs-dlq" };
pub const BROWSER_JOBS_DLQ: DeadLetters = DeadLetters { binding: "BROWSER_JOBS_DLQ", queue: "browser-jobs-dlq" };

enum Next {
    Ack,
    RetryIn(u32),
}

pub async fn handle(msg: RawMessage, env: &Env, cfg: &Config, db: &ServiceDb, dlq: DeadLetters) {
    let envelope: JobEnvelope = match super::decode(&msg.body()) {
        Ok(e) => e,
        Err(e) => {
            // Not ours to drop: retried until the dead-letter queue records it.
            log::error("jobs: undecodable message", json!({ "message_id": msg.id(), "error": e.to_string() }));
            msg.retry();
            return;
        }
    };
    let next = match process(&envelope, env, cfg, db, dlq).await {
        Ok(n) => n,
        Err(e) => {
            log::error(
                "jobs: infrastructure error; message will be redelivered",
                json!({ "request_id": envelope.correlation_id, "job_id": envelope.job_id, "error": e }),
            );
            Next::RetryIn(retry_delay_secs(1, cfg.job_retry_base_secs, cfg.job_retry_max_secs, js_sys::Math::random()))
        }
    };
    match next {
        Next::Ack => msg.ack(),
        Next::RetryIn(secs) => msg.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(secs).build()),
    }
}

/// A probe that was not used is handed back, so the next caller probes.
async fn hand_back_probe(breaker: &Option<BreakerClient>, probe: bool) {
    if let (Some(b), true) = (breaker, probe) {
        b.record(None, true).await;
    }
}

async fn finish(db: &ServiceDb, hub: &JobHubClient, rid: &str, job_id: &str, args: Value) -> Result<Value, String> {
    let mut args = args;
    args["p_job_id"] = Value::from(job_id);
    let job = db.rpc_json("job_finish", &args).await.map_err(|e| e.to_string())?;
    hub.publish(&job, rid).await;
    Ok(job)
}

async fn process(env_: &JobEnvelope, env: &Env, cfg: &Config, db: &ServiceDb, dlq: DeadLetters) -> Result<Next, String> {
    let rid = env_.correlation_id.as_str();
    let id = env_.job_id.as_str();
    let hub = JobHubClient::for_account(env, &env_.meta.account_id).map_err(|e| e.to_string())?;
    let task = TaskType::parse(&env_.task_type);

    // A flag turned off after the job was queued: the job fails (refunded), clearly and once.
    if let Some(flag) = task.and_then(|t| disabled_flag(t, &cfg.features)) {
        let job = finish(
            db,
            &hub,
            rid,
            id,
            json!({
                "p_status": "FAILED", "p_failure_reason": "feature_flag_disabled",
                "p_last_error": format!("{} is disabled; the job was not run", flag),
            }),
        )
        .await?;
        if job["failure_reason"] == "feature_flag_disabled" {
            log::warn(
                "jobs: feature flag disabled; job failed",
                json!({
                    "event": "job_failed_feature_flag", "request_id": rid, "job_id": id, "task_type": env_.task_type,
                    "flag": flag, "account_id": env_.meta.account_id,
                }),
            );
        } else {
            log::info("jobs: duplicate delivery of a finished job", json!({ "request_id": rid, "job_id": id, "status": job["status"] }));
        }
        return Ok(Next::Ack);
    }
    // Browser tasks ask the breaker before the job starts, so waiting costs no attempt.
    let breaker = (task == Some(TaskType::BrowserExtractText)).then(|| BreakerClient::new(env, breaker::BROWSER_RENDERING));
    let mut probe = false;
    if let Some(breaker) = &breaker {
        match breaker.acquire().await {
            Gate::Allowed { probe: p } => probe = p,
            Gate::Refused { retry_in_secs } => {
                let reason = "browser rendering circuit open; waiting for it to recover";
                if let Ok(job) = db.rpc_json("job_defer", &json!({ "p_job_id": id, "p_reason": reason })).await {
                    if job.is_object() {
                        hub.publish(&job, rid).await;
                    }
                }
                log::info("jobs: circuit open; job waits", json!({ "request_id": rid, "job_id": id, "retry_in_secs": retry_in_secs }));
                return Ok(Next::RetryIn(retry_in_secs));
            }
        }
    }
    let job = match db.rpc_json("job_start", &json!({ "p_job_id": id })).await {
        Ok(j) => j,
        Err(e) => {
            hand_back_probe(&breaker, probe).await;
            return Err(e.to_string());
        }
    };
    let cancel = || async { finish(db, &hub, rid, id, json!({ "p_status": "CANCELLED", "p_failure_reason": "cancelled" })).await };
    let runs = !job.is_null()
        && !is_terminal(job["status"].as_str().unwrap_or(""))
        && job["cancel_requested_at"].is_null()
        && !hub.is_cancelled(id).await;
    if !runs {
        hand_back_probe(&breaker, probe).await;
        if job.is_null() {
            log::warn("jobs: job no longer exists; dropping its message", json!({ "request_id": rid, "job_id": id }));
        } else if is_terminal(job["status"].as_str().unwrap_or("")) {
            log::info("jobs: duplicate delivery of a finished job", json!({ "request_id": rid, "job_id": id, "status": job["status"] }));
        } else {
            cancel().await?;
        }
        return Ok(Next::Ack);
    }
    hub.publish(&job, rid).await;
    let attempts = job["attempts"].as_u64().unwrap_or(1) as u32;
    let max_attempts = job["max_attempts"].as_u64().unwrap_or(env_.max_attempts as u64) as u32;
    log::info("jobs: running", json!({ "request_id": rid, "job_id": id, "attempt": attempts, "task_type": env_.task_type }));

    let step = |name: &str, progress: u32| {
        let mut s = job.clone();
        s["step"] = Value::from(name);
        s["progress"] = Value::from(progress);
        s
    };
    let outcome = match task {
        Some(TaskType::BrowserExtractText) => match (serde_json::from_value::<BrowserExtractPayload>(env_.payload.clone()), &breaker) {
            (Ok(p), Some(breaker)) => {
                hub.publish(&step("navigating", 10), rid).await;
                let r = tasks::browser_extract_text::run(cfg, &p, breaker, probe).await;
                if r.is_ok() {
                    hub.publish(&step("extracting", 80), rid).await;
                }
                r
            }
            (Err(e), _) => Err(TaskError::Final(format!("invalid payload: {e}"))),
            // Not reached: browser tasks always get a breaker above.
            (Ok(_), None) => Err(TaskError::Final("no circuit breaker for a browser task".into())),
        },
        Some(TaskType::HttpRequest) => match serde_json::from_value::<HttpRequestPayload>(env_.payload.clone()) {
            Ok(p) => {
                hub.publish(&step("requesting", 10), rid).await;
                tasks::http_request::run(&p).await
            }
            Err(e) => Err(TaskError::Final(format!("invalid payload: {e}"))),
        },
        None => Err(TaskError::Final(format!("unknown task type {}", env_.task_type))),
    };

    // Step boundary: a cancellation requested while the task ran wins over its outcome.
    if hub.is_cancelled(id).await {
        cancel().await?;
        return Ok(Next::Ack);
    }
    match outcome {
        Err(TaskError::Deferred { message, retry_in_secs }) => {
            let job = db.rpc_json("job_defer", &json!({ "p_job_id": id, "p_reason": message })).await.map_err(|e| e.to_string())?;
            if job.is_object() {
                hub.publish(&job, rid).await;
            }
            log::warn(
                "jobs: service unavailable; attempt handed back",
                json!({
                    "request_id": rid, "job_id": id, "retry_in_secs": retry_in_secs, "error": message,
                }),
            );
            Ok(Next::RetryIn(retry_in_secs))
        }
        Ok(result) => {
            let mut args = json!({ "p_job_id": id, "p_status": "COMPLETED", "p_result": result });
            match db.rpc_json("job_finish", &args).await {
                Ok(job) => hub.publish(&job, rid).await,
                // The database refused the result itself (SQLSTATE class 22: a value it cannot store). Running
                // the task again would fetch the same result: the job fails instead of being redelivered.
                Err(DbError::Api { code, message, .. }) if code.starts_with("22") => {
                    let error = format!("the result could not be stored ({code}: {message})");
                    log::error("jobs: result not storable; failing the job", json!({ "request_id": rid, "job_id": id, "error": error }));
                    args = json!({ "p_status": "FAILED", "p_last_error": error, "p_failure_reason": "task_error" });
                    finish(db, &hub, rid, id, args).await?;
                    return Ok(Next::Ack);
                }
                Err(e) => return Err(e.to_string()),
            }
            log::info("jobs: completed", json!({ "request_id": rid, "job_id": id, "attempt": attempts }));
            Ok(Next::Ack)
        }
        Err(TaskError::Final(msg)) => {
            finish(db, &hub, rid, id, json!({ "p_status": "FAILED", "p_last_error": msg, "p_failure_reason": "task_error" })).await?;
            log::warn("jobs: failed", json!({ "request_id": rid, "job_id": id, "error": msg }));
            Ok(Next::Ack)
        }
        Err(TaskError::Retryable { message, .. }) if attempts < max_attempts => {
            let job = db.rpc_json("job_retry", &json!({ "p_job_id": id, "p_last_error": message })).await.map_err(|e| e.to_string())?;
            hub.publish(&job, rid).await;
            let delay = retry_delay_secs(attempts, cfg.job_retry_base_secs, cfg.job_retry_max_secs, js_sys::Math::random());
            log::warn(
                "jobs: attempt failed; retrying",
                json!({ "request_id": rid, "job_id": id, "attempt": attempts, "delay_secs": delay, "error": message }),
            );
            Ok(Next::RetryIn(delay))
        }
        Err(TaskError::Retryable { message, timeout }) => {
            // The last attempt timing out is reported as such; any other last failure as attempts exhausted.
            let reason = if timeout { "timeout" } else { "max_attempts_exceeded" };
            finish(db, &hub, rid, id, json!({ "p_status": "FAILED", "p_last_error": message, "p_failure_reason": reason })).await?;
            log::warn(
                "jobs: attempts exhausted; dead-lettering",
                json!({ "request_id": rid, "job_id": id, "attempts": attempts, "error": message }),
            );
            let mut dead = env_.clone();
            dead.attempt = attempts;
            let sent = match env.queue(dlq.binding) {
                Ok(q) => super::send_json(&q, &dead).await,
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = sent {
                // Record it ourselves rather than lose the record.
                log::error("jobs: dead-letter send failed; recording directly", json!({ "request_id": rid, "job_id": id, "error": e }));
                db.rpc_json("record_dead_letter", &json!({
                    "p_job_id": id, "p_queue": dlq.queue, "p_envelope": serde_json::to_value(&dead).unwrap_or_default(), "p_reason": message,
                })).await.map_err(|e| e.to_string())?;
            }
            Ok(Next::Ack)
        }
    }
}
