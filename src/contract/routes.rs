//! The route table: which paths exist, which methods each accepts, and what body each takes.
//!
//! Matching is pure so that 404 versus 405 (with `Allow`) is decided in one place and tested on the host.

use super::error::ApiError;

/// Every route the Worker serves. Handlers are chosen by matching on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    Me,
    JobsCreate,
    JobsList,
    JobsStream,
    JobGet,
    JobProgress,
    JobCancel,
    JobEvents,
    BatchesCreate,
    BatchesList,
    BatchGet,
    BatchCancel,
    BatchEvents,
    BillingWebhook,
    Billing,
    BillingCheckout,
    BillingPortal,
    Usage,
    UsageDaily,
    StreamSessionCreate,
    StreamSessionDelete,
    CreditsBalance,
    CreditsTransactions,
    CreditsPricing,
    LeadsAnalyze,
    LeadsAnalyzeBulk,
    LeadsList,
    LeadGet,
    LeadDelete,
    LeadRestore,
    LeadAnalyses,
    AnalysisGet,
    BusinessProfilesList,
    BusinessProfilesCreate,
    BusinessProfileGet,
    BusinessProfileUpdate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(m: &str) -> Method {
        match m.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// A path pattern: literal segments and `{param}` placeholders.
struct Entry {
    pattern: &'static [&'static str],
    method: Method,
    route: Route,
}

const TABLE: &[Entry] = &[
    Entry { pattern: &["health"], method: Method::Get, route: Route::Health },
    Entry { pattern: &["api", "v1", "openapi.json"], method: Method::Get, route: Route::OpenApi },
    Entry { pattern: &["api", "v1", "me"], method: Method::Get, route: Route::Me },
    Entry { pattern: &["api", "v1", "jobs"], method: Method::Post, route: Route::JobsCreate },
    Entry { pattern: &["api", "v1", "jobs"], method: Method::Get, route: Route::JobsList },
    // Before `jobs/{id}`: the literal wins.
    Entry { pattern: &["api", "v1", "jobs", "stream"], method: Method::Get, route: Route::JobsStream },
    Entry { pattern: &["api", "v1", "jobs", "{id}"], method: Method::Get, route: Route::JobGet },
    Entry { pattern: &["api", "v1", "jobs", "{id}", "progress"], method: Method::Get, route: Route::JobProgress },
    Entry { pattern: &["api", "v1", "jobs", "{id}", "cancel"], method: Method::Post, route: Route::JobCancel },
    Entry { pattern: &["api", "v1", "jobs", "{id}", "events"], method: Method::Get, route: Route::JobEvents },
    Entry { pattern: &["api", "v1", "billing", "webhooks"], method: Method::Post, route: Route::BillingWebhook },
    Entry { pattern: &["api", "v1", "billing"], method: Method::Get, route: Route::Billing },
    Entry { pattern: &["api", "v1", "billing", "checkout"], method: Method::Post, route: Route::BillingCheckout },
    Entry { pattern: &["api", "v1", "billing", "portal"], method: Method::Post, route: Route::BillingPortal },
    Entry { pattern: &["api", "v1", "usage"], method: Method::Get, route: Route::Usage },
    Entry { pattern: &["api", "v1", "usage", "daily"], method: Method::Get, route: Route::UsageDaily },
    Entry { pattern: &["api", "v1", "stream-session"], method: Method::Post, route: Route::StreamSessionCreate },
    Entry { pattern: &["api", "v1", "stream-session"], method: Method::Delete, route: Route::StreamSessionDelete },
    Entry { pattern: &["api", "v1", "credits", "balance"], method: Method::Get, route: Route::CreditsBalance },
    Entry { pattern: &["api", "v1", "batches"], method: Method::Post, route: Route::BatchesCreate },
    Entry { pattern: &["api", "v1", "batches"], method: Method::Get, route: Route::BatchesList },
    Entry { pattern: &["api", "v1", "batches", "{id}"], method: Method::Get, route: Route::BatchGet },
    Entry { pattern: &["api", "v1", "batches", "{id}", "cancel"], method: Method::Post, route: Route::BatchCancel },
    Entry { pattern: &["api", "v1", "batches", "{id}", "events"], method: Method::Get, route: Route::BatchEvents },
    Entry { pattern: &["api", "v1", "credits", "transactions"], method: Method::Get, route: Route::CreditsTransactions },
    Entry { pattern: &["api", "v1", "credits", "pricing"], method: Method::Get, route: Route::CreditsPricing },
    Entry { pattern: &["api", "v1", "leads", "analyze"], method: Method::Post, route: Route::LeadsAnalyze },
    Entry { pattern: &["api", "v1", "leads", "analyze", "bulk"], method: Method::Post, route: Route::LeadsAnalyzeBulk },
    Entry { pattern: &["api", "v1", "leads"], method: Method::Get, route: Route::LeadsList },
    Entry { pattern: &["api", "v1", "leads", "{id}"], method: Method::Get, route: Route::LeadGet },
    Entry { pattern: &["api", "v1", "leads", "{id}"], method: Method::Delete, route: Route::LeadDelete },
    Entry { pattern: &["api", "v1", "leads", "{id}", "restore"], method: Method::Post, route: Route::LeadRestore },
    Entry { pattern: &["api", "v1", "leads", "{id}", "analyses"], method: Method::Get, route: Route::LeadAnalyses },
    Entry { pattern: &["api", "v1", "analyses", "{id}"], method: Method::Get, route: Route::AnalysisGet },
    Entry { pattern: &["api", "v1", "business-profiles"], method: Method::Get, route: Route::BusinessProfilesList },
    Entry { pattern: &["api", "v1", "business-profiles"], method: Method::Post, route: Route::BusinessProfilesCreate },
    Entry { pattern: &["api", "v1", "business-profiles", "{id}"], method: Method::Get, route: Route::BusinessProfileGet },
    Entry { pattern: &["api", "v1", "business-profiles", "{id}"], method: Method::Put, route: Route::BusinessProfileUpdate },
];

