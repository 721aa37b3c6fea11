//! Dead-letter consumers: every message that lands in a dead-letter queue is recorded
//! (`dead_letter_jobs`) and its job is FAILED `max_attempts_exceeded` if it was not already, then acked.
//! A message that cannot even be decoded is recorded with a null job.

use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::ServiceDb;
use crate::adapters::rpc::RecordDeadLetter;
use crate::config::Reporting;
use crate::jobs::envelope::JobEnvelope;
use crate::log;
use crate::observability::sentry::{Level, Report};
use serde_json::{json, Value};
use worker::{Env, MessageExt, RawMessage};

pub async fn handle(msg: RawMessage, queue: &str, env: &Env, db: &ServiceDb, reporting: &Reporting) {
    let body: Value = super::decode(&msg.body()).unwrap_or(Value::Null);
    let envelope: Option<JobEnvelope> = serde_json::from_value(body.clone()).ok();
    let job_id = envelope.as_ref().map(|e| e.job_id.clone());
    match db.call(&RecordDeadLetter { p_job_id: job_id.as_ref(), p_queue: queue, p_envelope: &body, p_reason: "dead-lettered" }).await {
        Ok(job) => {
            log::warn(
                "dlq: recorded",
                json!({ "queue": queue, "job_id": job_id,
                "request_id": envelope.as_ref().map(|e| e.correlation_id.clone()) }),
            );
            if let (Some(e), Some(job)) = (&envelope, &job) {
                if let Ok(hub) = JobHubClient::for_account(env, &e.meta.account_id) {
                    hub.publish(job, &e.correlation_id).await;
                }
            }
            msg.ack();
            let mut report = Report::new(Level::Error, "job_dead_lettered", format!("a job message reached {queue}")).tag("queue", queue);
            if let Some(e) = &envelope {
                report = report
                    .tag("request_id", e.correlation_id.as_str())
                    .tag("job_id", e.job_id.as_str())
                    .tag("task_type", e.task_type.as_str())
                    .extra(json!({ "attempt": e.attempt, "max_attempts": e.max_attempts, "account_id": e.meta.account_id }));
            }
            crate::adapters::sentry::send(reporting, report).await;
        }
        Err(e) => {
            log::error("dlq: could not record; will retry", json!({ "queue": queue, "job_id": job_id, "error": e.to_string() }));
            msg.retry();
        }
    }
}
