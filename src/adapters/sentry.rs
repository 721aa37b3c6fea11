//! Sends error reports to Sentry's envelope endpoint over Fetch (docs/observability.md). Best effort and
//! bounded: a report that cannot be sent within [`TIMEOUT_MS`] is logged and dropped, never retried and
//! never an error of the caller. Request paths hand [`send`] to `ctx.wait_until`, so reporting never
//! delays or fails the response.

use crate::config::Reporting;
use crate::log;
use crate::observability::sentry::{envelope, Report};
use serde_json::json;
use worker::{Fetch, Headers, Method, Request, RequestInit};

pub const TIMEOUT_MS: u32 = 5_000;

/// Sends `report` if reporting is configured. Never fails.
pub async fn send(reporting: &Reporting, report: Report) {
    let Some(dsn) = &reporting.dsn else { return };
    let event_id = crate::platform::random_uuid().replace('-', "");
    let body = envelope(&report, &reporting.source, &event_id, &crate::platform::now_rfc3339());
    let headers = Headers::new();
    let prepared = headers
        .set("Content-Type", "application/x-sentry-envelope")
        .and_then(|_| headers.set("X-Sentry-Auth", &dsn.auth_header()))
        .and_then(|_| {
            let mut init = RequestInit::new();
            init.with_method(Method::Post).with_headers(headers.clone()).with_body(Some(body.into()));
            Request::new_with_init(&dsn.envelope_url, &init)
        });
    let request_id = report.tags.iter().find(|(k, _)| *k == "request_id").map(|(_, v)| v.clone());
    let outcome = match prepared {
        Err(e) => Err(e.to_string()),
        Ok(req) => {
            let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(TIMEOUT_MS));
            match Fetch::Request(req).send_with_signal(&signal).await {
                Ok(r) if (200..300).contains(&r.status_code()) => Ok(()),
                Ok(r) => Err(format!("HTTP {}", r.status_code())),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match outcome {
        Ok(()) => log::info("sentry: reported", json!({ "request_id": request_id, "kind": report.kind, "event_id": event_id })),
        Err(e) => log::warn("sentry: report not sent", json!({ "request_id": request_id, "kind": report.kind, "error": e })),
    }
}
