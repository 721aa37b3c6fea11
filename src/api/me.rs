//! `GET /api/v1/me`: who the caller is, their active account, and its credit balance.
//!
//! One `/rpc/me` call as the caller, so row-level security decides what can be seen: an `X-Account-Id`
//! the caller is not a member of finds nothing and is 404.

use crate::adapters::postgrest::Db;
use crate::adapters::rpc;
use crate::api::account_arg;
use crate::api::{Reply, RequestCtx};
use crate::auth::Authenticated;
use crate::contract::error::ApiError;

pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    // The account argument is omitted rather than null for the personal account: the SQL default applies
    // (and postrust, unlike PostgREST, passes a JSON null to a uuid parameter as "").
    let me = Db::as_user(ctx.cfg, &who.token).call(&rpc::Me { p_account_id: account_arg(who) }).await?;
    if me.is_null() {
        return Err(ApiError::NotFound);
    }
    Ok(Reply::ok(me))
}
