//! Lead analysis routes (docs/adr/0018): analyze (one, or up to 50 as a batch), leads with soft delete and
//! restore, analyses, business profiles. Submission runs as the service role for the verified user (like
//! jobs); everything else runs as the caller, so another account's rows are simply not found.

use crate::adapters::postgrest::{Db, ServiceDb, ServiceRole};
use crate::adapters::rpc::{self, SubmitOutcome};
use crate::api::{account_arg, header, read_body, Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::contract::body;
use crate::contract::envelope::Pagination;
use crate::contract::error::ApiError;
use crate::jobs::list::{LeadListQuery, Page};
use crate::jobs::payloads::parse_idempotency_key;
use crate::leads::request::{AnalyzeRequest, BusinessProfileInput};
use serde_json::{json, Value};
use worker::Request;

fn id_param(ctx: &RequestCtx<'_>) -> Result<String, ApiError> {
    ctx.params.first().and_then(|raw| uuid::Uuid::parse_str(raw).ok()).map(|u| u.hyphenated().to_string()).ok_or(ApiError::NotFound)
}

fn query(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let url = req.url().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

async fn json_body(req: &mut Request, ctx: &RequestCtx<'_>) -> Result<Value, ApiError> {
    body::check_json_media_type(header(req, "Content-Type").as_deref())?;
    let bytes = read_body(req, ctx.cfg.max_body_bytes).await?;
    body::parse_json::<Value>(&bytes)
}

fn page_reply(page: rpc::ValuePage, limit: u32) -> Reply {
    Reply::List { data: Value::Array(page.items), pagination: Pagination { limit, has_more: page.has_more } }
}

/// `POST /api/v1/leads/analyze` (one profile: 202 with the analysis and its job) and
/// `POST /api/v1/leads/analyze/bulk` (up to 50: 202 with the batch and the analyses).
pub async fn analyze(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated, bulk: bool) -> Result<Reply, ApiError> {
    let raw = json_body(req, ctx).await?;
    let r = if bulk { AnalyzeRequest::parse_bulk(&raw, &ctx.cfg.ssrf_deny)? } else { AnalyzeRequest::parse_one(&raw, &ctx.cfg.ssrf_deny)? };
    if let Some(flag) = crate::leads::disabled_tier_flag(r.tier, &ctx.cfg.features) {
        return Err(ApiError::FeatureDisabled {
            message: format!("{} lead analyses are disabled", r.tier.as_str()),
            details: json!({ "flag": flag, "tier": r.tier }),
        });
    }
    let idempotency_key = parse_idempotency_key(header(req, "Idempotency-Key").as_deref())?;
    let db = ServiceDb::new(ctx.cfg, ServiceRole::for_job_submission(who));
    let out = db
        .call(&rpc::SubmitLeadAnalyses {
            p_user_id: &who.principal.user_id,
            p_business_profile_id: &r.business_profile_id,
            p_tier: r.tier,
            p_profile_urls: &r.profile_urls,
            p_bulk: bulk,
            p_correlation_id: ctx.request_id,
            p_idempotency_key: idempotency_key.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    let replayed = out.outcome == SubmitOutcome::Existing;
    let mut headers = Vec::new();
    if replayed {
        headers.push(("Idempotent-Replayed", "true".to_string()));
    }
    if bulk {
        let batch = out.batch.ok_or_else(|| ApiError::Internal("submit_lead_analyses returned no batch".into()))?;
        ctx.annotate("batch_id", batch.id.as_str());
        headers.push(("Location", format!("/api/v1/batches/{}", batch.id)));
        let detail = if replayed {
            serde_json::to_value(&batch).unwrap_or_default()
        } else {
            // The batch without its items (the analyses name their jobs).
            let mut d = crate::api::batches::start(ctx, who, &db, batch, &out.jobs).await?;
            if let Some(o) = d.as_object_mut() {
                o.remove("items");
            }
            d
        };
        let data = json!({ "batch": detail, "analyses": out.analyses });
        return Ok(Reply::Json { status: if replayed { 200 } else { 202 }, data, headers });
    }
    let job = out.job.ok_or_else(|| ApiError::Internal("submit_lead_analyses returned no job".into()))?;
    ctx.annotate("job_id", job.id.as_str());
    ctx.annotate("account_id", job.account_id.as_str());
    if !replayed {
        crate::api::jobs::start(ctx, who, &db, &job).await?;
    }
    let mut analysis = out.analyses.into_iter().next().unwrap_or_default();
    if let Some(id) = analysis["id"].as_str() {
        headers.push(("Location", format!("/api/v1/analyses/{id}")));
    }
    analysis["job"] = serde_json::to_value(job.public()).unwrap_or_default();
    Ok(Reply::Json { status: if replayed { 200 } else { 202 }, data: analysis, headers })
}

/// `GET /api/v1/leads` (`min_score`, `deleted=true` for the recycle bin, cursors).
pub async fn list(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let q = LeadListQuery::parse(query(req)?.into_iter())?;
    let page = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::ListLeads {
            p_limit: q.page.limit,
            p_starting_after: q.page.starting_after.as_deref(),
            p_ending_before: q.page.ending_before.as_deref(),
            p_min_score: q.min_score,
            p_deleted: q.deleted,
            p_account_id: account_arg(who),
        })
        .await?;
    Ok(page_reply(page, q.page.limit))
}

/// `GET /api/v1/leads/{id}` (a deleted lead is not found).
pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let lead = Db::as_user(ctx.cfg, &who.token).call(&rpc::GetLead { p_lead_id: &id }).await?.ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(lead))
}

/// `DELETE /api/v1/leads/{id}`: soft delete; restorable for `RETENTION_SOFT_DELETED_DAYS` (30).
pub async fn delete(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    Ok(Reply::ok(Db::as_user(ctx.cfg, &who.token).call(&rpc::DeleteLead { p_lead_id: &id }).await?))
}

/// `POST /api/v1/leads/{id}/restore`.
pub async fn restore(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let lead = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::RestoreLead { p_lead_id: &id, p_window_days: ctx.cfg.retention.soft_deleted_days })
        .await?;
    Ok(Reply::ok(lead))
}

