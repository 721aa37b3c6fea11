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

/// A fetch answer's body as text, read with one call to the runtime's `Response.text()`. (worker's
/// `Response::text` pulls the body through a stream reader chunk by chunk, each chunk a promise crossing
/// the JS boundary: measurably more CPU per call, docs/adr/0019.)
pub async fn response_text(resp: worker::Response) -> Result<String, String> {
    let raw: web_sys::Response = resp.into();
    let promise = raw.text().map_err(|e| format!("{e:?}"))?;
    let v = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|e| format!("{e:?}"))?;
    v.as_string().ok_or_else(|| "the body is not text".to_string())
}

/// [`response_text`] parsed as JSON (`None` if either fails).
pub async fn response_json<T: serde::de::DeserializeOwned>(resp: worker::Response) -> Option<T> {
    serde_json::from_str(&response_text(resp).await.ok()?).ok()
}
