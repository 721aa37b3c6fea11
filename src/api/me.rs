//! `GET /api/v1/me`: who the caller is, their active account, and its credit balance.
//!
//! One `/rpc/me` call as the caller, so row-level security decides what can be seen: an `X-Account-Id`
//! the caller is not a member of finds nothing and is 404.

use crate::adapters::postgrest::{Db, DbError};
use crate::api::with_account;
use crate::auth::Authenticated;
use crate::domain::error::ApiError;
use crate::http::{Reply, RequestCtx};
use serde_json::{json, Value};

pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated) -> Result<Reply, ApiError> {
    // The account argument is omitted rather than null for the personal account: the SQL default applies
    // (and postrust, unlike PostgREST, passes a JSON null to a uuid parameter as "").
    let body = Db::as_user(ctx.cfg, &who.token).rpc("me", &with_account(json!({}), who)).await?;
    let me: Value = serde_json::from_str(&body).map_err(|e| ApiError::from(DbError::Decode(e.to_string())))?;
    if me.is_null() {
        return Err(ApiError::NotFound);
    }
    Ok(Reply::ok(me))
}
