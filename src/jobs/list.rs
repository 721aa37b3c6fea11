//! List query parameters: cursor pagination like Stripe's (docs/adr/0015) and the jobs list's filters.

use super::model::JobStatus;
use super::task_types::TaskType;
use crate::contract::error::ApiError;
use serde_json::{Map, Value};

/// A page of a newest-first list: at most `limit` items after (older than) `starting_after` and/or before
/// (newer than) `ending_before` (both: the items between, read from `starting_after`); the cursors are ids
/// of items of the same list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub starting_after: Option<String>,
    pub ending_before: Option<String>,
}

/// `GET /api/v1/leads` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadListQuery {
    pub page: Page,
    pub min_score: Option<u8>,
    /// The recycle bin: soft-deleted leads instead of live ones.
    pub deleted: bool,
}

/// `GET /api/v1/jobs` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: Page,
    pub status: Option<JobStatus>,
    pub task_type: Option<String>,
}

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36 && b.iter().enumerate().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() })
}

impl Page {
    /// Takes the pagination parameters out of `pairs`, leaving the others; bad values go to `f`.
    fn take(pairs: &mut Vec<(String, String)>, f: &mut Map<String, Value>) -> Page {
        let mut page = Page { limit: DEFAULT_LIMIT, starting_after: None, ending_before: None };
        pairs.retain(|(k, v)| {
            match k.as_str() {
                "limit" => match v.parse::<u32>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => page.limit = n,
                    _ => {
                        f.insert("limit".into(), Value::from(format!("must be an integer from 1 to {MAX_LIMIT}")));
                    }
                },
                "starting_after" | "ending_before" if !is_uuid(v) => {
                    f.insert(k.clone(), Value::from("must be the id of an item of this list"));
                }
                "starting_after" => page.starting_after = Some(v.to_ascii_lowercase()),
                "ending_before" => page.ending_before = Some(v.to_ascii_lowercase()),
                _ => return true,
            }
            false
        });
        page
    }

    /// A list with no parameters but the pagination ones.
    pub fn parse(pairs: impl Iterator<Item = (String, String)>) -> Result<Page, ApiError> {
        let mut rest: Vec<(String, String)> = pairs.collect();
        let mut f = Map::new();
        let page = Page::take(&mut rest, &mut f);
        unknown(&rest, &mut f);
        if f.is_empty() {
            Ok(page)
        } else {
            Err(ApiError::invalid_fields(f))
        }
    }
}

fn unknown(rest: &[(String, String)], f: &mut Map<String, Value>) {
    for (k, _) in rest {
        f.insert(k.clone(), Value::from("unknown query parameter"));
    }
}

impl ListQuery {
    pub fn parse(pairs: impl Iterator<Item = (String, String)>) -> Result<ListQuery, ApiError> {
        let mut rest: Vec<(String, String)> = pairs.collect();
        let mut f = Map::new();
        let page = Page::take(&mut rest, &mut f);
        let mut q = ListQuery { page, status: None, task_type: None };
        rest.retain(|(k, v)| {
            match k.as_str() {
                "status" if JobStatus::parse(v).is_some() => q.status = JobStatus::parse(v),
                "status" => {
                    f.insert("status".into(), Value::from("must be one of PENDING, RUNNING, COMPLETED, FAILED, CANCELLED"));
                }
                "task_type" if TaskType::parse(v).is_some() => q.task_type = TaskType::parse(v).map(|t| t.as_str().to_string()),
                "task_type" => {
                    f.insert("task_type".into(), Value::from("unknown task type"));
                }
                _ => return true,
            }
            false
        });
        unknown(&rest, &mut f);
        if f.is_empty() {
            Ok(q)
        } else {
            Err(ApiError::invalid_fields(f))
        }
    }
}

