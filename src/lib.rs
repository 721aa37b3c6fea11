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
pub mod dashboard;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod leads;
pub mod log;
pub mod observability;
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
    // A panic traps the WebAssembly instance, and a future that panics never settles: the JS entry
    // (src/entry.mjs) is told at once, fails the invocations in flight and reports the panic
    // (docs/observability.md), instead of letting them hang until the runtime cancels them.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        notify_entry_of_panic(&info.to_string());
    }));
}

fn notify_entry_of_panic(message: &str) {
    use wasm_bindgen::JsCast;
    let Ok(f) = js_sys::Reflect::get(&js_sys::global(), &"__edgeSaasPanicked".into()) else { return };
    if let Some(f) = f.dyn_ref::<js_sys::Function>() {
        let _ = f.call1(&wasm_bindgen::JsValue::NULL, &wasm_bindgen::JsValue::from_str(message));
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    http::serve(req, env, ctx).await
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
