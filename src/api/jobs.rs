//! Jobs (API.md "Jobs", "The job", "Server-Sent Events"). Every database call runs as the caller, so
//! another account's job is simply not found (404) on every route and stream.

use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::{Db, ServiceDb, ServiceRole};
use crate::adapters::rpc::{self, SubmitOutcome};
use crate::api::account_arg;
use crate::api::{header, read_body, Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::contract::body;
use crate::contract::envelope::Pagination;
use crate::contract::error::ApiError;
use crate::jobs::envelope::{EnvelopeMeta, JobEnvelope};
use crate::jobs::list::ListQuery;
use crate::jobs::model::JobFrame;
use crate::jobs::payloads::SubmitJob;
use crate::jobs::{task_types, AccountId, JobId, JobRow, JobStatus, TaskType};
use crate::{log, platform};
use serde_json::{json, Value};
use worker::Request;

/// The stream cap when the plan row gives none (a broken invariant, logged).
const FALLBACK_MAX_STREAMS: u32 = 5;

fn job_id(ctx: &RequestCtx<'_>) -> Result<JobId, ApiError> {
    ctx.params.first().and_then(|raw| JobId::parse(raw)).ok_or(ApiError::NotFound)
}

pub(crate) fn hub(ctx: &RequestCtx<'_>, account: &AccountId) -> Result<JobHubClient, ApiError> {
    JobHubClient::for_account(ctx.env, account).map_err(|e| ApiError::Internal(format!("jobhub binding: {e}")))
}

fn public(job: &JobRow) -> Value {
    serde_json::to_value(job.public()).unwrap_or_default()
}

fn located(status: u16, job: &JobRow) -> Reply {
    let location = format!("/api/v1/jobs/{}", job.id);
    Reply::Json { status, data: public(job), headers: vec![("Location", location)] }
}

/// `POST /api/v1/jobs`.
pub async fn create(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    body::check_json_media_type(header(req, "Content-Type").as_deref())?;
    let bytes = read_body(req, ctx.cfg.max_body_bytes).await?;
    let submit = body::parse_json::<SubmitJob>(&bytes)?;
    if let Some(flag) = TaskType::parse(&submit.task_type).and_then(|t| task_types::disabled_flag(t, &ctx.cfg.features)) {
        return Err(ApiError::FeatureDisabled {
            message: format!("task type {} is disabled", submit.task_type),
            details: json!({ "flag": flag }),
        });
    }
    let submission = submit.validate(&ctx.cfg.ssrf_deny)?;
    let idempotency_key = crate::jobs::payloads::parse_idempotency_key(header(req, "Idempotency-Key").as_deref())?;

    let db = ServiceDb::new(ctx.cfg, ServiceRole::for_job_submission(who));
    let out = db
        .call(&rpc::SubmitJob {
            p_user_id: &who.principal.user_id,
            p_task_type: submission.task_type.as_str(),
            p_payload: &submission.payload,
            p_max_attempts: submission.max_attempts,
            p_correlation_id: ctx.request_id,
            p_idempotency_key: idempotency_key.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    let job = out.job;
    ctx.annotate("job_id", job.id.as_str());
    ctx.annotate("account_id", job.account_id.as_str());
    if out.outcome == SubmitOutcome::Existing {
        let mut reply = located(200, &job);
        if let Reply::Json { headers, .. } = &mut reply {
            headers.push(("Idempotent-Replayed", "true".into()));
        }
        return Ok(reply);
    }

    start(ctx, who, &db, &job).await?;
    Ok(located(202, &job))
}

/// Publishes a new job to JobHub and queues it. If no queue takes it, the job is FAILED (refunded)
/// and the caller gets 503: never a PENDING job that no queue holds.
pub(crate) async fn start(ctx: &RequestCtx<'_>, who: &Authenticated, db: &ServiceDb, job: &JobRow) -> Result<(), ApiError> {
    let hub = hub(ctx, &job.account_id)?;
    hub.publish(job, ctx.request_id).await;
    let task = TaskType::parse(&job.task_type).ok_or_else(|| ApiError::Internal(format!("unknown task type {}", job.task_type)))?;
    let envelope = JobEnvelope {
        job_id: job.id.clone(),
        attempt: 0,
        max_attempts: job.max_attempts,
        correlation_id: ctx.request_id.to_string(),
        task_type: job.task_type.clone(),
        payload: job.payload.clone(),
        meta: EnvelopeMeta {
            enqueue_ts: platform::now_rfc3339(),
            user_id: who.principal.user_id.clone(),
            account_id: job.account_id.clone(),
            source: "api".into(),
        },
    };
    let sent = match ctx.env.queue(task.queue_binding()) {
        Ok(q) => crate::adapters::queue::send_json(&q, &envelope).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        log::error("jobs: enqueue failed", json!({ "request_id": ctx.request_id, "job_id": job.id, "error": e }));
        match db.call(&rpc::FailUnqueuedJob { p_job_id: &job.id }).await {
            Ok(failed) => hub.publish(&failed, ctx.request_id).await,
            Err(e) => log::error(
                "jobs: could not fail an unqueued job",
                json!({ "request_id": ctx.request_id, "job_id": job.id, "error": e.to_string() }),
            ),
        }
        return Err(ApiError::Unavailable { dependency: "job queue", retry_after_secs: 5 });
    }
    if job.credit_cost > 0 {
        crate::adapters::metrics::write(ctx.env, crate::observability::metrics::credits("deduct", job.credit_cost));
    }
    log::info(
        "jobs: submitted",
        json!({ "request_id": ctx.request_id, "job_id": job.id, "account_id": job.account_id, "task_type": job.task_type }),
    );
    Ok(())
}

/// `GET /api/v1/jobs`.
pub async fn list(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let q = ListQuery::parse(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let page = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::ListJobs {
            p_limit: q.page.limit,
            p_starting_after: q.page.starting_after.as_deref(),
            p_ending_before: q.page.ending_before.as_deref(),
            p_status: q.status,
            p_task_type: q.task_type.clone(),
            p_account_id: account_arg(who),
        })
        .await?;
    Ok(Reply::List {
        data: serde_json::to_value(&page.items).unwrap_or_default(),
        pagination: Pagination { limit: q.page.limit, has_more: page.has_more },
    })
}

async fn load(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<JobRow, ApiError> {
    let id = job_id(ctx)?;
    Db::as_user(ctx.cfg, &who.token).call(&rpc::GetJob { p_job_id: &id }).await?.ok_or(ApiError::NotFound)
}

/// `GET /api/v1/jobs/{id}`.
pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    Ok(Reply::ok(public(&load(ctx, who).await?)))
}

/// `GET /api/v1/jobs/{id}/progress`: the live state from JobHub when it has one, else the database's,
/// in the shape of the SSE `job` frame (`JobProgress` in docs/openapi.json).
pub async fn progress(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let job = load(ctx, who).await?;
    let live = hub(ctx, &job.account_id)?.state(&job.id).await.unwrap_or(Value::Null);
    let frame = match serde_json::from_value::<JobFrame>(live) {
        Ok(f) => f,
        Err(_) => JobFrame::from(&job.public()),
    };
    Ok(Reply::ok(serde_json::to_value(frame).unwrap_or_default()))
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = job_id(ctx)?;
    let job = Db::as_user(ctx.cfg, &who.token).call(&rpc::CancelJob { p_job_id: &id }).await?;
    let hub = hub(ctx, &job.account_id)?;
    if job.status == JobStatus::Cancelled {
        hub.publish(&job, ctx.request_id).await;
        return Ok(Reply::ok(public(&job)));
    }
    if let Err(e) = hub.request_cancel(&id).await {
        // The database flag still stops the job at its next start; the step-boundary check needs JobHub.
        log::warn("jobs: cancel flag not set in JobHub", json!({ "request_id": ctx.request_id, "job_id": id, "error": e.to_string() }));
    }
    // Streams show the pending cancel (`cancel_requested: true`) at once.
    hub.publish(&job, ctx.request_id).await;
    // A RUNNING job stops at its next step boundary: 202, and the job says a cancel is pending.
    Ok(Reply::Json { status: 202, data: public(&job), headers: vec![] })
}

/// Frame ids are the event log's sequence numbers: a value that is not one (negative, not a number, or
/// past JavaScript's exact integers, which the object's storage uses) is ignored like a missing header.
/// The `Last-Event-ID` header (a browser's own reconnection) wins over the `last_event_id` query parameter,
/// which a client that opens a new `EventSource` (which cannot set headers) uses to resume.
pub(crate) fn last_event_id(req: &Request) -> Option<i64> {
    const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;
    let parse = |v: &str| v.trim().parse::<i64>().ok().filter(|n| (0..=MAX_SAFE_INTEGER).contains(n));
    header(req, "Last-Event-ID").and_then(|v| parse(&v)).or_else(|| {
        let url = req.url().ok()?;
        let v = url.query_pairs().find(|(k, _)| k == "last_event_id")?.1;
        parse(&v)
    })
}

/// Opens a JobHub stream (`/events`, `/stream` or `/batch`) for `account` under its plan's stream cap.
pub(crate) async fn open_stream(
    ctx: &RequestCtx<'_>,
    path: &str,
    account: &AccountId,
    max_streams: Option<u32>,
    mut body: Value,
) -> Result<Reply, ApiError> {
    let max_streams = max_streams.unwrap_or_else(|| {
        log::error("jobs: account without a plan stream cap", json!({ "request_id": ctx.request_id, "account_id": account }));
        FALLBACK_MAX_STREAMS
    });
    body["max_streams"] = Value::from(max_streams);
    let hub = hub(ctx, account)?;
    let resp = hub.open(path, &body).await.map_err(|e| ApiError::Internal(format!("jobhub open: {e}")))?;
    match resp.status_code() {
        200 => {}
        429 => return Err(ApiError::StreamLimitExceeded { limit: max_streams }),
        s => return Err(ApiError::Internal(format!("jobhub open: HTTP {s}"))),
    }
    // The object's own stream is handed to the client as is (no Rust stream in between), so a client
    // that goes away cancels it at once and JobHub frees the account's stream slot.
    let body = match resp.body() {
        worker::ResponseBody::Stream(s) => worker::ResponseBody::Stream(s.clone()),
        _ => return Err(ApiError::Internal("jobhub open: no stream".into())),
    };
    let out = worker::Response::from_body(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply::Stream(out))
}

/// `GET /api/v1/jobs/{id}/events`.
pub async fn events(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = job_id(ctx)?;
    let sc = Db::as_user(ctx.cfg, &who.token).call(&rpc::StreamContext { p_job_id: Some(&id), p_account_id: None }).await?;
    let body = json!({ "job": sc.job.as_ref().map(JobRow::public), "last_event_id": last_event_id(req) });
    open_stream(ctx, "/events", &sc.account_id, sc.max_streams, body).await
}

/// `GET /api/v1/jobs/stream`.
pub async fn stream(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let sc = Db::as_user(ctx.cfg, &who.token).call(&rpc::StreamContext { p_job_id: None, p_account_id: account_arg(who) }).await?;
    let body = json!({ "last_event_id": last_event_id(req) });
    open_stream(ctx, "/stream", &sc.account_id, sc.max_streams, body).await
}
