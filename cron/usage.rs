//! Usage to Stripe Billing Meters (hourly) and daily reconciliation against Stripe's meter summaries.
//! Both go through the `stripe` circuit breaker; both are idempotent (docs/adr/0011).

use super::Run;
use crate::adapters::breaker::{self, BreakerClient, Gate};
use crate::adapters::postgrest::ServiceDb;
use crate::adapters::rpc;
use crate::adapters::stripe::{StripeClient, StripeError};
use crate::config::Config;
use crate::domain::metering::{floor_minute, idempotency_key, is_duplicate_identifier, meter_event_form, summary_total};
use crate::log;
use crate::observability::sentry::{Level, Report};
use serde_json::{json, Value};
use worker::Env;

const BATCH: u32 = 100;
const MAX_BATCHES: usize = 20;

fn unix(ts: &Value) -> Option<i64> {
    let ms = js_sys::Date::parse(ts.as_str()?);
    ms.is_finite().then(|| (ms / 1000.0).floor() as i64)
}

/// Why a reporting run stopped early: Stripe's fault (counts against the breaker) or ours.
enum Stop {
    Stripe(String),
    Database(String),
}

/// Stripe and the breaker, or why the job is skipped.
async fn stripe_ready(cfg: &Config, env: &Env) -> Result<(StripeClient, BreakerClient, bool), String> {
    let client = StripeClient::from_config(cfg).map_err(|e| e.to_string())?;
    let breaker = BreakerClient::new(env, breaker::STRIPE);
    match breaker.acquire().await {
        Gate::Allowed { probe } => Ok((client, breaker, probe)),
        Gate::Refused { retry_in_secs } => Err(format!("stripe circuit open; next probe in about {retry_in_secs} s")),
    }
}

/// Sends completed-job usage events of metered accounts, oldest first, marking each batch reported once
/// Stripe has it. A Stripe outage stops the run (the rest waits for the next run); a resend is
/// deduplicated by Stripe through the event's identifier and Idempotency-Key.
pub async fn report(cfg: &Config, db: &ServiceDb, env: &Env, run: &Run<'_>) {
    let (Some(event_name), false) = (&cfg.stripe_meter_event_name, cfg.stripe_metered_prices.is_empty()) else {
        return run.finish("skipped", json!({}), "metering not configured (STRIPE_METER_EVENT_NAME, STRIPE_METERED_PRICES)").await;
    };
    let (stripe, breaker, probe) = match stripe_ready(cfg, env).await {
        Ok(s) => s,
        Err(why) => return run.finish("skipped", json!({}), &why).await,
    };
    let (mut reported, mut duplicates, mut rejected) = (0u64, 0u64, 0u64);
    let mut stopped: Option<Stop> = None;
    let mut rejected_ids: Vec<String> = Vec::new();
    for _ in 0..MAX_BATCHES {
        let rows = match db.call(&rpc::UnreportedMeterUsage { p_metered_prices: &cfg.stripe_metered_prices, p_limit: BATCH }).await {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => {
                stopped = Some(Stop::Database(e.to_string()));
                break;
            }
        };
        let rows: Vec<Value> = rows.into_iter().filter(|r| !rejected_ids.iter().any(|id| r["id"] == id.as_str())).collect();
        if rows.is_empty() {
            break;
        }
        let mut done: Vec<String> = Vec::new();
        for r in &rows {
            let id = r["id"].as_str().unwrap_or_default();
            let (Some(customer), Some(ts)) = (r["stripe_customer_id"].as_str(), unix(&r["occurred_at"])) else { continue };
            let form = meter_event_form(event_name, id, customer, r["quantity"].as_i64().unwrap_or(1), ts);
            match stripe.post("/v1/billing/meter_events", &form, &idempotency_key(id)).await {
                Ok(_) => {
                    reported += 1;
                    done.push(id.to_string());
                }
                Err(StripeError::Api { status, ref code, ref message }) if is_duplicate_identifier(status, code.as_deref(), message) => {
                    duplicates += 1;
                    done.push(id.to_string());
                }
                Err(e @ StripeError::Api { .. }) => {
                    // Stripe refuses this event (e.g. the customer is gone): it stays unreported, and
                    // reconciliation will show it; the others go on.
                    rejected += 1;
                    rejected_ids.push(id.to_string());
                    log::error(
                        "cron: Stripe refused a meter event",
                        json!({ "usage_event_id": id, "customer": customer, "error": e.to_string() }),
                    );
                }
                Err(e) => {
                    stopped = Some(Stop::Stripe(e.to_string()));
                    break;
                }
            }
        }
        if !done.is_empty() {
            if let Err(e) = db.call(&rpc::MarkUsageReported { p_ids: &done }).await {
                // Stripe has them; the next run resends and Stripe deduplicates.
                stopped = Some(Stop::Database(format!("marking reported: {e}")));
            }
        }
        if stopped.is_some() {
            break;
        }
    }
    breaker.record(Some(!matches!(stopped, Some(Stop::Stripe(_)))), probe).await;
    let counts = json!({ "reported": reported, "duplicates": duplicates, "rejected": rejected });
    match stopped.map(|s| match s {
        Stop::Stripe(why) => why,
        Stop::Database(why) => format!("database: {why}"),
    }) {
        None if rejected == 0 => run.finish("ok", counts, if reported + duplicates == 0 { "nothing to report" } else { "reported" }).await,
        None => run.finish("partial", counts, "some events were refused by Stripe; see the error log").await,
        Some(why) => {
            log::error("cron: usage reporting stopped; the next run retries", json!({ "error": why, "reported": reported }));
            run.finish(if reported + duplicates > 0 { "partial" } else { "failed" }, counts, &why).await
        }
    }
}

