//! The `jobs` and `browser-jobs` consumers: at-least-once delivery turned into exactly-once effects.
//!
//! The lifecycle's rules are in [`crate::jobs::lifecycle::decide`]; this module parses the message,
//! runs the task, asks for the decision, makes the one database call it names, and acks or retries.
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
use crate::adapters::rpc;
use crate::config::Config;
use crate::jobs::envelope::JobEnvelope;
use crate::jobs::lifecycle::{decide, retry_delay_secs, slot_poll_delay_secs, Decision, Finish, Gates, Outcome, Policy, Skip, TaskError};
use crate::jobs::payloads::{BrowserExtractPayload, HttpRequestPayload};
use crate::jobs::task_types::disabled_flag;
use crate::jobs::{JobRow, JobStatus, TaskType};
use crate::leads::LeadAnalyzePayload;
use crate::log;
use crate::tasks;
use serde_json::{json, Value};
use worker::{Env, MessageExt, QueueRetryOptionsBuilder, RawMessage};

/// Where a consumer sends an envelope whose attempts are exhausted: (producer binding, queue name as
/// recorded).
#[derive(Clone, Copy)]
pub struct DeadLetters {
    pub binding: &'static str,
    pub queue: &'static str,
}

pub const JOBS_DLQ: DeadLetters = DeadLetters { binding: crate::config::bindings::JOBS_DLQ, queue: "jobs-dlq" };
pub const BROWSER_JOBS_DLQ: DeadLetters = DeadLetters { binding: crate::config::bindings::BROWSER_JOBS_DLQ, queue: "browser-jobs-dlq" };
pub const LEAD_ANALYSIS_DLQ: DeadLetters = DeadLetters { binding: crate::config::bindings::LEAD_ANALYSIS_DLQ, queue: "lead-analysis-dlq" };

enum Next {
    Ack,
    RetryIn(u32),
}

/// Why a delivery could not be handled: always the database or the runtime (the job's own failures are
/// decisions, not errors). Transient by nature: the message is redelivered and the job's state machine
/// makes the redelivery safe.
#[derive(Debug, thiserror::Error)]
enum ConsumeError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("jobhub binding: {0}")]
    Hub(String),
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
    let queued_for_secs = ((crate::platform::now_ms() - msg.timestamp().as_millis() as f64) / 1000.0).max(0.0);
    let next = match process(&envelope, queued_for_secs, env, cfg, db, dlq).await {
        Ok(n) => n,
        Err(e) => {
            log::error(
                "jobs: infrastructure error; message will be redelivered",
                json!({ "request_id": envelope.correlation_id, "job_id": envelope.job_id, "error": e.to_string() }),
            );
            Next::RetryIn(retry_delay_secs(1, cfg.job_retry_base_secs, cfg.job_retry_max_secs, js_sys::Math::random()))
        }
    };
    match next {
        Next::Ack => msg.ack(),
        Next::RetryIn(secs) => msg.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(secs).build()),
    }
}

fn policy(cfg: &Config) -> Policy {
    Policy { retry_base_secs: cfg.job_retry_base_secs, retry_max_secs: cfg.job_retry_max_secs, jitter: js_sys::Math::random() }
}

/// A probe that was not used is handed back, so the next caller probes.
async fn hand_back_probe(breaker: &Option<BreakerClient>, probe: bool) {
    if let (Some(b), true) = (breaker, probe) {
        b.record(None, true).await;
    }
}

/// One delivery: the consumer's side of the lifecycle.
struct Delivery<'a> {
    envelope: &'a JobEnvelope,
    db: &'a ServiceDb,
    hub: JobHubClient,
}

