//! Batches (docs/adr/0016): the `POST /api/v1/batches` body, validated all or nothing, the batch as the
//! database returns it, and how a batch's envelopes are cut into Queues `sendBatch` calls.

use super::model::JobSummary;
use super::payloads::{parse_idempotency_key_value, SubmitJob, ValidSubmission};
use super::task_types::disabled_flag;
use super::task_types::TaskType;
use crate::contract::error::ApiError;
use crate::contract::time as utc;
use crate::domain::ssrf::DenyList;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Items in one batch.
pub const MAX_ITEMS: usize = 100;
/// Queues: at most 100 messages and 256 KB per `sendBatch` call, each message counting ~100 bytes of
/// metadata (<https://developers.cloudflare.com/queues/platform/limits/>).
pub const QUEUE_BATCH_MESSAGES: usize = 100;
pub const QUEUE_BATCH_BYTES: usize = 256_000;
pub const QUEUE_MESSAGE_OVERHEAD: usize = 100;

/// A batch item as submitted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    task_type: String,
    payload: Value,
    #[serde(default)]
    max_attempts: Option<Value>,
    #[serde(default)]
    idempotency_key: Option<Value>,
}

/// A validated item: the canonical submission and its own idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidItem {
    pub submission: ValidSubmission,
    pub idempotency_key: Option<String>,
}

impl ValidItem {
    /// The item as `submit_batch` takes it.
    pub fn to_sql(&self) -> Value {
        let mut v = json!({
            "task_type": self.submission.task_type.as_str(),
            "payload": self.submission.payload,
            "max_attempts": self.submission.max_attempts,
        });
        if let Some(k) = &self.idempotency_key {
            v["idempotency_key"] = Value::from(k.as_str());
        }
        v
    }
}

/// Moves an error's `details.fields` under `items[i].`; other errors become one field of the item.
fn item_fields(i: usize, e: ApiError, out: &mut Map<String, Value>) {
    let fields = match &e {
        ApiError::InvalidRequest { details: Some(d), .. } => d.get("fields").and_then(Value::as_object).cloned(),
        _ => None,
    };
    match fields {
        Some(f) => {
            for (k, v) in f {
                out.insert(format!("items[{i}].{k}"), v);
            }
        }
        None => {
            out.insert(format!("items[{i}]"), Value::from(e.public_message()));
        }
    }
}

/// Which field a serde error for an item names (its message says "missing field `x`" or "unknown field `x`").
fn serde_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(msg[start..start + len].to_string())
}

