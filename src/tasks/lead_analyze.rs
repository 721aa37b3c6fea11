//! `lead.analyze` (docs/adr/0018): the seeds' analysis flow as one job attempt.
//!
//! 1. Load the analysis (lead URL, tier, business profile).
//! 2. Look in the R2 cache: a copy younger than the tier's TTL skips scraping.
//! 3. Otherwise scrape through Browser Rendering (its circuit breaker first; its outages defer the job
//!    without spending an attempt) and store the copy.
//! 4. Run the tier's AI calls in parallel through AI Gateway (the `ai-provider` breaker first). Each
//!    answer is validated; an invalid one gets one repair request, and a second invalid answer fails the
//!    job `ai_invalid_output` (refunded). 429 and 5xx are retried within the job's attempts.
//! 5. Return the result: scores, structured analysis, cost breakdown and step timings. `job_finish`
//!    stores it on the analysis and the lead in the same transaction (SQL trigger), so an analysis has a
//!    result exactly when its job COMPLETED.
//!
//! Cancellation is honoured between steps; the consumer then ends the job CANCELLED and refunds it.

use super::TaskError;
use crate::adapters::breaker::{self, BreakerClient, Gate};
use crate::adapters::job_hub::JobHubClient;
use crate::adapters::postgrest::ServiceDb;
use crate::adapters::{ai_gateway, browser_rendering, profile_cache, rpc};
use crate::config::Config;
use crate::domain::backoff::retry_delay_secs;
use crate::domain::browser::Outcome;
use crate::jobs::lifecycle::BREAKER_WAIT_REASON;
use crate::jobs::model::FailureReason;
use crate::jobs::JobRow;
use crate::leads::ai::{self, AiOutcome, AnalysisResult, Answer, BusinessContext, Call, Usage};
use crate::leads::cost::{CallCost, CostBreakdown};
use crate::leads::profile::ScrapedProfile;
use crate::leads::LeadAnalyzePayload;
use crate::platform::now_ms;
use futures_util::future::join_all;
use serde_json::{json, Value};
use worker::Env;

/// What the consumer hands the task.
pub struct Run<'a> {
    pub env: &'a Env,
    pub cfg: &'a Config,
    pub db: &'a ServiceDb,
    pub hub: &'a JobHubClient,
    pub job: &'a JobRow,
    pub request_id: &'a str,
}

const CANCELLED: &str = "cancelled at a step boundary";

fn elapsed(since: f64) -> u64 {
    (now_ms() - since).max(0.0).round() as u64
}

impl Run<'_> {
    async fn step(&self, step: &str, progress: u8) -> Result<(), TaskError> {
        if self.hub.is_cancelled(&self.job.id).await {
            return Err(TaskError::Final(CANCELLED.into()));
        }
        self.hub.publish(&self.job.at_step(step, progress), self.request_id).await;
        Ok(())
    }

    fn short_wait(&self) -> u32 {
        retry_delay_secs(2, self.cfg.job_retry_base_secs, self.cfg.job_retry_max_secs, js_sys::Math::random())
    }
}

fn browser_error(o: Outcome, wait: u32) -> TaskError {
    match o {
        Outcome::PageError { message, timeout } => TaskError::Retryable { message, timeout },
        Outcome::Rejected(message) => TaskError::Final(message),
        Outcome::RateLimited { retry_after_secs } => TaskError::Deferred {
            message: format!("browser rendering rate limited the request; retrying in {retry_after_secs} s"),
            retry_in_secs: retry_after_secs,
        },
        Outcome::ServiceFailure(message) => TaskError::Deferred { message, retry_in_secs: wait },
        Outcome::Ok { .. } => TaskError::Final("unexpected browser answer".into()),
    }
}

