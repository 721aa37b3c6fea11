//! Lead analysis end to end (docs/adr/0018): the Worker, the `lead-analysis` queue, the local Browser
//! Rendering server (real Chromium) reading profile pages the harness serves, the R2 cache wrangler dev
//! simulates, and the local AI Gateway stand-in (scripts/ai-server.mjs).
//!
//! Tests share one stack. AI faults are rules matched on a profile key only the test uses, so tests do
//! not disturb each other.

use e2e::target::target;
use e2e::{eventually, http, spawn_stack, ApiResponse, Stack};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

fn stack() -> &'static Stack {
    spawn_stack()
}

fn key(tag: &str) -> String {
    format!("{tag}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn profile_url(k: &str) -> String {
    target().url(&format!("/profile/{k}"))
}

async fn post(token: &str, path: &str, body: Value) -> ApiResponse {
    ApiResponse::from(http().post(stack().url(path)).bearer_auth(token).json(&body).send().await.unwrap()).await
}

async fn user(tag: &str, credits: i64) -> String {
    stack().user_on_plan(tag, "PRO", credits).await.0
}

async fn business(token: &str) -> String {
    let r = post(
        token,
        "/api/v1/business-profiles",
        json!({ "name": "Acme Tools", "description": "Developer tools for launch teams", "ideal_customer": "Engineering leads at space startups" }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.header("Location").unwrap().ends_with(r.body["data"]["id"].as_str().unwrap()));
    r.body["data"]["id"].as_str().unwrap().to_string()
}

async fn analyze(token: &str, bp: &str, url: &str, tier: &str) -> Value {
    let r = post(token, "/api/v1/leads/analyze", json!({ "profile_url": url, "tier": tier, "business_profile_id": bp })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    r.body["data"].clone()
}

async fn wait_analysis(token: &str, id: &str, want: &[&str]) -> Value {
    eventually(&format!("analysis {id} to reach {want:?}"), WAIT, || async {
        let r = stack().get_as(&format!("/api/v1/analyses/{id}"), token).await;
        let s = r.body["data"]["status"].as_str().unwrap_or("").to_string();
        want.contains(&s.as_str()).then(|| r.body["data"].clone())
    })
    .await
}

async fn balance(token: &str) -> i64 {
    stack().get_as("/api/v1/credits/balance", token).await.body["data"]["balance"].as_i64().unwrap()
}

async fn refunds_of(job_id: &str) -> usize {
    let rows: Value = stack()
        .service(reqwest::Method::GET, &format!("/credit_transactions?job_id=eq.{job_id}&kind=eq.refund&select=id"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    rows.as_array().unwrap().len()
}

async fn calls_matching(k: &str) -> Vec<Value> {
    stack().ai_calls().await.into_iter().filter(|c| c["match"] == k).collect()
}

#[tokio::test]
async fn each_tier_completes_with_a_valid_result_a_cost_breakdown_and_step_timings() {
    let token = user("tiers", 100).await;
    let bp = business(&token).await;
    let before = balance(&token).await;
    let deep_key = key("deep");
    // A rule that only slows DEEP's calls down (300 ms each), so their overlap is measurable.
    stack().ai_fault(json!({ "match": deep_key, "latency_ms": 300 })).await;
    let cases = [
        ("LIGHT", key("light"), 1, 1, "openai/gpt-5-nano"),
        ("DEEP", deep_key.clone(), 3, 2, "openai/gpt-5-mini"),
        ("XRAY", key("xray"), 5, 3, "openai/gpt-5"),
    ];
    let mut submitted = Vec::new();
    for (tier, k, credits, _, _) in &cases {
        let a = analyze(&token, &bp, &profile_url(k), tier).await;
        assert_eq!(a["status"], "PENDING");
        assert_eq!(a["job"]["task_type"], "lead.analyze");
        assert_eq!(a["credit_cost"], *credits, "{tier} costs {credits}");
        submitted.push(a);
    }
    assert_eq!(balance(&token).await, before - 9, "deducted at submission");
    for ((tier, k, _, calls, model), a) in cases.iter().zip(&submitted) {
        let done = wait_analysis(&token, a["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
        assert_eq!(done["status"], "COMPLETED", "{tier}: {done}");
        let score = done["fit_score"].as_i64().unwrap();
        assert!((0..=100).contains(&score));
        assert_eq!(done["result"]["fit_score"], score);
        assert!(!done["summary"].as_str().unwrap().is_empty());
        assert_eq!(done["model"], *model);
        assert_eq!(done["cache_hit"], false);
        match *tier {
            "LIGHT" => assert!(done["result"]["fit"]["strengths"].is_array(), "{done}"),
            "DEEP" => assert!(done["result"]["assessment"].is_object() && done["result"]["outreach"]["channel"].is_string(), "{done}"),
            _ => assert!(done["result"]["psychographic"]["risk_tolerance"].is_string(), "{done}"),
        }
        let cost = &done["cost"];
        assert_eq!(cost["calls"].as_array().unwrap().len(), *calls, "{tier}: {cost}");
        assert!(cost["ai_usd"].as_f64().unwrap() > 0.0 && cost["calls"][0]["prompt_tokens"].as_u64().unwrap() > 0, "{cost}");
        assert!(cost["browser_ms"].as_u64().unwrap() > 0, "the scrape's browser time is counted: {cost}");
        let total = cost["total_usd"].as_f64().unwrap();
        assert!((total - cost["ai_usd"].as_f64().unwrap() - cost["scrape_usd"].as_f64().unwrap()).abs() < 1e-7, "{cost}");
        let t = &done["step_timings"];
        assert!(t["total_ms"].as_u64().unwrap() >= t["ai_ms"].as_u64().unwrap() && t["scrape_ms"].as_u64().unwrap() > 0, "{t}");
        // The lead shows what the page said and the latest score.
        let lead = stack().get_as(&format!("/api/v1/leads/{}", done["lead_id"].as_str().unwrap()), &token).await;
        assert_eq!(lead.status, 200);
        assert_eq!(lead.body["data"]["display_name"], format!("Person {k}"));
        assert_eq!(lead.body["data"]["headline"], format!("Head of Engineering at Rockets {k}"));
        assert_eq!(lead.body["data"]["latest_fit_score"], score);
        assert_eq!(lead.body["data"]["latest_tier"], *tier);
    }
    // DEEP's two calls ran side by side: each started before the other ended.
    let deep = calls_matching(&deep_key).await;
    assert_eq!(deep.len(), 2, "{deep:?}");
    let (s0, e0, s1, e1) = (
        deep[0]["started_at"].as_f64().unwrap(),
        deep[0]["ended_at"].as_f64().unwrap(),
        deep[1]["started_at"].as_f64().unwrap(),
        deep[1]["ended_at"].as_f64().unwrap(),
    );
    assert!(s0 < e1 && s1 < e0, "DEEP's AI calls overlap in time: {deep:?}");
    assert_eq!(balance(&token).await, before - 9, "completed analyses keep their credits");
}

#[tokio::test]
async fn a_second_analysis_within_the_ttl_is_a_cache_hit_and_does_not_scrape() {
    let token = user("cache", 100).await;
    let bp = business(&token).await;
    let k = key("cached");
    let first = analyze(&token, &bp, &profile_url(&k), "LIGHT").await;
    let first = wait_analysis(&token, first["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    assert_eq!((first["status"].as_str(), first["cache_hit"].as_bool()), (Some("COMPLETED"), Some(false)), "{first}");
    let scraped = target().hits(&k);
    assert!(scraped >= 1, "the page was read once");
    // Another tier of the same profile (12 h TTL; the copy is seconds old), with the URL spelled differently.
    let second = analyze(&token, &bp, &format!("{}/", profile_url(&k)), "DEEP").await;
    assert_eq!(second["lead_id"], first["lead_id"], "the same lead");
    let second = wait_analysis(&token, second["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    assert_eq!(second["status"], "COMPLETED", "{second}");
    assert_eq!(second["cache_hit"], true);
    assert_eq!(second["cost"]["scrape_usd"], 0.0);
    assert_eq!(second["step_timings"]["scrape_ms"], 0);
    assert_eq!(target().hits(&k), scraped, "no second scrape of the page");
    let analyses = stack().get_as(&format!("/api/v1/leads/{}/analyses", first["lead_id"].as_str().unwrap()), &token).await;
    assert_eq!(analyses.body["data"].as_array().unwrap().len(), 2, "{}", analyses.body);
    assert_eq!(analyses.body["data"][0]["id"], second["id"], "newest first");
}

#[tokio::test]
async fn cancelling_mid_analysis_refunds_once() {
    let token = user("cancel", 100).await;
    let bp = business(&token).await;
    let before = balance(&token).await;
    let k = key("cancel");
    stack().ai_fault(json!({ "match": k, "latency_ms": 4000 })).await;
    let a = analyze(&token, &bp, &profile_url(&k), "DEEP").await;
    let job_id = a["job_id"].as_str().unwrap().to_string();
    // Steps are live in JobHub (the job's progress), not written to the database on every step.
    eventually("the analysis to reach its AI step", WAIT, || async {
        let r = stack().get_as(&format!("/api/v1/jobs/{job_id}/progress"), &token).await;
        (r.body["data"]["step"] == "analyzing").then_some(())
    })
    .await;
    let r = post(&token, &format!("/api/v1/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let done = wait_analysis(&token, a["id"].as_str().unwrap(), &["CANCELLED", "COMPLETED", "FAILED"]).await;
    assert_eq!(done["status"], "CANCELLED", "{done}");
    assert_eq!(done["result"], Value::Null, "a cancelled analysis stores no result");
    assert_eq!(balance(&token).await, before, "refunded");
    assert_eq!(refunds_of(&job_id).await, 1, "exactly one refund");
    let again = post(&token, &format!("/api/v1/jobs/{job_id}/cancel"), json!({})).await;
    assert_eq!(again.status, 409);
    assert_eq!(refunds_of(&job_id).await, 1, "still one refund");
}

#[tokio::test]
async fn an_ai_5xx_then_success_completes_with_two_attempts() {
    let token = user("retry", 100).await;
    let bp = business(&token).await;
    let k = key("flaky");
    stack().ai_fault(json!({ "match": k, "status": 500, "count": 1 })).await;
    let a = analyze(&token, &bp, &profile_url(&k), "LIGHT").await;
    let done = wait_analysis(&token, a["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let job = stack().get_as(&format!("/api/v1/jobs/{}", a["job_id"].as_str().unwrap()), &token).await;
    assert_eq!(job.body["data"]["attempts"], 2, "{}", job.body);
    let statuses: Vec<u64> = calls_matching(&k).await.iter().map(|c| c["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![500, 200]);
    assert_eq!(done["cache_hit"], true, "the second attempt found the first one's scrape in the cache");
}

#[tokio::test]
async fn invalid_output_is_repaired_once_and_fails_refunded_the_second_time() {
    let token = user("invalid", 100).await;
    let bp = business(&token).await;
    let before = balance(&token).await;
    // Invalid once: the repair request fixes it.
    let once = key("invalid-once");
    stack().ai_fault(json!({ "match": once, "invalid": "schema", "count": 1 })).await;
    let a = analyze(&token, &bp, &profile_url(&once), "LIGHT").await;
    let done = wait_analysis(&token, a["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["cost"]["calls"][0]["requests"], 2, "the repair is counted: {}", done["cost"]);
    // Invalid twice: FAILED ai_invalid_output, refunded, no result.
    let twice = key("invalid-twice");
    stack().ai_fault(json!({ "match": twice, "invalid": "json", "count": 2 })).await;
    let b = analyze(&token, &bp, &profile_url(&twice), "LIGHT").await;
    let failed = wait_analysis(&token, b["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["failure_reason"], "ai_invalid_output");
    assert_eq!(failed["result"], Value::Null);
    assert_eq!(calls_matching(&twice).await.len(), 2, "one answer and one repair, no retry");
    assert_eq!(refunds_of(b["job_id"].as_str().unwrap()).await, 1);
    assert_eq!(balance(&token).await, before - 1, "only the completed analysis is paid for");
}

#[tokio::test]
async fn another_account_sees_none_of_the_leads_analyses_or_profiles() {
    let owner = user("owner", 100).await;
    let bp = business(&owner).await;
    let a = analyze(&owner, &bp, &profile_url(&key("private")), "LIGHT").await;
    let done = wait_analysis(&owner, a["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    let lead = done["lead_id"].as_str().unwrap().to_string();
    let other = user("stranger", 100).await;
    assert_eq!(stack().get_as("/api/v1/leads", &other).await.body["data"], json!([]));
    assert_eq!(stack().get_as("/api/v1/business-profiles", &other).await.body["data"], json!([]));
    for path in [
        format!("/api/v1/leads/{lead}"),
        format!("/api/v1/leads/{lead}/analyses"),
        format!("/api/v1/analyses/{}", a["id"].as_str().unwrap()),
        format!("/api/v1/business-profiles/{bp}"),
    ] {
        stack().get_as(&path, &other).await.assert_error(404, "not_found");
    }
    let del =
        ApiResponse::from(http().delete(stack().url(&format!("/api/v1/leads/{lead}"))).bearer_auth(&other).send().await.unwrap()).await;
    del.assert_error(404, "not_found");
    post(&other, &format!("/api/v1/leads/{lead}/restore"), json!({})).await.assert_error(404, "not_found");
    let put = ApiResponse::from(
        http()
            .put(stack().url(&format!("/api/v1/business-profiles/{bp}")))
            .bearer_auth(&other)
            .json(&json!({ "name": "x", "description": "y" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    put.assert_error(404, "not_found");
    // Analysing with someone else's business profile is refused, and charges nothing.
    let before = balance(&other).await;
    post(&other, "/api/v1/leads/analyze", json!({ "profile_url": profile_url(&key("x")), "tier": "LIGHT", "business_profile_id": bp }))
        .await
        .assert_error(404, "not_found");
    assert_eq!(balance(&other).await, before);
    // The owner still sees everything.
    assert_eq!(stack().get_as(&format!("/api/v1/business-profiles/{bp}"), &owner).await.status, 200);
}

#[tokio::test]
async fn soft_delete_hides_a_lead_and_restore_brings_it_back() {
    let token = user("delete", 100).await;
    let bp = business(&token).await;
    let a = analyze(&token, &bp, &profile_url(&key("bin")), "LIGHT").await;
    let lead = a["lead_id"].as_str().unwrap().to_string();
    wait_analysis(&token, a["id"].as_str().unwrap(), &["COMPLETED", "FAILED"]).await;
    let del =
        ApiResponse::from(http().delete(stack().url(&format!("/api/v1/leads/{lead}"))).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert!(del.body["data"]["deleted_at"].is_string());
    stack().get_as(&format!("/api/v1/leads/{lead}"), &token).await.assert_error(404, "not_found");
    stack().get_as(&format!("/api/v1/leads/{lead}/analyses"), &token).await.assert_error(404, "not_found");
    let live = stack().get_as("/api/v1/leads", &token).await;
    assert!(!live.body["data"].as_array().unwrap().iter().any(|l| l["id"] == lead.as_str()));
    let bin = stack().get_as("/api/v1/leads?deleted=true", &token).await;
    assert!(bin.body["data"].as_array().unwrap().iter().any(|l| l["id"] == lead.as_str()), "{}", bin.body);
    let restored = post(&token, &format!("/api/v1/leads/{lead}/restore"), json!({})).await;
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(restored.body["data"]["deleted_at"], Value::Null);
    let back = stack().get_as(&format!("/api/v1/leads/{lead}"), &token).await;
    assert_eq!(back.status, 200);
    assert!(back.body["data"]["latest_fit_score"].is_i64(), "with its analysis: {}", back.body);
}

#[tokio::test]
async fn a_bulk_analysis_of_20_leads_completes_as_one_batch() {
    let token = user("bulk", 100).await;
    let bp = business(&token).await;
    let before = balance(&token).await;
    let urls: Vec<String> = (0..20).map(|i| profile_url(&key(&format!("bulk{i}")))).collect();
    let r = post(&token, "/api/v1/leads/analyze/bulk", json!({ "profile_urls": urls, "tier": "LIGHT", "business_profile_id": bp })).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let batch = r.body["data"]["batch"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.header("Location"), Some(format!("/api/v1/batches/{batch}").as_str()));
    assert_eq!(r.body["data"]["analyses"].as_array().unwrap().len(), 20);
    assert_eq!(r.body["data"]["batch"]["credits_charged"], 20);
    let finished = eventually("the bulk batch to finish", WAIT, || async {
        let b = stack().get_as(&format!("/api/v1/batches/{batch}"), &token).await;
        (b.body["data"]["status"] == "FINISHED").then(|| b.body["data"].clone())
    })
    .await;
    assert_eq!(finished["counts"]["completed"], 20, "{finished}");
    let leads = stack().get_as("/api/v1/leads?limit=100&min_score=0", &token).await;
    assert_eq!(leads.body["data"].as_array().unwrap().len(), 20);
    assert!(leads.body["data"].as_array().unwrap().iter().all(|l| l["latest_tier"] == "LIGHT"));
    assert_eq!(balance(&token).await, before - 20);
}

#[tokio::test]
async fn bad_requests_are_refused_with_every_field_named_and_nothing_charged() {
    let token = user("bad", 100).await;
    let bp = business(&token).await;
    let before = balance(&token).await;
    let r = post(
        &token,
        "/api/v1/leads/analyze",
        json!({ "profile_url": "ftp://x", "tier": "MEGA", "business_profile_id": "nope", "extra": 1 }),
    )
    .await;
    let e = r.assert_error(400, "invalid_request");
    for f in ["profile_url", "tier", "business_profile_id", "extra"] {
        assert!(e["fields"].get(f).is_some(), "{f} in {e}");
    }
    let r = post(
        &token,
        "/api/v1/leads/analyze/bulk",
        json!({ "profile_urls": [profile_url("a"), "nope"], "tier": "LIGHT", "business_profile_id": bp }),
    )
    .await;
    assert!(r.assert_error(400, "invalid_request")["fields"].get("profile_urls[1]").is_some());
    let many: Vec<String> = (0..51).map(|i| profile_url(&format!("m{i}"))).collect();
    post(&token, "/api/v1/leads/analyze/bulk", json!({ "profile_urls": many, "tier": "LIGHT", "business_profile_id": bp }))
        .await
        .assert_error(400, "invalid_request");
    // lead.analyze jobs are made only with their lead and analysis.
    let r = post(
        &token,
        "/api/v1/jobs",
        json!({ "task_type": "lead.analyze", "payload": { "profile_url": profile_url("z"), "tier": "LIGHT", "business_profile_id": bp } }),
    )
    .await;
    assert!(r.assert_error(400, "invalid_request")["fields"].get("task_type").is_some());
    let r = post(&token, "/api/v1/business-profiles", json!({ "name": " ", "description": 5, "website": "javascript:alert(1)" })).await;
    let e = r.assert_error(400, "invalid_request");
    for f in ["name", "description", "website"] {
        assert!(e["fields"].get(f).is_some(), "{f} in {e}");
    }
    stack().get_as("/api/v1/leads?min_score=101", &token).await.assert_error(400, "invalid_request");
    stack().get_as("/api/v1/leads/not-a-uuid", &token).await.assert_error(404, "not_found");
    // A duplicate in progress: the same lead and tier while the first still runs.
    let k = key("dup");
    stack().ai_fault(json!({ "match": k, "latency_ms": 3000 })).await;
    let first = analyze(&token, &bp, &profile_url(&k), "LIGHT").await;
    let dup =
        post(&token, "/api/v1/leads/analyze", json!({ "profile_url": profile_url(&k), "tier": "LIGHT", "business_profile_id": bp })).await;
    assert_eq!(dup.assert_error(409, "duplicate_job")["job_id"], first["job_id"]);
    assert_eq!(balance(&token).await, before - 1, "only the first was charged");
    // Updating a profile replaces its fields.
    let put = ApiResponse::from(
        http()
            .put(stack().url(&format!("/api/v1/business-profiles/{bp}")))
            .bearer_auth(&token)
            .json(&json!({ "name": "Acme 2", "description": "Rockets", "website": "https://acme.example" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!((put.body["data"]["name"].as_str(), put.body["data"]["ideal_customer"].as_str()), (Some("Acme 2"), Some("")));
}
