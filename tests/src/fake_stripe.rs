//! A local fake of the only Stripe endpoints the project calls (`POST /v1/checkout/sessions`,
//! `POST /v1/billing_portal/sessions`, `POST /v1/billing/meter_events`,
//! `GET /v1/billing/meters/{id}/event_summaries`). It records every request (path, headers, decoded form)
//! and answers with Stripe's object shapes. The Worker reaches it through `STRIPE_API_BASE`.
//! Meter events are kept per customer; an identifier already accepted is refused with 400 (Stripe
//! enforces identifier uniqueness), and a replayed Idempotency-Key gets the first answer back. Tests
//! shape the summaries with [`FakeStripe::adjust_meter`] (Stripe ahead), [`FakeStripe::drop_meter_events`]
//! (Stripe behind or missing) and make meter events fail with [`FakeStripe::fail_meter_events`].
//! `GET /v1/subscriptions|customers|invoices|prices/{id}` answer what a test stored with [`FakeStripe::put_object`]
//! (Stripe's current state of that object), else 404 `resource_missing`.
//! Failure injection, by a marker in the form's `success_url`: `stripe-500-twice` answers 500 to the
//! first two requests with the same Idempotency-Key; `stripe-429-once` answers 429 once; `stripe-400`
//! always answers 400.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub form: Vec<(String, String)>,
}

impl Recorded {
    pub fn field(&self, k: &str) -> Option<&str> {
        self.form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
    }
}

/// One accepted meter event.
#[derive(Debug, Clone)]
pub struct MeterEvent {
    pub identifier: String,
    pub customer: String,
    pub value: i64,
    pub timestamp: i64,
}

#[derive(Default)]
struct Meters {
    events: Vec<MeterEvent>,
    /// Extra value per customer, added to its summaries.
    adjustments: HashMap<String, i64>,
    /// The next this many meter event requests answer 500.
    fail_next: u32,
    /// Idempotency-Key → the status and body first answered.
    replies: HashMap<String, (u16, String)>,
}

#[derive(Clone, Default)]
struct State {
    requests: Arc<Mutex<Vec<Recorded>>>,
    meters: Arc<Mutex<Meters>>,
    objects: Arc<Mutex<HashMap<String, serde_json::Value>>>,
}

pub struct FakeStripe {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    meters: Arc<Mutex<Meters>>,
    objects: Arc<Mutex<HashMap<String, serde_json::Value>>>,
}

impl FakeStripe {
    /// Stores `object` (with its `id`) as Stripe's current state, served by `GET /v1/{kind}s/{id}`.
    pub fn put_object(&self, object: serde_json::Value) {
        let id = object["id"].as_str().expect("object id").to_string();
        self.objects.lock().unwrap().insert(id, object);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Accepted meter events of `customer`.
    pub fn meter_events(&self, customer: &str) -> Vec<MeterEvent> {
        self.meters.lock().unwrap().events.iter().filter(|e| e.customer == customer).cloned().collect()
    }

    /// Adds `delta` to `customer`'s summaries (Stripe ahead when positive).
    pub fn adjust_meter(&self, customer: &str, delta: i64) {
        *self.meters.lock().unwrap().adjustments.entry(customer.to_string()).or_default() += delta;
    }

    /// Forgets up to `n` of `customer`'s accepted events (Stripe behind; all of them: missing).
    pub fn drop_meter_events(&self, customer: &str, n: usize) {
        let mut m = self.meters.lock().unwrap();
        let mut left = n;
        m.events.retain(|e| {
            if e.customer == customer && left > 0 {
                left -= 1;
                false
            } else {
                true
            }
        });
    }

    /// The next `n` meter event requests answer 500.
    pub fn fail_meter_events(&self, n: u32) {
        self.meters.lock().unwrap().fail_next = n;
    }

    /// Starts the fake on its own thread and runtime.
    pub fn start() -> FakeStripe {
        let state = State::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let r = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                loop {
                    let Ok((sock, _)) = listener.accept().await else { continue };
                    tokio::spawn(serve(sock, r.clone()));
                }
            });
        });
        let port = rx.recv().unwrap();
        FakeStripe { base: format!("http://127.0.0.1:{port}"), requests: state.requests, meters: state.meters, objects: state.objects }
    }
}

