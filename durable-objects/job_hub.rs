//! JobHub: one Durable Object per account that keeps its jobs' latest state and event log in SQLite
//! storage and fans progress out to Server-Sent Event streams.
//!
//! One per account rather than per job (docs/adr/0004): a client opens one stream for all its jobs.
//! Only the Worker reaches it, after authentication; the object id is derived from the account id.
//! This foundation creates the schema; progress, SSE, replay and cleanup arrive with the jobs issue.
//! Platform docs: <https://developers.cloudflare.com/durable-objects/api/sql-storage/>.

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// The binding name in `wrangler.toml`.
pub const BINDING: &str = "JOB_HUB";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS job_state (
    job_id TEXT PRIMARY KEY,
    snapshot TEXT NOT NULL,
    terminal_at INTEGER
);
CREATE TABLE IF NOT EXISTS job_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    frame TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events (job_id, seq);
";

#[durable_object]
pub struct JobHub {
    state: State,
}

impl DurableObject for JobHub {
    fn new(state: State, _env: Env) -> Self {
        // Creating the schema here means every method can assume it exists.
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            crate::log::error("jobhub: schema creation failed", serde_json::json!({ "error": e.to_string() }));
        }
        JobHub { state }
    }

    async fn fetch(&self, _req: Request) -> Result<Response> {
        let _ = &self.state;
        Response::error("not found", 404)
    }
}
