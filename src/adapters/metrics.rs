//! Writes metrics to Workers Analytics Engine (`METRICS`, docs/observability.md). `writeDataPoint` is
//! fire-and-forget by design (no await, no subrequest); without the binding, metrics are skipped.

use crate::observability::metrics::DataPoint;
use std::cell::Cell;
use worker::{AnalyticsEngineDataPointBuilder, AnalyticsEngineDataset, Env};

thread_local! {
    static ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// `METRICS_ENABLED`, applied per isolate with the rest of the configuration.
pub fn set_enabled(on: bool) {
    ENABLED.with(|e| e.set(on));
}

pub fn write(env: &Env, point: DataPoint) {
    if !ENABLED.with(Cell::get) {
        return;
    }
    let Ok(dataset) = env.get_binding::<AnalyticsEngineDataset>(crate::config::bindings::METRICS) else { return };
    let built = AnalyticsEngineDataPointBuilder::new()
        .indexes([point.index.as_str()])
        .blobs(point.blobs.iter().map(String::as_str))
        .doubles(point.doubles)
        .build();
    if let Err(e) = dataset.write_data_point(&built) {
        crate::log::warn("metrics: data point not written", serde_json::json!({ "error": e.to_string() }));
    }
}
