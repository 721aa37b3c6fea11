//! The dashboard's pages (docs/adr/0020). Workers Static Assets serves the built single-page app
//! (`dashboard/dist`); its hashed files under `/assets/` never reach the Worker (`run_worker_first` in
//! wrangler.toml). Page navigations do: the Worker answers them with the app's `index.html`, into which it
//! writes the client configuration (Supabase URL and anon key, which task types and tiers are switched
//! on) and to which it gives a Content Security Policy naming the configured Supabase origin, so neither
//! is baked into the build. Requests that are not navigations (API clients, curl) keep the JSON 404.

use crate::config::Config;
use crate::contract::routes::Method;
use crate::jobs::task_types::{disabled_flag, TaskType};
use crate::leads::Tier;
use serde_json::{json, Value};
use worker::{Env, Response};

/// The binding of the dashboard's static assets.
pub const ASSETS: &str = "ASSETS";
/// Where `index.html` marks the spot for the client configuration.
const CONFIG_MARKER: &str = "<!--app-config-->";

/// A `GET`/`HEAD` outside the API: it may be a page navigation (checked first, without reading headers,
/// so API requests pay nothing for the dashboard).
pub fn may_be_page(method: Method, path: &str) -> bool {
    let outside_api = !(path == "/health" || path.starts_with("/health/") || path == "/api" || path.starts_with("/api/"));
    matches!(method, Method::Get | Method::Head) && outside_api
}

/// A request asking for HTML: a browser navigating (`Sec-Fetch-Dest: document`, or `Accept: text/html`).
pub fn wants_html(accept: Option<&str>, fetch_dest: Option<&str>) -> bool {
    fetch_dest == Some("document") || accept.is_some_and(|a| a.split(',').any(|t| t.trim().starts_with("text/html")))
}

/// A browser navigation to a page: `GET`/`HEAD` outside the API, asking for HTML.
pub fn is_page_request(method: Method, path: &str, accept: Option<&str>, fetch_dest: Option<&str>) -> bool {
    may_be_page(method, path) && wants_html(accept, fetch_dest)
}

/// The origin of a URL (`scheme://host[:port]`), for the CSP.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// The page's policy: its own scripts, styles and API only, plus Supabase Auth. Checkout and the billing
/// portal are top-level navigations to Stripe's hosted pages, which a CSP does not restrict.
pub fn content_security_policy(supabase_url: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self' {}; manifest-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        origin(supabase_url)
    )
}

/// What the app needs to know at run time: public values only (the anon key is public by design).
pub fn client_config(cfg: &Config) -> Value {
    client_config_of(&cfg.features, &cfg.supabase_url, cfg.anon_key.expose(), &cfg.environment)
}

