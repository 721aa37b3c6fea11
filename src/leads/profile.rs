//! The scraped profile: one Browser Rendering `/scrape` call reads the page's metadata (title, description,
//! Open Graph tags, first heading) and its text, and the result is what the cache stores and the prompts
//! use.

use crate::domain::browser::{cap, normalise};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Longest page text kept (the prompts use at most a tier's budget of it).
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Navigation timeout of the scrape.
pub const SCRAPE_TIMEOUT_MS: u32 = 20_000;

const SELECTORS: [&str; 7] = [
    "title",
    "meta[name='description']",
    "meta[property='og:title']",
    "meta[property='og:description']",
    "meta[property='og:image']",
    "h1",
    "body",
];

/// A public profile page as analyses read it. Serialised as the cache entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrapedProfile {
    pub url: String,
    pub display_name: Option<String>,
    pub headline: Option<String>,
    pub image_url: Option<String>,
    pub text: String,
    /// When the page was read (ms since the epoch): the cache's age check.
    pub scraped_at_ms: f64,
    /// Browser time the scrape used (Browser Rendering's `X-Browser-Ms-Used`), for its cost.
    pub browser_ms: u64,
}

impl ScrapedProfile {
    /// Whether a cached copy is fresh enough for an analysis whose TTL is `ttl_secs`.
    pub fn fresh(&self, now_ms: f64, ttl_secs: u64) -> bool {
        now_ms - self.scraped_at_ms < ttl_secs as f64 * 1000.0 && now_ms >= self.scraped_at_ms
    }

    /// The fields the lead row shows.
    pub fn lead_fields(&self) -> Value {
        json!({ "display_name": self.display_name, "headline": self.headline, "image_url": self.image_url })
    }
}

/// The `/scrape` request body for `url`; `reject` are the deny-list's request patterns (if any).
pub fn scrape_request(url: &str, reject: Vec<String>) -> Value {
    let mut body = json!({
        "url": url,
        "gotoOptions": { "waitUntil": "domcontentloaded", "timeout": SCRAPE_TIMEOUT_MS },
        "elements": SELECTORS.iter().map(|s| json!({ "selector": s })).collect::<Vec<_>>(),
    });
    if !reject.is_empty() {
        body["rejectRequestPattern"] = json!(reject);
    }
    body
}

fn results<'a>(result: &'a [Value], selector: &'a str) -> impl Iterator<Item = &'a Value> {
    result.iter().filter(move |r| r["selector"] == selector).flat_map(|r| r["results"].as_array().into_iter().flatten())
}

fn first_text(result: &[Value], selector: &str) -> Option<String> {
    results(result, selector).filter_map(|e| e["text"].as_str()).map(normalise).find(|t| !t.is_empty())
}

fn first_attr(result: &[Value], selector: &str, name: &str) -> Option<String> {
    results(result, selector)
        .flat_map(|e| e["attributes"].as_array().into_iter().flatten())
        .find(|a| a["name"] == name)
        .and_then(|a| a["value"].as_str())
        .map(normalise)
        .filter(|v| !v.is_empty())
}

fn bounded(s: Option<String>, max: usize) -> Option<String> {
    s.map(|v| v.replace('\0', "\u{FFFD}").chars().take(max).collect())
}

/// Reads `/scrape`'s `result` array; `None` if it is not that shape.
pub fn parse_scrape(url: &str, result: &Value, now_ms: f64, browser_ms: u64) -> Option<ScrapedProfile> {
    let r = result.as_array()?;
    let display_name =
        first_attr(r, "meta[property='og:title']", "content").or_else(|| first_text(r, "h1")).or_else(|| first_text(r, "title"));
    let headline =
        first_attr(r, "meta[property='og:description']", "content").or_else(|| first_attr(r, "meta[name='description']", "content"));
    let image_url = first_attr(r, "meta[property='og:image']", "content").filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    let body = results(r, "body").filter_map(|e| e["text"].as_str()).collect::<Vec<_>>().join("\n");
    let (text, _) = cap(&normalise(&body));
    Some(ScrapedProfile {
        url: url.to_string(),
        display_name: bounded(display_name, 500),
        headline: bounded(headline, 2_000),
        image_url: bounded(image_url, 2_048),
        text: text.replace('\0', "\u{FFFD}").chars().take(MAX_TEXT_CHARS).collect(),
        scraped_at_ms: now_ms,
        browser_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(text: &str, attrs: &[(&str, &str)]) -> Value {
        json!({ "text": text, "html": "", "attributes": attrs.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>() })
    }

    #[test]
    fn metadata_prefers_open_graph_then_headings() {
        let result = json!([
            { "selector": "title", "results": [el("Ann | Site", &[])] },
            { "selector": "meta[name='description']", "results": [el("", &[("name", "description"), ("content", "plain description")])] },
            { "selector": "meta[property='og:title']", "results": [] },
            { "selector": "meta[property='og:description']", "results": [el("", &[("property", "og:description"), ("content", "CTO at Rockets")])] },
            { "selector": "meta[property='og:image']", "results": [el("", &[("content", "javascript:alert(1)")])] },
            { "selector": "h1", "results": [el("  Ann   Example ", &[])] },
            { "selector": "body", "results": [el("Ann Example\n\nBuilds rockets.", &[])] },
        ]);
        let p = parse_scrape("https://p.example/ann", &result, 1000.0, 250).unwrap();
        assert_eq!(p.display_name.as_deref(), Some("Ann Example"));
        assert_eq!(p.headline.as_deref(), Some("CTO at Rockets"));
        assert_eq!(p.image_url, None, "only http(s) images");
        assert!(p.text.contains("Builds rockets."));
        assert_eq!(p.browser_ms, 250);
        assert!(parse_scrape("u", &json!({"x": 1}), 0.0, 0).is_none());
    }

    #[test]
    fn freshness_follows_the_ttl() {
        let p = ScrapedProfile {
            url: "u".into(),
            display_name: None,
            headline: None,
            image_url: None,
            text: String::new(),
            scraped_at_ms: 1_000_000.0,
            browser_ms: 0,
        };
        assert!(p.fresh(1_000_000.0 + 5_999_000.0, 6_000));
        assert!(!p.fresh(1_000_000.0 + 6_000_000.0, 6_000));
        assert!(!p.fresh(999_000.0, 6_000), "a copy from the future is not trusted");
    }
}
