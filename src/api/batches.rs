//! Batches (docs/adr/0016): up to 100 jobs submitted in one request, followed on one stream and cancelled
//! as one. Submission runs as the service role for the verified user (like single jobs); everything
//! else runs as the caller, so another account's batch is simply not found.

use crate::adapters::postgrest::{Db, ServiceDb, ServiceRole};
use crate::adapters::rpc::{self, SubmitOutcome};
use crate::api::jobs::{hub, last_event_id, open_stream};
use crate::api::{account_arg, header, read_body, Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::contract::body;
use crate::contract::envelope::Pagination;
use crate::contract::error::ApiError;
use crate::jobs::batches::{self, BatchDetail, BatchView, ItemPage, ValidItem};
use crate::jobs::envelope::{EnvelopeMeta, JobEnvelope};
use crate::jobs::list::Page;
use crate::jobs::payloads::parse_idempotency_key;
use crate::jobs::{JobId, JobRow, JobStatus, TaskType};
use crate::{log, platform};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use worker::Request;

/// `POST /api/v1/batches` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBatchBody {
    items: Value,
}

fn batch_id(ctx: &RequestCtx<'_>) -> Result<String, ApiError> {
    ctx.params.first().and_then(|raw| uuid::Uuid::parse_str(raw).ok()).map(|u| u.hyphenated().to_string()).ok_or(ApiError::NotFound)
}

/// What JobHub needs to keep a batch's summary frames.
fn hub_ref(b: &BatchView) -> Value {
    json!({ "id": b.id, "total": b.total, "cancel_requested": b.cancel_requested })
}

fn detail(batch: BatchView, jobs: &[JobRow]) -> Value {
    let items = ItemPage { data: jobs.iter().map(JobRow::summary).collect(), has_more: false };
    serde_json::to_value(BatchDetail { batch, items }).unwrap_or_default()
}

fn located(status: u16, data: Value, id: &str, replayed: bool) -> Reply {
    let mut headers = vec![("Location", format!("/api/v1/batches/{id}"))];
    if replayed {
        headers.push(("Idempotent-Replayed", "true".into()));
    }
    Reply::Json { status, data, headers }
}

/// Queues the batch's envelopes, per task type's queue in item order, with `sendBatch` calls sized to
/// the Queues limits. Returns the jobs no queue accepted.
async fn enqueue<'j>(ctx: &RequestCtx<'_>, who: &Authenticated, jobs: &'j [JobRow]) -> Vec<&'j JobId> {
    let mut unsent = Vec::new();
    for task in TaskType::ALL {
        let of_task: Vec<&JobRow> = jobs.iter().filter(|j| TaskType::parse(&j.task_type) == Some(task)).collect();
        if of_task.is_empty() {
            continue;
        }
        let envelopes: Vec<JobEnvelope> = of_task
            .iter()
            .map(|j| JobEnvelope {
                job_id: j.id.clone(),
                attempt: 0,
                max_attempts: j.max_attempts,
                correlation_id: ctx.request_id.to_string(),
                task_type: j.task_type.clone(),
                payload: j.payload.clone(),
                meta: EnvelopeMeta {
                    enqueue_ts: platform::now_rfc3339(),
                    user_id: who.principal.user_id.clone(),
                    account_id: j.account_id.clone(),
                    source: "batch".into(),
                },
            })
            .collect();
        let (sent, error) = match ctx.env.queue(task.queue_binding()) {
            Ok(q) => crate::adapters::queue::send_json_batch(&q, &envelopes).await,
            Err(e) => (0, Some(e.to_string())),
        };
        if let Some(e) = error {
            log::error(
                "batches: enqueue failed",
                json!({ "request_id": ctx.request_id, "queue": task.queue_binding(), "sent": sent, "unsent": of_task.len() - sent, "error": e }),
            );
            unsent.extend(of_task[sent..].iter().map(|j| &j.id));
        }
    }
    unsent
}

