//! Metrics as Workers Analytics Engine data points (docs/observability.md gives the SQL). One dataset; the
//! first blob says what a point measures, so every query starts with `WHERE blob1 = '<kind>'`. The index
//! (Analytics Engine's sampling key) is the kind and its main dimension, so sampling keeps every route,
//! task type and event type represented.
//!
//! | kind | blobs | doubles |
//! |---|---|---|
//! | `request` | route, method, status class (`2xx`…) | duration ms, status |
//! | `job` | task type, outcome (`completed`, `failed`, `cancelled`, `retried`, `deferred`) | queue wait ms, run ms, attempts |
//! | `webhook` | event type, outcome (`applied`, `ignored`, `failed`) | lag s (from Stripe's `created`) |
//! | `credits` | movement (`deduct`, `refund`, `grant`) | amount |

/// One data point: what `writeDataPoint` takes.
#[derive(Debug, Clone, PartialEq)]
pub struct DataPoint {
    pub index: String,
    pub blobs: Vec<String>,
    pub doubles: Vec<f64>,
}

/// Analytics Engine allows 96 bytes per index.
const MAX_INDEX_BYTES: usize = 96;

fn point(kind: &str, dimension: &str, blobs: Vec<String>, doubles: Vec<f64>) -> DataPoint {
    let mut index = format!("{kind}:{dimension}");
    while index.len() > MAX_INDEX_BYTES {
        index.pop();
    }
    let mut all = vec![kind.to_string()];
    all.extend(blobs);
    DataPoint { index, blobs: all, doubles }
}

/// A request answered. `route` is the route's pattern (`GET /api/v1/jobs/{id}`), never the raw path, so
/// ids do not explode the dimension.
pub fn request(route: &str, method: &str, status: u16, duration_ms: f64) -> DataPoint {
    let class = format!("{}xx", status / 100);
    point("request", route, vec![route.into(), method.into(), class], vec![duration_ms, f64::from(status)])
}

/// A job delivery ended (or handed its attempt back).
pub fn job(task_type: &str, outcome: &str, queue_wait_ms: f64, run_ms: f64, attempts: u32) -> DataPoint {
    point("job", task_type, vec![task_type.into(), outcome.into()], vec![queue_wait_ms, run_ms, f64::from(attempts)])
}

/// A Stripe event processed; `lag_secs` from its `created` to now.
pub fn webhook(event_type: &str, outcome: &str, lag_secs: f64) -> DataPoint {
    point("webhook", event_type, vec![event_type.into(), outcome.into()], vec![lag_secs])
}

/// Credits moved (`deduct` at submission, `refund` when a job ends FAILED or CANCELLED, `grant`).
pub fn credits(movement: &str, amount: i64) -> DataPoint {
    point("credits", movement, vec![movement.into()], vec![amount as f64])
}

/// A lead analysis completed: its tier and whether the profile came from the cache; its cost in USD and
/// its duration (docs/adr/0018).
pub fn lead_analysis(tier: &str, cache_hit: bool, total_usd: f64, total_ms: f64) -> DataPoint {
    point("lead_analysis", tier, vec![tier.into(), if cache_hit { "hit" } else { "miss" }.into()], vec![total_usd, total_ms])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_lead_with_their_kind_and_index_by_their_dimension() {
        let p = request("GET /api/v1/jobs/{id}", "GET", 404, 12.5);
        assert_eq!(p.index, "request:GET /api/v1/jobs/{id}");
        assert_eq!(p.blobs, vec!["request", "GET /api/v1/jobs/{id}", "GET", "4xx"]);
        assert_eq!(p.doubles, vec![12.5, 404.0]);
        let j = job("http.request", "completed", 80.0, 35.0, 1);
        assert_eq!((j.blobs[0].as_str(), j.blobs[2].as_str(), j.doubles[2]), ("job", "completed", 1.0));
        assert_eq!(webhook("invoice.paid", "applied", 3.0).index, "webhook:invoice.paid");
        assert_eq!(credits("refund", 5).doubles, vec![5.0]);
        assert!(request(&"x".repeat(200), "GET", 200, 1.0).index.len() <= 96);
    }
}