impl LeadListQuery {
    pub fn parse(pairs: impl Iterator<Item = (String, String)>) -> Result<LeadListQuery, ApiError> {
        let mut rest: Vec<(String, String)> = pairs.collect();
        let mut f = Map::new();
        let page = Page::take(&mut rest, &mut f);
        let mut q = LeadListQuery { page, min_score: None, deleted: false };
        rest.retain(|(k, v)| {
            match (k.as_str(), v.as_str()) {
                ("min_score", v) => match v.parse::<u8>() {
                    Ok(n) if n <= 100 => q.min_score = Some(n),
                    _ => {
                        f.insert("min_score".into(), Value::from("must be an integer from 0 to 100"));
                    }
                },
                ("deleted", "true") => q.deleted = true,
                ("deleted", "false") => q.deleted = false,
                ("deleted", _) => {
                    f.insert("deleted".into(), Value::from("must be true or false"));
                }
                _ => return true,
            }
            false
        });
        unknown(&rest, &mut f);
        if f.is_empty() {
            Ok(q)
        } else {
            Err(ApiError::invalid_fields(f))
        }
    }
}

/// `GET /api/v1/usage/daily?days=N`: 1 to 90 days, 30 when absent.
pub fn usage_days(pairs: impl Iterator<Item = (String, String)>) -> Result<u32, ApiError> {
    let mut days = 30;
    let mut f = Map::new();
    for (k, v) in pairs {
        match k.as_str() {
            "days" => match v.parse::<u32>() {
                Ok(n) if (1..=90).contains(&n) => days = n,
                _ => {
                    f.insert("days".into(), Value::from("must be an integer from 1 to 90"));
                }
            },
            _ => {
                f.insert(k, Value::from("unknown query parameter"));
            }
        }
    }
    if f.is_empty() {
        Ok(days)
    } else {
        Err(ApiError::invalid_fields(f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_days_are_bounded_and_nothing_else_is_accepted() {
        let parse = |pairs: &[(&str, &str)]| usage_days(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(parse(&[]).unwrap(), 30);
        assert_eq!(parse(&[("days", "7")]).unwrap(), 7);
        assert_eq!(parse(&[("days", "90")]).unwrap(), 90);
        for bad in ["0", "91", "-1", "7.5", "", "x"] {
            assert!(parse(&[("days", bad)]).is_err(), "{bad}");
        }
        assert!(parse(&[("since", "2026-01-01")]).is_err());
    }

    #[test]
    fn lead_list_filters() {
        let parse = |pairs: &[(&str, &str)]| LeadListQuery::parse(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let q = parse(&[("min_score", "70"), ("deleted", "true"), ("limit", "5")]).unwrap();
        assert_eq!((q.min_score, q.deleted, q.page.limit), (Some(70), true, 5));
        assert!(parse(&[("min_score", "101")]).is_err());
        assert!(parse(&[("deleted", "yes")]).is_err());
        assert!(parse(&[("status", "RUNNING")]).is_err(), "unknown parameters are refused");
    }

    fn q(pairs: &[(&str, &str)]) -> Result<ListQuery, ApiError> {
        ListQuery::parse(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn list_query_defaults_caps_and_rejects() {
        let d = q(&[]).unwrap();
        assert_eq!(d.page, Page { limit: DEFAULT_LIMIT, starting_after: None, ending_before: None });
        let id = "0B6C1F5E-8A43-4E0C-9D4B-7C2E5A1F3D20";
        let p = q(&[("limit", "100"), ("starting_after", id), ("status", "RUNNING")]).unwrap();
        assert_eq!((p.page.limit, p.page.starting_after.as_deref()), (100, Some(id.to_ascii_lowercase().as_str())));
        assert_eq!(p.status, Some(JobStatus::Running));
        for bad in [
            &[("limit", "0")][..],
            &[("limit", "101")],
            &[("limit", "x")],
            &[("page", "2")],
            &[("starting_after", "job_1")],
            &[("ending_before", "")],
            &[("status", "DONE")],
            &[("task_type", "")],
            &[("sort", "id")],
        ] {
            let err = q(bad).unwrap_err();
            assert_eq!(err.status(), 400, "{bad:?}");
            let fields = &err.details()["fields"];
            assert!(fields.as_object().is_some_and(|m| !m.is_empty()), "{bad:?} names its field");
        }
    }

    #[test]
    fn pages_without_filters_refuse_the_filters() {
        assert!(Page::parse(vec![("status".to_string(), "PENDING".to_string())].into_iter()).is_err());
        assert_eq!(Page::parse(std::iter::empty()).unwrap().limit, DEFAULT_LIMIT);
    }
}
