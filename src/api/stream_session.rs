//! `POST|DELETE /api/v1/stream-session`: sets or clears the stream cookie (docs/adr/0020,
//! `contract::stream_cookie`) for the caller's verified access token.

use super::Reply;
use crate::auth::Authenticated;
use crate::contract::error::ApiError;
use crate::contract::stream_cookie;
use crate::domain::jwt;
use crate::platform;
use serde_json::json;
use worker::Request;

fn https(req: &Request) -> bool {
    req.url().map(|u| u.scheme() == "https").unwrap_or(true)
}

/// The cookie lives exactly as long as the token in it; the dashboard sets it again after each refresh.
pub fn create(req: &Request, who: &Authenticated) -> Result<Reply, ApiError> {
    let token = who.token.expose();
    let exp = jwt::parse(token).ok().and_then(|p| p.claims.exp).unwrap_or(0.0);
    let now = platform::now_ms() / 1000.0;
    let max_age = (exp - now).floor().max(0.0) as u64;
    let expires_at = crate::contract::time::rfc3339_from_unix_secs(exp as i64);
    Ok(Reply::Json {
        status: 200,
        data: json!({ "expires_at": expires_at }),
        headers: vec![("Set-Cookie", stream_cookie::set(token, max_age, https(req)))],
    })
}

/// Signing out clears the cookie (the token itself stays valid until it expires, as every bearer token).
pub fn delete(req: &Request) -> Result<Reply, ApiError> {
    Ok(Reply::Json { status: 200, data: json!({ "cleared": true }), headers: vec![("Set-Cookie", stream_cookie::clear(https(req)))] })
}
