//! Cloudflare Browser Rendering's REST API, as pure functions: the request a `browser.extract_text` job
//! sends, how a response is read, and how an HTTP outcome is classified for retries and the circuit
//! breaker. Contract: <https://developers.cloudflare.com/browser-rendering/rest-api/>.
//!
//! - With a `selector`: `POST {base}/scrape` `{url, elements: [{selector}, {selector: "title"}],
//!   gotoOptions, waitForSelector?}`; the answer's `result` is a list of `{selector, results: [{text, ...}]}`
//!   (some API versions say `result` instead of `results`, one object instead of a list).
//! - Without: `POST {base}/content` with the same options; `result` is the rendered HTML, reduced to text
//!   here.
//! - Errors use Cloudflare's v4 envelope `{success: false, errors: [{code, message}]}`.

use crate::jobs::payloads::BrowserExtractPayload;
use serde_json::{json, Value};

/// Extracted text is cut at this many characters (after whitespace normalisation).
pub const MAX_TEXT_CHARS: usize = 100_000;
/// How long the Worker waits for Browser Rendering beyond the job's own timeout (browser start-up,
/// the HTML transfer).
pub const REQUEST_MARGIN_MS: u32 = 15_000;

/// Which endpoint, and its JSON body.
pub fn request_for(p: &BrowserExtractPayload, deny_active: bool) -> (&'static str, Value) {
    let mut body = json!({
        "url": p.url,
        "gotoOptions": { "waitUntil": "load", "timeout": p.timeout_ms },
    });
    if deny_active {
        body["rejectRequestPattern"] = json!(reject_patterns(&p.url));
    }
    if let Some(w) = &p.wait_for_selector {
        body["waitForSelector"] = json!({ "selector": w, "timeout": p.timeout_ms });
    }
    match &p.selector {
        Some(sel) => {
            body["elements"] = json!([{ "selector": sel }, { "selector": "title" }]);
            ("/scrape", body)
        }
        None => ("/content", body),
    }
}

/// What the browser must not request (`rejectRequestPattern`, JavaScript regular expressions; docs/adr/0015).
/// The submission check sees only the job's URL; the browser follows redirects and loads sub-resources
/// and frames the Worker never sees. So every request the browser would make to an internal name (a single
/// label, `localhost`, `*.localhost`, `*.internal`, `*.local`, the loopback aliases), to an IPv6 literal, or
/// to an IPv4 literal other than the job's own host is refused in the browser. Applied whenever the
/// deny-list is on (`SSRF_DENY_CIDRS`).
pub fn reject_patterns(job_url: &str) -> Vec<String> {
    const SCHEME: &str = r"^[a-z][a-z0-9+.-]*:\/\/(?:[^\/?#@]*@)?";
    const END: &str = r"\.?(?::\d*)?(?:[\/?#]|$)";
    let names = format!(
        r"/{SCHEME}(?:[^\/?#:.@\[]+|localhost|[^\/?#:@\[]*\.(?:localhost|internal|local)|localhost\.localdomain|ip6-localhost|ip6-loopback){END}/i"
    );
    let own_ipv4 = url::Url::parse(job_url).ok().and_then(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.to_string().replace('.', r"\.")),
        _ => None,
    });
    let except = own_ipv4.map(|ip| format!(r"(?!{ip}(?::\d*)?(?:[\/?#]|$))")).unwrap_or_default();
    let literals = format!(r"/{SCHEME}{except}(?:\[|\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}\.\d{{1,3}}(?::\d*)?(?:[\/?#]|$))/i");
    vec![names, literals]
}

/// How one call to Browser Rendering ended, for the job and for the circuit breaker.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The page was read: `{text, title?}` (before the job adds url, selector and elapsed time).
    Ok { text: String, title: Option<String>, truncated: bool, matches: Option<usize> },
    /// The service is rate limiting us (429): try again after this many seconds. Neither a failure of
    /// the job nor of the service.
    RateLimited { retry_after_secs: u32 },
    /// The service failed (5xx, refused our token, unreachable, unreadable answer): counts against the
    /// circuit breaker; the job waits rather than spending an attempt.
    ServiceFailure(String),
    /// The page could not be read (navigation or selector timeout, page error): the job spends an
    /// attempt; the service itself is healthy.
    PageError { message: String, timeout: bool },
    /// The request itself is wrong (400): retrying cannot help.
    Rejected(String),
}

