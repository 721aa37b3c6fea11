//! The floor, in Rust: the I/O of `GET /api/v1/me` through workers-rs and nothing else (one PostgREST call
//! with the caller's token, the body in the envelope, the security headers, one log line), so that
//! `npm run bench:floor` can tell what a wasm Worker costs before any of the project's code runs
//! (docs/adr/0021). Never deployed.
use worker::{console_log, event, js_sys, Context, Date, Env, Fetch, Headers, Method, Request, RequestInit, Response, Result};

const SECURITY_HEADERS: [(&str, &str); 6] = [
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
];

fn iso_now() -> String {
    js_sys::Date::new_0().to_iso_string().into()
}

fn random_uuid() -> String {
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into()).unwrap_or_default();
    js_sys::Reflect::get(&crypto, &"randomUUID".into())
        .ok()
        .and_then(|f| js_sys::Function::from(f).call0(&crypto).ok())
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let started = Date::now().as_millis();
    let rid = random_uuid();
    let headers = Headers::new();
    headers.set("apikey", &env.var("SUPABASE_ANON_KEY")?.to_string())?;
    headers.set("Authorization", &req.headers().get("Authorization")?.unwrap_or_default())?;
    headers.set("Content-Type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_headers(headers).with_body(Some("{}".into()));
    let url = format!("{}/rpc/me", env.var("POSTGREST_URL")?);
    let mut upstream = Fetch::Request(Request::new_with_init(&url, &init)?).send().await?;
    let status = upstream.status_code();
    let data = upstream.text().await?;
    let body = format!(r#"{{"success":true,"data":{data},"request_id":"{rid}","timestamp":"{}"}}"#, iso_now());
    let resp = Response::ok(body)?.with_status(status);
    let h = resp.headers();
    h.set("Content-Type", "application/json; charset=utf-8")?;
    h.set("X-Request-Id", &rid)?;
    for (k, v) in SECURITY_HEADERS {
        h.set(k, v)?;
    }
    console_log!(
        r#"{{"level":"info","msg":"request","request_id":"{rid}","method":"{}","path":"{}","status":{status},"duration_ms":{},"ts":"{}"}}"#,
        req.method(),
        req.path(),
        Date::now().as_millis() - started,
        iso_now()
    );
    Ok(resp)
}