/// Validates a batch body's items, every one of them: the error names each bad item by index and field
/// (`items[3].payload.url`), so a client fixes them all at once. A disabled task type is 503
/// `feature_disabled` naming the flag and the first item that needs it.
pub fn validate(items: Value, deny: &DenyList, flags: &[(&'static str, bool)]) -> Result<Vec<ValidItem>, ApiError> {
    let mut fields = Map::new();
    let items = match items {
        Value::Array(a) if (1..=MAX_ITEMS).contains(&a.len()) => a,
        _ => {
            fields.insert("items".into(), Value::from(format!("must be an array of 1 to {MAX_ITEMS} items")));
            return Err(ApiError::invalid_fields(fields));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    let mut keys: HashMap<String, usize> = HashMap::new();
    for (i, raw) in items.into_iter().enumerate() {
        let item: RawItem = match serde_json::from_value(raw) {
            Ok(it) => it,
            Err(e) => {
                let msg = e.to_string();
                let at = serde_field(&msg).map_or(format!("items[{i}]"), |f| format!("items[{i}].{f}"));
                fields.insert(at, Value::from(msg));
                continue;
            }
        };
        if let Some(task) = TaskType::parse(&item.task_type) {
            if let Some(flag) = disabled_flag(task, flags) {
                return Err(ApiError::FeatureDisabled {
                    message: format!("task type {} is disabled", item.task_type),
                    details: json!({ "flag": flag, "index": i }),
                });
            }
        }
        let key = match item.idempotency_key.as_ref().map(parse_idempotency_key_value) {
            None => None,
            Some(Ok(k)) => Some(k),
            Some(Err(why)) => {
                fields.insert(format!("items[{i}].idempotency_key"), Value::from(why));
                None
            }
        };
        if let Some(k) = &key {
            if let Some(first) = keys.insert(k.clone(), i) {
                fields.insert(format!("items[{i}].idempotency_key"), Value::from(format!("repeats the key of items[{first}]")));
            }
        }
        let submit = SubmitJob { task_type: item.task_type, payload: item.payload, max_attempts: item.max_attempts };
        match submit.validate(deny) {
            Ok(submission) => out.push(ValidItem { submission, idempotency_key: key }),
            Err(e) => item_fields(i, e, &mut fields),
        }
    }
    if fields.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::invalid_fields(fields))
    }
}

/// Cuts messages of these serialised sizes into `sendBatch` calls within the Queues limits, keeping
/// their order. A single message over the byte limit is never produced here (payloads are capped far
/// below it), but it would still get a call of its own.
pub fn queue_chunks(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        let cost = size + QUEUE_MESSAGE_OVERHEAD;
        if i > start && (i - start == QUEUE_BATCH_MESSAGES || bytes + cost > QUEUE_BATCH_BYTES) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += cost;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

/// Item counts by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Counts {
    pub pending: u32,
    pub running: u32,
    pub completed: u32,
    pub failed: u32,
    pub cancelled: u32,
}

/// Whether every item is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BatchStatus {
    Running,
    Finished,
}

/// A batch as `private.batch_view` builds it (`Batch` in docs/openapi.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchView {
    pub id: String,
    pub status: BatchStatus,
    pub total: u32,
    pub counts: Counts,
    pub progress: u8,
    pub credits_charged: i64,
    pub credits_refunded: i64,
    pub cancel_requested: bool,
    pub correlation_id: String,
    #[serde(deserialize_with = "utc::de_utc")]
    pub created_at: String,
    #[serde(default, deserialize_with = "utc::de_utc_opt")]
    pub finished_at: Option<String>,
}

/// A page of a batch's items, in submission order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemPage {
    pub data: Vec<JobSummary>,
    pub has_more: bool,
}

/// `get_batch`'s answer: the batch and a page of its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchDetail {
    #[serde(flatten)]
    pub batch: BatchView,
    pub items: ItemPage,
}

/// The `data` of an SSE `batch` frame (`BatchProgress` in docs/openapi.json), built by JobHub from the
/// item frames it has seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchFrame {
    pub id: String,
    pub status: BatchStatus,
    pub total: u32,
    pub counts: Counts,
    pub progress: u8,
    pub cancel_requested: bool,
}