fn ai_error(o: AiOutcome, wait: u32) -> TaskError {
    match o {
        AiOutcome::RateLimited { retry_after_secs, message } => TaskError::RateLimited { message, retry_after_secs },
        AiOutcome::Unavailable(message) => TaskError::Retryable { timeout: message.contains("did not answer"), message },
        // Credentials or configuration: jobs wait for the operator (and the breaker) instead of failing.
        AiOutcome::Refused(message) => TaskError::Deferred { message, retry_in_secs: wait },
        AiOutcome::Rejected(message) => TaskError::Final(message),
        AiOutcome::Ok(_) => TaskError::Final("unexpected AI answer".into()),
    }
}

/// How bad a failure is, to report the worst of parallel calls.
fn severity(e: &TaskError) -> u8 {
    match e {
        TaskError::Final(_) | TaskError::FinalWith { .. } => 3,
        TaskError::RateLimited { .. } => 2,
        TaskError::Retryable { .. } => 1,
        TaskError::Deferred { .. } => 0,
    }
}

/// One AI call with its repair: the validated answer and its cost line.
async fn call_ai(
    run: &Run<'_>,
    breaker: &BreakerClient,
    probe: bool,
    business: &BusinessContext,
    profile: &ScrapedProfile,
    p: &LeadAnalyzePayload,
    call: Call,
) -> Result<(Answer, CallCost), TaskError> {
    let model = run.cfg.ai.model(p.tier);
    let started = now_ms();
    let body = ai::request_body(model, business, profile, p.tier, call);
    let mut usage = Usage::default();
    let mut requests = 0;
    let ask = |body: Value, probe: bool| async move {
        let out = ai_gateway::chat(&run.cfg.ai, &body).await;
        breaker.record(out.breaker_verdict(), probe).await;
        match out {
            AiOutcome::Ok(c) => Ok(c),
            other => Err(ai_error(other, run.short_wait())),
        }
    };
    let first = ask(body.clone(), probe).await?;
    requests += 1;
    usage = usage.plus(first.usage);
    let content = first.content.clone().unwrap_or_default();
    let problem = match (&first.refusal, ai::validate(call, &content)) {
        (None, Ok(answer)) => return Ok((answer, cost_line(run, model, call, usage, requests, started))),
        (Some(r), _) => format!("the model refused: {r}"),
        (None, Err(problem)) => problem,
    };
    crate::log::warn(
        "leads: invalid AI answer; asking once more",
        json!({ "request_id": run.request_id, "job_id": run.job.id, "call": call.name(), "problem": problem }),
    );
    let second = ask(ai::repair_body(&body, &content, &problem), false).await?;
    requests += 1;
    usage = usage.plus(second.usage);
    let content = second.content.unwrap_or_default();
    match (second.refusal, ai::validate(call, &content)) {
        (None, Ok(answer)) => Ok((answer, cost_line(run, model, call, usage, requests, started))),
        (refusal, result) => Err(TaskError::FinalWith {
            reason: FailureReason::AiInvalidOutput,
            message: format!(
                "the AI answer to {} was invalid twice: {}",
                call.name(),
                refusal.map(|r| format!("the model refused: {r}")).or(result.err()).unwrap_or_default()
            ),
        }),
    }
}

fn cost_line(run: &Run<'_>, model: &str, call: Call, usage: Usage, requests: u32, started: f64) -> CallCost {
    CallCost {
        call,
        model: model.to_string(),
        prompt_tokens: usage.prompt_tokens,
        cached_tokens: usage.cached_tokens,
        completion_tokens: usage.completion_tokens,
        requests,
        usd: run.cfg.prices.ai_usd(model, usage),
        duration_ms: elapsed(started),
    }
}

