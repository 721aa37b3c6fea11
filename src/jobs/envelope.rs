//! The message a job queue carries (API.md "Queue envelope").

use super::model::{AccountId, JobId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The message a queue carries (API.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobEnvelope {
    pub job_id: JobId,
    pub attempt: u32,
    pub max_attempts: u32,
    pub correlation_id: String,
    pub task_type: String,
    pub payload: Value,
    pub meta: EnvelopeMeta,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeMeta {
    pub enqueue_ts: String,
    pub user_id: String,
    pub account_id: AccountId,
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_round_trips() {
        let e = JobEnvelope {
            job_id: JobId::parse("00000000-0000-4000-8000-000000000001").unwrap(),
            attempt: 0,
            max_attempts: 3,
            correlation_id: "c".into(),
            task_type: "http.request".into(),
            payload: json!({"url": "https://a.b"}),
            meta: EnvelopeMeta {
                enqueue_ts: "t".into(),
                user_id: "u".into(),
                account_id: AccountId::parse("00000000-0000-4000-8000-0000000000aa").unwrap(),
                source: "api".into(),
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["meta"]["source"], "api");
        assert_eq!(serde_json::from_value::<JobEnvelope>(v).unwrap(), e);
    }
}