impl BatchFrame {
    /// The frame for `total` items of which `counts` are known (items not seen yet count as pending).
    pub fn new(id: &str, total: u32, mut counts: Counts, cancel_requested: bool) -> BatchFrame {
        let seen = counts.pending + counts.running + counts.completed + counts.failed + counts.cancelled;
        counts.pending += total.saturating_sub(seen);
        let done = counts.completed + counts.failed + counts.cancelled;
        let status = if done >= total { BatchStatus::Finished } else { BatchStatus::Running };
        let progress = (done.min(total) * 100).checked_div(total).unwrap_or(100) as u8;
        BatchFrame { id: id.to_string(), status, total, counts, progress, cancel_requested }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ssrf::DEFAULT_DENY;

    fn deny() -> DenyList {
        DenyList::parse(DEFAULT_DENY).unwrap()
    }

    fn ok_item(n: usize) -> Value {
        json!({ "task_type": "http.request", "payload": { "url": format!("https://example.com/{n}") } })
    }

    const FLAGS: &[(&str, bool)] = &[("FF_BROWSER_WORKER_ENABLED", true), ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", true)];

    fn fields(e: ApiError) -> Map<String, Value> {
        match e {
            ApiError::InvalidRequest { details: Some(d), .. } => d["fields"].as_object().unwrap().clone(),
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn every_bad_item_is_named_by_index_and_field() {
        let items = json!([
            ok_item(0),
            { "task_type": "http.request", "payload": { "url": "ftp://x.example" } },
            ok_item(2),
            { "task_type": "nope", "payload": {} },
            { "task_type": "http.request", "payload": { "url": "https://a.example" }, "max_attempts": 0, "extra": 1 },
            { "task_type": "http.request", "payload": { "url": "https://b.example" }, "idempotency_key": "k" },
            { "task_type": "http.request", "payload": { "url": "https://c.example" }, "idempotency_key": "k" },
            { "payload": {} },
        ]);
        let f = fields(validate(items, &deny(), FLAGS).unwrap_err());
        let keys: Vec<&str> = f.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec!["items[1].payload.url", "items[3].task_type", "items[4].extra", "items[6].idempotency_key", "items[7].task_type"],
            "{f:?}"
        );
        assert_eq!(f["items[6].idempotency_key"], "repeats the key of items[5]");
    }

    #[test]
    fn the_item_count_is_1_to_100() {
        for bad in [json!([]), json!({}), json!("x"), Value::Array((0..101).map(ok_item).collect())] {
            assert!(fields(validate(bad, &deny(), FLAGS).unwrap_err()).contains_key("items"));
        }
        let hundred = validate(Value::Array((0..100).map(ok_item).collect()), &deny(), FLAGS).unwrap();
        assert_eq!(hundred.len(), 100);
        assert_eq!(
            hundred[7].to_sql(),
            json!({ "task_type": "http.request", "max_attempts": 3,
            "payload": { "url": "https://example.com/7", "method": "GET", "timeout_ms": 10000 } })
        );
    }

    #[test]
    fn a_disabled_task_type_names_its_flag_and_item() {
        let items = json!([ok_item(0), { "task_type": "browser.extract_text", "payload": { "url": "https://example.com" } }]);
        let off = &[("FF_BROWSER_WORKER_ENABLED", false), ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", true)];
        match validate(items, &deny(), off).unwrap_err() {
            ApiError::FeatureDisabled { details, .. } => assert_eq!(details, json!({ "flag": "FF_BROWSER_WORKER_ENABLED", "index": 1 })),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queue_chunks_respect_count_and_bytes_and_keep_order() {
        assert_eq!(queue_chunks(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(queue_chunks(&[500; 100]), vec![0..100]);
        assert_eq!(queue_chunks(&[500; 101]), vec![0..100, 100..101]);
        // 30 KB messages: 8 fit in 256 KB (8 × 30,100 = 240,800), the 9th would not.
        assert_eq!(queue_chunks(&[30_000; 20]), vec![0..8, 8..16, 16..20]);
        assert_eq!(queue_chunks(&[300_000, 10]), vec![0..1, 1..2], "an oversized message gets a call of its own");
        for (sizes, n) in [(vec![1000; 250], 3), (vec![20_000; 100], 9)] {
            let chunks = queue_chunks(&sizes);
            assert_eq!(chunks.len(), n);
            for c in &chunks {
                assert!(c.len() <= QUEUE_BATCH_MESSAGES);
                assert!(sizes[c.clone()].iter().map(|s| s + QUEUE_MESSAGE_OVERHEAD).sum::<usize>() <= QUEUE_BATCH_BYTES);
            }
        }
    }

    #[test]
    fn batch_frames_count_unseen_items_as_pending() {
        let f = BatchFrame::new("b", 4, Counts { completed: 1, running: 1, ..Counts::default() }, false);
        assert_eq!((f.counts.pending, f.progress, f.status), (2, 25, BatchStatus::Running));
        let f = BatchFrame::new("b", 4, Counts { completed: 2, failed: 1, cancelled: 1, ..Counts::default() }, true);
        assert_eq!((f.counts.pending, f.progress, f.status), (0, 100, BatchStatus::Finished));
    }
}
