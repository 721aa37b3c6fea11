//! The HTTP API, one module per resource. [`handle`] maps a matched route to its handler.

pub mod batches;
pub mod billing;
pub mod handler;
pub mod health;
pub mod jobs;
pub mod leads;
pub mod limits;
pub mod me;
pub mod openapi;
pub mod stream_session;

use crate::auth;
use crate::contract::error::ApiError;
use crate::contract::routes::Route;
use crate::contract::stream_cookie;
pub use handler::{header, read_body, Reply, RequestCtx};
use worker::Request;

/// The `p_account_id` argument: the account the caller selected with `X-Account-Id`, or `None` (the
/// argument is then omitted, so the SQL default, the personal account, applies).
pub(crate) fn account_arg(who: &auth::Authenticated) -> Option<String> {
    match &who.principal.account {
        crate::domain::jwt::ActiveAccount::Selected(id) => Some(id.hyphenated().to_string()),
        _ => None,
    }
}

/// Authenticates the caller from `Authorization` (401/503 otherwise) and `X-Account-Id`. The SSE routes
/// also take the stream cookie when there is no `Authorization` (docs/adr/0020).
async fn caller(req: &Request, ctx: &RequestCtx<'_>, route: Route) -> Result<auth::Authenticated, ApiError> {
    let mut authorization = header(req, "Authorization");
    if authorization.is_none() && matches!(route, Route::JobsStream | Route::JobEvents | Route::BatchEvents) {
        let cookies = header(req, "Cookie");
        authorization = stream_cookie::value(cookies.as_deref(), stream_cookie::NAME).map(|t| format!("Bearer {t}"));
    }
    auth::authenticate(ctx.cfg, authorization.as_deref(), header(req, "X-Account-Id").as_deref()).await
}

pub async fn handle(route: Route, req: &mut Request, ctx: &RequestCtx<'_>) -> Result<Reply, ApiError> {
    match route {
        // Stripe's senders share addresses: the webhook is never limited per IP.
        Route::BillingWebhook => billing::webhook(req, ctx).await,
        Route::Health | Route::OpenApi | Route::CreditsPricing | Route::StreamSessionDelete => {
            limits::per_client_ip(req, ctx).await?;
            match route {
                Route::Health => health::get(ctx).await,
                Route::OpenApi => openapi::get(),
                // Signing out clears the cookie whether or not the token still verifies.
                Route::StreamSessionDelete => stream_session::delete(req),
                _ => billing::pricing(ctx).await,
            }
        }
        route => {
            let who = caller(req, ctx, route).await?;
            limits::per_account(ctx, &who).await?;
            match route {
                Route::Me => me::get(ctx, &who).await,
                Route::JobsCreate => jobs::create(req, ctx, &who).await,
                Route::JobsList => jobs::list(req, ctx, &who).await,
                Route::JobsStream => jobs::stream(req, ctx, &who).await,
                Route::JobGet => jobs::get(ctx, &who).await,
                Route::JobProgress => jobs::progress(ctx, &who).await,
                Route::JobCancel => jobs::cancel(ctx, &who).await,
                Route::JobEvents => jobs::events(req, ctx, &who).await,
                Route::BatchesCreate => batches::create(req, ctx, &who).await,
                Route::BatchesList => batches::list(req, ctx, &who).await,
                Route::BatchGet => batches::get(req, ctx, &who).await,
                Route::BatchCancel => batches::cancel(ctx, &who).await,
                Route::BatchEvents => batches::events(req, ctx, &who).await,
                Route::Billing => billing::get(ctx, &who).await,
                Route::BillingCheckout => billing::checkout(req, ctx, &who).await,
                Route::BillingPortal => billing::portal(req, ctx, &who).await,
                Route::Usage => billing::usage(ctx, &who).await,
                Route::UsageDaily => billing::usage_daily(req, ctx, &who).await,
                Route::StreamSessionCreate => stream_session::create(req, &who),
                Route::CreditsBalance => billing::balance(ctx, &who).await,
                Route::CreditsTransactions => billing::transactions(req, ctx, &who).await,
                Route::LeadsAnalyze => leads::analyze(req, ctx, &who, false).await,
                Route::LeadsAnalyzeBulk => leads::analyze(req, ctx, &who, true).await,
                Route::LeadsList => leads::list(req, ctx, &who).await,
                Route::LeadGet => leads::get(ctx, &who).await,
                Route::LeadDelete => leads::delete(ctx, &who).await,
                Route::LeadRestore => leads::restore(ctx, &who).await,
                Route::LeadAnalyses => leads::analyses(req, ctx, &who).await,
                Route::AnalysisGet => leads::analysis(ctx, &who).await,
                Route::BusinessProfilesList => leads::profiles(req, ctx, &who).await,
                Route::BusinessProfilesCreate => leads::create_profile(req, ctx, &who).await,
                Route::BusinessProfileGet => leads::profile(ctx, &who).await,
                Route::BusinessProfileUpdate => leads::update_profile(req, ctx, &who).await,
                Route::Health | Route::OpenApi | Route::BillingWebhook | Route::CreditsPricing | Route::StreamSessionDelete => {
                    Err(ApiError::NotFound)
                }
            }
        }
    }
}
