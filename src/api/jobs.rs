//! Jobs (API.md "Jobs", "The job", "Server-Sent Events"). Every database call runs as the caller, so
//! another account's job is simply not found (404) on every route and stream.

use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::Db;
use crate::api::with_account;
use crate::auth::Authenticated;
use crate::domain::body;
use crate::domain::envelope::Pagination;
use crate::domain::error::ApiError;
use crate::domain::jobs::{self, EnvelopeMeta, JobEnvelope, ListQuery, SubmitJob};
use crate::http::{header, read_body, Reply, RequestCtx};
use crate::{log, platform};
use serde_json::{json, Value};
use worker::Request;

fn job_id(ctx: &RequestCtx<'_>) -> Result<String, ApiError> {
    let raw = ctx.params.first().ok_or(ApiError::NotFound)?;
    uuid::Uuid::parse_str(raw).map(|u| u.hyphenated().to_string()).map_err(|_| ApiError::NotFound)
}

fn hub(ctx: &RequestCtx<'_>, job: &Value) -> Result<JobHubClient, ApiError> {
    let account = job["account_id"].as_str().ok_or_else(|| ApiError::Internal("job row without account_id".into()))?;
    JobHubClient::for_account(ctx.env, account).map_err(|e| ApiError::Internal(format!("jobhub binding: {e}")))
}

fn located(status: u16, job: &Value) -> Reply {
    let location = format!("/api/v1/jobs/{}", job["id"].as_str().unwrap_or_default());
    Reply::Json { status, data: jobs::public_job(job), headers: vec![("Location", location)] }
}

