//! The R2 cache of scraped lead profiles (`PROFILE_CACHE`, docs/adr/0018): one object per normalised
//! profile URL, the [`ScrapedProfile`] as JSON. Freshness is the reader's question (each tier has its TTL);
//! a bucket lifecycle rule deletes objects older than the longest TTL. The cache is an optimisation: any
//! failure is logged and treated as a miss (or a skipped write).

use crate::leads::profile::ScrapedProfile;
use crate::log;
use serde_json::json;
use worker::Env;

/// Bump when [`ScrapedProfile`]'s shape changes: old entries are then simply not found.
const PREFIX: &str = "lead-profiles/v1/";

fn key(url: &str) -> String {
    format!("{PREFIX}{url}")
}

pub async fn get(env: &Env, url: &str) -> Option<ScrapedProfile> {
    let bucket = env.bucket(crate::config::bindings::PROFILE_CACHE).ok()?;
    let object = match bucket.get(key(url)).execute().await {
        Ok(o) => o?,
        Err(e) => {
            log::warn("leads: profile cache read failed; scraping", json!({ "error": e.to_string() }));
            return None;
        }
    };
    let text = object.body()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}

pub async fn put(env: &Env, p: &ScrapedProfile) {
    let Ok(bucket) = env.bucket(crate::config::bindings::PROFILE_CACHE) else {
        log::warn("leads: no PROFILE_CACHE binding; profiles are not cached", json!({}));
        return;
    };
    let body = serde_json::to_string(p).unwrap_or_default();
    if let Err(e) = bucket.put(key(&p.url), body).execute().await {
        log::warn("leads: profile cache write failed", json!({ "error": e.to_string() }));
    }
}
