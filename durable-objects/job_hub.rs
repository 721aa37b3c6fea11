//! JobHub: one Durable Object per account that keeps its jobs' latest state and an event log in SQLite
//! storage and fans progress out to Server-Sent Event streams (docs/adr/0004).
//!
//! Only the Worker reaches it, after authentication and a row-level-security check of the job or account;
//! the object is named by the account id ([`crate::adapters::job_hub`]). Internal routes (JSON bodies):
//! - `POST /publish {job}`: a job row changed: store it, append a frame, send it to matching streams.
//! - `POST /events {job, last_event_id?, max_streams}`: SSE for one job; replays the job's frames after
//!   `last_event_id` (all of them without it), then live frames; ends after the terminal frame.
//! - `POST /stream {last_event_id?, max_streams}`: SSE for every job; replays after `last_event_id`
//!   (nothing without it), then live; stays open.
//! - `POST /cancel {job_id}` sets the cancellation flag; `POST /cancelled {job_id}` reads it.
//! - `POST /state {job_id}`: the latest stored row, or 404.
//!
//! Streams get `: ping` every 15 s, every 500 ms for 30 s after a client was refused a stream; a stream
//! whose client went away is dropped when a write to it fails, which frees its slot. An
//! alarm deletes a job's state and frames an hour after it ends.
//! Platform docs: <https://developers.cloudflare.com/durable-objects/api/sql-storage/>.

use crate::contract::sse::sse_frame_json;
use crate::jobs::model::{JobFrame, JobStatus};
use futures_channel::mpsc::{unbounded, UnboundedSender};
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = crate::config::bindings::JOB_HUB;
/// How long a finished job's state and frames are kept for replay.
pub const RETENTION_MS: f64 = 3_600_000.0;
pub const PING_INTERVAL: Duration = Duration::from_secs(15);
/// While a client was recently refused a stream (the account at its limit), streams are pinged this often
/// instead: a client that went away is only noticed when a write to it fails, and its slot should be free
/// again within a couple of seconds for the one waiting.
pub const FAST_PING_INTERVAL: Duration = Duration::from_millis(500);
/// How long after a refusal the fast pings go on.
const FAST_PING_FOR_MS: f64 = 30_000.0;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS job_state (job_id TEXT PRIMARY KEY, snapshot TEXT NOT NULL, terminal_at INTEGER);
CREATE TABLE IF NOT EXISTS job_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, frame TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq);
CREATE TABLE IF NOT EXISTS cancels (job_id TEXT PRIMARY KEY);
";

type Tx = UnboundedSender<std::result::Result<Vec<u8>, worker::Error>>;

struct Sub {
    tx: Tx,
    /// `Some(job)` for `/events` streams, `None` for the account-wide `/stream`.
    job: Option<String>,
}

#[durable_object]
pub struct JobHub {
    state: State,
    subs: RefCell<Vec<Sub>>,
    /// Until when (ms since the epoch) streams are pinged every [`FAST_PING_INTERVAL`].
    fast_ping_until: Rc<Cell<f64>>,
}

#[derive(Deserialize)]
struct OpenReq {
    #[serde(default)]
    job: Option<Value>,
    #[serde(default)]
    last_event_id: Option<i64>,
    max_streams: usize,
}

#[derive(Deserialize)]
struct PublishReq {
    job: Value,
}

#[derive(Deserialize)]
struct JobIdReq {
    job_id: String,
}

#[derive(Deserialize)]
struct EventRow {
    seq: i64,
    frame: String,
}

#[derive(Deserialize)]
struct StateRow {
    snapshot: String,
}

/// Whether a stored snapshot is of a finished job: a finished job never moves back (the one rule, in
/// [`JobStatus::is_terminal`]).
fn is_terminal(snapshot: &Value) -> bool {
    snapshot["status"].as_str().and_then(JobStatus::parse).is_some_and(JobStatus::is_terminal)
}

fn json_response(status: u16, v: &Value) -> Result<Response> {
    Ok(Response::from_json(v)?.with_status(status))
}

impl JobHub {
    fn sql(&self) -> worker::SqlStorage {
        self.state.storage().sql()
    }

    fn stored(&self, job_id: &str) -> Result<Option<Value>> {
        let rows: Vec<StateRow> = self.sql().exec("SELECT snapshot FROM job_state WHERE job_id = ?", vec![job_id.into()])?.to_array()?;
        Ok(rows.first().and_then(|r| serde_json::from_str(&r.snapshot).ok()))
    }

