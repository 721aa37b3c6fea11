//! Edge backend for micro-SaaS products: the Worker's entry points.
//!
//! Entry points only parse and dispatch: HTTP to [`http::serve`], queue batches to [`queues`], cron
//! triggers to [`cron`]. The HTTP contract lives in [`contract`], the job in [`jobs`], other domain logic in [`domain`]; none of
//! them touches `worker::Env`.

pub mod adapters;
pub mod api;
pub mod auth;
pub mod billing;
pub mod config;
pub mod contract;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod log;
pub mod platform;
pub mod tasks;

#[path = "../cron/mod.rs"]
pub mod cron;
#[path = "../durable-objects/mod.rs"]
pub mod durable_objects;
#[path = "../queues/mod.rs"]
pub mod queues;

use worker::{event, Context, Env, MessageBatch, Request, Response, ScheduleContext, ScheduledEvent};

#[event(start)]
fn start() {
    console_error_panic_hook::set_once();
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    http::serve(req, env).await
}

#[event(queue)]
async fn queue(batch: MessageBatch<serde_json::Value>, env: Env, _ctx: Context) -> worker::Result<()> {
    queues::dispatch(batch, env).await;
    Ok(())
}

#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    cron::dispatch(&event, env).await;
}