impl Delivery<'_> {
    fn rid(&self) -> &str {
        &self.envelope.correlation_id
    }

    async fn publish(&self, job: Option<&JobRow>) {
        if let Some(job) = job {
            self.hub.publish(job, self.rid()).await;
        }
    }

    async fn finish(&self, f: &Finish) -> Result<Option<JobRow>, DbError> {
        let job = self
            .db
            .call(&rpc::JobFinish {
                p_job_id: &self.envelope.job_id,
                p_status: f.status,
                p_result: f.result.as_ref(),
                p_last_error: f.last_error.as_deref(),
                p_failure_reason: f.failure_reason,
            })
            .await?;
        self.publish(job.as_ref()).await;
        Ok(job)
    }

    async fn defer(&self, reason: &str) -> Result<(), DbError> {
        let job = self.db.call(&rpc::JobDefer { p_job_id: &self.envelope.job_id, p_reason: reason }).await?;
        self.publish(job.as_ref()).await;
        Ok(())
    }
}

async fn process(
    env_: &JobEnvelope,
    queued_for_secs: f64,
    env: &Env,
    cfg: &Config,
    db: &ServiceDb,
    dlq: DeadLetters,
) -> Result<Next, ConsumeError> {
    let id = &env_.job_id;
    let hub = JobHubClient::for_account(env, &env_.meta.account_id).map_err(|e| ConsumeError::Hub(e.to_string()))?;
    let d = Delivery { envelope: env_, db, hub };
    let rid = d.rid();
    let task = TaskType::parse(&env_.task_type);
    let policy = policy(cfg);

    // Queued: flags, then (browser tasks) the breaker, before the job starts, so waiting costs no attempt.
    let mut gates = Gates {
        flag_disabled: task.and_then(|t| disabled_flag(t, &cfg.features)).or_else(|| tier_flag_disabled(task, env_, cfg)),
        ..Gates::default()
    };
    let breaker = (task == Some(TaskType::BrowserExtractText) && gates.flag_disabled.is_none())
        .then(|| BreakerClient::new(env, breaker::BROWSER_RENDERING));
    let mut probe = false;
    if let Some(breaker) = &breaker {
        match breaker.acquire().await {
            Gate::Allowed { probe: p } => probe = p,
            Gate::Refused { retry_in_secs } => gates.breaker_refused_secs = Some(retry_in_secs),
        }
    }
    match decide(None, &gates, &Outcome::Queued, &policy) {
        Decision::Start => {}
        Decision::Finish(f) => {
            let job = d.finish(&f).await?;
            if job.as_ref().and_then(|j| j.failure_reason) == f.failure_reason {
                log::warn(
                    "jobs: feature flag disabled; job failed",
                    json!({
                        "event": "job_failed_feature_flag", "request_id": rid, "job_id": id, "task_type": env_.task_type,
                        "flag": gates.flag_disabled, "account_id": env_.meta.account_id,
                    }),
                );
            } else {
                log::info("jobs: duplicate delivery of a finished job", json!({ "request_id": rid, "job_id": id }));
            }
            return Ok(Next::Ack);
        }
        Decision::Defer { retry_in_secs, reason } => {
            // Best effort: the job only shows that it waits; the message is what carries it.
            let _ = d.defer(&reason).await;
            log::info("jobs: circuit open; job waits", json!({ "request_id": rid, "job_id": id, "retry_in_secs": retry_in_secs }));
            return Ok(Next::RetryIn(retry_in_secs));
        }
        other => unreachable!("a queued job is started, finished or deferred, not {other:?}"),
    }

    // Started.
    let job = match db.call(&rpc::JobStart { p_job_id: id, p_pending_ttl_secs: cfg.job_pending_ttl_secs }).await {
        Ok(j) => j,
        Err(e) => {
            hand_back_probe(&breaker, probe).await;
            return Err(e.into());
        }
    };
    gates.cancel_requested = match &job {
        Some(j) if !j.is_terminal() && j.cancel_requested_at.is_none() => d.hub.is_cancelled(id).await,
        _ => false,
    };
    match decide(job.as_ref(), &gates, &Outcome::Started, &policy) {
        Decision::Run => {}
        decision => {
            hand_back_probe(&breaker, probe).await;
            match decision {
                Decision::Skip(Skip::Missing) => {
                    log::warn("jobs: job no longer exists; dropping its message", json!({ "request_id": rid, "job_id": id }))
                }
                Decision::Skip(Skip::AlreadyFinished(status)) => {
                    // Usually a duplicate delivery; or the job expired just now: subscribers get its frame.
                    d.publish(job.as_ref()).await;
                    log::info("jobs: delivery of a finished job", json!({ "request_id": rid, "job_id": id, "status": status }))
                }
                Decision::WaitForSlot => {
                    d.publish(job.as_ref()).await;
                    return Ok(Next::RetryIn(slot_poll_delay_secs(queued_for_secs)));
                }
                Decision::Finish(f) => {
                    d.finish(&f).await?;
                }
                other => unreachable!("a started job runs, is skipped or finished, not {other:?}"),
            }
            return Ok(Next::Ack);
        }
    }
    let job = job.expect("decide runs only an existing job");
    d.publish(Some(&job)).await;
    log::info(
        "jobs: running",
        json!({ "request_id": rid, "job_id": id, "account_id": env_.meta.account_id, "batch_id": job.batch_id,
                "attempt": job.attempts, "task_type": env_.task_type }),
    );

    // Ran.
    let run_started = crate::platform::now_ms();
    let result = run_task(task, env_, env, cfg, &d, &job, breaker.as_ref(), probe).await;
    let run_ms = crate::platform::now_ms() - run_started;
    let measure = |outcome: &str| {
        let point = crate::observability::metrics::job(&env_.task_type, outcome, queued_for_secs * 1000.0, run_ms, job.attempts);
        crate::adapters::metrics::write(env, point);
        if matches!(outcome, "failed" | "cancelled" | "dead_lettered") && job.credit_cost > 0 {
            crate::adapters::metrics::write(env, crate::observability::metrics::credits("refund", job.credit_cost));
        }
    };
    gates.cancel_requested = d.hub.is_cancelled(id).await;
    let mut decision = decide(Some(&job), &gates, &Outcome::Ran(result), &policy);
    loop {
        return match decision {
            Decision::Finish(f) => match d.finish(&f).await {
                Ok(_) => {
                    let fields = json!({
                        "event": "job.finished", "request_id": rid, "job_id": id, "account_id": env_.meta.account_id,
                        "batch_id": job.batch_id, "task_type": env_.task_type, "status": f.status, "attempt": job.attempts,
                        "queue_wait_ms": (queued_for_secs * 1000.0).round() as u64, "duration_ms": run_ms.round() as u64,
                        "error": f.last_error,
                    });
                    match f.status {
                        JobStatus::Completed => log::info("jobs: completed", fields),
                        JobStatus::Cancelled => log::info("jobs: cancelled at a step boundary", fields),
                        _ => log::warn("jobs: failed", fields),
                    }
                    measure(&f.status.as_str().to_ascii_lowercase());
                    Ok(Next::Ack)
                }
                // The database refused the result itself (SQLSTATE class 22: a value it cannot store). Running
                // the task again would fetch the same result: the job fails instead of being redelivered.
                Err(DbError::Api { code, message, .. }) if f.status == JobStatus::Completed && code.starts_with("22") => {
                    let error = format!("the result could not be stored ({code}: {message})");
                    log::error("jobs: result not storable; failing the job", json!({ "request_id": rid, "job_id": id, "error": error }));
                    decision = decide(Some(&job), &gates, &Outcome::Ran(Err(TaskError::Final(error))), &policy);
                    continue;
                }
                Err(e) => Err(e.into()),
            },
            Decision::Defer { retry_in_secs, reason } => {
                d.defer(&reason).await?;
                measure("deferred");
                log::warn(
                    "jobs: service unavailable; attempt handed back",
                    json!({ "request_id": rid, "job_id": id, "retry_in_secs": retry_in_secs, "error": reason }),
                );
                Ok(Next::RetryIn(retry_in_secs))
            }
            Decision::Retry { delay_secs, last_error } => {
                let row = db.call(&rpc::JobRetry { p_job_id: id, p_last_error: &last_error }).await?;
                d.publish(row.as_ref()).await;
                measure("retried");
                log::warn(
                    "jobs: attempt failed; retrying",
                    json!({ "request_id": rid, "job_id": id, "attempt": job.attempts, "delay_secs": delay_secs, "error": last_error }),
                );
                Ok(Next::RetryIn(delay_secs))
            }
            Decision::DeadLetter(f) => {
                d.finish(&f).await?;
                let reason = f.last_error.unwrap_or_default();
                log::warn(
                    "jobs: attempts exhausted; dead-lettering",
                    json!({ "request_id": rid, "job_id": id, "attempts": job.attempts, "failure_reason": f.failure_reason, "error": reason }),
                );
                dead_letter(env, db, dlq, env_, job.attempts, &reason).await?;
                measure("dead_lettered");
                Ok(Next::Ack)
            }
            other => unreachable!("a task outcome finishes, defers, retries or dead-letters, not {other:?}"),
        };
    }
}

