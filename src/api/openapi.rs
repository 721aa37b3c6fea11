//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document, compiled into the Worker from `docs/openapi.json`.
//! Served bare (not in the envelope) so generators and validators can consume it directly.

use crate::api::Reply;
use crate::contract::error::ApiError;

const DOCUMENT: &str = include_str!("../../docs/openapi.json");

pub fn get() -> Result<Reply, ApiError> {
    let doc = serde_json::from_str(DOCUMENT).map_err(|e| ApiError::Internal(format!("openapi.json: {e}")))?;
    Ok(Reply::Document(doc))
}
