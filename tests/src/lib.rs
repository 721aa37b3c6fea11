//! The end-to-end harness: boots the whole local stack once per test binary (`scripts/stack.mjs test`:
//! its own PostgreSQL cluster and database, auth key server, postrust and `wrangler dev` on free ports),
//! and gives tests typed helpers to talk to it.
//!
//! Teardown is tied to this process: the stack script watches its stdin, which closes when the test
//! process exits, panics or is killed, and then stops every process it started and deletes its state.

use serde::Deserialize;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct StackInfo {
    pub worker_url: String,
    pub supabase_url: String,
    pub postgrest_url: String,
    pub database_url: String,
    pub anon_key: String,
    pub service_role_key: String,
    /// The local Browser Rendering server (its `/_dev/*` routes inject faults).
    pub browser_rendering_url: String,
    /// The local Stripe stand-in (scripts/stripe-server.mjs) and the webhook signing secret of this run.
    pub stripe_url: String,
    pub stripe_webhook_secret: String,
    /// The local Sentry stand-in (scripts/sentry-server.mjs): `/_dev/envelopes` lists what it received.
    pub sentry_url: String,
    /// The local AI Gateway stand-in (scripts/ai-server.mjs): `/_dev/faults`, `/_dev/calls`.
    pub ai_url: String,
    /// The stack's state folder (`logs/wrangler.log` holds the Worker's log lines).
    pub state_dir: String,
}

/// A running stack. Dropping the value does nothing: the stack lives until the test process exits.
pub struct Stack {
    pub info: StackInfo,
    control: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
    _child: Mutex<Child>,
}

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

impl Stack {
    /// Starts a new stack and waits until the Worker answers `/health` (the script polls with a deadline).
    /// `env` passes options to `scripts/stack.mjs` (`STACK_JWT_SECRET`, `STACK_WORKER_VARS`).
    // The child is kept in the returned Stack and lives as long as the test process (its stdin closing
    // tears it down); clippy cannot see that through the struct.
    #[allow(clippy::zombie_processes)]
    pub fn start(env: &[(&str, &str)]) -> Stack {
        let root = project_root();
        let node = root.join("node_modules/.bin/node");
        let mut child = Command::new(node)
            .arg(root.join("scripts/stack.mjs"))
            .arg("test")
            .envs(env.iter().copied())
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn scripts/stack.mjs (run `npm run bootstrap` first)");
        let stdin = child.stdin.take().expect("stdin piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut line = String::new();
        loop {
            line.clear();
            let n = stdout.read_line(&mut line).expect("read stack output");
            if n == 0 {
                let status = child.wait().expect("wait for the stack script");
                panic!("the stack script exited ({status}) before it was ready (its errors are above)");
            }
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["event"] == "ready" {
                    let info: StackInfo = serde_json::from_value(v).expect("ready line shape");
                    return Stack { info, control: Mutex::new((stdin, stdout)), _child: Mutex::new(child) };
                }
            }
        }
    }

