//! Daily maintenance: monthly credit renewal for plans granted outside Stripe invoices, and retention
//! (docs/adr/0011). Both are single SQL functions, idempotent by construction.

use super::Run;
use crate::adapters::postgrest::ServiceDb;
use crate::adapters::rpc;
use crate::config::Config;
use serde_json::{json, Value};

pub async fn renew(db: &ServiceDb, run: &Run<'_>) {
    match db.call(&rpc::RenewMonthlyCredits {}).await {
        Ok(n) => run.finish("ok", json!({ "granted": n }), if n == 0 { "nothing to renew" } else { "renewed" }).await,
        Err(e) => run.finish("failed", json!({}), &format!("database: {e}")).await,
    }
}

pub async fn retention(cfg: &Config, db: &ServiceDb, run: &Run<'_>) {
    let r = cfg.retention;
    let args = rpc::ApplyRetention {
        p_usage_days: r.usage_events_days,
        p_webhook_days: r.webhook_events_days,
        p_payload_days: r.job_payload_days,
        p_soft_deleted_days: r.soft_deleted_days,
    };
    // Soft-deleted leads past their recovery window go with everything else past retention.
    let leads = db.call(&rpc::PurgeDeletedLeads { p_window_days: r.soft_deleted_days }).await;
    match (db.call(&args).await, leads) {
        (Ok(Value::Object(mut counts)), Ok(purged)) => {
            counts.insert("leads_purged".into(), Value::from(purged));
            let counts = Value::Object(counts);
            let total: i64 = counts.as_object().map(|m| m.values().filter_map(Value::as_i64).sum()).unwrap_or(0);
            run.finish("ok", counts, if total == 0 { "nothing past retention" } else { "applied" }).await
        }
        (Err(e), _) | (_, Err(e)) => run.finish("failed", json!({}), &format!("database: {e}")).await,
        (Ok(other), _) => run.finish("failed", json!({ "got": other }), "unexpected answer").await,
    }
}