/// A lead analysis whose tier is switched off (`FF_LEAD_ANALYSIS_*_ENABLED`) does not run.
fn tier_flag_disabled(task: Option<TaskType>, env_: &JobEnvelope, cfg: &Config) -> Option<&'static str> {
    if task != Some(TaskType::LeadAnalyze) {
        return None;
    }
    let p: LeadAnalyzePayload = serde_json::from_value(env_.payload.clone()).ok()?;
    crate::leads::disabled_tier_flag(p.tier, &cfg.features)
}

/// Runs the task, publishing its named steps to JobHub.
#[allow(clippy::too_many_arguments)]
async fn run_task(
    task: Option<TaskType>,
    env_: &JobEnvelope,
    env: &Env,
    cfg: &Config,
    d: &Delivery<'_>,
    job: &JobRow,
    breaker: Option<&BreakerClient>,
    probe: bool,
) -> Result<Value, TaskError> {
    let rid = d.rid();
    match task {
        Some(TaskType::BrowserExtractText) => match (serde_json::from_value::<BrowserExtractPayload>(env_.payload.clone()), breaker) {
            (Ok(p), Some(breaker)) => {
                d.hub.publish(&job.at_step("navigating", 10), rid).await;
                let r = tasks::browser_extract_text::run(cfg, &p, breaker, probe).await;
                if r.is_ok() {
                    d.hub.publish(&job.at_step("extracting", 80), rid).await;
                }
                r
            }
            (Err(e), _) => Err(TaskError::Final(format!("invalid payload: {e}"))),
            // Not reached: browser tasks always get a breaker before they start.
            (Ok(_), None) => Err(TaskError::Final("no circuit breaker for a browser task".into())),
        },
        Some(TaskType::HttpRequest) => match serde_json::from_value::<HttpRequestPayload>(env_.payload.clone()) {
            Ok(p) => {
                d.hub.publish(&job.at_step("requesting", 10), rid).await;
                tasks::http_request::run(&p).await
            }
            Err(e) => Err(TaskError::Final(format!("invalid payload: {e}"))),
        },
        Some(TaskType::LeadAnalyze) => match serde_json::from_value::<LeadAnalyzePayload>(env_.payload.clone()) {
            Ok(p) => {
                let run = tasks::lead_analyze::Run { env, cfg, db: d.db, hub: &d.hub, job, request_id: rid };
                tasks::lead_analyze::run(&run, &p).await
            }
            Err(e) => Err(TaskError::Final(format!("invalid payload: {e}"))),
        },
        None => Err(TaskError::Final(format!("unknown task type {}", env_.task_type))),
    }
}

/// Sends the exhausted envelope to the dead-letter queue; if that fails, records it directly rather than
/// lose the record.
async fn dead_letter(env: &Env, db: &ServiceDb, dlq: DeadLetters, env_: &JobEnvelope, attempts: u32, reason: &str) -> Result<(), DbError> {
    let mut dead = env_.clone();
    dead.attempt = attempts;
    let sent = match env.queue(dlq.binding) {
        Ok(q) => super::send_json(&q, &dead).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        log::error(
            "jobs: dead-letter send failed; recording directly",
            json!({ "request_id": env_.correlation_id, "job_id": env_.job_id, "error": e }),
        );
        let envelope = serde_json::to_value(&dead).unwrap_or_default();
        db.call(&rpc::RecordDeadLetter { p_job_id: Some(&env_.job_id), p_queue: dlq.queue, p_envelope: &envelope, p_reason: reason })
            .await?;
    }
    Ok(())
}
