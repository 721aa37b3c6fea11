//! The HTTP contract (API.md, `docs/openapi.json`): routes, CORS, the response envelope, body limits,
//! the error vocabulary and statuses, request ids and SSE framing. Pure: nothing here imports `worker`.

pub mod body;
pub mod cors;
pub mod envelope;
pub mod error;
pub mod request_id;
pub mod routes;
pub mod sse;
pub mod stream_cookie;
pub mod time;
