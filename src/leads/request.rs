//! The lead routes' request bodies, validated against allow-lists: every bad field is named in one 400.

use super::Tier;
use crate::contract::error::ApiError;
use crate::domain::ssrf::DenyList;
use crate::jobs::payloads::parse_job_url;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Most profile URLs in one bulk request.
pub const MAX_BULK: usize = 50;

const NAME_MAX: usize = 200;
const DESCRIPTION_MAX: usize = 4_000;
const IDEAL_CUSTOMER_MAX: usize = 2_000;

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Fields {
    fn bad(&mut self, field: impl Into<String>, why: impl Into<String>) {
        self.0.insert(field.into(), Value::from(why.into()));
    }
    fn done<T>(self, ok: impl FnOnce() -> T) -> Result<T, ApiError> {
        if self.0.is_empty() {
            Ok(ok())
        } else {
            Err(ApiError::invalid_fields(self.0))
        }
    }
}

/// A profile URL as leads are keyed: the job URL grammar, a destination the deny-list allows, then
/// normalised (scheme and host lower case by the WHATWG parse, default port and fragment dropped, no
/// trailing slash on the path).
pub fn normalise_profile_url(raw: &str, deny: &DenyList) -> Result<String, &'static str> {
    let u = parse_job_url(raw)?;
    if !deny.allows(&u) {
        return Err("destination not allowed (private, loopback or internal address)");
    }
    let mut s = u.to_string();
    if let Some(q) = s.find('?') {
        let (path, query) = s.split_at(q);
        s = format!("{}{}", path.trim_end_matches('/'), query);
    } else {
        while s.ends_with('/') && s.matches('/').count() > 2 {
            s.pop();
        }
    }
    // `https://host/` keeps no slash either: the host alone names the same page.
    Ok(s.trim_end_matches('/').to_string())
}

fn tier_of(v: Option<&Value>, f: &mut Fields) -> Option<Tier> {
    match v.and_then(Value::as_str).and_then(Tier::parse) {
        Some(t) => Some(t),
        None => {
            f.bad("tier", "must be one of LIGHT, DEEP, XRAY");
            None
        }
    }
}

fn uuid_of(field: &str, v: Option<&Value>, f: &mut Fields) -> Option<String> {
    match v.and_then(Value::as_str).and_then(|s| uuid::Uuid::parse_str(s).ok()) {
        Some(u) => Some(u.hyphenated().to_string()),
        None => {
            f.bad(field, "must be a UUID");
            None
        }
    }
}

fn url_of(field: &str, v: Option<&Value>, deny: &DenyList, f: &mut Fields) -> Option<String> {
    match v.and_then(Value::as_str) {
        None => {
            f.bad(field, "required string");
            None
        }
        Some(s) => match normalise_profile_url(s, deny) {
            Ok(u) => Some(u),
            Err(why) => {
                f.bad(field, why);
                None
            }
        },
    }
}

fn object(body: &Value, allowed: &[&str], f: &mut Fields) -> Option<Map<String, Value>> {
    let Some(m) = body.as_object() else {
        f.bad("body", "must be a JSON object");
        return None;
    };
    for k in m.keys().filter(|k| !allowed.contains(&k.as_str())) {
        f.bad(k.clone(), "unknown field");
    }
    Some(m.clone())
}

/// `POST /api/v1/leads/analyze` and `/leads/analyze/bulk`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzeRequest {
    pub profile_urls: Vec<String>,
    pub tier: Tier,
    pub business_profile_id: String,
    pub bulk: bool,
}

impl AnalyzeRequest {
    pub fn parse_one(body: &Value, deny: &DenyList) -> Result<AnalyzeRequest, ApiError> {
        let mut f = Fields::default();
        let Some(m) = object(body, &["profile_url", "tier", "business_profile_id"], &mut f) else { return f.done(|| unreachable!()) };
        let url = url_of("profile_url", m.get("profile_url"), deny, &mut f);
        let tier = tier_of(m.get("tier"), &mut f);
        let bp = uuid_of("business_profile_id", m.get("business_profile_id"), &mut f);
        f.done(|| AnalyzeRequest {
            profile_urls: vec![url.expect("checked")],
            tier: tier.expect("checked"),
            business_profile_id: bp.expect("checked"),
            bulk: false,
        })
    }

