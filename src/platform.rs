//! Small wrappers over the runtime's globals (clock, UUIDs). Only callable inside workerd.

use wasm_bindgen::JsCast;

/// Current time as RFC 3339 UTC with milliseconds, e.g. `2026-11-24T12:00:00.000Z`.
pub fn now_rfc3339() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

/// Milliseconds since the epoch (as precise as the runtime exposes).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A random (v4) UUID from the runtime's CSPRNG.
pub fn random_uuid() -> String {
    js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>().crypto().expect("workerd always exposes crypto").random_uuid()
}