impl Outcome {
    /// Whether the circuit breaker should count this as a success, a failure, or neither.
    pub fn breaker_verdict(&self) -> Option<bool> {
        match self {
            Outcome::Ok { .. } | Outcome::PageError { .. } | Outcome::Rejected(_) => Some(true),
            Outcome::ServiceFailure(_) => Some(false),
            Outcome::RateLimited { .. } => None,
        }
    }
}

/// The first error message of a v4 envelope.
fn error_message(body: &Value) -> Option<String> {
    let e = body.get("errors")?.as_array()?.first()?;
    e.get("message").and_then(Value::as_str).map(str::to_string)
}

fn looks_like_timeout(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    m.contains("timeout") || m.contains("timed out") || m.contains("exceeded")
}

/// `Retry-After` in seconds (delta form; an HTTP date or garbage falls back to `default`), kept within
/// 1 s .. 1 h.
pub fn retry_after_secs(header: Option<&str>, default: u32) -> u32 {
    header.and_then(|h| h.trim().parse::<u32>().ok()).unwrap_or(default).clamp(1, 3600)
}

/// Classifies a response of `endpoint` (`/content` or `/scrape`). `body` is the parsed JSON, or `None`
/// when it was not JSON.
pub fn classify(endpoint: &str, status: u16, retry_after: Option<&str>, body: Option<&Value>) -> Outcome {
    let msg = body.and_then(error_message);
    match status {
        429 => Outcome::RateLimited { retry_after_secs: retry_after_secs(retry_after, 10) },
        401 | 403 => {
            Outcome::ServiceFailure(format!("browser rendering refused the API token (HTTP {status}): check CLOUDFLARE_API_TOKEN"))
        }
        400 => Outcome::Rejected(format!("browser rendering rejected the request: {}", msg.unwrap_or_else(|| "HTTP 400".into()))),
        402..=499 => {
            let m = msg.unwrap_or_else(|| format!("HTTP {status}"));
            Outcome::PageError { timeout: looks_like_timeout(&m), message: m }
        }
        200..=299 => match body {
            Some(b) if b["success"] != false => read_result(endpoint, b),
            Some(b) => {
                Outcome::ServiceFailure(format!("browser rendering answered success=false: {}", error_message(b).unwrap_or_default()))
            }
            None => Outcome::ServiceFailure("browser rendering answered with a body that is not JSON".into()),
        },
        _ => Outcome::ServiceFailure(format!("browser rendering: HTTP {status}{}", msg.map(|m| format!(": {m}")).unwrap_or_default())),
    }
}

fn read_result(endpoint: &str, body: &Value) -> Outcome {
    if endpoint == "/content" {
        return match body["result"].as_str() {
            Some(html) => {
                let (text, truncated) = cap(&html_to_text(html));
                Outcome::Ok { text, title: title_of(html), truncated, matches: None }
            }
            None => Outcome::ServiceFailure("browser rendering /content answered without a result string".into()),
        };
    }
    // /scrape: `result` is a list of {selector, results|result}; tolerate a single object too.
    let items: Vec<&Value> = match &body["result"] {
        Value::Array(a) => a.iter().collect(),
        v @ Value::Object(_) => vec![v],
        _ => return Outcome::ServiceFailure("browser rendering /scrape answered without a result".into()),
    };
    let texts_of = |item: &Value| -> Vec<String> {
        let hits = if item.get("results").is_some() { &item["results"] } else { &item["result"] };
        let hits: Vec<&Value> = match hits {
            Value::Array(a) => a.iter().collect(),
            v @ Value::Object(_) => vec![v],
            _ => vec![],
        };
        hits.iter().filter_map(|h| h["text"].as_str()).map(normalise).filter(|t| !t.is_empty()).collect()
    };
    // The answer follows the request's order: the job's selector first, `title` second.
    let texts = items.first().map(|i| texts_of(i)).unwrap_or_default();
    let title = items.get(1).and_then(|i| texts_of(i).into_iter().next());
    let matches = texts.len();
    let (text, truncated) = cap(&texts.join("\n"));
    Outcome::Ok { text, title, truncated, matches: Some(matches) }
}

