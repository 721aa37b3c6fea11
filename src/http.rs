//! The request pipeline: request id → CORS preflight → body cap → route → handler → envelope, security
//! headers, CORS headers, `X-Request-Id`, and one structured log line per request.

use crate::api::{self, header, Reply, RequestCtx};
use crate::config::Config;
use crate::contract::body;
use crate::contract::envelope;
use crate::contract::error::ApiError;
use crate::contract::request_id;
use crate::contract::routes::{self, Method};
use crate::observability::sentry::{Level, Report};
use crate::{log, platform};
use serde_json::Map;
use serde_json::{json, Value};
use std::cell::RefCell;
use worker::{Context, Env, Headers, Request, Response};

/// Headers every response carries. The CSP is for JSON: nothing may load, nothing may frame it.
const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
];

fn apply_headers(headers: &Headers, list: &[(&str, String)]) {
    for (k, v) in list {
        // Vary may already be present; append keeps both values.
        if *k == "Vary" {
            let _ = headers.append(k, v);
        } else {
            let _ = headers.set(k, v);
        }
    }
}

fn json_response(status: u16, body: &Value) -> worker::Result<Response> {
    let resp = Response::from_json(body)?.with_status(status);
    resp.headers().set("Content-Type", "application/json; charset=utf-8")?;
    Ok(resp)
}

fn error_response(err: &ApiError, request_id: &str) -> worker::Result<Response> {
    let body = envelope::failure(err, request_id, &platform::now_rfc3339());
    let resp = json_response(err.status(), &body)?;
    apply_headers(resp.headers(), &err.headers());
    Ok(resp)
}

/// 5xx reports are limited to one per route per this many ms in an isolate: an outage answers every request
/// with a 5xx, and each is in the log and the metrics already; the report says that it happens.
const REPORT_5XX_EVERY_MS: f64 = 60_000.0;

thread_local! {
    static LAST_5XX_REPORT: RefCell<std::collections::HashMap<String, f64>> = RefCell::new(std::collections::HashMap::new());
}

/// Whether a 5xx on `route` at `now` is reported (the first in [`REPORT_5XX_EVERY_MS`]).
fn report_5xx(route: &str, now: f64) -> bool {
    LAST_5XX_REPORT.with(|m| {
        let mut m = m.borrow_mut();
        match m.get(route) {
            Some(last) if now - last < REPORT_5XX_EVERY_MS => false,
            _ => {
                m.insert(route.to_string(), now);
                true
            }
        }
    })
}

/// Entry point for `#[event(fetch)]`.
pub async fn serve(mut req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = platform::now_ms();
    let request_id = request_id::accept(header(&req, "X-Request-Id").as_deref()).unwrap_or_else(platform::random_uuid);
    // The method as sent: worker's own `Method` reads unknown methods (QUERY, PROPFIND) as GET.
    let method = Method::parse(&req.inner().method());
    let path = req.path();
    let origin = header(&req, "Origin");

    let cfg = match Config::load(&env) {
        Ok(c) => Some(c),
        Err(e) => {
            log::error("configuration error", json!({ "request_id": request_id, "error": e.to_string() }));
            None
        }
    };

    if let Some(cfg) = cfg.as_ref().filter(|_| crate::dashboard::may_be_page(method, &path)) {
        let (accept, dest) = (header(&req, "Accept"), header(&req, "Sec-Fetch-Dest"));
        if crate::dashboard::wants_html(accept.as_deref(), dest.as_deref()) {
            if let Some(page) = crate::dashboard::page(&env, cfg, method == Method::Head).await {
                let resp = page?;
                resp.headers().set("X-Request-Id", &request_id)?;
                let status = resp.status_code();
                let duration_ms = (platform::now_ms() - started).max(0.0);
                log::info(
                    "request",
                    json!({ "event": "http.request", "request_id": request_id, "method": method.as_str(), "path": path,
                            "route": "GET dashboard page", "status": status, "duration_ms": duration_ms.round() as u64 }),
                );
                return Ok(resp);
            }
        }
    }

    let response_headers = RefCell::new(Vec::new());
    let annotations = RefCell::new(Map::new());
    let outcome = match &cfg {
        None => Err(ApiError::Internal("configuration error".into())),
        Some(cfg) => {
            let incoming = Incoming { method, path: &path, origin: origin.as_deref(), request_id: &request_id };
            dispatch(&mut req, &env, cfg, incoming, &response_headers, &annotations).await
        }
    };

    let (resp, err_for_log) = match outcome {
        Ok(r) => (r, None),
        Err(e) => (error_response(&e, &request_id)?, Some(e)),
    };

    let headers = resp.headers();
    headers.set("X-Request-Id", &request_id)?;
    apply_headers(headers, &response_headers.borrow());
    for (k, v) in SECURITY_HEADERS {
        // Streams keep their own Cache-Control (no-cache).
        if *k == "Cache-Control" && headers.has("Cache-Control").unwrap_or(false) {
            continue;
        }
        headers.set(k, v)?;
    }
    if let Some(cfg) = &cfg {
        // Preflight answers already carry their own CORS headers.
        if method != Method::Options {
            apply_headers(headers, &cfg.cors.response_headers(origin.as_deref()));
        }
    }

    let status = resp.status_code();
    let duration_ms = (platform::now_ms() - started).max(0.0);
    let mut fields = Map::new();
    fields.insert("event".into(), Value::from("http.request"));
    fields.insert("request_id".into(), Value::from(request_id.as_str()));
    fields.insert("method".into(), Value::from(method.as_str()));
    fields.insert("path".into(), Value::from(path.as_str()));
    fields.insert("status".into(), Value::from(status));
    fields.insert("duration_ms".into(), Value::from(duration_ms.round() as u64));
    fields.extend(annotations.into_inner());
    let route = fields.get("route").and_then(Value::as_str).unwrap_or("unmatched").to_string();
    let internal = err_for_log.as_ref().filter(|e| e.is_server_error()).map(|e| e.to_string());
    if let Some(e) = &internal {
        fields.insert("error".into(), Value::from(e.as_str()));
    }
    if status >= 500 {
        log::error("request", Value::Object(fields));
    } else {
        log::info("request", Value::Object(fields));
    }
    if let Some(cfg) = &cfg {
        crate::adapters::metrics::write(&env, crate::observability::metrics::request(&route, method.as_str(), status, duration_ms));
        if status >= 500 && report_5xx(&route, platform::now_ms()) {
            // Reported after the response, never in its way (docs/observability.md).
            let report = Report::new(Level::Error, "http_5xx", internal.unwrap_or_else(|| format!("HTTP {status}")))
                .tag("request_id", request_id.as_str())
                .tag("route", route)
                .tag("status", status.to_string());
            let reporting = cfg.reporting.clone();
            ctx.wait_until(async move { crate::adapters::sentry::send(&reporting, report).await });
        }
    }
    Ok(resp)
}

