use e2e::{http, spawn_stack, ApiResponse};

const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("strict-transport-security", "max-age=63072000; includeSubDomains"),
    ("content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
];

fn assert_security_headers(r: &ApiResponse) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(r.header(name), Some(*value), "{name}");
    }
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

#[tokio::test]
async fn success_responses_carry_the_envelope_request_id_and_security_headers() {
    let stack = spawn_stack();
    let r = ApiResponse::from(http().get(stack.url("/health")).send().await.unwrap()).await;
    assert_eq!(r.body["success"], true);
    let rid = r.body["request_id"].as_str().unwrap();
    assert!(is_uuid(rid), "a fresh request id is a UUID: {rid}");
    assert_eq!(r.header("x-request-id"), Some(rid));
    assert!(r.body["timestamp"].as_str().unwrap().ends_with('Z'), "RFC 3339 UTC");
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert_security_headers(&r);
}

#[tokio::test]
async fn a_well_formed_caller_request_id_is_echoed_and_a_malformed_one_replaced() {
    let stack = spawn_stack();
    let r = ApiResponse::from(http().get(stack.url("/health")).header("X-Request-Id", "client-req.42:a").send().await.unwrap()).await;
    assert_eq!(r.header("x-request-id"), Some("client-req.42:a"));
    assert_eq!(r.body["request_id"], "client-req.42:a");

    let r =
        ApiResponse::from(http().get(stack.url("/health")).header("X-Request-Id", "<script>alert(1)</script>").send().await.unwrap()).await;
    let rid = r.header("x-request-id").unwrap();
    assert!(is_uuid(rid), "malformed ids are replaced with a UUID, got {rid}");
}

#[tokio::test]
async fn unknown_paths_are_a_json_404() {
    let stack = spawn_stack();
    for path in ["/nope", "/api/v1/nothing-here", "/health/extra", "/"] {
        let r = ApiResponse::from(http().get(stack.url(path)).send().await.unwrap()).await;
        r.assert_error(404, "not_found");
        assert_security_headers(&r);
    }
}

#[tokio::test]
async fn a_known_path_with_the_wrong_method_is_a_json_405_with_allow() {
    let stack = spawn_stack();
    for method in [reqwest::Method::POST, reqwest::Method::DELETE, reqwest::Method::PUT] {
        let r = ApiResponse::from(http().request(method.clone(), stack.url("/health")).send().await.unwrap()).await;
        let details = r.assert_error(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("GET, HEAD, OPTIONS"), "{method}");
        assert_eq!(details["allow"], serde_json::json!(["GET", "HEAD", "OPTIONS"]));
    }
}

#[tokio::test]
async fn an_oversized_body_is_413_before_anything_reads_it() {
    let stack = spawn_stack();
    let big = vec![b'a'; 300 * 1024]; // over the configured 256 KiB
    let r = ApiResponse::from(http().post(stack.url("/health")).header("content-type", "application/json").body(big).send().await.unwrap())
        .await;
    let details = r.assert_error(413, "payload_too_large");
    assert_eq!(details["limit_bytes"], 262144);
}
