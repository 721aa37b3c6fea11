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
//! - `POST /publish {jobs, batch?}`: several rows at once; with `batch {id, total, cancel_requested}` the
//!   batch is registered (or its cancel flag set) and one `batch` frame follows the jobs' frames.
//! - `POST /batch {batch, jobs, last_event_id?, max_streams}`: SSE for one batch (docs/adr/0016): its
//!   items' `job` frames and `batch` summary frames (counts built here from the items' frames), replayed
//!   after `last_event_id` (all without it); ends after the frame that shows every item finished. The
//!   Worker sends the database's batch and rows, which seed the object when it no longer holds them.
//! - `POST /cancel {job_ids}` sets several cancellation flags at once.
//! - `POST /cancel {job_id}` sets the cancellation flag; `POST /cancelled {job_id}` reads it.
//! - `POST /state {job_id}`: the latest stored row, or 404.
//!
//! Streams get `: ping` every 15 s, every 500 ms for 30 s after a client was refused a stream; a stream
//! whose client went away is dropped when a write to it fails, which frees its slot. An
//! alarm deletes a job's state and frames an hour after it ends.
//! Platform docs: <https://developers.cloudflare.com/durable-objects/api/sql-storage/>.

use crate::contract::sse::sse_frame_json;
use crate::jobs::batches::{BatchFrame, BatchStatus, Counts};
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
CREATE TABLE IF NOT EXISTS job_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, frame TEXT NOT NULL,
  batch_id TEXT, event TEXT NOT NULL DEFAULT 'job');
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq);
CREATE TABLE IF NOT EXISTS cancels (job_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS batch_state (batch_id TEXT PRIMARY KEY, total INTEGER NOT NULL, cancel_requested INTEGER NOT NULL DEFAULT 0,
  snapshot TEXT, terminal_at INTEGER);
CREATE TABLE IF NOT EXISTS batch_items (batch_id TEXT NOT NULL, job_id TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (batch_id, job_id));
";
/// Columns added to `job_events` after objects already existed: added where missing (SQLite has no
/// `ADD COLUMN IF NOT EXISTS`; the error for a column already there is expected and ignored).
const ADDED_COLUMNS: [&str; 2] =
    ["ALTER TABLE job_events ADD COLUMN batch_id TEXT", "ALTER TABLE job_events ADD COLUMN event TEXT NOT NULL DEFAULT 'job'"];
const BATCH_INDEX: &str = "CREATE INDEX IF NOT EXISTS job_events_batch ON job_events (batch_id, seq)";

type Tx = UnboundedSender<std::result::Result<Vec<u8>, worker::Error>>;

/// What a stream shows.
#[derive(Clone, PartialEq)]
enum Filter {
    /// `/events`: one job's frames.
    Job(String),
    /// `/batch`: a batch's item frames and its `batch` frames.
    Batch(String),
    /// `/stream`: every job's frames.
    Account,
}

struct Sub {
    tx: Tx,
    filter: Filter,
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
    #[serde(default)]
    job: Option<Value>,
    #[serde(default)]
    jobs: Vec<Value>,
    #[serde(default)]
    batch: Option<BatchRef>,
    /// The request whose story this is (the submitting request for a job's frames): logged with each frame.
    #[serde(default)]
    request_id: Option<String>,
}

/// A batch as the Worker names it to the object.
#[derive(Deserialize)]
struct BatchRef {
    id: String,
    total: u32,
    #[serde(default)]
    cancel_requested: bool,
}

#[derive(Deserialize)]
struct BatchOpenReq {
    batch: BatchRef,
    #[serde(default)]
    jobs: Vec<Value>,
    #[serde(default)]
    last_event_id: Option<i64>,
    max_streams: usize,
}

#[derive(Deserialize)]
struct JobIdReq {
    job_id: String,
}

#[derive(Deserialize)]
struct JobIdsReq {
    job_ids: Vec<String>,
}

#[derive(Deserialize)]
struct EventRow {
    seq: i64,
    frame: String,
    #[serde(default = "job_event")]
    event: String,
}

fn job_event() -> String {
    "job".into()
}

#[derive(Deserialize)]
struct BatchRow {
    total: u32,
    cancel_requested: i64,
    snapshot: Option<String>,
}

#[derive(Deserialize)]
struct CountRow {
    status: String,
    n: u32,
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

    /// Appends a frame to the event log and returns its sequence number.
    fn append(&self, key: &str, batch_id: Option<&str>, event: &str, data: &str) -> Result<i64> {
        let batch: worker::SqlStorageValue = batch_id.map_or(worker::SqlStorageValue::Null, |b| b.into());
        let rows: Vec<EventRow> = self
            .sql()
            .exec(
                "INSERT INTO job_events (job_id, batch_id, event, frame) VALUES (?, ?, ?, ?) RETURNING seq, frame, event",
                vec![key.into(), batch, event.into(), data.into()],
            )?
            .to_array()?;
        Ok(rows.first().map(|r| r.seq).unwrap_or(0))
    }

    /// Sends a frame to the streams `matches` selects; `close` ends those streams after it.
    fn fan_out(&self, frame: &[u8], matches: impl Fn(&Filter) -> bool, close: impl Fn(&Filter) -> bool) {
        self.subs.borrow_mut().retain(|s| {
            if !matches(&s.filter) {
                return !s.tx.is_closed();
            }
            let sent = s.tx.unbounded_send(Ok(frame.to_vec())).is_ok();
            // close_channel (not a drop) ends the stream for every sender, including the ping task's clone.
            if close(&s.filter) {
                s.tx.close_channel();
                return false;
            }
            sent
        });
    }

    async fn retain_until_expired(&self) -> Result<()> {
        if self.state.storage().get_alarm().await?.is_none() {
            self.state.storage().set_alarm(Duration::from_millis(RETENTION_MS as u64)).await?;
        }
        Ok(())
    }

    /// Stores a job row and sends its frame; returns the frame's batch when the job belongs to one.
    /// A row for a job already terminal here is ignored, so a late or duplicate publisher can never move
    /// a finished job backwards. `job` is the public view the Worker sends ([`crate::jobs::PublicJob`]).
    async fn publish_job(&self, job: &Value, request_id: Option<&str>) -> Result<Option<String>> {
        let Ok(frame) = serde_json::from_value::<JobFrame>(job.clone()) else { return Ok(None) };
        let job_id = frame.id.as_str();
        let prev = self.stored(job_id)?.and_then(|p| serde_json::from_value::<JobFrame>(p).ok());
        if let Some(batch) = &frame.batch_id {
            // The item's status for the batch's counts: never back from terminal either.
            let status = match &prev {
                Some(p) if p.status.is_terminal() => p.status,
                _ => frame.status,
            };
            self.sql().exec(
                "INSERT INTO batch_items (batch_id, job_id, status) VALUES (?, ?, ?)
                 ON CONFLICT (batch_id, job_id) DO UPDATE SET status = excluded.status",
                vec![batch.as_str().into(), job_id.into(), status.as_str().into()],
            )?;
        }
        // A finished job never moves back; and a state already sent (a waiting job asking again for a
        // slot) is not sent twice.
        if prev.as_ref().is_some_and(|p| p.status.is_terminal() || p.same_state(&frame)) {
            return Ok(frame.batch_id.clone());
        }
        let data = serde_json::to_string(&frame)?;
        let terminal = frame.status.is_terminal();
        let seq = self.append(job_id, frame.batch_id.as_deref(), "job", &data)?;
        let now = worker::Date::now().as_millis() as i64;
        let terminal_at: worker::SqlStorageValue = if terminal { now.into() } else { worker::SqlStorageValue::Null };
        self.sql().exec(
            "INSERT INTO job_state (job_id, snapshot, terminal_at) VALUES (?, ?, ?)
             ON CONFLICT (job_id) DO UPDATE SET snapshot = excluded.snapshot, terminal_at = excluded.terminal_at",
            vec![job_id.into(), job.to_string().into(), terminal_at],
        )?;
        crate::log::info(
            "jobhub: frame",
            json!({ "request_id": request_id, "job_id": job_id, "batch_id": frame.batch_id, "status": frame.status, "step": frame.step, "seq": seq }),
        );
        let bytes = sse_frame_json(seq, "job", &data).into_bytes();
        let batch = frame.batch_id.clone();
        self.fan_out(
            &bytes,
            |f| match f {
                Filter::Job(j) => j == job_id,
                Filter::Batch(b) => batch.as_deref() == Some(b.as_str()),
                Filter::Account => true,
            },
            // An `/events` stream ends after its job's terminal frame.
            |f| terminal && matches!(f, Filter::Job(_)),
        );
        if terminal {
            self.retain_until_expired().await?;
        }
        Ok(frame.batch_id)
    }

    fn batch_row(&self, batch_id: &str) -> Result<Option<BatchRow>> {
        let rows: Vec<BatchRow> = self
            .sql()
            .exec("SELECT total, cancel_requested, snapshot FROM batch_state WHERE batch_id = ?", vec![batch_id.into()])?
            .to_array()?;
        Ok(rows.into_iter().next())
    }

    /// Registers a batch, or records that its cancellation was requested.
    fn register_batch(&self, b: &BatchRef) -> Result<()> {
        self.sql().exec(
            "INSERT INTO batch_state (batch_id, total, cancel_requested) VALUES (?, ?, ?)
             ON CONFLICT (batch_id) DO UPDATE SET cancel_requested = max(cancel_requested, excluded.cancel_requested)",
            vec![b.id.as_str().into(), (b.total as i64).into(), (b.cancel_requested as i64).into()],
        )?;
        Ok(())
    }

    /// Sends a `batch` frame when the batch's counts changed since the last one. Unknown batches (not
    /// registered here) get none; their item frames still flow.
    async fn publish_batch(&self, batch_id: &str) -> Result<()> {
        let Some(row) = self.batch_row(batch_id)? else { return Ok(()) };
        let counted: Vec<CountRow> = self
            .sql()
            .exec("SELECT status, count(*) AS n FROM batch_items WHERE batch_id = ? GROUP BY status", vec![batch_id.into()])?
            .to_array()?;
        let mut counts = Counts::default();
        for c in counted {
            match JobStatus::parse(&c.status) {
                Some(JobStatus::Pending) => counts.pending += c.n,
                Some(JobStatus::Running) => counts.running += c.n,
                Some(JobStatus::Completed) => counts.completed += c.n,
                Some(JobStatus::Failed) => counts.failed += c.n,
                Some(JobStatus::Cancelled) => counts.cancelled += c.n,
                None => {}
            }
        }
        let frame = BatchFrame::new(batch_id, row.total, counts, row.cancel_requested != 0);
        let data = serde_json::to_string(&frame)?;
        if row.snapshot.as_deref() == Some(data.as_str()) {
            return Ok(());
        }
        let finished = frame.status == BatchStatus::Finished;
        let seq = self.append(batch_id, Some(batch_id), "batch", &data)?;
        let terminal_at: worker::SqlStorageValue =
            if finished { (worker::Date::now().as_millis() as i64).into() } else { worker::SqlStorageValue::Null };
        self.sql().exec(
            "UPDATE batch_state SET snapshot = ?, terminal_at = ? WHERE batch_id = ?",
            vec![data.as_str().into(), terminal_at, batch_id.into()],
        )?;
        let bytes = sse_frame_json(seq, "batch", &data).into_bytes();
        let is_this = |f: &Filter| matches!(f, Filter::Batch(b) if b == batch_id);
        self.fan_out(&bytes, is_this, |f| finished && is_this(f));
        if finished {
            self.retain_until_expired().await?;
        }
        Ok(())
    }

    /// Publishes rows (one or many) and, once per batch they touch, the batch's frame.
    async fn publish(&self, jobs: &[Value], batch: Option<&BatchRef>, request_id: Option<&str>) -> Result<()> {
        if let Some(b) = batch {
            self.register_batch(b)?;
        }
        let mut touched: Vec<String> = batch.map(|b| b.id.clone()).into_iter().collect();
        for job in jobs {
            if let Some(b) = self.publish_job(job, request_id).await? {
                if !touched.contains(&b) {
                    touched.push(b);
                }
            }
        }
        for b in touched {
            self.publish_batch(&b).await?;
        }
        Ok(())
    }

    /// Refuses a stream over the account's cap (429), else registers nothing yet.
    fn over_cap(&self, max_streams: usize) -> bool {
        self.subs.borrow_mut().retain(|s| !s.tx.is_closed());
        if self.subs.borrow().len() >= max_streams {
            // Find out sooner which of the open streams are gone.
            self.fast_ping_until.set(worker::Date::now().as_millis() as f64 + FAST_PING_FOR_MS);
            return true;
        }
        false
    }

    /// Replays `rows`, then (unless `finished`) registers the stream for live frames, in the same turn
    /// (no await in between), so no frame can fall in a gap.
    fn stream(&self, filter: Filter, rows: Vec<EventRow>, finished: bool) -> Result<Response> {
        let (tx, rx) = unbounded();
        let _ = tx.unbounded_send(Ok(b": connected\n\n".to_vec()));
        for r in rows {
            let _ = tx.unbounded_send(Ok(sse_frame_json(r.seq, &r.event, &r.frame).into_bytes()));
        }
        if !finished {
            self.subs.borrow_mut().push(Sub { tx: tx.clone(), filter });
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

    fn refused(max_streams: usize) -> Result<Response> {
        json_response(429, &json!({ "error": "stream_limit", "limit": max_streams }))
    }

    async fn open(&self, job_filter: Option<String>, req: OpenReq) -> Result<Response> {
        if self.over_cap(req.max_streams) {
            return Self::refused(req.max_streams);
        }
        if let (Some(job_id), Some(job)) = (&job_filter, &req.job) {
            // Frames may have expired (or never reached this object): seed from the database's row.
            if self.stored(job_id)?.is_none() {
                self.publish(std::slice::from_ref(job), None, None).await?;
            }
        }
        let after = match (&job_filter, req.last_event_id) {
            (_, Some(id)) => Some(id),
            (Some(_), None) => Some(0),
            (None, None) => None,
        };
        let rows: Vec<EventRow> = match (after, &job_filter) {
            (None, _) => Vec::new(),
            (Some(after), Some(j)) => self
                .sql()
                .exec(
                    "SELECT seq, frame, event FROM job_events WHERE job_id = ? AND event = 'job' AND seq > ? ORDER BY seq",
                    vec![j.as_str().into(), after.into()],
                )?
                .to_array()?,
            (Some(after), None) => self
                .sql()
                .exec("SELECT seq, frame, event FROM job_events WHERE event = 'job' AND seq > ? ORDER BY seq", vec![after.into()])?
                .to_array()?,
        };
        let finished = match &job_filter {
            Some(j) => self.stored(j)?.is_some_and(|s| is_terminal(&s)),
            None => false,
        };
        let filter = job_filter.map_or(Filter::Account, Filter::Job);
        self.stream(filter, rows, finished)
    }

    async fn open_batch(&self, req: BatchOpenReq) -> Result<Response> {
        if self.over_cap(req.max_streams) {
            return Self::refused(req.max_streams);
        }
        let id = req.batch.id.clone();
        if self.batch_row(&id)?.is_none() {
            // Expired here (or never seen): seed from the database's batch and rows.
            self.publish(&req.jobs, Some(&req.batch), None).await?;
        }
        let rows: Vec<EventRow> = self
            .sql()
            .exec(
                "SELECT seq, frame, event FROM job_events WHERE batch_id = ? AND seq > ? ORDER BY seq",
                vec![id.as_str().into(), req.last_event_id.unwrap_or(0).into()],
            )?
            .to_array()?;
        let finished = self
            .batch_row(&id)?
            .and_then(|r| r.snapshot)
            .and_then(|s| serde_json::from_str::<BatchFrame>(&s).ok())
            .is_some_and(|f| f.status == BatchStatus::Finished);
        self.stream(Filter::Batch(id), rows, finished)
    }
}

impl DurableObject for JobHub {
    fn new(state: State, _env: Env) -> Self {
        // Creating the schema here means every method can assume it exists.
        let sql = state.storage().sql();
        if let Err(e) = sql.exec(SCHEMA, None) {
            crate::log::error("jobhub: schema creation failed", json!({ "error": e.to_string() }));
        }
        for alter in ADDED_COLUMNS {
            let _ = sql.exec(alter, None);
        }
        if let Err(e) = sql.exec(BATCH_INDEX, None) {
            crate::log::error("jobhub: schema creation failed", json!({ "error": e.to_string() }));
        }
        JobHub { state, subs: RefCell::new(Vec::new()), fast_ping_until: Rc::new(Cell::new(0.0)) }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        let body: Value = req.json().await.unwrap_or(Value::Null);
        match path.as_str() {
            "/publish" => {
                let Ok(p) = serde_json::from_value::<PublishReq>(body) else {
                    return json_response(400, &json!({ "error": "job or jobs required" }));
                };
                let jobs: Vec<Value> = p.job.into_iter().chain(p.jobs).collect();
                if jobs.is_empty() && p.batch.is_none() {
                    return json_response(400, &json!({ "error": "job or jobs required" }));
                }
                self.publish(&jobs, p.batch.as_ref(), p.request_id.as_deref()).await?;
                json_response(200, &json!({ "published": jobs.len() }))
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
            "/batch" => match serde_json::from_value::<BatchOpenReq>(body) {
                Ok(open) => self.open_batch(open).await,
                Err(e) => json_response(400, &json!({ "error": e.to_string() })),
            },
            "/cancel" if body.get("job_ids").is_some() => {
                let Ok(JobIdsReq { job_ids }) = serde_json::from_value(body) else {
                    return json_response(400, &json!({ "error": "job_ids required" }));
                };
                for id in job_ids {
                    self.sql().exec("INSERT OR IGNORE INTO cancels (job_id) VALUES (?)", vec![id.into()])?;
                }
                json_response(200, &json!({ "cancelled": true }))
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
        let batches = "SELECT batch_id FROM batch_state WHERE terminal_at IS NOT NULL AND terminal_at <= ?";
        sql.exec(&format!("DELETE FROM job_events WHERE event = 'batch' AND batch_id IN ({batches})"), vec![cutoff.into()])?;
        sql.exec(&format!("DELETE FROM batch_items WHERE batch_id IN ({batches})"), vec![cutoff.into()])?;
        sql.exec("DELETE FROM batch_state WHERE terminal_at IS NOT NULL AND terminal_at <= ?", vec![cutoff.into()])?;
        #[derive(Deserialize)]
        struct Next {
            next: Option<f64>,
        }
        let next: Vec<Next> = sql
            .exec(
                "SELECT MIN(t) AS next FROM (SELECT terminal_at AS t FROM job_state WHERE terminal_at IS NOT NULL
                 UNION ALL SELECT terminal_at FROM batch_state WHERE terminal_at IS NOT NULL)",
                None,
            )?
            .to_array()?;
        if let Some(t) = next.first().and_then(|n| n.next) {
            let wait = (t + RETENTION_MS - worker::Date::now().as_millis() as f64).max(1000.0);
            self.state.storage().set_alarm(Duration::from_millis(wait as u64)).await?;
        }
        Response::ok("")
    }
}