/// Whitespace runs become one space; leading and trailing whitespace go. Newlines between blocks are
/// kept as single newlines.
pub fn normalise(s: &str) -> String {
    s.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Cuts at [`MAX_TEXT_CHARS`] characters (never inside a character). NUL characters, which Postgres
/// `jsonb` cannot store, become U+FFFD.
pub fn cap(s: &str) -> (String, bool) {
    if s.contains('\0') {
        return cap(&s.replace('\0', "\u{FFFD}"));
    }
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => (s[..i].to_string(), true),
        None => (s.to_string(), false),
    }
}

/// Elements whose content is never visible text.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template", "head", "svg", "iframe", "object"];
/// Elements that end a line of text.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "main",
    "nav",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "hr",
    "form",
    "dd",
    "dt",
    "dl",
    "aside",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "td",
    "th",
];

/// The visible text of an HTML document: tags removed, hidden elements (scripts, styles, head, ...)
/// dropped with their content, entities decoded, whitespace normalised with block elements on their own
/// lines. A tolerant scanner, not a parser: malformed markup still yields text, never an error.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut hidden: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        if hidden.is_none() {
            // Line breaks in the source are plain whitespace in HTML; only block elements break lines.
            out.push_str(&decode_entities(&rest[..lt]).replace(['\n', '\r'], " "));
        }
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map(|i| &after[i + 3..]).unwrap_or("");
            continue;
        }
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String =
            tag.trim_start_matches('/').chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
        match &hidden {
            Some(h) => {
                if closing && *h == name {
                    hidden = None;
                }
            }
            None => {
                if !closing && HIDDEN.contains(&name.as_str()) && !tag.ends_with('/') {
                    hidden = Some(name);
                } else if BLOCK.contains(&name.as_str()) {
                    out.push('\n');
                } else if matches!(name.as_str(), "span" | "a" | "b" | "i" | "em" | "strong" | "label" | "code") {
                    // inline: no separator
                } else if !name.is_empty() {
                    out.push(' ');
                }
            }
        }
    }
    if hidden.is_none() {
        out.push_str(&decode_entities(rest).replace(['\n', '\r'], " "));
    }
    normalise(&out)
}

/// The document's `<title>`, if it has a non-empty one.
pub fn title_of(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let t = normalise(&decode_entities(&html[open_end..close]));
    (!t.is_empty()).then_some(t)
}