/// `POST /api/v1/batches`.
pub async fn create(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    body::check_json_media_type(header(req, "Content-Type").as_deref())?;
    let bytes = read_body(req, ctx.cfg.max_body_bytes).await?;
    let submitted = body::parse_json::<SubmitBatchBody>(&bytes)?;
    let items = batches::validate(submitted.items, &ctx.cfg.ssrf_deny, &ctx.cfg.features)?;
    let idempotency_key = parse_idempotency_key(header(req, "Idempotency-Key").as_deref())?;
    let sql_items = Value::Array(items.iter().map(ValidItem::to_sql).collect());

    let db = ServiceDb::new(ctx.cfg, ServiceRole::for_job_submission(who));
    let out = db
        .call(&rpc::SubmitBatch {
            p_user_id: &who.principal.user_id,
            p_items: &sql_items,
            p_correlation_id: ctx.request_id,
            p_idempotency_key: idempotency_key.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    let id = out.batch.id.clone();
    ctx.annotate("batch_id", id.as_str());
    if out.outcome == SubmitOutcome::Existing {
        return Ok(located(200, detail(out.batch, &out.jobs), &id, true));
    }
    let data = start(ctx, who, &db, out.batch, &out.jobs).await?;
    Ok(located(202, data, &id, false))
}

/// Publishes a new batch's jobs to JobHub and queues them; items no queue accepted are FAILED and
/// refunded. Answers the batch detail to send (503 if no item was queued).
pub(crate) async fn start(
    ctx: &RequestCtx<'_>,
    who: &Authenticated,
    db: &ServiceDb,
    batch: BatchView,
    jobs: &[JobRow],
) -> Result<Value, ApiError> {
    let id = batch.id.clone();
    let Some(account) = jobs.first().map(|j| j.account_id.clone()) else {
        return Err(ApiError::Internal("submit_batch returned no jobs".into()));
    };
    ctx.annotate("account_id", account.as_str());
    if batch.credits_charged > 0 {
        crate::adapters::metrics::write(ctx.env, crate::observability::metrics::credits("deduct", batch.credits_charged));
    }
    let hub = hub(ctx, &account)?;
    hub.publish_many(jobs, Some(hub_ref(&batch)), ctx.request_id).await;

    let unsent = enqueue(ctx, who, jobs).await;
    if unsent.is_empty() {
        log::info(
            "batches: submitted",
            json!({ "request_id": ctx.request_id, "batch_id": id, "account_id": account, "items": jobs.len() }),
        );
        return Ok(detail(batch, jobs));
    }
    // Never leave PENDING jobs that no queue holds: fail them (each refunded) and say so.
    match db.call(&rpc::FailUnqueuedJobs { p_job_ids: &unsent }).await {
        Ok(failed) => hub.publish_many(&failed, None, ctx.request_id).await,
        Err(e) => log::error(
            "batches: could not fail unqueued jobs",
            json!({ "request_id": ctx.request_id, "batch_id": id, "error": e.to_string() }),
        ),
    }
    if unsent.len() == jobs.len() {
        return Err(ApiError::Unavailable { dependency: "job queue", retry_after_secs: 5 });
    }
    // Some items were queued: the batch stands, and its items show which were not.
    let now = Db::as_user(ctx.cfg, &who.token).call(&rpc::GetBatch { p_batch_id: &id, p_limit: 100, p_starting_after: None }).await?;
    Ok(serde_json::to_value(now).unwrap_or_default())
}

/// `GET /api/v1/batches`.
pub async fn list(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let page = Page::parse(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())))?;
    let out = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::ListBatches {
            p_limit: page.limit,
            p_starting_after: page.starting_after.as_deref(),
            p_ending_before: page.ending_before.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    Ok(Reply::List {
        data: serde_json::to_value(&out.items).unwrap_or_default(),
        pagination: Pagination { limit: page.limit, has_more: out.has_more },
    })
}

/// `GET /api/v1/batches/{id}`: the batch and a page of its items in submission order (`limit`, default
/// and at most 100, and `starting_after`, an item's job id).
pub async fn get(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = batch_id(ctx)?;
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let limit_given = pairs.iter().any(|(k, _)| k == "limit");
    let page = Page::parse(pairs.into_iter())?;
    if page.ending_before.is_some() {
        let mut f = Map::new();
        f.insert("ending_before".into(), Value::from("items are read forwards: use starting_after"));
        return Err(ApiError::invalid_fields(f));
    }
    let limit = if limit_given { page.limit } else { batches::MAX_ITEMS as u32 };
    let out = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::GetBatch { p_batch_id: &id, p_limit: limit, p_starting_after: page.starting_after.as_deref() })
        .await?;
    Ok(Reply::ok(serde_json::to_value(out).unwrap_or_default()))
}

/// `POST /api/v1/batches/{id}/cancel`: PENDING items end CANCELLED (refunded) at once; RUNNING items stop
/// at their next step boundary (202 while any is still running); finished items keep their result.
pub async fn cancel(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = batch_id(ctx)?;
    let out = Db::as_user(ctx.cfg, &who.token).call(&rpc::CancelBatch { p_batch_id: &id }).await?;
    let running: Vec<&JobId> = out.jobs.iter().filter(|j| j.status == JobStatus::Running).map(|j| &j.id).collect();
    if let Some(account) = out.jobs.first().map(|j| j.account_id.clone()) {
        let hub = hub(ctx, &account)?;
        if !running.is_empty() {
            if let Err(e) = hub.request_cancel_many(&running).await {
                // The database flags still stop each job at its next start.
                log::warn(
                    "batches: cancel flags not set in JobHub",
                    json!({ "request_id": ctx.request_id, "batch_id": id, "error": e.to_string() }),
                );
            }
        }
        hub.publish_many(&out.jobs, Some(hub_ref(&out.batch)), ctx.request_id).await;
    }
    let status = if running.is_empty() { 200 } else { 202 };
    Ok(Reply::Json { status, data: serde_json::to_value(out.batch).unwrap_or_default(), headers: vec![] })
}

/// `GET /api/v1/batches/{id}/events`: the items' `job` frames and the batch's `batch` frames, replayed
/// after `Last-Event-ID` (all of them without it); ends after the frame that shows the batch finished.
pub async fn events(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = batch_id(ctx)?;
    let sc = Db::as_user(ctx.cfg, &who.token).call(&rpc::BatchStreamContext { p_batch_id: &id }).await?;
    let jobs: Vec<_> = sc.jobs.iter().map(JobRow::public).collect();
    let body = json!({ "batch": hub_ref(&sc.batch), "jobs": jobs, "last_event_id": last_event_id(req) });
    open_stream(ctx, "/batch", &sc.account_id, sc.max_streams, body).await
}