/// Scraped profile from the cache or Browser Rendering: (profile, cache hit, ms spent scraping).
async fn profile(run: &Run<'_>, p: &LeadAnalyzePayload, url: &str) -> Result<(ScrapedProfile, bool), TaskError> {
    if let Some(cached) = profile_cache::get(run.env, url).await.filter(|c| c.fresh(now_ms(), p.tier.cache_ttl_secs())) {
        return Ok((cached, true));
    }
    run.step("scraping", 20).await?;
    let breaker = BreakerClient::new(run.env, breaker::BROWSER_RENDERING);
    let probe = match breaker.acquire().await {
        Gate::Allowed { probe } => probe,
        Gate::Refused { retry_in_secs } => return Err(TaskError::Deferred { message: BREAKER_WAIT_REASON.into(), retry_in_secs }),
    };
    let scraped = browser_rendering::scrape_profile(run.cfg, url).await;
    breaker
        .record(
            match &scraped {
                Ok(_) => Some(true),
                Err(o) => o.breaker_verdict(),
            },
            probe,
        )
        .await;
    let scraped = scraped.map_err(|o| browser_error(o, run.short_wait()))?;
    profile_cache::put(run.env, &scraped).await;
    Ok((scraped, false))
}

pub async fn run(run: &Run<'_>, p: &LeadAnalyzePayload) -> Result<Value, TaskError> {
    let started = now_ms();
    let ctx = match run.db.call(&rpc::LeadAnalysisContext { p_job_id: &run.job.id }).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(TaskError::Final("the analysis of this job no longer exists".into())),
        Err(e) => return Err(TaskError::Retryable { message: format!("database: {e}"), timeout: false }),
    };
    let Some(business) = ctx.business_profile else {
        return Err(TaskError::Final("the business profile of this analysis was deleted".into()));
    };

    run.step("checking_cache", 10).await?;
    let scrape_started = now_ms();
    let (profile, cache_hit) = profile(run, p, &ctx.profile_url).await?;
    let scrape_ms = elapsed(scrape_started);

    run.step("analyzing", 40).await?;
    let ai_started = now_ms();
    let breaker = BreakerClient::new(run.env, breaker::AI_PROVIDER);
    let probe = match breaker.acquire().await {
        Gate::Allowed { probe } => probe,
        Gate::Refused { retry_in_secs } => {
            return Err(TaskError::Deferred { message: "AI provider circuit open; waiting for it to recover".into(), retry_in_secs })
        }
    };
    let calls = p.tier.calls();
    // In parallel: the analysis takes as long as its slowest call. Only the first carries the probe.
    let outcomes =
        join_all(calls.iter().enumerate().map(|(i, c)| call_ai(run, &breaker, probe && i == 0, &business, &profile, p, *c))).await;
    let ai_ms = elapsed(ai_started);
    let mut answers = Vec::new();
    let mut lines = Vec::new();
    let mut worst: Option<TaskError> = None;
    for o in outcomes {
        match o {
            Ok((a, line)) => {
                answers.push(a);
                lines.push(line);
            }
            Err(e) if worst.as_ref().is_none_or(|w| severity(&e) > severity(w)) => worst = Some(e),
            Err(_) => {}
        }
    }
    if let Some(e) = worst {
        return Err(e);
    }
    run.step("saving", 90).await?;

    let result = AnalysisResult::combine(answers);
    let cost = CostBreakdown::new(&run.cfg.prices, cache_hit, profile.browser_ms, lines);
    let total_ms = elapsed(started);
    crate::adapters::metrics::write(
        run.env,
        crate::observability::metrics::lead_analysis(p.tier.as_str(), cache_hit, cost.total_usd, total_ms as f64),
    );
    Ok(json!({
        "analysis_id": ctx.analysis_id,
        "lead_id": ctx.lead_id,
        "tier": p.tier,
        "fit_score": result.fit_score,
        "summary": result.summary,
        "analysis": result,
        "model": run.cfg.ai.model(p.tier),
        "cache_hit": cache_hit,
        "cost": cost,
        "step_timings": { "scrape_ms": if cache_hit { 0 } else { scrape_ms }, "cache_ms": if cache_hit { scrape_ms } else { 0 },
                          "ai_ms": ai_ms, "total_ms": total_ms },
        "profile": profile.lead_fields(),
    }))
}
