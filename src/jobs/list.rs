//! `GET /api/v1/jobs` query parameters.

use super::model::JobStatus;
use super::task_types::TaskType;
use crate::contract::error::ApiError;
use serde_json::{Map, Value};

/// `GET /api/v1/jobs` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub page: u32,
    pub page_size: u32,
    pub status: Option<JobStatus>,
    pub task_type: Option<String>,
}

impl ListQuery {
    pub fn parse<'a>(pairs: impl Iterator<Item = (String, String)> + 'a) -> Result<ListQuery, ApiError> {
        let mut q = ListQuery { page: 1, page_size: 50, status: None, task_type: None };
        let mut f = Map::new();
        for (k, v) in pairs {
            match k.as_str() {
                "page" => match v.parse::<u32>() {
                    Ok(n) if n >= 1 => q.page = n,
                    _ => {
                        f.insert("page".into(), Value::from("must be an integer >= 1"));
                    }
                },
                "page_size" => match v.parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => q.page_size = n,
                    _ => {
                        f.insert("page_size".into(), Value::from("must be an integer from 1 to 100"));
                    }
                },
                "status" if JobStatus::parse(&v).is_some() => q.status = JobStatus::parse(&v),
                "status" => {
                    f.insert("status".into(), Value::from("must be one of PENDING, RUNNING, COMPLETED, FAILED, CANCELLED"));
                }
                "task_type" if TaskType::parse(&v).is_some() => q.task_type = Some(v),
                "task_type" => {
                    f.insert("task_type".into(), Value::from("unknown task type"));
                }
                other => {
                    f.insert(other.to_string(), Value::from("unknown query parameter"));
                }
            }
        }
        // The database takes the offset as an integer: a page past it is past every list.
        if f.is_empty() && q.offset() > i32::MAX as u64 {
            f.insert("page".into(), Value::from("is past the end of any list"));
        }
        if f.is_empty() {
            Ok(q)
        } else {
            Err(ApiError::invalid_fields(f))
        }
    }

    pub fn offset(&self) -> u64 {
        (self.page as u64 - 1) * self.page_size as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_defaults_caps_and_rejects() {
        let q = ListQuery::parse(std::iter::empty()).unwrap();
        assert_eq!((q.page, q.page_size), (1, 50));
        let q = ListQuery::parse(vec![("page".into(), "3".into()), ("page_size".into(), "20".into())].into_iter()).unwrap();
        assert_eq!(q.offset(), 40);
        for (k, v) in [("page", "0"), ("page", "50000000"), ("page_size", "101"), ("page_size", "x"), ("status", "DONE"), ("sort", "id")] {
            assert!(ListQuery::parse(vec![(k.to_string(), v.to_string())].into_iter()).is_err(), "{k}={v}");
        }
    }
}
