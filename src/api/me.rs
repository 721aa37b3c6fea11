//! `GET /api/v1/me`: who the caller is, their active account, and its credit balance.
//!
//! The active account is the one named by the optional `X-Account-Id` header (the caller must be a
//! member; otherwise 404), or the caller's personal account. One `/rpc/me` call as the caller, so
//! row-level security decides what can be seen.

use crate::adapters::postgrest::{Db, DbError};
use crate::auth::Authenticated;
use crate::domain::error::ApiError;
use crate::http::{Reply, RequestCtx};
use serde_json::{json, Map, Value};

pub async fn get(ctx: &RequestCtx<'_>, who: &Authenticated, account_header: Option<&str>) -> Result<Reply, ApiError> {
    // Omitted rather than null when absent: the SQL default applies (and postrust, unlike PostgREST,
    // passes a JSON null to a uuid parameter as "").
    let args = match account_header.map(str::trim) {
        None | Some("") => json!({}),
        Some(v) => match uuid::Uuid::parse_str(v) {
            Ok(id) => json!({ "p_account_id": id.hyphenated().to_string() }),
            Err(_) => {
                let mut fields = Map::new();
                fields.insert("X-Account-Id".into(), Value::from("must be a UUID"));
                return Err(ApiError::invalid_fields(fields));
            }
        },
    };
    let db = Db::as_user(ctx.cfg, &who.token);
    let body = db.rpc("me", &args).await?;
    let me: Value = serde_json::from_str(&body).map_err(|e| ApiError::from(DbError::Decode(e.to_string())))?;
    if me.is_null() {
        return Err(ApiError::NotFound);
    }
    Ok(Reply::ok(me))
}
