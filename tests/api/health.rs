use e2e::{http, spawn_stack, ApiResponse};

#[tokio::test]
async fn health_reports_ok_after_a_real_database_round_trip() {
    let stack = spawn_stack();
    let r = ApiResponse::from(http().get(stack.url("/health")).send().await.unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let data = &r.body["data"];
    assert_eq!(data["status"], "ok");
    assert_eq!(data["checks"]["database"], "ok");
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"), "the Worker reports the crate version");
    assert_eq!(data["features"]["FF_BROWSER_WORKER_ENABLED"], true);
}

#[tokio::test]
async fn head_on_health_is_answered_like_get() {
    let stack = spawn_stack();
    let r = http().head(stack.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some());
}