/// For each metered account's current period: the usage we reported vs Stripe's meter summary.
/// Differences are recorded in `usage_discrepancies` and logged; equal numbers resolve an open one.
pub async fn reconcile(cfg: &Config, db: &ServiceDb, env: &Env, run: &Run<'_>) {
    let (Some(meter_id), false) = (&cfg.stripe_meter_id, cfg.stripe_metered_prices.is_empty()) else {
        return run.finish("skipped", json!({}), "reconciliation not configured (STRIPE_METER_ID, STRIPE_METERED_PRICES)").await;
    };
    let (stripe, breaker, probe) = match stripe_ready(cfg, env).await {
        Ok(s) => s,
        Err(why) => return run.finish("skipped", json!({}), &why).await,
    };
    let periods = match db.call(&rpc::MeteredPeriods { p_metered_prices: &cfg.stripe_metered_prices }).await {
        Ok(a) => a.unwrap_or_default(),
        Err(e) => return run.finish("failed", json!({}), &format!("database: {e}")).await,
    };
    let mut counts = json!({ "accounts": periods.len(), "ok": 0, "stripe_ahead": 0, "stripe_behind": 0, "missing": 0, "errors": 0 });
    let mut stripe_down = false;
    for p in &periods {
        let (Some(customer), Some(start), Some(end)) = (p["stripe_customer_id"].as_str(), unix(&p["window_start"]), unix(&p["window_end"]))
        else {
            continue;
        };
        let (start, end) = (floor_minute(start), floor_minute(end));
        let path = format!("/v1/billing/meters/{meter_id}/event_summaries?customer={customer}&start_time={start}&end_time={end}");
        let stripe_total = match stripe.get(&path).await {
            Ok(list) => summary_total(&list),
            Err(e) => {
                counts["errors"] = Value::from(counts["errors"].as_u64().unwrap_or(0) + 1);
                log::error(
                    "cron: meter summary unavailable",
                    json!({ "account_id": p["account_id"], "customer": customer, "error": e.to_string() }),
                );
                if matches!(e, StripeError::Unavailable(_)) {
                    stripe_down = true;
                    break;
                }
                continue;
            }
        };
        let internal = p["reported_quantity"].as_i64().unwrap_or(0);
        let args = rpc::RecordReconciliation {
            p_run: run.id.as_deref(),
            p_account: &p["account_id"],
            p_customer: customer,
            p_period_start: &p["window_start"],
            p_period_end: &p["window_end"],
            p_internal: internal,
            p_stripe: stripe_total,
        };
        let kind = match db.call(&args).await {
            Ok(k) => k,
            Err(e) => {
                counts["errors"] = Value::from(counts["errors"].as_u64().unwrap_or(0) + 1);
                log::error("cron: could not record a reconciliation", json!({ "account_id": p["account_id"], "error": e.to_string() }));
                continue;
            }
        };
        counts[&kind] = Value::from(counts[&kind].as_u64().unwrap_or(0) + 1);
        if kind != "ok" {
            let fields = json!({
                "event": "usage_discrepancy", "kind": kind, "account_id": p["account_id"], "customer": customer,
                "internal_quantity": internal, "stripe_quantity": stripe_total, "unreported_quantity": p["unreported_quantity"],
                "window_start": p["window_start"], "window_end": p["window_end"],
            });
            log::warn("cron: usage discrepancy", fields.clone());
            let report = Report::new(
                Level::Warning,
                "usage_discrepancy",
                format!(
                    "metered usage {kind}: ours {internal}, Stripe's {}",
                    stripe_total.map_or("unknown".to_string(), |n| n.to_string())
                ),
            )
            .tag("account_id", p["account_id"].as_str().unwrap_or_default())
            .extra(fields);
            crate::adapters::sentry::send(&cfg.reporting, report).await;
        }
    }
    breaker.record(Some(!stripe_down), probe).await;
    let found: u64 = ["stripe_ahead", "stripe_behind", "missing"].iter().map(|k| counts[*k].as_u64().unwrap_or(0)).sum();
    let errors = counts["errors"].as_u64().unwrap_or(0);
    let (outcome, message) = match (found, errors) {
        (_, e) if e > 0 && stripe_down => ("failed", "Stripe unavailable; the next run retries".to_string()),
        (_, e) if e > 0 => ("partial", format!("{e} accounts could not be checked")),
        (0, _) => ("ok", "no discrepancies".to_string()),
        (n, _) => ("ok", format!("{n} discrepancies recorded")),
    };
    run.finish(outcome, counts, &message).await;
}