/// Decodes the common named entities and numeric references; unknown ones stay as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|i| i + 1).filter(|&i| i <= 12);
        let decoded = end.and_then(|i| {
            let name = &rest[1..i];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ if name.starts_with("#x") || name.starts_with("#X") => u32::from_str_radix(&name[2..], 16).ok().and_then(char::from_u32),
                _ if name.starts_with('#') => name[1..].parse::<u32>().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, i))
        });
        match decoded {
            Some((c, i)) => {
                out.push(c);
                rest = &rest[i + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn payload(selector: Option<&str>, wait: Option<&str>) -> BrowserExtractPayload {
        BrowserExtractPayload {
            url: "https://example.com/".into(),
            selector: selector.map(String::from),
            wait_for_selector: wait.map(String::from),
            timeout_ms: 5000,
        }
    }

    #[test]
    fn requests_follow_the_rest_contract() {
        let (path, body) = request_for(&payload(None, None), false);
        assert_eq!(path, "/content");
        assert_eq!(body, json!({"url": "https://example.com/", "gotoOptions": {"waitUntil": "load", "timeout": 5000}}));
        let (_, body) = request_for(&payload(None, None), true);
        assert_eq!(body["rejectRequestPattern"], json!(reject_patterns("https://example.com/")));
        let (path, body) = request_for(&payload(Some("#main"), Some(".ready")), false);
        assert_eq!(path, "/scrape");
        assert_eq!(body["elements"], json!([{"selector": "#main"}, {"selector": "title"}]));
        assert_eq!(body["waitForSelector"], json!({"selector": ".ready", "timeout": 5000}));
    }

    #[test]
    fn content_is_reduced_to_visible_text_with_its_title() {
        let html = r#"<!doctype html><html><head><title>Hello &amp; welcome</title><style>p{color:red}</style>
            <script>var x = "<p>not text</p>";</script></head><body><h1>Big  news</h1><p>One&nbsp;two
            three</p><!-- hidden --><ul><li>a</li><li>b&#x21;</li></ul><noscript>no</noscript></body></html>"#;
        match classify("/content", 200, None, Some(&json!({"success": true, "result": html}))) {
            Outcome::Ok { text, title, truncated, matches } => {
                assert_eq!(text, "Big news\nOne two three\na\nb!");
                assert_eq!(title.as_deref(), Some("Hello & welcome"));
                assert!(!truncated);
                assert_eq!(matches, None);
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn scrape_accepts_results_and_result() {
        let v1 = json!({"success": true, "result": [
            {"selector": "#main", "results": [{"text": " first \n  para ", "html": "x"}, {"text": "second"}]},
            {"selector": "title", "results": [{"text": "The title"}]}]});
        let v2 = json!({"success": true, "result": [
            {"selector": "#main", "result": {"text": "only one"}},
            {"selector": "title", "result": []}]});
        match classify("/scrape", 200, None, Some(&v1)) {
            Outcome::Ok { text, title, matches, .. } => {
                assert_eq!(text, "first\npara\nsecond");
                assert_eq!(title.as_deref(), Some("The title"));
                assert_eq!(matches, Some(2));
            }
            o => panic!("{o:?}"),
        }
        match classify("/scrape", 200, None, Some(&v2)) {
            Outcome::Ok { text, title, matches, .. } => {
                assert_eq!((text.as_str(), title, matches), ("only one", None, Some(1)));
            }
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn statuses_are_classified_for_retries_and_the_breaker() {
        let err =
            json!({"success": false, "errors": [{"code": 1, "message": "Waiting for selector `#x` failed: timeout 2000ms exceeded"}]});
        assert_eq!(classify("/content", 429, Some("7"), None), Outcome::RateLimited { retry_after_secs: 7 });
        assert_eq!(classify("/content", 429, Some("Wed, 21 Oct 2015 07:28:00 GMT"), None), Outcome::RateLimited { retry_after_secs: 10 });
        assert!(matches!(classify("/content", 500, None, None), Outcome::ServiceFailure(_)));
        assert!(matches!(classify("/content", 503, None, Some(&err)), Outcome::ServiceFailure(_)));
        assert!(matches!(classify("/content", 401, None, None), Outcome::ServiceFailure(_)));
        assert!(matches!(classify("/content", 400, None, Some(&err)), Outcome::Rejected(_)));
        match classify("/scrape", 422, None, Some(&err)) {
            Outcome::PageError { message, timeout } => {
                assert!(timeout);
                assert!(message.contains("#x"), "{message}");
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(classify("/content", 200, None, None), Outcome::ServiceFailure(_)));
        assert!(matches!(classify("/content", 200, None, Some(&json!({"success": true}))), Outcome::ServiceFailure(_)));
        assert_eq!(Outcome::RateLimited { retry_after_secs: 1 }.breaker_verdict(), None);
        assert_eq!(Outcome::ServiceFailure("x".into()).breaker_verdict(), Some(false));
        assert_eq!(Outcome::PageError { message: "x".into(), timeout: true }.breaker_verdict(), Some(true));
    }

    #[test]
    fn nul_characters_never_reach_the_stored_text() {
        let (text, truncated) = cap("a\0b");
        assert_eq!((text.as_str(), truncated), ("a\u{FFFD}b", false));
        assert!(!cap(&html_to_text("<p>x&#0;y</p>")).0.contains('\0'), "an entity for NUL is stored as U+FFFD");
    }

    #[test]
    fn text_is_capped_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_CHARS + 10);
        let (t, truncated) = cap(&long);
        assert!(truncated);
        assert_eq!(t.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn entities_decode_and_unknown_ones_stay() {
        assert_eq!(decode_entities("a &lt;b&gt; &#65;&#x42; &bogus; & end &"), "a <b> AB &bogus; & end &");
    }

    proptest! {
        #[test]
        fn any_input_gives_normalised_text_without_panicking(s in ".{0,400}") {
            let t = html_to_text(&s);
            prop_assert!(!t.contains("  "));
            prop_assert_eq!(t.trim(), t.as_str());
            let _ = title_of(&s);
        }

        #[test]
        fn plain_text_survives(words in proptest::collection::vec("[a-z]{1,8}", 1..20)) {
            let s = words.join(" ");
            prop_assert_eq!(html_to_text(&format!("<div>{s}</div>")), s);
        }
    }
}