fn meters(state: &State, path: &str, form: &[(String, String)], key: &str) -> (u16, serde_json::Value) {
    let mut m = state.meters.lock().unwrap();
    let field = |k: &str| form.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone()).unwrap_or_default();
    if path == "/v1/billing/meter_events" {
        if let Some((status, body)) = m.replies.get(key) {
            return (*status, serde_json::from_str(body).unwrap());
        }
        if m.fail_next > 0 {
            m.fail_next -= 1;
            return (500, serde_json::json!({"error": {"type": "api_error", "message": "injected by the fake"}}));
        }
        let identifier = field("identifier");
        let (status, body) = if m.events.iter().any(|e| e.identifier == identifier) {
            (
                400,
                serde_json::json!({"error": {"type": "invalid_request_error",
                "message": format!("An event with identifier {identifier} already exists.")}}),
            )
        } else {
            let ev = MeterEvent {
                identifier: identifier.clone(),
                customer: field("payload[stripe_customer_id]"),
                value: field("payload[value]").parse().unwrap_or(0),
                timestamp: field("timestamp").parse().unwrap_or(0),
            };
            m.events.push(ev.clone());
            (
                200,
                serde_json::json!({"object": "billing.meter_event", "event_name": field("event_name"), "identifier": identifier,
                "livemode": false, "payload": {"stripe_customer_id": ev.customer, "value": ev.value.to_string()}, "timestamp": ev.timestamp}),
            )
        };
        if !key.is_empty() {
            m.replies.insert(key.to_string(), (status, body.to_string()));
        }
        return (status, body);
    }
    // GET /v1/billing/meters/{id}/event_summaries?customer=&start_time=&end_time=
    let (p, query) = path.split_once('?').unwrap_or((path, ""));
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let (Some(meter), Some(customer)) =
        (p.strip_prefix("/v1/billing/meters/").and_then(|r| r.strip_suffix("/event_summaries")), q.get("customer"))
    else {
        return (404, serde_json::json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}));
    };
    let start: i64 = q.get("start_time").and_then(|v| v.parse().ok()).unwrap_or(-1);
    let end: i64 = q.get("end_time").and_then(|v| v.parse().ok()).unwrap_or(-1);
    if start < 0 || end <= start || start % 60 != 0 || end % 60 != 0 {
        return (
            400,
            serde_json::json!({"error": {"type": "invalid_request_error", "message": "start_time and end_time must be minute-aligned, start before end"}}),
        );
    }
    let events: Vec<&MeterEvent> =
        m.events.iter().filter(|e| &e.customer == customer && e.timestamp >= start && e.timestamp < end).collect();
    let adjust = m.adjustments.get(customer).copied().unwrap_or(0);
    let data = if events.is_empty() && adjust == 0 {
        vec![]
    } else {
        let total: i64 = events.iter().map(|e| e.value).sum::<i64>() + adjust;
        vec![serde_json::json!({"id": format!("mtrusg_{}", uuid::Uuid::new_v4().simple()), "object": "billing.meter_event_summary",
            "aggregated_value": total as f64, "start_time": start, "end_time": end, "livemode": false, "meter": meter})]
    };
    (200, serde_json::json!({"object": "list", "data": data, "has_more": false, "url": p}))
}

async fn serve(mut sock: tokio::net::TcpStream, state: State) {
    let requests = state.requests.clone();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let path = lines.next().unwrap_or("").split_whitespace().nth(1).unwrap_or("/").to_string();
    let headers: HashMap<String, String> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))).collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let body = &buf[head_end..(head_end + len).min(buf.len())];
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let authorized = headers.get("authorization").is_some_and(|a| a.starts_with("Bearer sk_test_"));
    let success_url = form.iter().find(|(k, _)| k == "success_url").map(|(_, v)| v.clone()).unwrap_or_default();
    let key = headers.get("idempotency-key").cloned().unwrap_or_default();
    let seen = {
        let mut r = requests.lock().unwrap();
        r.push(Recorded { path: path.clone(), headers, form: form.clone() });
        r.iter().filter(|q| q.headers.get("idempotency-key") == Some(&key)).count()
    };
    let injected = if success_url.contains("stripe-500-twice") && seen <= 2 {
        Some((500, "api_error"))
    } else if success_url.contains("stripe-429-once") && seen <= 1 {
        Some((429, "rate_limit_error"))
    } else if success_url.contains("stripe-400") {
        Some((400, "invalid_request_error"))
    } else {
        None
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let object = ["/v1/subscriptions/", "/v1/customers/", "/v1/invoices/", "/v1/prices/"].iter().find_map(|p| path.strip_prefix(p));
    let (status, json) = if let (true, Some(id)) = (authorized, object) {
        match state.objects.lock().unwrap().get(id) {
            Some(o) => (200, o.clone()),
            None => (
                404,
                serde_json::json!({"error": {"type": "invalid_request_error", "code": "resource_missing", "message": format!("No such object: '{id}'")}}),
            ),
        }
    } else if authorized && (path == "/v1/billing/meter_events" || path.starts_with("/v1/billing/meters/")) {
        meters(&state, &path, &form, &key)
    } else if let Some((status, kind)) = injected {
        (status, serde_json::json!({"error": {"type": kind, "message": "injected by the fake"}}))
    } else if !authorized {
        (401, serde_json::json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}))
    } else {
        match path.as_str() {
            "/v1/checkout/sessions" => (
                200,
                serde_json::json!({
                "id": format!("cs_test_{id}"), "object": "checkout.session", "livemode": false,
                "url": format!("https://checkout.stripe.com/c/pay/cs_test_{id}"), "status": "open", "payment_status": "unpaid"}),
            ),
            "/v1/billing_portal/sessions" => (
                200,
                serde_json::json!({
                "id": format!("bps_{id}"), "object": "billing_portal.session", "livemode": false,
                "url": format!("https://billing.stripe.com/p/session/test_{id}")}),
            ),
            _ => (404, serde_json::json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})),
        }
    };
    let body = json.to_string();
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}