    pub fn parse_bulk(body: &Value, deny: &DenyList) -> Result<AnalyzeRequest, ApiError> {
        let mut f = Fields::default();
        let Some(m) = object(body, &["profile_urls", "tier", "business_profile_id"], &mut f) else { return f.done(|| unreachable!()) };
        let tier = tier_of(m.get("tier"), &mut f);
        let bp = uuid_of("business_profile_id", m.get("business_profile_id"), &mut f);
        let mut urls: Vec<String> = Vec::new();
        match m.get("profile_urls").and_then(Value::as_array) {
            None => f.bad("profile_urls", format!("required array of 1 to {MAX_BULK} URLs")),
            Some(a) if a.is_empty() || a.len() > MAX_BULK => f.bad("profile_urls", format!("must hold 1 to {MAX_BULK} URLs")),
            Some(a) => {
                for (i, v) in a.iter().enumerate() {
                    let field = format!("profile_urls[{i}]");
                    // URLs that name the same lead once normalised are analysed once.
                    if let Some(u) = url_of(&field, Some(v), deny, &mut f).filter(|u| !urls.contains(u)) {
                        urls.push(u);
                    }
                }
            }
        }
        f.done(|| AnalyzeRequest {
            profile_urls: urls,
            tier: tier.expect("checked"),
            business_profile_id: bp.expect("checked"),
            bulk: true,
        })
    }
}

/// `POST /api/v1/business-profiles` and `PUT /api/v1/business-profiles/{id}` (a full replacement).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BusinessProfileInput {
    pub name: String,
    pub description: String,
    pub ideal_customer: String,
    pub website: Option<String>,
}

