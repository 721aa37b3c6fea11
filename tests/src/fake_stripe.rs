//! A local fake of the only Stripe endpoints the project calls (`POST /v1/checkout/sessions`,
//! `POST /v1/billing_portal/sessions`). It records every request (path, headers, decoded form) and
//! answers with Stripe's object shapes. The Worker reaches it through `STRIPE_API_BASE`.
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

pub struct FakeStripe {
    pub base: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeStripe {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Starts the fake on its own thread and runtime.
    pub fn start() -> FakeStripe {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let r = requests.clone();
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
        FakeStripe { base: format!("http://127.0.0.1:{port}"), requests }
    }
}

async fn serve(mut sock: tokio::net::TcpStream, requests: Arc<Mutex<Vec<Recorded>>>) {
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
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
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
        r.push(Recorded { path: path.clone(), headers, form });
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
    let (status, json) = if let Some((status, kind)) = injected {
        (status, serde_json::json!({"error": {"type": kind, "message": "injected by the fake"}}))
    } else if !authorized {
        (401, serde_json::json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}))
    } else {
        match path.as_str() {
            "/v1/checkout/sessions" => (200, serde_json::json!({
                "id": format!("cs_test_{id}"), "object": "checkout.session", "livemode": false,
                "url": format!("https://checkout.stripe.com/c/pay/cs_test_{id}"), "status": "open", "payment_status": "unpaid"})),
            "/v1/billing_portal/sessions" => (200, serde_json::json!({
                "id": format!("bps_{id}"), "object": "billing_portal.session", "livemode": false,
                "url": format!("https://billing.stripe.com/p/session/test_{id}")})),
            _ => (404, serde_json::json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}})),
        }
    };
    let body = json.to_string();
    let resp = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
    let _ = sock.write_all(resp.as_bytes()).await;
    let _ = sock.shutdown().await;
}