/// [`client_config`] from its parts: the task types and tiers the feature flags let through.
fn client_config_of(features: &[(&'static str, bool)], supabase_url: &str, anon_key: &str, environment: &str) -> Value {
    let on = |flag: &str| features.iter().any(|(n, v)| *n == flag && *v);
    let task_types: Vec<&str> = TaskType::ALL
        .into_iter()
        .filter(|t| *t != TaskType::LeadAnalyze && disabled_flag(*t, features).is_none())
        .map(TaskType::as_str)
        .collect();
    let tiers: Vec<&str> = Tier::ALL.into_iter().filter(|t| on(t.flag())).map(Tier::as_str).collect();
    json!({
        "supabase_url": supabase_url,
        "supabase_anon_key": anon_key,
        "environment": environment,
        "task_types": task_types,
        "lead_tiers": tiers,
    })
}

/// `index.html` with the configuration in a JSON script element (not executed, so the CSP allows it).
/// `<` is escaped so no value can close the element.
pub fn inject(html: &str, config: &Value) -> String {
    let data = config.to_string().replace('<', "\\u003c");
    html.replacen(CONFIG_MARKER, &format!("<script id=\"app-config\" type=\"application/json\">{data}</script>"), 1)
}

/// The app's `index.html` for a page request, or `None` when this Worker has no assets bound.
pub async fn page(env: &Env, cfg: &Config, head: bool) -> Option<worker::Result<Response>> {
    let assets = env.assets(ASSETS).ok()?;
    Some(
        async move {
            let mut index = assets.fetch("https://assets.local/", None).await?;
            if index.status_code() != 200 {
                return Response::error("dashboard not built (npm run build)", 503);
            }
            let html = inject(&index.text().await?, &client_config(cfg));
            let resp = if head { Response::empty()? } else { Response::from_html(html)? };
            let h = resp.headers();
            h.set("Content-Type", "text/html; charset=utf-8")?;
            h.set("Content-Security-Policy", &content_security_policy(&cfg.supabase_url))?;
            h.set("Cache-Control", "no-cache")?;
            h.set("X-Content-Type-Options", "nosniff")?;
            h.set("X-Frame-Options", "DENY")?;
            h.set("Referrer-Policy", "same-origin")?;
            h.set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")?;
            Ok(resp)
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_html_navigations_outside_the_api_are_pages() {
        let html = Some("text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(is_page_request(Method::Get, "/", html, None));
        assert!(is_page_request(Method::Get, "/jobs/123", html, None));
        assert!(is_page_request(Method::Head, "/billing", None, Some("document")));
        assert!(!is_page_request(Method::Get, "/", None, None), "curl keeps the JSON 404");
        assert!(!is_page_request(Method::Get, "/", Some("application/json"), None));
        assert!(!is_page_request(Method::Post, "/", html, None));
        for api in ["/api/v1/nothing", "/api", "/health", "/health/extra"] {
            assert!(!is_page_request(Method::Get, api, html, Some("document")), "{api}");
        }
    }

    #[test]
    fn the_policy_names_only_self_and_supabase() {
        let csp = content_security_policy("https://abc.supabase.co");
        assert!(csp.contains("connect-src 'self' https://abc.supabase.co;"), "{csp}");
        assert!(csp.contains("script-src 'self';") && csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe"));
        assert!(content_security_policy("http://127.0.0.1:54321/").contains("connect-src 'self' http://127.0.0.1:54321;"));
    }

    #[test]
    fn the_page_offers_only_what_the_flags_let_through() {
        let all_on: Vec<(&str, bool)> = crate::config::FEATURE_FLAGS.iter().map(|(n, _)| (*n, true)).collect();
        let c = client_config_of(&all_on, "https://x.supabase.co", "anon", "production");
        assert_eq!(c["task_types"], json!(["http.request", "browser.extract_text"]));
        assert_eq!(c["lead_tiers"], json!(["LIGHT", "DEEP", "XRAY"]));
        assert_eq!(c["supabase_url"], "https://x.supabase.co");
        let off = |names: &[&str]| -> Vec<(&'static str, bool)> { all_on.iter().map(|(n, _)| (*n, !names.contains(n))).collect() };
        let c = client_config_of(&off(&["FF_BROWSER_WORKER_ENABLED", "FF_LEAD_ANALYSIS_DEEP_ENABLED"]), "u", "a", "development");
        assert_eq!(c["task_types"], json!(["http.request"]));
        assert_eq!(c["lead_tiers"], json!(["LIGHT", "XRAY"]));
        let c = client_config_of(&off(&["FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"]), "u", "a", "development");
        assert_eq!(c["task_types"], json!(["http.request"]));
    }

    #[test]
    fn injected_config_cannot_close_its_element() {
        let out = inject("<head><!--app-config--></head>", &json!({ "x": "</script><script>alert(1)</script>" }));
        assert_eq!(out.matches("</script>").count(), 1, "{out}");
        assert!(out.starts_with("<head><script id=\"app-config\" type=\"application/json\">{"));
        assert_eq!(inject("<p>no marker</p>", &json!({})), "<p>no marker</p>");
    }
}
