use e2e::{http, spawn_stack};

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_health() {
    let stack = spawn_stack();
    let r = http().get(stack.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/health", "/api/v1/openapi.json", "/api/v1/me"] {
        assert!(doc["paths"][path]["get"].is_object(), "documents {path}");
    }
    assert_eq!(doc["paths"]["/api/v1/me"]["get"]["security"][0]["bearer"], serde_json::json!([]));
}