impl BusinessProfileInput {
    pub fn parse(body: &Value) -> Result<BusinessProfileInput, ApiError> {
        let mut f = Fields::default();
        let Some(m) = object(body, &["name", "description", "ideal_customer", "website"], &mut f) else { return f.done(|| unreachable!()) };
        let mut text = |field: &str, max: usize, required: bool| -> Option<String> {
            match m.get(field) {
                None | Some(Value::Null) if !required => Some(String::new()),
                Some(Value::String(s)) => {
                    let t = s.trim();
                    if required && t.is_empty() {
                        f.bad(field, "must not be empty");
                        None
                    } else if t.chars().count() > max || t.contains('\0') {
                        f.bad(field, format!("must be at most {max} characters of text"));
                        None
                    } else {
                        Some(t.to_string())
                    }
                }
                _ => {
                    f.bad(field, if required { "required string" } else { "must be a string" });
                    None
                }
            }
        };
        let name = text("name", NAME_MAX, true);
        let description = text("description", DESCRIPTION_MAX, true);
        let ideal_customer = text("ideal_customer", IDEAL_CUSTOMER_MAX, false);
        let website = match m.get("website") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match parse_job_url(s) {
                Ok(u) => Some(u.to_string()),
                Err(why) => {
                    f.bad("website", why);
                    None
                }
            },
            Some(_) => {
                f.bad("website", "must be a URL string or null");
                None
            }
        };
        f.done(|| BusinessProfileInput {
            name: name.expect("checked"),
            description: description.expect("checked"),
            ideal_customer: ideal_customer.expect("checked"),
            website,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deny() -> DenyList {
        DenyList::parse(crate::domain::ssrf::DEFAULT_DENY).unwrap()
    }

    fn fields(e: ApiError) -> Value {
        match e {
            ApiError::InvalidRequest { details: Some(d), .. } => d["fields"].clone(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn profile_urls_are_normalised() {
        let d = deny();
        assert_eq!(normalise_profile_url("https://Example.COM/in/Ann/", &d).unwrap(), "https://example.com/in/Ann");
        assert_eq!(normalise_profile_url("https://example.com:443/in/ann", &d).unwrap(), "https://example.com/in/ann");
        assert_eq!(normalise_profile_url("https://example.com/", &d).unwrap(), "https://example.com");
        assert_eq!(normalise_profile_url("https://example.com/p/?id=7", &d).unwrap(), "https://example.com/p?id=7");
        assert!(normalise_profile_url("https://example.com/#x", &d).is_err(), "fragments are outside the grammar");
        assert!(normalise_profile_url("ftp://example.com", &d).is_err());
        assert!(normalise_profile_url("http://10.0.0.1/x", &d).is_err(), "private destinations are refused");
    }

    #[test]
    fn analyze_names_every_bad_field() {
        let d = deny();
        let ok = AnalyzeRequest::parse_one(
            &json!({"profile_url": "https://a.example/x/", "tier": "DEEP", "business_profile_id": "6F9619FF-8B86-4011-B42D-00C04FC964FF"}),
            &d,
        )
        .unwrap();
        assert_eq!(ok.profile_urls, vec!["https://a.example/x"]);
        assert_eq!(ok.business_profile_id, "6f9619ff-8b86-4011-b42d-00c04fc964ff");
        let e = fields(AnalyzeRequest::parse_one(&json!({"profile_url": 3, "tier": "deep", "extra": 1}), &d).unwrap_err());
        for k in ["profile_url", "tier", "business_profile_id", "extra"] {
            assert!(e.get(k).is_some(), "{k} named in {e}");
        }
        assert!(fields(AnalyzeRequest::parse_one(&json!([1]), &d).unwrap_err()).get("body").is_some());
    }

    #[test]
    fn bulk_checks_count_and_each_url_and_analyses_a_lead_once() {
        let d = deny();
        let bp = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
        let e = fields(
            AnalyzeRequest::parse_bulk(
                &json!({"profile_urls": ["https://a.example/1", "nope", "https://A.example/1/"], "tier": "LIGHT", "business_profile_id": bp}),
                &d,
            )
            .unwrap_err(),
        );
        assert!(e.get("profile_urls[1]").is_some(), "{e}");
        assert!(e.get("profile_urls[2]").is_none(), "{e}");
        let r = AnalyzeRequest::parse_bulk(
            &json!({"profile_urls": ["https://a.example/1", "https://A.example/1/"], "tier": "LIGHT", "business_profile_id": bp}),
            &d,
        )
        .unwrap();
        assert_eq!(r.profile_urls, vec!["https://a.example/1"], "the same lead once");
        let many: Vec<String> = (0..51).map(|i| format!("https://a.example/{i}")).collect();
        let e =
            fields(AnalyzeRequest::parse_bulk(&json!({"profile_urls": many, "tier": "LIGHT", "business_profile_id": bp}), &d).unwrap_err());
        assert!(e.get("profile_urls").is_some());
        let fifty: Vec<String> = (0..50).map(|i| format!("https://a.example/{i}")).collect();
        assert_eq!(
            AnalyzeRequest::parse_bulk(&json!({"profile_urls": fifty, "tier": "XRAY", "business_profile_id": bp}), &d)
                .unwrap()
                .profile_urls
                .len(),
            50
        );
    }

    #[test]
    fn business_profiles_are_trimmed_and_bounded() {
        let p =
            BusinessProfileInput::parse(&json!({"name": " Acme ", "description": "Rockets", "website": "https://acme.example"})).unwrap();
        assert_eq!((p.name.as_str(), p.ideal_customer.as_str(), p.website.as_deref()), ("Acme", "", Some("https://acme.example/")));
        let e = fields(
            BusinessProfileInput::parse(&json!({"name": "", "description": "x".repeat(4001), "website": "nope", "x": 1})).unwrap_err(),
        );
        for k in ["name", "description", "website", "x"] {
            assert!(e.get(k).is_some(), "{k} named in {e}");
        }
    }
}
