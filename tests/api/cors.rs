//! The test stack allows exactly one origin: `http://allowed.test`.

use e2e::{http, spawn_stack, ApiResponse};

const ALLOWED: &str = "http://allowed.test";
const REFUSED: &str = "https://evil.example";

#[tokio::test]
async fn an_allowed_origin_gets_cors_headers() {
    let stack = spawn_stack();
    let r = ApiResponse::from(http().get(stack.url("/health")).header("Origin", ALLOWED).send().await.unwrap()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ALLOWED));
    assert!(r.header("access-control-expose-headers").unwrap().contains("X-Request-Id"));
    assert!(r.header("vary").unwrap().contains("Origin"));
}

#[tokio::test]
async fn a_refused_origin_gets_no_cors_headers() {
    let stack = spawn_stack();
    let r = ApiResponse::from(http().get(stack.url("/health")).header("Origin", REFUSED).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "the request is served; the browser blocks the read");
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered() {
    let stack = spawn_stack();
    let r = http()
        .request(reqwest::Method::OPTIONS, stack.url("/health"))
        .header("Origin", ALLOWED)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(h("access-control-allow-origin").as_deref(), Some(ALLOWED));
    assert!(h("access-control-allow-methods").unwrap().contains("GET"));
    assert!(h("access-control-allow-headers").unwrap().contains("Authorization"));
    assert!(h("access-control-max-age").is_some());
    assert!(h("x-request-id").is_some());
}

#[tokio::test]
async fn a_preflight_from_a_refused_origin_is_403_without_cors_headers() {
    let stack = spawn_stack();
    let r = ApiResponse::from(
        http()
            .request(reqwest::Method::OPTIONS, stack.url("/health"))
            .header("Origin", REFUSED)
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(403, "forbidden");
    assert_eq!(r.header("access-control-allow-origin"), None);
}
