//! CORS restricted to configured origins (`CORS_ORIGINS`).
//!
//! Only exact origins in the allow-list get `Access-Control-Allow-Origin`; everything else gets no
//! CORS headers (the browser then blocks the read) and a refused preflight is answered 403.
//! `*` is deliberately not supported: the API takes bearer tokens and should name its front ends.

/// Methods the API exposes to browsers.
pub const ALLOW_METHODS: &str = "GET, POST, PUT, DELETE, OPTIONS";
/// Request headers a browser client may send.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Last-Event-ID";
/// Response headers a browser client may read.
pub const EXPOSE_HEADERS: &str = "X-Request-Id, Location, Retry-After";
/// How long a browser may cache a preflight answer, in seconds.
pub const MAX_AGE_SECS: u32 = 600;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    /// Parses a comma-separated list of origins such as `https://app.example.com,http://localhost:3000`.
    /// Entries are normalised (trimmed, trailing `/` removed, lower-cased); empty entries are ignored.
    pub fn parse(list: &str) -> Self {
        let origins =
            list.split(',').map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase()).filter(|o| !o.is_empty() && o != "*").collect();
        CorsPolicy { origins }
    }

    /// The value for `Access-Control-Allow-Origin` when `origin` is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<String> {
        let origin = origin?;
        let norm = origin.trim().to_ascii_lowercase();
        self.origins.contains(&norm).then(|| origin.trim().to_string())
    }

    /// Headers for an actual (non-preflight) response to an allowed origin.
    pub fn response_headers(&self, origin: Option<&str>) -> Vec<(&'static str, String)> {
        match self.allow(origin) {
            Some(o) => vec![
                ("Access-Control-Allow-Origin", o),
                ("Access-Control-Expose-Headers", EXPOSE_HEADERS.into()),
                ("Vary", "Origin".into()),
            ],
            None => vec![("Vary", "Origin".into())],
        }
    }

    /// Headers for a preflight answer, or `None` when the origin is refused.
    pub fn preflight_headers(&self, origin: Option<&str>) -> Option<Vec<(&'static str, String)>> {
        let o = self.allow(origin)?;
        Some(vec![
            ("Access-Control-Allow-Origin", o),
            ("Access-Control-Allow-Methods", ALLOW_METHODS.into()),
            ("Access-Control-Allow-Headers", ALLOW_HEADERS.into()),
            ("Access-Control-Max-Age", MAX_AGE_SECS.to_string()),
            ("Vary", "Origin".into()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_only_listed_origins() {
        let p = CorsPolicy::parse(" https://app.example.com/ , http://localhost:3000,,");
        assert_eq!(p.allow(Some("https://app.example.com")).as_deref(), Some("https://app.example.com"));
        assert_eq!(p.allow(Some("HTTPS://APP.EXAMPLE.COM")).as_deref(), Some("HTTPS://APP.EXAMPLE.COM"));
        assert_eq!(p.allow(Some("http://localhost:3000")).as_deref(), Some("http://localhost:3000"));
        assert_eq!(p.allow(Some("https://evil.example.com")), None);
        assert_eq!(p.allow(Some("https://app.example.com.evil.com")), None);
        assert_eq!(p.allow(Some("null")), None);
        assert_eq!(p.allow(None), None);
    }

    #[test]
    fn wildcard_and_empty_lists_allow_nothing() {
        assert_eq!(CorsPolicy::parse("*").allow(Some("https://a.com")), None);
        assert_eq!(CorsPolicy::parse("").allow(Some("https://a.com")), None);
    }

    #[test]
    fn refused_preflight_gets_no_headers() {
        let p = CorsPolicy::parse("https://app.example.com");
        assert!(p.preflight_headers(Some("https://evil.com")).is_none());
        let h = p.preflight_headers(Some("https://app.example.com")).unwrap();
        assert!(h.iter().any(|(k, v)| *k == "Access-Control-Allow-Methods" && v.contains("POST")));
        assert!(h.iter().any(|(k, v)| *k == "Access-Control-Allow-Headers" && v.contains("Authorization")));
    }
}
