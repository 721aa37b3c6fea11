//! Cost accounting: the one pricing table of model prices (`AI_MODEL_PRICES`) and Browser Rendering's
//! hourly price, and each analysis's breakdown (scrape, every AI call, total).

use super::ai::{Call, Usage};
use serde::Serialize;

/// USD per million tokens of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    pub input: f64,
    pub output: f64,
    /// Prompt tokens served from the provider's cache (default: the input price).
    pub cached_input: f64,
}

/// The pricing table: `model:input:output[:cached_input]` entries (USD per million tokens), comma-separated.
/// A model name may itself contain colons (fine-tuned models): the prices are the last fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prices {
    pub models: Vec<(String, ModelPrice)>,
    /// Browser Rendering, USD per browser hour.
    pub browser_usd_per_hour: f64,
}

/// Browser Rendering's price per browser hour beyond the plan's included hours.
pub const DEFAULT_BROWSER_USD_PER_HOUR: f64 = 0.09;

fn price(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
}

impl Prices {
    pub fn parse(table: &str, browser_usd_per_hour: f64) -> Option<Prices> {
        let mut models = Vec::new();
        for entry in table.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parts: Vec<&str> = entry.split(':').collect();
            let n = parts.len();
            let (name, p) = if n >= 4 && parts[n - 3..].iter().all(|x| price(x).is_some()) {
                let [i, o, c] = [parts[n - 3], parts[n - 2], parts[n - 1]].map(|x| price(x).expect("checked"));
                (parts[..n - 3].join(":"), ModelPrice { input: i, output: o, cached_input: c })
            } else if n >= 3 {
                let input = price(parts[n - 2])?;
                (parts[..n - 2].join(":"), ModelPrice { input, output: price(parts[n - 1])?, cached_input: input })
            } else {
                return None;
            };
            if name.is_empty() {
                return None;
            }
            models.push((name, p));
        }
        Some(Prices { models, browser_usd_per_hour })
    }

    pub fn model(&self, name: &str) -> Option<ModelPrice> {
        self.models.iter().find(|(n, _)| n == name).map(|(_, p)| *p)
    }

    pub fn ai_usd(&self, model: &str, u: Usage) -> f64 {
        let p = self.model(model).unwrap_or(ModelPrice { input: 0.0, output: 0.0, cached_input: 0.0 });
        let cached = u.cached_tokens.min(u.prompt_tokens);
        ((u.prompt_tokens - cached) as f64 * p.input + cached as f64 * p.cached_input + u.completion_tokens as f64 * p.output) / 1e6
    }

    pub fn scrape_usd(&self, browser_ms: u64) -> f64 {
        browser_ms as f64 / 3_600_000.0 * self.browser_usd_per_hour
    }
}

/// One AI call's line of the breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallCost {
    pub call: Call,
    pub model: String,
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
    /// 1, or 2 when the first answer was invalid and repaired.
    pub requests: u32,
    pub usd: f64,
    pub duration_ms: u64,
}

/// An analysis's cost (`Analysis.cost` in docs/openapi.json).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostBreakdown {
    pub cache_hit: bool,
    pub browser_ms: u64,
    pub scrape_usd: f64,
    pub ai_usd: f64,
    pub total_usd: f64,
    pub calls: Vec<CallCost>,
}

fn round8(x: f64) -> f64 {
    (x * 1e8).round() / 1e8
}

impl CostBreakdown {
    pub fn new(prices: &Prices, cache_hit: bool, browser_ms: u64, calls: Vec<CallCost>) -> CostBreakdown {
        let scrape_usd = if cache_hit { 0.0 } else { prices.scrape_usd(browser_ms) };
        let ai_usd: f64 = calls.iter().map(|c| c.usd).sum();
        CostBreakdown {
            cache_hit,
            browser_ms: if cache_hit { 0 } else { browser_ms },
            scrape_usd: round8(scrape_usd),
            ai_usd: round8(ai_usd),
            total_usd: round8(scrape_usd + ai_usd),
            calls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_with_optional_cached_prices_and_colons_in_names() {
        let p = Prices::parse("openai/gpt-5-mini:0.25:2, openai/gpt-5:1.25:10:0.125,ft:gpt-4o:org::abc:3:12", 0.09).unwrap();
        assert_eq!(p.model("openai/gpt-5-mini"), Some(ModelPrice { input: 0.25, output: 2.0, cached_input: 0.25 }));
        assert_eq!(p.model("openai/gpt-5"), Some(ModelPrice { input: 1.25, output: 10.0, cached_input: 0.125 }));
        assert_eq!(p.model("ft:gpt-4o:org::abc"), Some(ModelPrice { input: 3.0, output: 12.0, cached_input: 3.0 }));
        assert!(Prices::parse("broken", 0.09).is_none());
        assert!(Prices::parse("m:1:x", 0.09).is_none());
        assert_eq!(Prices::parse("", 0.09).unwrap().models.len(), 0);
    }

    #[test]
    fn costs_add_up() {
        let p = Prices::parse("m:1:10:0.1", 0.09).unwrap();
        let u = Usage { prompt_tokens: 1_000_000, completion_tokens: 100_000, cached_tokens: 500_000 };
        assert!((p.ai_usd("m", u) - (0.5 + 0.05 + 1.0)).abs() < 1e-9);
        assert!((p.scrape_usd(3_600_000) - 0.09).abs() < 1e-12);
        let calls = vec![CallCost {
            call: Call::Fit,
            model: "m".into(),
            prompt_tokens: 0,
            cached_tokens: 0,
            completion_tokens: 0,
            requests: 1,
            usd: 0.25,
            duration_ms: 1,
        }];
        let c = CostBreakdown::new(&p, false, 3_600_000, calls.clone());
        assert_eq!((c.scrape_usd, c.ai_usd, c.total_usd), (0.09, 0.25, 0.34));
        let hit = CostBreakdown::new(&p, true, 3_600_000, calls);
        assert_eq!((hit.scrape_usd, hit.browser_ms, hit.total_usd), (0.0, 0, 0.25), "a cache hit scrapes nothing");
    }
}