    /// Stores a job row and sends its frame. A row for a job already terminal here is ignored, so a late
    /// or duplicate publisher can never move a finished job backwards.
    /// `job` is the public view the Worker sends ([`crate::jobs::PublicJob`]), stored as the snapshot.
    async fn publish(&self, job: &Value) -> Result<Option<i64>> {
        let Ok(frame) = serde_json::from_value::<JobFrame>(job.clone()) else { return Ok(None) };
        let job_id = frame.id.as_str();
        if let Some(prev) = self.stored(job_id)? {
            // A finished job never moves back; and a state already sent (a waiting job asking again for a
            // slot) is not sent twice.
            if is_terminal(&prev) || serde_json::from_value::<JobFrame>(prev).is_ok_and(|p| p.same_state(&frame)) {
                return Ok(None);
            }
        }
        let data = serde_json::to_string(&frame)?;
        let now = worker::Date::now().as_millis() as i64;
        let terminal = frame.status.is_terminal();
        let seq: Vec<EventRow> = self
            .sql()
            .exec("INSERT INTO job_events (job_id, frame) VALUES (?, ?) RETURNING seq, frame", vec![job_id.into(), data.clone().into()])?
            .to_array()?;
        let seq = seq.first().map(|r| r.seq).unwrap_or(0);
        let terminal_at: worker::SqlStorageValue = if terminal { now.into() } else { worker::SqlStorageValue::Null };
        self.sql().exec(
            "INSERT INTO job_state (job_id, snapshot, terminal_at) VALUES (?, ?, ?)
             ON CONFLICT (job_id) DO UPDATE SET snapshot = excluded.snapshot, terminal_at = excluded.terminal_at",
            vec![job_id.into(), job.to_string().into(), terminal_at],
        )?;
        let frame = sse_frame_json(seq, "job", &data).into_bytes();
        self.subs.borrow_mut().retain(|s| {
            let matches = s.job.as_deref().is_none_or(|j| j == job_id);
            if !matches {
                return !s.tx.is_closed();
            }
            let sent = s.tx.unbounded_send(Ok(frame.clone())).is_ok();
            // An `/events` stream ends after its job's terminal frame. close_channel (not a drop) ends
            // it for every sender, including the ping task's clone.
            if terminal && s.job.is_some() {
                s.tx.close_channel();
                return false;
            }
            sent
        });
        if terminal && self.state.storage().get_alarm().await?.is_none() {
            self.state.storage().set_alarm(Duration::from_millis(RETENTION_MS as u64)).await?;
        }
        Ok(Some(seq))
    }

    async fn open(&self, job_filter: Option<String>, req: OpenReq) -> Result<Response> {
        self.subs.borrow_mut().retain(|s| !s.tx.is_closed());
        if self.subs.borrow().len() >= req.max_streams {
            // Find out sooner which of the open streams are gone.
            self.fast_ping_until.set(worker::Date::now().as_millis() as f64 + FAST_PING_FOR_MS);
            return json_response(429, &json!({ "error": "stream_limit", "limit": req.max_streams }));
        }
        if let (Some(job_id), Some(job)) = (&job_filter, &req.job) {
            // Frames may have expired (or never reached this object): seed from the database's row.
            if self.stored(job_id)?.is_none() {
                self.publish(job).await?;
            }
        }
        let (tx, rx) = unbounded();
        let _ = tx.unbounded_send(Ok(b": connected\n\n".to_vec()));
        let after = match (&job_filter, req.last_event_id) {
            (_, Some(id)) => Some(id),
            (Some(_), None) => Some(0),
            (None, None) => None,
        };
        if let Some(after) = after {
            let rows: Vec<EventRow> = match &job_filter {
                Some(j) => self.sql().exec(
                    "SELECT seq, frame FROM job_events WHERE job_id = ? AND seq > ? ORDER BY seq",
                    vec![j.as_str().into(), after.into()],
                )?,
                None => self.sql().exec("SELECT seq, frame FROM job_events WHERE seq > ? ORDER BY seq", vec![after.into()])?,
            }
            .to_array()?;
            for r in rows {
                let _ = tx.unbounded_send(Ok(sse_frame_json(r.seq, "job", &r.frame).into_bytes()));
            }
        }
        let finished = match &job_filter {
            Some(j) => self.stored(j)?.is_some_and(|s| is_terminal(&s)),
            None => false,
        };
        if !finished {
            // Registered in the same turn as the replay (no await in between): no frame can fall in a gap.
            self.subs.borrow_mut().push(Sub { tx: tx.clone(), job: job_filter });
            let ping = tx;
            let fast_until = self.fast_ping_until.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let mut since_ping = Duration::ZERO;
                loop {
                    worker::Delay::from(FAST_PING_INTERVAL).await;
                    since_ping += FAST_PING_INTERVAL;
                    let fast = (worker::Date::now().as_millis() as f64) < fast_until.get();
                    if !fast && since_ping < PING_INTERVAL {
                        continue;
                    }
                    since_ping = Duration::ZERO;
                    if ping.unbounded_send(Ok(b": ping\n\n".to_vec())).is_err() {
                        break;
                    }
                }
            });
        }
        let resp = Response::from_stream(rx)?;
        let h = resp.headers();
        h.set("Content-Type", "text/event-stream")?;
        h.set("Cache-Control", "no-cache")?;
        h.set("X-Accel-Buffering", "no")?;
        Ok(resp)
    }
}