/// A matched route with its path parameters, in pattern order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub params: Vec<String>,
    method: Method,
    pattern: &'static [&'static str],
}

impl Matched {
    /// The route as logs and metrics name it: method and pattern, never the raw path
    /// (`GET /api/v1/jobs/{id}`).
    pub fn label(&self) -> String {
        format!("{} /{}", self.method.as_str(), self.pattern.join("/"))
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

fn pattern_matches(pattern: &[&str], segs: &[&str]) -> Option<Vec<String>> {
    if pattern.len() != segs.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in pattern.iter().zip(segs) {
        if p.starts_with('{') {
            params.push((*s).to_string());
        } else if p != s {
            return None;
        }
    }
    Some(params)
}

/// Finds the route for `method` and `path`. `HEAD` is served wherever `GET` is.
///
/// Returns [`ApiError::NotFound`] when no pattern matches the path, and
/// [`ApiError::MethodNotAllowed`] with the allowed methods when the path exists under other methods.
pub fn match_route(method: Method, path: &str) -> Result<Matched, ApiError> {
    let segs = segments(path);
    // A literal segment wins over a parameter: `/leads/analyze` is its own resource, not the lead
    // `analyze`. Only the patterns with the fewest parameters that match the path are considered.
    let matching: Vec<(&Entry, Vec<String>)> = TABLE.iter().filter_map(|e| pattern_matches(e.pattern, &segs).map(|p| (e, p))).collect();
    let fewest = matching.iter().map(|(_, p)| p.len()).min().unwrap_or(0);
    let mut allow: Vec<&'static str> = Vec::new();
    for (e, params) in matching.into_iter().filter(|(_, p)| p.len() == fewest) {
        if e.method == method || (method == Method::Head && e.method == Method::Get) {
            return Ok(Matched { route: e.route, params, method: e.method, pattern: e.pattern });
        }
        allow.push(e.method.as_str());
        if e.method == Method::Get {
            allow.push("HEAD");
        }
    }
    if allow.is_empty() {
        Err(ApiError::NotFound)
    } else {
        allow.push("OPTIONS");
        allow.sort_unstable();
        allow.dedup();
        Err(ApiError::MethodNotAllowed { allow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_match_with_and_without_trailing_slash() {
        assert_eq!(match_route(Method::Get, "/health").unwrap().route, Route::Health);
        assert_eq!(match_route(Method::Get, "/health/").unwrap().route, Route::Health);
        assert_eq!(match_route(Method::Head, "/health").unwrap().route, Route::Health);
        assert_eq!(match_route(Method::Get, "/api/v1/openapi.json").unwrap().route, Route::OpenApi);
    }

    #[test]
    fn job_routes_match_with_their_id_and_stream_is_not_an_id() {
        assert_eq!(match_route(Method::Get, "/api/v1/jobs/stream").unwrap().route, Route::JobsStream);
        let m = match_route(Method::Get, "/api/v1/jobs/abc/events").unwrap();
        assert_eq!((m.route, m.params), (Route::JobEvents, vec!["abc".to_string()]));
        assert_eq!(match_route(Method::Post, "/api/v1/jobs").unwrap().route, Route::JobsCreate);
        assert_eq!(match_route(Method::Get, "/api/v1/jobs").unwrap().route, Route::JobsList);
        assert!(matches!(match_route(Method::Get, "/api/v1/jobs/x/cancel"), Err(ApiError::MethodNotAllowed { .. })));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert!(matches!(match_route(Method::Get, "/nope"), Err(ApiError::NotFound)));
        assert!(matches!(match_route(Method::Get, "/health/extra"), Err(ApiError::NotFound)));
        assert!(matches!(match_route(Method::Get, "/"), Err(ApiError::NotFound)));
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        match match_route(Method::Post, "/health") {
            Err(ApiError::MethodNotAllowed { allow }) => assert_eq!(allow, vec!["GET", "HEAD", "OPTIONS"]),
            other => panic!("expected 405, got {other:?}"),
        }
        assert!(matches!(match_route(Method::Other, "/health"), Err(ApiError::MethodNotAllowed { .. })));
    }

    #[test]
    fn every_route_is_documented_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap();
        for e in TABLE {
            let path = format!("/{}", e.pattern.join("/"));
            let method = e.method.as_str().to_ascii_lowercase();
            assert!(doc["paths"][&path][&method].is_object(), "{} {path} is missing from docs/openapi.json", e.method.as_str());
        }
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        assert_eq!(match_route(Method::Post, "/api/v1/leads/analyze").unwrap().route, Route::LeadsAnalyze);
        match match_route(Method::Get, "/api/v1/leads/analyze") {
            Err(ApiError::MethodNotAllowed { allow }) => assert_eq!(allow, vec!["OPTIONS", "POST"]),
            other => panic!("expected 405, got {other:?}"),
        }
        let m = match_route(Method::Get, "/api/v1/leads/0b6c1f5e-8a43-4e0c-9d4b-7c2e5a1f3d20").unwrap();
        assert_eq!((m.route, m.params.len()), (Route::LeadGet, 1));
        assert_eq!(match_route(Method::Get, "/api/v1/jobs/stream").unwrap().route, Route::JobsStream);
    }

    #[test]
    fn method_names_parse_case_insensitively() {
        assert_eq!(Method::parse("get"), Method::Get);
        assert_eq!(Method::parse("BREW"), Method::Other);
    }
}
