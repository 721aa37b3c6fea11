//! Failure-path tests that break a dependency. They get their own stack (this binary's), so breaking
//! it cannot disturb the shared one.

use e2e::{eventually, http, spawn_stack, ApiResponse};
use std::time::Duration;

#[tokio::test]
async fn health_degrades_when_the_database_stops_and_recovers_without_a_restart() {
    let stack = spawn_stack();
    let health = || async { ApiResponse::from(http().get(stack.url("/health")).send().await.unwrap()).await };
    assert_eq!(health().await.status, 200);

    stack.control("db stop");
    let r = eventually("health to report 503", Duration::from_secs(30), || async {
        let r = health().await;
        (r.status == 503).then_some(r)
    })
    .await;
    let details = r.assert_error(503, "unavailable");
    assert_eq!(details["status"], "degraded");
    assert_eq!(details["checks"]["database"], "error");
    assert!(r.header("retry-after").is_some());

    stack.control("db start");
    let r = eventually("health to recover", Duration::from_secs(60), || async {
        let r = health().await;
        (r.status == 200).then_some(r)
    })
    .await;
    assert_eq!(r.body["data"]["checks"]["database"], "ok");

    // An isolate answers from its last check for HEALTH_CACHE_MS: probes in between reach no dependency,
    // so with the longest window (60 s) a stopped database is not seen yet (the restart for the new vars is a new isolate).
    stack.control(r#"worker vars {"HEALTH_CACHE_MS":"60000"}"#);
    assert_eq!(health().await.status, 200);
    stack.control("db stop");
    for _ in 0..5 {
        let r = health().await;
        assert_eq!(
            (r.status, r.body["data"]["checks"]["database"].as_str()),
            (200, Some("ok")),
            "answered from the last check: {}",
            r.body
        );
    }
    // With 0 every probe checks: the stopped database shows. (The restart waits for a healthy Worker, so
    // the database is up while it happens.)
    stack.control("db start");
    stack.control(r#"worker vars {"HEALTH_CACHE_MS":"0"}"#);
    assert_eq!(health().await.status, 200);
    stack.control("db stop");
    eventually("an uncached health to report 503", Duration::from_secs(30), || async { (health().await.status == 503).then_some(()) })
        .await;
    stack.control("db start");
}