    /// Sends a control command (`db stop`, `db start`, `auth stop`, `auth start`) and waits for its ack.
    pub fn control(&self, cmd: &str) {
        let mut guard = self.control.lock().unwrap_or_else(|p| p.into_inner());
        let (stdin, stdout) = &mut *guard;
        writeln!(stdin, "{cmd}").expect("write control command");
        stdin.flush().expect("flush control command");
        let mut line = String::new();
        loop {
            line.clear();
            assert!(stdout.read_line(&mut line).expect("read ack") > 0, "stack exited during `{cmd}`");
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                match v["event"].as_str() {
                    Some("ack") if v["cmd"] == cmd => return,
                    Some("error") => panic!("stack control `{cmd}` failed: {}", v["error"]),
                    _ => {}
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.info.worker_url, path)
    }

    /// A signed ES256 access token for `email` (the user is created if new), from the local key server.
    pub async fn token_for(&self, email: &str) -> DevToken {
        self.mint(serde_json::json!({ "email": email })).await
    }

    /// Mints a token with the local key server's `/_dev/token` (see scripts/auth-server.mjs for `req`).
    pub async fn mint(&self, req: Value) -> DevToken {
        let r = http().post(format!("{}/_dev/token", self.info.supabase_url)).json(&req).send().await.expect("auth server reachable");
        let status = r.status();
        assert!(status.is_success(), "token mint failed: {status} {}", r.text().await.unwrap_or_default());
        r.json().await.expect("token json")
    }

    /// Adds a signing key of `alg` to the local JWKS (a key rotation) and returns its kid.
    pub async fn rotate_key(&self, alg: &str) -> String {
        let r = http()
            .post(format!("{}/_dev/keys", self.info.supabase_url))
            .json(&serde_json::json!({ "alg": alg }))
            .send()
            .await
            .expect("auth server reachable");
        assert!(r.status().is_success(), "key rotation failed: {}", r.status());
        let v: Value = r.json().await.expect("kid json");
        v["kid"].as_str().expect("kid").to_string()
    }

    /// A request to PostgREST as the service role (test arrangement and inspection only).
    pub fn service(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        http()
            .request(method, format!("{}{}", self.info.postgrest_url, path))
            .header("apikey", &self.info.service_role_key)
            .bearer_auth(&self.info.service_role_key)
            .header("Prefer", "return=representation")
    }

    /// Makes the local Browser Rendering server answer `status` to the next `count` API calls (all of
    /// them without `count`); `None` clears the faults.
    pub async fn browser_faults(&self, fault: Option<Value>) {
        let url = format!("{}/_dev/faults", self.info.browser_rendering_url);
        let r = match fault {
            Some(f) => http().post(url).json(&f).send().await,
            None => http().delete(url).send().await,
        }
        .expect("browser rendering server reachable");
        assert!(r.status().is_success(), "browser faults: {}", r.status());
    }

    /// The local Browser Rendering server's counters: `{requests, by_status: {"200": n, ...}}`.
    pub async fn browser_stats(&self) -> Value {
        http().get(format!("{}/_dev/stats", self.info.browser_rendering_url)).send().await.unwrap().json().await.unwrap()
    }

    /// A new user whose personal account is moved to `plan` and given `credits` extra credits (test
    /// arrangement through the service role). Returns (token, account id).
    pub async fn user_on_plan(&self, tag: &str, plan: &str, credits: i64) -> (String, String) {
        // The account is looked up through the service role, not the API: the Worker keeps an account's
        // plan limits for a minute, and the user's first request should already see the new plan.
        let user = self.token_for(&unique_email(tag)).await;
        let token = user.access_token;
        let rows: Value = self
            .service(reqwest::Method::GET, &format!("/accounts?personal_owner_id=eq.{}&select=id", user.user_id))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let account = rows[0]["id"].as_str().expect("the personal account").to_string();
        let r = self
            .service(reqwest::Method::PATCH, &format!("/accounts?id=eq.{account}"))
            .json(&serde_json::json!({ "plan": plan }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "set plan: {}", r.status());
        if credits > 0 {
            let r = self
                .service(reqwest::Method::POST, "/rpc/grant_credits")
                .json(&serde_json::json!({ "p_account_id": account, "p_amount": credits, "p_kind": "grant", "p_reference": format!("test:{}", uuid::Uuid::new_v4()) }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "grant credits: {} {}", r.status(), r.text().await.unwrap_or_default());
        }
        (token, account)
    }

    /// The envelopes the Sentry stand-in accepted so far: `[{received_at, header, items: [{header, payload}]}]`.
    pub async fn sentry_envelopes(&self) -> Vec<Value> {
        let r = http().get(format!("{}/_dev/envelopes", self.info.sentry_url)).send().await.expect("sentry stand-in reachable");
        r.json().await.expect("envelopes json")
    }

    /// Adds a fault rule to the AI stand-in (`{match?, status?, retry_after?, invalid?, latency_ms?, count?}`).
    pub async fn ai_fault(&self, rule: Value) {
        let r = http().post(format!("{}/_dev/faults", self.info.ai_url)).json(&rule).send().await.expect("ai stand-in reachable");
        assert!(r.status().is_success(), "ai faults: {}", r.status());
    }

    /// Every chat-completions call the AI stand-in received: `[{model, schema, started_at, ended_at, status, match}]`.
    pub async fn ai_calls(&self) -> Vec<Value> {
        http()
            .get(format!("{}/_dev/calls", self.info.ai_url))
            .send()
            .await
            .expect("ai stand-in reachable")
            .json()
            .await
            .expect("calls json")
    }

    /// The Worker's log so far (wrangler dev's output), for tests that wait on a logged condition.
    pub fn worker_log(&self) -> String {
        std::fs::read_to_string(std::path::Path::new(&self.info.state_dir).join("logs/wrangler.log")).unwrap_or_default()
    }

    /// Asks the local Stripe stand-in to act like `stripe trigger` (`/_dev/trigger`); returns its answer.
    pub async fn stripe_trigger(&self, req: Value) -> Value {
        let r = http().post(format!("{}/_dev/trigger", self.info.stripe_url)).json(&req).send().await.expect("stripe stand-in reachable");
        let status = r.status();
        let body: Value = r.json().await.expect("trigger json");
        assert!(status.is_success(), "stripe trigger {req}: {status} {body}");
        body
    }

    /// Stores objects in the Stripe stand-in as Stripe's current state (`/_dev/objects`).
    pub async fn stripe_objects(&self, objects: &[Value]) {
        let r = http()
            .post(format!("{}/_dev/objects", self.info.stripe_url))
            .json(&serde_json::json!({ "objects": objects }))
            .send()
            .await
            .expect("stripe stand-in reachable");
        assert!(r.status().is_success(), "stripe objects: {}", r.status());
    }

    /// A `Stripe-Signature` header for `body` signed now with this stack's webhook secret.
    pub fn stripe_signature(&self, body: &str) -> String {
        stripe_signature(&self.info.stripe_webhook_secret, body)
    }

    /// `GET path` with a bearer token.
    pub async fn get_as(&self, path: &str, token: &str) -> ApiResponse {
        ApiResponse::from(http().get(self.url(path)).bearer_auth(token).send().await.expect("worker reachable")).await
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DevToken {
    pub access_token: String,
    pub user_id: String,
    pub email: String,
}

static SHARED: OnceLock<Stack> = OnceLock::new();

/// The HS256 secret the shared stack accepts (as a Supabase project on the legacy JWT secret would).
pub const TEST_JWT_SECRET: &str = "test-only-hs256-secret-0123456789abcdef";

/// Worker settings of the shared stack: quick job retries so retry tests take seconds.
pub const SHARED_WORKER_VARS: &str = r#"{"JOB_RETRY_BASE_SECS":"1","JOB_RETRY_MAX_SECS":"2"}"#;

/// The stack shared by every test in this binary, with HS256 enabled. Tests isolate themselves by
/// creating their own users.
pub fn spawn_stack() -> &'static Stack {
    SHARED.get_or_init(|| Stack::start(&[("STACK_JWT_SECRET", TEST_JWT_SECRET), ("STACK_WORKER_VARS", SHARED_WORKER_VARS)]))
}

/// Like [`spawn_stack`], with options; the first call in a binary decides them.
pub fn spawn_stack_with(env: &[(&str, &str)]) -> &'static Stack {
    SHARED.get_or_init(|| Stack::start(env))
}

/// A `Stripe-Signature` header value (`t=…,v1=…`) for `body` signed now with `secret`.
pub fn stripe_signature(secret: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    m.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(m.finalize().into_bytes()))
}

/// A client with a timeout, so a hung Worker fails the test instead of hanging it.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("reqwest client")
}

/// A unique email for a test's own user.
pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.test", uuid::Uuid::new_v4().simple())
}

/// A response with its envelope parsed.
#[derive(Debug)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl ApiResponse {
    pub async fn from(r: reqwest::Response) -> ApiResponse {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("expected JSON, got {status}: {text}"))
        };
        ApiResponse { status, headers, body }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope with `code` and returns its `details`.
    pub fn assert_error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(self.body["success"], false, "body: {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        assert!(self.body["error"]["message"].is_string(), "body: {}", self.body);
        assert!(self.body["request_id"].is_string() && self.body["timestamp"].is_string());
        assert_eq!(self.header("x-request-id"), self.body["request_id"].as_str(), "header and body request ids agree");
        &self.body["error"]["details"]
    }
}

/// Polls `check` until it returns `Some`, or panics with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < until, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub mod bench;
pub mod fake_stripe;
pub mod sse;
pub mod target;

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
