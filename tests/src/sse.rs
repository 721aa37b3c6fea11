//! A small Server-Sent Events client for tests: reads frames with a deadline.

use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Frame {
    pub id: i64,
    pub event: String,
    pub data: Value,
}

pub struct SseClient {
    stream: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buf: String,
    pub comments: u32,
    pub ended: bool,
}

impl SseClient {
    /// Opens `url` with `token` (and `Last-Event-ID` when given). Returns the status and, when 200, the
    /// client.
    pub async fn open(url: &str, token: &str, last_event_id: Option<i64>) -> (u16, Option<SseClient>) {
        let client = reqwest::Client::builder().build().unwrap();
        let mut req = client.get(url).bearer_auth(token);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let r = req.send().await.expect("stream request");
        let status = r.status().as_u16();
        if status != 200 {
            return (status, None);
        }
        assert_eq!(r.headers().get("content-type").unwrap(), "text/event-stream");
        let stream = r.bytes_stream().map(|c| c.map(|b| b.to_vec()));
        (status, Some(SseClient { stream: Box::pin(stream), buf: String::new(), comments: 0, ended: false }))
    }

    /// The next `job` frame, or `None` if the stream ends or `deadline` passes first.
    pub async fn next_frame(&mut self, deadline: Duration) -> Option<Frame> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            while let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), String::new());
                for line in block.lines() {
                    if line.starts_with(':') {
                        self.comments += 1;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v);
                    }
                }
                if let Some(id) = id {
                    return Some(Frame { id, event, data: serde_json::from_str(&data).expect("frame data is JSON") });
                }
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(until, self.stream.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => self.ended = true,
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
            }
        }
    }

    /// Waits (with a deadline) until at least `n` comment lines (`: connected`, `: ping`) have arrived;
    /// returns whether they did. Frames read meanwhile are dropped.
    pub async fn wait_comments(&mut self, n: u32, deadline: Duration) -> bool {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            while let Some(pos) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..pos + 2).collect();
                self.comments += block.lines().filter(|l| l.starts_with(':')).count() as u32;
            }
            if self.comments >= n {
                return true;
            }
            match tokio::time::timeout_at(until, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => {
                    self.ended = true;
                    return false;
                }
                Err(_) => return false,
            }
        }
    }

    /// Waits until the server's `: connected` comment arrived (the stream is registered).
    pub async fn wait_connected(&mut self, deadline: Duration) -> bool {
        self.wait_comments(1, deadline).await
    }
}
