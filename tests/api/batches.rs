//! Batches end to end (docs/adr/0016): a 100-item batch followed on its stream, all-or-nothing
//! validation, credits for the whole batch, cancellation with refunds exactly once, idempotency keys for
//! the batch and its items, and isolation between accounts.

use e2e::sse::{Frame, SseClient};
use e2e::target::target;
use e2e::{eventually, http, spawn_stack, unique_email, ApiResponse, Stack};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

fn key() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn submit(stack: &Stack, token: &str, body: &Value, idem: Option<&str>) -> ApiResponse {
    let mut req = http().post(stack.url("/api/v1/batches")).bearer_auth(token).json(body);
    if let Some(k) = idem {
        req = req.header("Idempotency-Key", k);
    }
    ApiResponse::from(req.send().await.unwrap()).await
}

fn http_item(path: &str) -> Value {
    json!({ "task_type": "http.request", "payload": { "url": target().url(path), "timeout_ms": 10000 } })
}

async fn balance(stack: &Stack, token: &str) -> i64 {
    let r = stack.get_as("/api/v1/credits/balance", token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"]["balance"].as_i64().expect("balance")
}

async fn batch_count(stack: &Stack, token: &str) -> usize {
    let r = stack.get_as("/api/v1/batches?limit=100", token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["data"].as_array().unwrap().len()
}

/// Reads a batch stream until it ends (after the frame that shows the batch finished).
async fn read_to_end(c: &mut SseClient, deadline: Duration) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Some(f) = c.next_frame(deadline).await {
        frames.push(f);
    }
    frames
}

#[tokio::test]
async fn a_hundred_item_batch_completes_and_every_item_is_seen_on_its_stream() {
    let stack = spawn_stack();
    // ENTERPRISE runs 100 jobs at once; 100 credits at signup plus 100.
    let (t, _) = stack.user_on_plan("batch100", "ENTERPRISE", 100).await;
    let before = balance(stack, &t).await;
    let keys: Vec<String> = (0..100).map(|_| key()).collect();
    let body = json!({ "items": keys.iter().map(|k| http_item(&format!("/ok/{k}"))).collect::<Vec<_>>() });
    let r = submit(stack, &t, &body, Some(&key())).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/api/v1/batches/{id}").as_str()));
    assert_eq!((r.body["data"]["total"].as_u64(), r.body["data"]["credits_charged"].as_i64()), (Some(100), Some(100)));
    let items = r.body["data"]["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 100, "every item's job comes back, in order");
    assert!(items.iter().enumerate().all(|(i, j)| j["batch_index"] == i && j["batch_id"] == id.as_str()));
    let job_ids: BTreeSet<String> = items.iter().map(|j| j["id"].as_str().unwrap().to_string()).collect();

    let (s, c) = SseClient::open(&stack.url(&format!("/api/v1/batches/{id}/events")), &t, None).await;
    assert_eq!(s, 200);
    let mut c = c.unwrap();
    let frames = read_to_end(&mut c, Duration::from_secs(60)).await;
    assert!(c.ended, "the stream ends once the batch finished; read {} frames", frames.len());
    let mut last_status: HashMap<String, String> = HashMap::new();
    for f in frames.iter().filter(|f| f.event == "job") {
        assert_eq!(f.data["batch_id"], id.as_str(), "{f:?}");
        last_status.insert(f.data["id"].as_str().unwrap().to_string(), f.data["status"].as_str().unwrap().to_string());
    }
    let seen: BTreeSet<String> = last_status.keys().cloned().collect();
    assert_eq!(seen, job_ids, "every item is seen on the batch stream");
    assert!(last_status.values().all(|s| s == "COMPLETED"), "{last_status:?}");
    let summaries: Vec<&Frame> = frames.iter().filter(|f| f.event == "batch").collect();
    assert!(summaries.len() >= 2, "summary frames as the counts change: {}", summaries.len());
    assert!(summaries.windows(2).all(|w| w[0].data["progress"].as_u64() <= w[1].data["progress"].as_u64()), "progress never goes back");
    let last = summaries.last().unwrap();
    assert_eq!(last.data["status"], "FINISHED");
    assert_eq!(last.data["counts"], json!({ "pending": 0, "running": 0, "completed": 100, "failed": 0, "cancelled": 0 }));
    assert!(frames.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert!(keys.iter().all(|k| target().hits(k) == 1), "each item ran exactly once");

    let r = stack.get_as(&format!("/api/v1/batches/{id}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = &r.body["data"];
    assert_eq!((b["status"].as_str(), b["progress"].as_u64()), (Some("FINISHED"), Some(100)));
    assert_eq!((b["credits_charged"].as_i64(), b["credits_refunded"].as_i64()), (Some(100), Some(0)));
    assert_eq!(b["counts"]["completed"], 100);
    assert!(b["finished_at"].is_string());
    assert_eq!(b["items"]["data"].as_array().unwrap().len(), 100, "the default page holds the whole batch");
    assert_eq!(balance(stack, &t).await, before - 100);

    // A page of items after the 30th, in submission order.
    let thirtieth = items[29]["id"].as_str().unwrap();
    let r = stack.get_as(&format!("/api/v1/batches/{id}?limit=30&starting_after={thirtieth}"), &t).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = r.body["data"]["items"]["data"].as_array().unwrap();
    assert_eq!((page.len(), page[0]["batch_index"].as_u64(), r.body["data"]["items"]["has_more"].as_bool()), (30, Some(30), Some(true)));

    // Replay: after a frame in the middle, only the later frames, and the stream ends again.
    let mid = frames[frames.len() / 2].id;
    let (_, c) = SseClient::open(&stack.url(&format!("/api/v1/batches/{id}/events")), &t, Some(mid)).await;
    let replayed = read_to_end(&mut c.unwrap(), Duration::from_secs(10)).await;
    let want: Vec<i64> = frames.iter().map(|f| f.id).filter(|i| *i > mid).collect();
    assert_eq!(replayed.iter().map(|f| f.id).collect::<Vec<_>>(), want, "replay from Last-Event-ID");

    let r = stack.get_as("/api/v1/batches", &t).await;
    assert_eq!((r.body["data"][0]["id"].as_str(), r.body["pagination"]["has_more"].as_bool()), (Some(id.as_str()), Some(false)));
}

#[tokio::test]
async fn one_invalid_item_refuses_the_batch_naming_it_and_nothing_is_created() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("batchbad")).await.access_token;
    let before = balance(stack, &t).await;
    let mut items: Vec<Value> = (0..5).map(|_| http_item(&format!("/ok/{}", key()))).collect();
    items[3] = json!({ "task_type": "http.request", "payload": { "url": "ftp://example.com/x" } });
    items.push(json!({ "task_type": "http.request", "payload": { "url": "https://example.com" }, "max_attempts": 11 }));
    let r = submit(stack, &t, &json!({ "items": items }), None).await;
    let details = r.assert_error(400, "invalid_request");
    let fields: Vec<&String> = details["fields"].as_object().unwrap().keys().collect();
    assert_eq!(fields, vec!["items[3].payload.url", "items[5].max_attempts"], "{details}");

    for bad in [json!({ "items": [] }), json!({ "items": (0..101).map(|_| http_item("/ok/x")).collect::<Vec<_>>() }), json!({ "jobs": [] })]
    {
        submit(stack, &t, &bad, None).await.assert_error(400, "invalid_request");
    }
    let r = ApiResponse::from(
        http()
            .post(stack.url("/api/v1/batches"))
            .bearer_auth(&t)
            .body("{\"items\":[")
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.assert_error(400, "invalid_request");
    assert_eq!(batch_count(stack, &t).await, 0, "nothing was created");
    assert_eq!(balance(stack, &t).await, before, "nothing was charged");
    let jobs = stack.get_as("/api/v1/jobs", &t).await;
    assert_eq!(jobs.body["data"], json!([]), "no job either");
}

#[tokio::test]
async fn a_batch_the_balance_cannot_cover_is_402_with_the_total_and_charges_nothing() {
    let stack = spawn_stack();
    // PRO allows browser jobs (5 credits each); the balance is the signup's 100.
    let (t, _) = stack.user_on_plan("batchpoor", "PRO", 0).await;
    let before = balance(stack, &t).await;
    let items: Vec<Value> =
        (0..21).map(|i| json!({ "task_type": "browser.extract_text", "payload": { "url": format!("https://example.com/{i}") } })).collect();
    let r = submit(stack, &t, &json!({ "items": items }), None).await;
    let details = r.assert_error(402, "insufficient_credits");
    assert_eq!((details["credit_cost"].as_i64(), details["balance"].as_i64()), (Some(105), Some(before)), "{details}");
    assert_eq!(balance(stack, &t).await, before, "nothing was charged");
    assert_eq!(batch_count(stack, &t).await, 0, "nothing was created");

    // The plan's quota is checked for the whole batch too: FREE allows 100 jobs a period.
    let t = stack.token_for(&unique_email("batchquota")).await.access_token;
    let first =
        submit(stack, &t, &json!({ "items": (0..60).map(|_| http_item(&format!("/slow/2000/{}", key()))).collect::<Vec<_>>() }), None)
            .await;
    assert_eq!(first.status, 202, "{}", first.body);
    let r = submit(stack, &t, &json!({ "items": (0..41).map(|_| http_item(&format!("/ok/{}", key()))).collect::<Vec<_>>() }), None).await;
    let details = r.assert_error(402, "plan_limit_exceeded");
    assert_eq!((details["job_quota"].as_i64(), details["jobs_requested"].as_i64()), (Some(100), Some(41)), "{details}");
    let id = first.body["data"]["id"].as_str().unwrap();
    let r = ApiResponse::from(http().post(stack.url(&format!("/api/v1/batches/{id}/cancel"))).bearer_auth(&t).send().await.unwrap()).await;
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
}

#[tokio::test]
async fn cancelling_mid_batch_cancels_the_rest_and_refunds_each_item_once() {
    let stack = spawn_stack();
    // FREE runs two jobs at once: two items run (slowly), eight wait.
    let t = stack.token_for(&unique_email("batchcancel")).await.access_token;
    let before = balance(stack, &t).await;
    let keys: Vec<String> = (0..10).map(|_| key()).collect();
    let body = json!({ "items": keys.iter().map(|k| http_item(&format!("/slow/3000/{k}"))).collect::<Vec<_>>() });
    let r = submit(stack, &t, &body, None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(balance(stack, &t).await, before - 10);
    let (_, c) = SseClient::open(&stack.url(&format!("/api/v1/batches/{id}/events")), &t, None).await;
    let mut c = c.unwrap();

    eventually("two items running", Duration::from_secs(30), || async {
        let r = stack.get_as(&format!("/api/v1/batches/{id}"), &t).await;
        (r.body["data"]["counts"]["running"] == 2).then_some(())
    })
    .await;
    let cancel = || async {
        ApiResponse::from(http().post(stack.url(&format!("/api/v1/batches/{id}/cancel"))).bearer_auth(&t).send().await.unwrap()).await
    };
    let r = cancel().await;
    assert_eq!(r.status, 202, "running items: the cancel is pending: {}", r.body);
    assert_eq!(r.body["data"]["cancel_requested"], true);
    assert_eq!(
        (r.body["data"]["counts"]["cancelled"].as_u64(), r.body["data"]["counts"]["running"].as_u64()),
        (Some(8), Some(2)),
        "{}",
        r.body
    );
    let again = cancel().await;
    assert!(again.status == 202 || again.status == 409, "a second cancel changes nothing: {}", again.body);

    let frames = read_to_end(&mut c, Duration::from_secs(30)).await;
    let last = frames.iter().rev().find(|f| f.event == "batch").expect("a batch frame");
    assert_eq!(last.data["status"], "FINISHED", "{frames:?}");
    assert_eq!(last.data["counts"]["cancelled"], 10, "{last:?}");
    assert_eq!(last.data["cancel_requested"], true);

    let b = stack.get_as(&format!("/api/v1/batches/{id}"), &t).await.body["data"].clone();
    assert_eq!((b["credits_charged"].as_i64(), b["credits_refunded"].as_i64()), (Some(10), Some(10)), "{b}");
    cancel().await.assert_error(409, "conflict");
    assert_eq!(balance(stack, &t).await, before, "every item refunded, each exactly once");
    let ledger = stack.get_as("/api/v1/credits/transactions?limit=100", &t).await;
    let refunds = ledger.body["data"].as_array().unwrap().iter().filter(|x| x["kind"] == "refund").count();
    assert_eq!(refunds, 10, "one refund per item");
    assert!(keys.iter().filter(|k| target().hits(k) > 0).count() <= 2, "waiting items never ran");
}

#[tokio::test]
async fn the_same_batch_key_twice_is_one_batch_and_item_keys_are_honoured() {
    let stack = spawn_stack();
    let t = stack.token_for(&unique_email("batchkey")).await.access_token;
    let body = json!({ "items": [http_item(&format!("/ok/{}", key())), http_item(&format!("/ok/{}", key()))] });
    let k = key();
    let (a, b) = tokio::join!(submit(stack, &t, &body, Some(&k)), submit(stack, &t, &body, Some(&k)));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 202], "one creates, the other replays: {} / {}", a.body, b.body);
    assert_eq!(a.body["data"]["id"], b.body["data"]["id"]);
    let replay = if a.status == 200 { &a } else { &b };
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.body["data"]["items"]["data"].as_array().unwrap().len(), 2);
    assert_eq!(batch_count(stack, &t).await, 1);

    let other = json!({ "items": [http_item(&format!("/ok/{}", key()))] });
    let details = submit(stack, &t, &other, Some(&k)).await.assert_error(409, "idempotency_key_reused").clone();
    assert_eq!(details["batch_id"], a.body["data"]["id"]);

    // Item keys: an item whose key a job already holds refuses the batch, naming it.
    let item_key = key();
    let mut keyed = http_item(&format!("/ok/{}", key()));
    keyed["idempotency_key"] = json!(item_key);
    let r = submit(stack, &t, &json!({ "items": [keyed.clone()] }), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let held_by = r.body["data"]["items"]["data"][0]["id"].clone();
    let details = submit(stack, &t, &json!({ "items": [http_item(&format!("/ok/{}", key())), keyed.clone()] }), None)
        .await
        .assert_error(409, "idempotency_key_reused")
        .clone();
    assert_eq!((details["index"].as_u64(), &details["job_id"]), (Some(1), &held_by), "{details}");
    let details = submit(stack, &t, &json!({ "items": [keyed.clone(), keyed] }), None).await.assert_error(400, "invalid_request").clone();
    assert!(details["fields"]["items[1].idempotency_key"].is_string(), "{details}");
    assert_eq!(batch_count(stack, &t).await, 2);
}

#[tokio::test]
async fn another_account_cannot_see_follow_or_cancel_a_batch() {
    let stack = spawn_stack();
    let owner = stack.token_for(&unique_email("batchowner")).await.access_token;
    let stranger = stack.token_for(&unique_email("batchstranger")).await.access_token;
    let r = submit(stack, &owner, &json!({ "items": [http_item(&format!("/ok/{}", key()))] }), None).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["data"]["id"].as_str().unwrap();
    stack.get_as(&format!("/api/v1/batches/{id}"), &stranger).await.assert_error(404, "not_found");
    let c = ApiResponse::from(http().post(stack.url(&format!("/api/v1/batches/{id}/cancel"))).bearer_auth(&stranger).send().await.unwrap())
        .await;
    c.assert_error(404, "not_found");
    let (s, _) = SseClient::open(&stack.url(&format!("/api/v1/batches/{id}/events")), &stranger, None).await;
    assert_eq!(s, 404);
    assert_eq!(batch_count(stack, &stranger).await, 0);
    stack.get_as("/api/v1/batches/not-a-uuid", &owner).await.assert_error(404, "not_found");
    stack.get_as(&format!("/api/v1/batches/{id}?ending_before={id}"), &owner).await.assert_error(400, "invalid_request");
    let unknown = uuid::Uuid::new_v4();
    stack.get_as(&format!("/api/v1/batches/{id}?starting_after={unknown}"), &owner).await.assert_error(404, "not_found");
    stack.get_as(&format!("/api/v1/batches?starting_after={unknown}"), &owner).await.assert_error(404, "not_found");
    let no_auth = ApiResponse::from(http().post(stack.url("/api/v1/batches")).json(&json!({ "items": [] })).send().await.unwrap()).await;
    no_auth.assert_error(401, "unauthorized");
}
