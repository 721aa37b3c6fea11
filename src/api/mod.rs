//! The HTTP API, one module per resource. [`handle`] maps a matched route to its handler.

pub mod health;
pub mod openapi;

use crate::domain::error::ApiError;
use crate::domain::routes::Route;
use crate::http::{Reply, RequestCtx};
use worker::Request;

pub async fn handle(route: Route, _req: &mut Request, ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    match route {
        Route::Health => health::get(ctx).await,
        Route::OpenApi => openapi::get(),
    }
}
