//! Lead analysis (docs/adr/0018): a user describes their business, submits prospects' public profile URLs
//! and gets an AI assessment of each lead at one of three depths. Built on the job platform: a
//! `lead.analyze` job per analysis (credits, quota, progress, cancel, batches), Browser Rendering for the
//! profile, an R2 cache of scraped profiles, and AI Gateway's OpenAI-compatible chat completions.
//!
//! This module is the pure part: tiers, request validation, prompts and output schemas, output
//! validation, profile parsing and cost accounting. The task (`crate::tasks::lead_analyze`) and the
//! adapters (`crate::adapters::ai_gateway`, `crate::adapters::profile_cache`) do the I/O.

pub mod ai;
pub mod cost;
pub mod profile;
pub mod request;

use serde::{Deserialize, Serialize};

/// The analysis depth: its credits (SQL `lead_tiers`), model (`AI_MODEL_*`), AI calls and cache TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Tier {
    Light,
    Deep,
    Xray,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Light, Tier::Deep, Tier::Xray];

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Light => "LIGHT",
            Tier::Deep => "DEEP",
            Tier::Xray => "XRAY",
        }
    }

    /// How old a cached profile may be for this tier: deeper analyses want fresher data.
    pub fn cache_ttl_secs(self) -> u64 {
        match self {
            Tier::Light => 24 * 3600,
            Tier::Deep => 12 * 3600,
            Tier::Xray => 6 * 3600,
        }
    }

    /// The feature flag that switches this tier on (submission and consumption).
    pub fn flag(self) -> &'static str {
        match self {
            Tier::Light => "FF_LEAD_ANALYSIS_LIGHT_ENABLED",
            Tier::Deep => "FF_LEAD_ANALYSIS_DEEP_ENABLED",
            Tier::Xray => "FF_LEAD_ANALYSIS_XRAY_ENABLED",
        }
    }

    /// The AI calls this tier makes; DEEP's and XRAY's run in parallel.
    pub fn calls(self) -> &'static [ai::Call] {
        match self {
            Tier::Light => &[ai::Call::Fit],
            Tier::Deep => &[ai::Call::Core, ai::Call::Outreach],
            Tier::Xray => &[ai::Call::Core, ai::Call::Outreach, ai::Call::Psychographic],
        }
    }

    /// How much of the profile's page text the prompt carries.
    pub fn text_budget_chars(self) -> usize {
        match self {
            Tier::Light => 4_000,
            Tier::Deep | Tier::Xray => 12_000,
        }
    }
}

/// The first tier flag that is off among `flags`, for `tier`.
pub fn disabled_tier_flag(tier: Tier, flags: &[(&'static str, bool)]) -> Option<&'static str> {
    let f = tier.flag();
    (!flags.iter().any(|(name, on)| *name == f && *on)).then_some(f)
}

/// A `lead.analyze` job's payload (built by SQL `submit_lead_analyses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadAnalyzePayload {
    pub profile_url: String,
    pub tier: Tier,
    pub business_profile_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_order_their_ttls() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), serde_json::Value::from(t.as_str()));
        }
        assert_eq!(Tier::parse("light"), None);
        assert!(Tier::Light.cache_ttl_secs() > Tier::Deep.cache_ttl_secs());
        assert!(Tier::Deep.cache_ttl_secs() > Tier::Xray.cache_ttl_secs());
        assert_eq!(Tier::Light.calls().len(), 1);
        assert!(Tier::Deep.calls().len() > 1 && Tier::Xray.calls().len() > Tier::Deep.calls().len());
    }

    #[test]
    fn each_tier_has_its_own_flag() {
        let all_on: Vec<(&'static str, bool)> = Tier::ALL.iter().map(|t| (t.flag(), true)).collect();
        assert!(Tier::ALL.iter().all(|t| disabled_tier_flag(*t, &all_on).is_none()));
        let deep_off: Vec<(&'static str, bool)> = Tier::ALL.iter().map(|t| (t.flag(), *t != Tier::Deep)).collect();
        assert_eq!(disabled_tier_flag(Tier::Deep, &deep_off), Some("FF_LEAD_ANALYSIS_DEEP_ENABLED"));
        assert_eq!(disabled_tier_flag(Tier::Light, &deep_off), None);
        assert_eq!(disabled_tier_flag(Tier::Xray, &[]), Some("FF_LEAD_ANALYSIS_XRAY_ENABLED"), "an unknown flag is off");
    }

    #[test]
    fn tier_credits_match_the_sql_table() {
        let sql = include_str!("../../sql/migrations/20261203000100_lead_analysis.sql");
        assert!(sql.contains("insert into public.lead_tiers (tier, credit_cost) values ('LIGHT', 1), ('DEEP', 3), ('XRAY', 5);"));
        for t in Tier::ALL {
            assert!(crate::config::FEATURE_FLAGS.iter().any(|(n, _)| *n == t.flag()), "{} is a known flag", t.flag());
        }
    }
}
