//! The stream cookie (docs/adr/0020): a browser's `EventSource` cannot send an `Authorization` header,
//! so the dashboard this Worker serves asks `POST /api/v1/stream-session` to put its access token in an
//! HttpOnly, SameSite=Strict cookie scoped to the API's path. Only the SSE routes (safe `GET`s that change
//! nothing) accept it; every other route still requires the header, so the cookie cannot be used for
//! cross-site request forgery, and page scripts never read it.

/// The cookie's name.
pub const NAME: &str = "edge_stream";

/// The value of cookie `name` in a `Cookie` header, if present and non-empty.
pub fn value<'a>(cookie_header: Option<&'a str>, name: &str) -> Option<&'a str> {
    cookie_header?
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for a token valid `max_age_secs` more seconds. `Secure` whenever the API is reached over
/// HTTPS (always, deployed); a plain-HTTP local origin would drop a `Secure` cookie.
pub fn set(token: &str, max_age_secs: u64, https: bool) -> String {
    format!("{NAME}={token}; Path=/api/v1; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{}", if https { "; Secure" } else { "" })
}

/// `Set-Cookie` that removes the cookie.
pub fn clear(https: bool) -> String {
    set("", 0, https)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_its_cookie_among_others() {
        assert_eq!(value(Some("a=1; edge_stream=tok.en.sig; b=2"), NAME), Some("tok.en.sig"));
        assert_eq!(value(Some("edge_stream=x"), NAME), Some("x"));
        assert_eq!(value(Some("edge_streamer=x"), NAME), None);
        assert_eq!(value(Some("edge_stream="), NAME), None);
        assert_eq!(value(Some("garbage"), NAME), None);
        assert_eq!(value(None, NAME), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped_to_the_api() {
        let c = set("t", 120, true);
        assert_eq!(c, "edge_stream=t; Path=/api/v1; Max-Age=120; HttpOnly; SameSite=Strict; Secure");
        assert!(!set("t", 1, false).contains("Secure"));
        assert!(clear(true).starts_with("edge_stream=; Path=/api/v1; Max-Age=0;"));
    }
}