/// What the pipeline read off a request before dispatching it.
struct Incoming<'a> {
    method: Method,
    path: &'a str,
    origin: Option<&'a str>,
    request_id: &'a str,
}

async fn dispatch(
    req: &mut Request,
    env: &Env,
    cfg: &Config,
    incoming: Incoming<'_>,
    response_headers: &RefCell<Vec<(&'static str, String)>>,
    annotations: &RefCell<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let Incoming { method, path, origin, request_id } = incoming;
    if method == Method::Options {
        return preflight(cfg, path, origin, header(req, "Access-Control-Request-Method").is_some())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    }
    body::check_declared_length(header(req, "Content-Length").as_deref(), cfg.max_body_bytes)?;
    let matched = routes::match_route(method, path)?;
    annotations.borrow_mut().insert("route".into(), Value::from(matched.label()));
    let ctx = RequestCtx { cfg, env, request_id, params: matched.params, response_headers, annotations };
    let reply = api::handle(matched.route, req, &ctx).await?;
    let ts = platform::now_rfc3339();
    let built = match reply {
        Reply::Json { status, data, headers } => {
            let resp = json_response(status, &envelope::success(data, request_id, &ts));
            resp.inspect(|r| apply_headers(r.headers(), &headers))
        }
        Reply::Document(doc) => json_response(200, &doc),
        Reply::List { data, pagination } => json_response(200, &envelope::success_list(data, pagination, request_id, &ts)),
        Reply::Stream(resp) => {
            let h = resp.headers();
            let set = h
                .set("Content-Type", "text/event-stream")
                .and_then(|_| h.set("Cache-Control", "no-cache"))
                .and_then(|_| h.set("X-Accel-Buffering", "no"));
            set.map(|_| resp)
        }
        Reply::Degraded { error, data } => {
            let mut body = envelope::failure(&error, request_id, &ts);
            body["error"]["details"] = data;
            json_response(error.status(), &body).inspect(|r| apply_headers(r.headers(), &error.headers()))
        }
    };
    built.map_err(|e| ApiError::Internal(format!("building response: {e}")))
}

/// Answers `OPTIONS`. A CORS preflight from an allowed origin gets 204 and the CORS headers; from any
/// other origin 403 without them. A plain `OPTIONS` gets 204 with `Allow` for a known path.
fn preflight(cfg: &Config, path: &str, origin: Option<&str>, is_preflight: bool) -> Result<Result<Response, ApiError>, worker::Error> {
    let allow = match routes::match_route(Method::Other, path) {
        Err(ApiError::MethodNotAllowed { allow }) => allow,
        _ => return Ok(Err(ApiError::NotFound)),
    };
    if is_preflight || origin.is_some() {
        return Ok(match cfg.cors.preflight_headers(origin) {
            Some(h) => {
                let r = Response::empty()?.with_status(204);
                apply_headers(r.headers(), &h);
                Ok(r)
            }
            None => Err(ApiError::Forbidden { message: "origin not allowed".into() }),
        });
    }
    let r = Response::empty()?.with_status(204);
    r.headers().set("Allow", &allow.join(", "))?;
    Ok(Ok(r))
}