/// `GET /api/v1/leads/{id}/analyses`, newest first.
pub async fn analyses(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let page = Page::parse(query(req)?.into_iter())?;
    let out = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::ListLeadAnalyses {
            p_lead_id: &id,
            p_limit: page.limit,
            p_starting_after: page.starting_after.as_deref(),
            p_ending_before: page.ending_before.as_deref(),
        })
        .await?;
    Ok(page_reply(out, page.limit))
}

/// `GET /api/v1/analyses/{id}`.
pub async fn analysis(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let a = Db::as_user(ctx.cfg, &who.token).call(&rpc::GetAnalysis { p_analysis_id: &id }).await?.ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(a))
}

/// `GET /api/v1/business-profiles`.
pub async fn profiles(req: &Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let page = Page::parse(query(req)?.into_iter())?;
    let out = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::ListBusinessProfiles {
            p_limit: page.limit,
            p_starting_after: page.starting_after.as_deref(),
            p_ending_before: page.ending_before.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    Ok(page_reply(out, page.limit))
}

/// `POST /api/v1/business-profiles` (201).
pub async fn create_profile(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let p = BusinessProfileInput::parse(&json_body(req, ctx).await?)?;
    let created = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::CreateBusinessProfile {
            p_name: &p.name,
            p_description: &p.description,
            p_ideal_customer: &p.ideal_customer,
            p_website: p.website.as_deref(),
            p_account_id: account_arg(who),
        })
        .await?;
    let location = format!("/api/v1/business-profiles/{}", created["id"].as_str().unwrap_or_default());
    Ok(Reply::Json { status: 201, data: created, headers: vec![("Location", location)] })
}

/// `GET /api/v1/business-profiles/{id}`.
pub async fn profile(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let p = Db::as_user(ctx.cfg, &who.token).call(&rpc::GetBusinessProfile { p_id: &id }).await?.ok_or(ApiError::NotFound)?;
    Ok(Reply::ok(p))
}

/// `PUT /api/v1/business-profiles/{id}`: replaces the editable fields.
pub async fn update_profile(req: &mut Request, ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    let id = id_param(ctx)?;
    let p = BusinessProfileInput::parse(&json_body(req, ctx).await?)?;
    let updated = Db::as_user(ctx.cfg, &who.token)
        .call(&rpc::UpdateBusinessProfile {
            p_id: &id,
            p_name: &p.name,
            p_description: &p.description,
            p_ideal_customer: &p.ideal_customer,
            p_website: p.website.as_deref(),
        })
        .await?;
    Ok(Reply::ok(updated))
}