/// `POST /api/v1/jobs`.
pub async fn create(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    body::check_json_media_type(header(req, "Content-Type").as_deref())?;
    let bytes = read_body(req, ctx.cfg.max_body_bytes).await?;
    let submit = body::parse_json::<SubmitJob>(&bytes)?;
    if let Some(flag) = jobs::TaskType::parse(&submit.task_type).and_then(|t| jobs::disabled_flag(t, &ctx.cfg.features)) {
        return Err(ApiError::FeatureDisabled {
            message: format!("task type {} is disabled", submit.task_type),
            details: json!({ "flag": flag }),
        });
    }
    let submission = submit.validate(&ctx.cfg.ssrf_deny)?;
    let idempotency_key = jobs::parse_idempotency_key(header(req, "Idempotency-Key").as_deref())?;

    let mut args = json!({
        "p_task_type": submission.task_type.as_str(),
        "p_payload": submission.payload,
        "p_max_attempts": submission.max_attempts,
        "p_correlation_id": ctx.request_id,
    });
    if let Some(k) = &idempotency_key {
        args["p_idempotency_key"] = Value::from(k.as_str());
    }
    let db = Db::as_user(ctx.cfg, &who.token);
    let out = db.rpc_json("submit_job", &with_account(args, who)).await?;
    let job = out["job"].clone();
    if out["outcome"] == "existing" {
        return Ok(located(200, &job));
    }

    let hub = hub(ctx, &job)?;
    hub.publish(&job, ctx.request_id).await;
    let envelope = JobEnvelope {
        job_id: job["id"].as_str().unwrap_or_default().to_string(),
        attempt: 0,
        max_attempts: submission.max_attempts,
        correlation_id: ctx.request_id.to_string(),
        task_type: submission.task_type.as_str().to_string(),
        payload: job["payload"].clone(),
        meta: EnvelopeMeta {
            enqueue_ts: platform::now_rfc3339(),
            user_id: who.principal.user_id.clone(),
            account_id: job["account_id"].as_str().unwrap_or_default().to_string(),
            source: "api".into(),
        },
    };
    let sent = match ctx.env.queue(submission.task_type.queue_binding()) {
        Ok(q) => crate::queues::send_json(&q, &envelope).await,
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = sent {
        // Never leave a PENDING job that no queue holds: fail it (refunding) and tell the caller.
        log::error("jobs: enqueue failed", json!({ "request_id": ctx.request_id, "job_id": job["id"], "error": e }));
        match db.rpc_json("fail_unqueued_job", &json!({ "p_job_id": job["id"] })).await {
            Ok(failed) => hub.publish(&failed, ctx.request_id).await,
            Err(e) => log::error(
                "jobs: could not fail an unqueued job",
                json!({ "request_id": ctx.request_id, "job_id": job["id"], "error": e.to_string() }),
            ),
        }
        return Err(ApiError::Unavailable { dependency: "job queue", retry_after_secs: 5 });
    }
    log::info("jobs: submitted", json!({ "request_id": ctx.request_id, "job_id": job["id"], "task_type": job["task_type"] }));
    Ok(located(202, &job))
}

/// `GET /api/v1/jobs`.
pub async fn list(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let q = ListQuery::parse(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let mut args = json!({ "p_limit": q.page_size, "p_offset": q.offset() });
    if let Some(s) = &q.status {
        args["p_status"] = Value::from(s.as_str());
    }
    if let Some(t) = &q.task_type {
        args["p_task_type"] = Value::from(t.as_str());
    }
    let out = Db::as_user(ctx.cfg, &who.token).rpc_json("list_jobs", &with_account(args, who)).await?;
    let items: Vec<Value> = out["items"].as_array().map(|a| a.iter().map(jobs::public_job).collect()).unwrap_or_default();
    Ok(Reply::List {
        data: Value::Array(items),
        pagination: Pagination { page: q.page, page_size: q.page_size, total: out["total"].as_u64().unwrap_or(0) },
    })
}

async fn load(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Value, ApiError> {
    let id = job_id(ctx)?;
    let job = Db::as_user(ctx.cfg, &who.token).rpc_json("get_job", &json!({ "p_job_id": id })).await?;
    if job.is_null() {
        return Err(ApiError::NotFound);
    }
    Ok(job)
}

/// `GET /api/v1/jobs/{id}`.
pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    Ok(Reply::ok(jobs::public_job(&load(ctx, who).await?)))
}

/// `GET /api/v1/jobs/{id}/progress`: the live state from JobHub when it has one, else the database's.
pub async fn progress(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let job = load(ctx, who).await?;
    let id = job["id"].as_str().unwrap_or_default();
    let live = hub(ctx, &job)?.state(id).await.unwrap_or(Value::Null);
    let src = if live.is_object() { &live } else { &job };
    Ok(Reply::ok(json!({
        "id": job["id"], "status": src["status"], "progress": src["progress"], "step": src["step"], "updated_at": src["updated_at"],
    })))
}

/// `POST /api/v1/jobs/{id}/cancel`.
pub async fn cancel(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = job_id(ctx)?;
    let job = Db::as_user(ctx.cfg, &who.token).rpc_json("cancel_job", &json!({ "p_job_id": id })).await?;
    let hub = hub(ctx, &job)?;
    if job["status"] == "CANCELLED" {
        hub.publish(&job, ctx.request_id).await;
    } else if let Err(e) = hub.request_cancel(&id).await {
        // The database flag still stops the job at its next start; the step-boundary check needs JobHub.
        log::warn("jobs: cancel flag not set in JobHub", json!({ "request_id": ctx.request_id, "job_id": id, "error": e.to_string() }));
    }
    Ok(Reply::ok(jobs::public_job(&job)))
}

fn last_event_id(req: &Request) -> Option<i64> {
    header(req, "Last-Event-ID").and_then(|v| v.trim().parse::<i64>().ok()).filter(|n| *n >= 0)
}

async fn open_stream(ctx: &RequestCtx<'_>, path: &str, context: &Value, body: Value) -> Result<Reply, ApiError> {
    let hub = hub(ctx, context)?;
    let mut resp = hub.open(path, &body).await.map_err(|e| ApiError::Internal(format!("jobhub open: {e}")))?;
    match resp.status_code() {
        200 => {}
        429 => return Err(ApiError::RateLimited { retry_after_secs: 5 }),
        s => return Err(ApiError::Internal(format!("jobhub open: HTTP {s}"))),
    }
    let stream = resp.stream().map_err(|e| ApiError::Internal(e.to_string()))?;
    let out = worker::Response::from_stream(stream).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Reply::Stream(out))
}

/// `GET /api/v1/jobs/{id}/events`.
pub async fn events(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = job_id(ctx)?;
    let sc = Db::as_user(ctx.cfg, &who.token).rpc_json("stream_context", &json!({ "p_job_id": id })).await?;
    let body = json!({ "job": sc["job"], "last_event_id": last_event_id(req), "max_streams": sc["max_streams"].as_u64().unwrap_or(5) });
    open_stream(ctx, "/events", &sc, body).await
}

/// `GET /api/v1/jobs/stream`.
pub async fn stream(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let sc = Db::as_user(ctx.cfg, &who.token).rpc_json("stream_context", &with_account(json!({}), who)).await?;
    let body = json!({ "last_event_id": last_event_id(req), "max_streams": sc["max_streams"].as_u64().unwrap_or(5) });
    open_stream(ctx, "/stream", &sc, body).await
}