impl DurableObject for JobHub {
    fn new(state: State, _env: Env) -> Self {
        // Creating the schema here means every method can assume it exists.
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            crate::log::error("jobhub: schema creation failed", json!({ "error": e.to_string() }));
        }
        JobHub { state, subs: RefCell::new(Vec::new()), fast_ping_until: Rc::new(Cell::new(0.0)) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        let body: Value = req.json().await.unwrap_or(Value::Null);
        match path.as_str() {
            "/publish" => {
                let Ok(PublishReq { job }) = serde_json::from_value(body) else {
                    return json_response(400, &json!({ "error": "job required" }));
                };
                let seq = self.publish(&job).await?;
                json_response(200, &json!({ "seq": seq }))
            }
            "/events" | "/stream" => {
                let open: OpenReq = match serde_json::from_value(body) {
                    Ok(o) => o,
                    Err(e) => return json_response(400, &json!({ "error": e.to_string() })),
                };
                let job = if path == "/events" { open.job.as_ref().and_then(|j| j["id"].as_str()).map(str::to_string) } else { None };
                if path == "/events" && job.is_none() {
                    return json_response(400, &json!({ "error": "job required" }));
                }
                self.open(job, open).await
            }
            "/cancel" | "/cancelled" | "/state" => {
                let Ok(JobIdReq { job_id }) = serde_json::from_value(body) else {
                    return json_response(400, &json!({ "error": "job_id required" }));
                };
                match path.as_str() {
                    "/cancel" => {
                        self.sql().exec("INSERT OR IGNORE INTO cancels (job_id) VALUES (?)", vec![job_id.into()])?;
                        json_response(200, &json!({ "cancelled": true }))
                    }
                    "/cancelled" => {
                        let n = self.sql().exec("SELECT job_id FROM cancels WHERE job_id = ?", vec![job_id.into()])?.raw().count();
                        json_response(200, &json!({ "cancelled": n > 0 }))
                    }
                    _ => match self.stored(&job_id)? {
                        Some(s) => json_response(200, &s),
                        None => json_response(404, &json!({ "error": "not found" })),
                    },
                }
            }
            _ => json_response(404, &json!({ "error": "not found" })),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        let cutoff = worker::Date::now().as_millis() as f64 - RETENTION_MS;
        let sql = self.sql();
        let expired = "SELECT job_id FROM job_state WHERE terminal_at IS NOT NULL AND terminal_at <= ?";
        sql.exec(&format!("DELETE FROM job_events WHERE job_id IN ({expired})"), vec![cutoff.into()])?;
        sql.exec(&format!("DELETE FROM cancels WHERE job_id IN ({expired})"), vec![cutoff.into()])?;
        sql.exec("DELETE FROM job_state WHERE terminal_at IS NOT NULL AND terminal_at <= ?", vec![cutoff.into()])?;
        #[derive(Deserialize)]
        struct Next {
            next: Option<f64>,
        }
        let next: Vec<Next> = sql.exec("SELECT MIN(terminal_at) AS next FROM job_state WHERE terminal_at IS NOT NULL", None)?.to_array()?;
        if let Some(t) = next.first().and_then(|n| n.next) {
            let wait = (t + RETENTION_MS - worker::Date::now().as_millis() as f64).max(1000.0);
            self.state.storage().set_alarm(Duration::from_millis(wait as u64)).await?;
        }
        Response::ok("")
    }
}
