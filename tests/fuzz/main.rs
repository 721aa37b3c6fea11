//! The contract fuzz (issue 13): Schemathesis runs every check against `docs/openapi.json` on a stack of
//! its own, authenticated and anonymous, with live job streams (bounded by `max-stream-events`), and must
//! find nothing. Pinned in `scripts/bootstrap.sh` (`.venv`, Schemathesis 4.32.5); the configuration and
//! its two stated exceptions are in `tests/fuzz/schemathesis.toml`, the webhook-signing hook in
//! `tests/fuzz/hooks.py`.
//!
//! Budget: `FUZZ_MAX_EXAMPLES` examples per operation and phase (default 20) when authenticated, 5
//! anonymous; a fixed seed (`FUZZ_SEED`, default 13) so a failure reproduces.

use e2e::bench::env_usize;
use e2e::{spawn_stack_with, Stack};
use std::path::PathBuf;
use std::process::Command;

fn stack() -> &'static Stack {
    // Rate limits off (the fuzzer is one client sending as fast as it can); a deny-list of the
    // documentation range only, so the destinations the URL grammar allows are not refused by
    // deployment policy (the deny-list has its own tests in tests/api).
    spawn_stack_with(&[("STACK_WORKER_VARS", r#"{"FF_RATE_LIMITS_ENABLED":"false","SSRF_DENY_CIDRS":"192.0.2.0/24"}"#)])
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn schemathesis(args: &[String], label: &str) {
    let root = root();
    let bin = root.join(".venv/bin/schemathesis");
    assert!(bin.exists(), "{} missing: run `npm run bootstrap`", bin.display());
    let seed = std::env::var("FUZZ_SEED").unwrap_or_else(|_| "13".into());
    let report = root.join(format!("target/fuzz/{label}"));
    let out = Command::new(bin)
        .current_dir(root.join("tests/fuzz"))
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("FUZZ_STRIPE_WEBHOOK_SECRET", &stack().info.stripe_webhook_secret)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args(["--config-file", "schemathesis.toml", "run", &stack().url("/api/v1/openapi.json")])
        .args(["--checks", "all", "--seed", &seed, "--no-color", "--report", "junit"])
        .arg("--report-dir")
        .arg(&report)
        .args(args)
        .output()
        .expect("run schemathesis");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(out.status.success(), "schemathesis ({label}) found failures; report in {}:\n{text}", report.display());
    // "N generated, N passed, M skipped": the run really sent cases, and none failed.
    let cases = text.lines().find(|l| l.contains(" generated, ")).unwrap_or_default();
    assert!(cases.contains(" passed") && !cases.contains("fail"), "{label}: {cases}");
    let generated: u32 = cases.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(generated >= 50, "{label}: only {generated} cases were generated");
}

#[tokio::test]
async fn the_contract_is_fuzz_clean_authenticated_and_anonymous() {
    let (token, _) = stack().user_on_plan("fuzz", "PRO", 1000).await;
    let n = env_usize("FUZZ_MAX_EXAMPLES", 20).to_string();
    schemathesis(&["-n".into(), n, "--workers".into(), "2".into(), "-H".into(), format!("Authorization: Bearer {token}")], "authenticated");
    schemathesis(&["-n".into(), "5".into()], "anonymous");
}
