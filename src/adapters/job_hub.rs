//! The Worker's client for the account's JobHub Durable Object. The object id is derived from the
//! account id, and nothing but this module builds requests to it.

use crate::durable_objects::job_hub::BINDING;
use crate::jobs::{AccountId, JobId, JobRow};
use crate::log;
use serde_json::{json, Value};
use worker::{Env, Method, Request, RequestInit, Response, Stub};

pub struct JobHubClient {
    stub: Stub,
}

impl JobHubClient {
    pub fn for_account(env: &Env, account_id: &AccountId) -> worker::Result<JobHubClient> {
        let stub = env.durable_object(BINDING)?.id_from_name(account_id.as_str())?.get_stub()?;
        Ok(JobHubClient { stub })
    }

    async fn post(&self, path: &str, body: &Value) -> worker::Result<Response> {
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(body.to_string().into()));
        let req = Request::new_with_init(&format!("https://jobhub{path}"), &init)?;
        self.stub.fetch_with_request(req).await
    }

    /// Sends a job's new state (its public view only) to its subscribers. Best effort: the database is
    /// the record, so a failure here is logged, never fatal.
    pub async fn publish(&self, job: &JobRow, request_id: &str) {
        let id = job.id.as_str();
        match self.post("/publish", &json!({ "job": job.public(), "request_id": request_id })).await {
            Ok(r) if r.status_code() == 200 => {}
            Ok(r) => log::warn("jobhub: publish refused", json!({ "request_id": request_id, "status": r.status_code(), "job_id": id })),
            Err(e) => log::warn("jobhub: publish failed", json!({ "request_id": request_id, "error": e.to_string(), "job_id": id })),
        }
    }

    /// Sends several rows at once (one call, however many jobs), and with `batch` registers the batch
    /// (`{id, total, cancel_requested}`) so its stream gets summary frames. Best effort, like [`Self::publish`].
    pub async fn publish_many(&self, jobs: &[JobRow], batch: Option<Value>, request_id: &str) {
        let jobs: Vec<_> = jobs.iter().map(JobRow::public).collect();
        let mut body = json!({ "jobs": jobs, "request_id": request_id });
        if let Some(b) = batch {
            body["batch"] = b;
        }
        match self.post("/publish", &body).await {
            Ok(r) if r.status_code() == 200 => {}
            Ok(r) => {
                log::warn("jobhub: publish refused", json!({ "request_id": request_id, "status": r.status_code(), "jobs": jobs.len() }))
            }
            Err(e) => log::warn("jobhub: publish failed", json!({ "request_id": request_id, "error": e.to_string(), "jobs": jobs.len() })),
        }
    }

    /// Sets the cancellation flag of several jobs in one call.
    pub async fn request_cancel_many(&self, job_ids: &[&JobId]) -> worker::Result<()> {
        let r = self.post("/cancel", &json!({ "job_ids": job_ids })).await?;
        if r.status_code() == 200 {
            Ok(())
        } else {
            Err(worker::Error::RustError(format!("jobhub cancel: HTTP {}", r.status_code())))
        }
    }

    pub async fn request_cancel(&self, job_id: &JobId) -> worker::Result<()> {
        let r = self.post("/cancel", &json!({ "job_id": job_id })).await?;
        if r.status_code() == 200 {
            Ok(())
        } else {
            Err(worker::Error::RustError(format!("jobhub cancel: HTTP {}", r.status_code())))
        }
    }

    /// Whether cancellation was requested. An unreachable JobHub reads as "not cancelled": the database's
    /// `cancel_requested_at` still stops the job at its next start.
    pub async fn is_cancelled(&self, job_id: &JobId) -> bool {
        match self.post("/cancelled", &json!({ "job_id": job_id })).await {
            Ok(mut r) => r.json::<Value>().await.map(|v| v["cancelled"] == true).unwrap_or(false),
            Err(_) => false,
        }
    }

    pub async fn state(&self, job_id: &JobId) -> Option<Value> {
        let r = self.post("/state", &json!({ "job_id": job_id })).await.ok()?;
        (r.status_code() == 200).then_some(())?;
        crate::platform::response_json(r).await
    }

    /// Opens an SSE stream (`/events` for one job, `/stream` for all, `/batch` for a batch). The object's response is returned
    /// as is: 200 with the stream, or 429 when the account is at its stream limit.
    pub async fn open(&self, path: &str, body: &Value) -> worker::Result<Response> {
        self.post(path, body).await
    }
}
