//! A local HTTP server the tests control, for `http.request` jobs to call. Behaviour by path:
//! - `/ok/{key}`: 200 `hello {key}`
//! - `/fail/{n}/{key}`: 503 for the first `n` requests of `key`, then 200
//! - `/status/{code}/{key}`: always `code`
//! - `/slow/{ms}/{key}`: waits `ms`, then 200
//! - `/big/{key}`: 200 with a 200 KiB body
//! - `/binary/{key}`: 200 with a few bytes of a PNG header, NUL bytes included
//! - `/page/{key}`: an HTML page titled `Page {key}` with `#content` (`Hello {key}`, a paragraph), a side
//!   paragraph, a script and a style (for browser jobs)
//! - `/profile/{key}`: a public profile page (title, description and Open Graph tags, a heading, a bio)
//!   for lead analyses
//! - `/delayed/{ms}/{key}`: an HTML page whose script adds `#late` (`late content {key}`) after `ms`
//!
//! Every request is counted per key ([`Target::hits`]), so tests can assert how often a job called out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub struct Target {
    pub base: String,
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

impl Target {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn hits(&self, key: &str) -> u32 {
        *self.hits.lock().unwrap().get(key).unwrap_or(&0)
    }
}

static TARGET: OnceLock<Target> = OnceLock::new();

/// The target server for this test binary, started on first use on its own thread and runtime.
pub fn target() -> &'static Target {
    TARGET.get_or_init(|| {
        let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = hits.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                loop {
                    let Ok((sock, _)) = listener.accept().await else { continue };
                    tokio::spawn(serve(sock, h.clone()));
                }
            });
        });
        let port = rx.recv().expect("target server port");
        Target { base: format!("http://127.0.0.1:{port}"), hits }
    })
}

async fn serve(mut sock: tokio::net::TcpStream, hits: Arc<Mutex<HashMap<String, u32>>>) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    // Read the head (we never need request bodies).
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let key = parts.last().copied().unwrap_or("").to_string();
    let n = {
        let mut m = hits.lock().unwrap();
        let c = m.entry(key.clone()).or_insert(0);
        *c += 1;
        *c
    };
    let mut content_type = "text/plain";
    let (status, body): (u16, Vec<u8>) = match parts.as_slice() {
        ["page", k] => {
            content_type = "text/html; charset=utf-8";
            (
                200,
                format!(
                    "<!doctype html><html><head><title>Page {k}</title><style>body {{ color: #333 }}</style></head><body>\
                 <main id=\"content\"><h1>Hello {k}</h1><p>First   paragraph &amp; more.</p></main>\
                 <p class=\"side\">side text</p><script>var hidden = 'script text';</script></body></html>"
                )
                .into_bytes(),
            )
        }
        ["profile", k] => {
            content_type = "text/html; charset=utf-8";
            (
                200,
                format!(
                    "<!doctype html><html><head><title>{k} | Profiles</title>\
                 <meta name=\"description\" content=\"Plain description of {k}\">\
                 <meta property=\"og:title\" content=\"Person {k}\">\
                 <meta property=\"og:description\" content=\"Head of Engineering at Rockets {k}\">\
                 <meta property=\"og:image\" content=\"https://img.example/{k}.png\"></head>\
                 <body><h1>Person {k}</h1><p>Builds launch systems. Buys developer tools. Based in Berlin.</p></body></html>"
                )
                .into_bytes(),
            )
        }
        ["delayed", ms, k] => {
            content_type = "text/html; charset=utf-8";
            let ms: u32 = ms.parse().unwrap_or(0);
            (
                200,
                format!(
                    "<!doctype html><html><head><title>Delayed {k}</title></head><body><p>loading</p><script>\
                 setTimeout(function () {{ var d = document.createElement('div'); d.id = 'late';\
                 d.textContent = 'late content {k}'; document.body.appendChild(d); }}, {ms});</script></body></html>"
                )
                .into_bytes(),
            )
        }
        ["ok", k] => (200, format!("hello {k}").into_bytes()),
        // A redirect to this same server by an internal name (`localhost`), which the deny-list refuses.
        ["redirect-internal", k] => {
            let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
            let location = format!("http://localhost:{port}/page/{k}");
            let head = format!("HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = sock.write_all(head.as_bytes()).await;
            return;
        }
        ["fail", times, _] => {
            let times: u32 = times.parse().unwrap_or(0);
            if n <= times {
                (503, b"unavailable".to_vec())
            } else {
                (200, b"recovered".to_vec())
            }
        }
        ["status", code, _] => (code.parse().unwrap_or(500), b"as requested".to_vec()),
        ["slow", ms, _] => {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            (200, b"slow done".to_vec())
        }
        ["big", _] => (200, vec![b'x'; 200 * 1024]),
        ["binary", _] => {
            content_type = "image/png";
            (200, vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d])
        }
        _ => (404, b"no such behaviour".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nx-target: yes\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = sock.write_all(head.as_bytes()).await;
    let _ = sock.write_all(&body).await;
    let _ = sock.shutdown().await;
}
