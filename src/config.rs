//! Configuration, read from the Worker's vars and secrets at one place.
//!
//! Every name is a constant here; secrets live in [`Secret`], which never prints its value. A missing
//! required value is a [`ConfigError`] naming it, answered as an opaque 500 and logged by name.

use crate::billing::policy::{parse_credit_packs, CreditPack, PriceMap};
use crate::contract::cors::CorsPolicy;
use crate::domain::breaker::Policy as BreakerPolicy;
use crate::domain::jwks_cache::Policy as JwksPolicy;
use crate::domain::ssrf::{DenyList, DEFAULT_DENY};
use std::fmt;
use worker::Env;

/// Binding names, as declared in `wrangler.toml` for every environment (a host test checks each one).
pub mod bindings {
    pub const JOBS_QUEUE: &str = "JOBS_QUEUE";
    pub const BROWSER_JOBS_QUEUE: &str = "BROWSER_JOBS_QUEUE";
    pub const STRIPE_WEBHOOKS_QUEUE: &str = "STRIPE_WEBHOOKS_QUEUE";
    pub const JOBS_DLQ: &str = "JOBS_DLQ";
    pub const BROWSER_JOBS_DLQ: &str = "BROWSER_JOBS_DLQ";
    pub const JOB_HUB: &str = "JOB_HUB";
    pub const CIRCUIT_BREAKER: &str = "CIRCUIT_BREAKER";
    pub const ACCOUNT_LIMITER: &str = "ACCOUNT_LIMITER";
    /// Lead analyses (`lead.analyze` jobs) and their dead letters.
    pub const LEAD_ANALYSIS_QUEUE: &str = "LEAD_ANALYSIS_QUEUE";
    pub const LEAD_ANALYSIS_DLQ: &str = "LEAD_ANALYSIS_DLQ";
    /// R2 bucket of scraped lead profiles (`[[r2_buckets]]`; docs/adr/0018).
    pub const PROFILE_CACHE: &str = "PROFILE_CACHE";
    /// Cloudflare's Rate Limiting binding (`[[ratelimits]]`): per client IP, unauthenticated routes.
    pub const IP_RATE_LIMITER: &str = "IP_RATE_LIMITER";
    /// Analytics Engine dataset (`[[analytics_engine_datasets]]`); optional: metrics are skipped without it.
    pub const METRICS: &str = "METRICS";
    pub const ALL: [&str; 10] = [
        JOBS_QUEUE,
        BROWSER_JOBS_QUEUE,
        STRIPE_WEBHOOKS_QUEUE,
        JOBS_DLQ,
        BROWSER_JOBS_DLQ,
        JOB_HUB,
        CIRCUIT_BREAKER,
        ACCOUNT_LIMITER,
        LEAD_ANALYSIS_QUEUE,
        LEAD_ANALYSIS_DLQ,
    ];
}

pub const ENVIRONMENT: &str = "ENVIRONMENT";
pub const SUPABASE_URL: &str = "SUPABASE_URL";
pub const POSTGREST_URL: &str = "POSTGREST_URL";
pub const SUPABASE_ANON_KEY: &str = "SUPABASE_ANON_KEY";
pub const SUPABASE_SERVICE_ROLE_KEY: &str = "SUPABASE_SERVICE_ROLE_KEY";
pub const CORS_ORIGINS: &str = "CORS_ORIGINS";
pub const MAX_BODY_BYTES: &str = "MAX_BODY_BYTES";
pub const SUPABASE_JWKS_URL: &str = "SUPABASE_JWKS_URL";
pub const SUPABASE_JWT_SECRET: &str = "SUPABASE_JWT_SECRET";
pub const JWKS_CACHE_TTL_SECS: &str = "JWKS_CACHE_TTL_SECS";
pub const JWKS_STALE_SECS: &str = "JWKS_STALE_SECS";
pub const JWKS_REFETCH_MIN_INTERVAL_SECS: &str = "JWKS_REFETCH_MIN_INTERVAL_SECS";
pub const JWKS_FETCH_TIMEOUT_MS: &str = "JWKS_FETCH_TIMEOUT_MS";
pub const POSTGREST_TIMEOUT_MS: &str = "POSTGREST_TIMEOUT_MS";
pub const HEALTH_CACHE_MS: &str = "HEALTH_CACHE_MS";
pub const JOB_PENDING_TTL_SECS: &str = "JOB_PENDING_TTL_SECS";
pub const SSRF_DENY_CIDRS: &str = "SSRF_DENY_CIDRS";
pub const JOB_RETRY_BASE_SECS: &str = "JOB_RETRY_BASE_SECS";
pub const JOB_RETRY_MAX_SECS: &str = "JOB_RETRY_MAX_SECS";
pub const WEBHOOK_RETRY_BASE_SECS: &str = "WEBHOOK_RETRY_BASE_SECS";
pub const WEBHOOK_RETRY_MAX_SECS: &str = "WEBHOOK_RETRY_MAX_SECS";
pub const WEBHOOK_REDRIVE_MAX_ATTEMPTS: &str = "WEBHOOK_REDRIVE_MAX_ATTEMPTS";
pub const STUCK_PENDING_SECS: &str = "STUCK_PENDING_SECS";
pub const STUCK_RUNNING_SECS: &str = "STUCK_RUNNING_SECS";
pub const STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const STRIPE_API_BASE: &str = "STRIPE_API_BASE";
pub const STRIPE_PRICE_PLANS: &str = "STRIPE_PRICE_PLANS";
pub const CREDIT_PACKS: &str = "CREDIT_PACKS";
pub const STRIPE_METERED_PRICES: &str = "STRIPE_METERED_PRICES";
pub const STRIPE_METER_EVENT_NAME: &str = "STRIPE_METER_EVENT_NAME";
pub const STRIPE_METER_ID: &str = "STRIPE_METER_ID";
pub const RETENTION_USAGE_EVENTS_DAYS: &str = "RETENTION_USAGE_EVENTS_DAYS";
pub const RETENTION_WEBHOOK_EVENTS_DAYS: &str = "RETENTION_WEBHOOK_EVENTS_DAYS";
pub const RETENTION_JOB_PAYLOAD_DAYS: &str = "RETENTION_JOB_PAYLOAD_DAYS";
pub const RETENTION_SOFT_DELETED_DAYS: &str = "RETENTION_SOFT_DELETED_DAYS";
pub const BROWSER_RENDERING_URL: &str = "BROWSER_RENDERING_URL";
pub const CLOUDFLARE_API_TOKEN: &str = "CLOUDFLARE_API_TOKEN";
pub const BREAKER_FAILURE_THRESHOLD: &str = "BREAKER_FAILURE_THRESHOLD";
pub const BREAKER_FAILURE_RATE: &str = "BREAKER_FAILURE_RATE";
pub const BREAKER_MIN_CALLS: &str = "BREAKER_MIN_CALLS";
pub const BREAKER_WINDOW: &str = "BREAKER_WINDOW";
pub const BREAKER_COOLDOWN_SECS: &str = "BREAKER_COOLDOWN_SECS";
/// Sentry DSN (a secret); error reports are off while unset.
pub const SENTRY_DSN: &str = "SENTRY_DSN";
/// The release reports are tagged with (e.g. the deployed git commit); default `edge-saas@<version>`.
pub const RELEASE: &str = "RELEASE";
/// Share of requests whose info log lines are written, 0 to 1 (default 1).
pub const LOG_SAMPLE_RATE: &str = "LOG_SAMPLE_RATE";
/// Whether Analytics Engine data points are written (default on; `false` measures their cost).
pub const METRICS_ENABLED: &str = "METRICS_ENABLED";

/// AI Gateway (docs/adr/0018): `{AI_GATEWAY_BASE_URL}/{AI_GATEWAY_ACCOUNT_ID}/{AI_GATEWAY_ID}/compat/chat/completions`.
pub const AI_GATEWAY_BASE_URL: &str = "AI_GATEWAY_BASE_URL";
pub const AI_GATEWAY_ACCOUNT_ID: &str = "AI_GATEWAY_ACCOUNT_ID";
pub const AI_GATEWAY_ID: &str = "AI_GATEWAY_ID";
/// Secret: the gateway's token (`cf-aig-authorization`), for authenticated gateways.
pub const AI_GATEWAY_TOKEN: &str = "AI_GATEWAY_TOKEN";
/// Secret: the provider's API key (`Authorization`); unset when the gateway holds it (BYOK).
pub const AI_PROVIDER_API_KEY: &str = "AI_PROVIDER_API_KEY";
pub const AI_MODEL_LIGHT: &str = "AI_MODEL_LIGHT";
pub const AI_MODEL_DEEP: &str = "AI_MODEL_DEEP";
pub const AI_MODEL_XRAY: &str = "AI_MODEL_XRAY";
/// The pricing table: `model:input:output[:cached_input]` in USD per million tokens, comma-separated.
pub const AI_MODEL_PRICES: &str = "AI_MODEL_PRICES";
pub const AI_TIMEOUT_MS: &str = "AI_TIMEOUT_MS";
pub const BROWSER_RENDERING_USD_PER_HOUR: &str = "BROWSER_RENDERING_USD_PER_HOUR";
pub const DEFAULT_AI_GATEWAY_BASE_URL: &str = "https://gateway.ai.cloudflare.com/v1";
/// Default models per tier (LIGHT, DEEP, XRAY) and their prices (USD per million tokens).
pub const DEFAULT_AI_MODELS: [&str; 3] = ["openai/gpt-5-nano", "openai/gpt-5-mini", "openai/gpt-5"];
pub const DEFAULT_AI_MODEL_PRICES: &str =
    "openai/gpt-5-nano:0.05:0.40:0.005,openai/gpt-5-mini:0.25:2.00:0.025,openai/gpt-5:1.25:10.00:0.125";

/// Default request body cap: generous for JSON job payloads, small enough to refuse abuse early.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// Feature flags reported by `/health`: (variable, default when unset).
/// Feature flags and their defaults. `FF_RATE_LIMITS_ENABLED` is the operator's switch for the plan
/// request limit (docs/adr/0014): off, requests are neither counted nor refused.
pub const FEATURE_FLAGS: &[(&str, bool)] = &[
    ("FF_BROWSER_WORKER_ENABLED", true),
    ("FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED", true),
    ("FF_RATE_LIMITS_ENABLED", true),
    ("FF_LEAD_ANALYSIS_LIGHT_ENABLED", true),
    ("FF_LEAD_ANALYSIS_DEEP_ENABLED", true),
    ("FF_LEAD_ANALYSIS_XRAY_ENABLED", true),
];

impl Config {
    pub fn feature(&self, name: &str) -> bool {
        self.features.iter().any(|(n, on)| *n == name && *on)
    }
}

/// A secret value. `Debug` prints `Secret([redacted])`; there is no `Display`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(v: impl Into<String>) -> Self {
        Secret(v.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("required configuration `{0}` is not set")]
    Missing(&'static str),
    #[error("configuration `{name}` is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: String,
    pub supabase_url: String,
    /// PostgREST base URL; `{SUPABASE_URL}/rest/v1` unless set.
    pub postgrest_url: String,
    /// Timeout of every PostgREST call (`POSTGREST_TIMEOUT_MS`, default 8000).
    pub postgrest_timeout_ms: u32,
    /// How long an isolate answers `/health` from its last dependency check (`HEALTH_CACHE_MS`, default
    /// 1000, 0 checks on every request; docs/adr/0021).
    pub health_cache_ms: u32,
    /// A job still PENDING this long after submission expires (`JOB_PENDING_TTL_SECS`, default 3600).
    pub job_pending_ttl_secs: u32,
    pub anon_key: Secret,
    pub service_role_key: Secret,
    pub cors: CorsPolicy,
    pub max_body_bytes: usize,
    pub features: Vec<(&'static str, bool)>,
    /// Token issuer: `{SUPABASE_URL}/auth/v1`.
    pub jwt_issuer: String,
    pub jwks_url: String,
    /// HS256 is accepted only when this is set.
    pub jwt_secret: Option<Secret>,
    pub jwks_policy: JwksPolicy,
    pub jwks_fetch_timeout_ms: u32,
    /// Destinations `http.request` jobs may not reach. Default: private, loopback, link-local and
    /// metadata ranges; empty in the `development` environment unless `SSRF_DENY_CIDRS` is set.
    pub ssrf_deny: DenyList,
    pub job_retry_base_secs: u32,
    pub job_retry_max_secs: u32,
    pub stuck_pending_secs: u32,
    /// Backoff of Stripe events the consumer could not apply yet: from base, doubling with the
    /// message's age, at most max (docs/adr/0012).
    pub webhook_retry_base_secs: u32,
    pub webhook_retry_max_secs: u32,
    /// Stored failures after which the cron re-drive gives an event up as `dead`.
    pub webhook_redrive_max_attempts: u32,
    pub stuck_running_secs: u32,
    /// Stripe API key; billing routes answer 503 without it.
    pub stripe_secret_key: Option<Secret>,
    /// Webhook signing secrets (comma-separated in the variable: several while rotating).
    pub stripe_webhook_secrets: Vec<Secret>,
    pub stripe_api_base: String,
    pub price_plans: PriceMap,
    pub credit_packs: Vec<CreditPack>,
    /// Browser Rendering REST base, e.g.
    /// `https://api.cloudflare.com/client/v4/accounts/{account_id}/browser-rendering` (no trailing slash).
    pub browser_rendering_url: String,
    /// API token with the "Browser Rendering - Edit" permission; browser jobs wait without it.
    pub cloudflare_api_token: Option<Secret>,
    /// Stripe price ids billed by usage: accounts subscribed to one of them have their usage reported.
    pub stripe_metered_prices: Vec<String>,
    /// The Billing Meter's `event_name` (usage reporting is skipped without it).
    pub stripe_meter_event_name: Option<String>,
    /// The Billing Meter's id, `mtr_...` (reconciliation is skipped without it).
    pub stripe_meter_id: Option<String>,
    pub retention: Retention,
    pub reporting: Reporting,
    pub log_sample_rate: f64,
    pub metrics_enabled: bool,
    pub ai: AiConfig,
    pub prices: crate::leads::cost::Prices,
}

/// The AI provider behind AI Gateway (docs/adr/0018).
#[derive(Debug, Clone)]
pub struct AiConfig {
    /// The chat-completions URL; empty while the gateway's account or id is unset (analyses then wait).
    pub chat_url: String,
    pub api_key: Option<Secret>,
    pub gateway_token: Option<Secret>,
    /// Model per tier: LIGHT, DEEP, XRAY.
    pub models: [String; 3],
    pub timeout_ms: u32,
}

impl AiConfig {
    pub fn model(&self, tier: crate::leads::Tier) -> &str {
        match tier {
            crate::leads::Tier::Light => &self.models[0],
            crate::leads::Tier::Deep => &self.models[1],
            crate::leads::Tier::Xray => &self.models[2],
        }
    }
}

/// Retention policy in days (docs/adr/0011).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub usage_events_days: u32,
    pub webhook_events_days: u32,
    pub job_payload_days: u32,
    pub soft_deleted_days: u32,
}

/// Where error reports go, and how they are tagged (docs/observability.md).
#[derive(Debug, Clone)]
pub struct Reporting {
    /// `None`: reports are off (no `SENTRY_DSN`).
    pub dsn: Option<crate::observability::sentry::Dsn>,
    pub source: crate::observability::sentry::Source,
}

/// The circuit breakers' policy (same for every guarded dependency). Invalid values fall back to the
/// defaults: the Durable Object that reads this has no request to answer with an error.
pub fn breaker_policy(env: &Env) -> BreakerPolicy {
    let d = BreakerPolicy::default();
    let n = |name: &'static str, default: f64| number(env, name, default).unwrap_or(default);
    BreakerPolicy {
        failure_threshold: n(BREAKER_FAILURE_THRESHOLD, d.failure_threshold as f64).max(1.0) as u32,
        failure_rate: n(BREAKER_FAILURE_RATE, d.failure_rate).clamp(0.01, 1.0),
        min_calls: n(BREAKER_MIN_CALLS, d.min_calls as f64).max(1.0) as u32,
        window: n(BREAKER_WINDOW, d.window as f64).clamp(1.0, 1000.0) as u32,
        cooldown_ms: n(BREAKER_COOLDOWN_SECS, d.cooldown_ms / 1000.0) * 1000.0,
        probe_lease_ms: d.probe_lease_ms,
    }
}

fn report_source(env: &Env, environment: &str) -> crate::observability::sentry::Source {
    crate::observability::sentry::Source {
        environment: environment.to_string(),
        release: get(env, RELEASE).unwrap_or_else(|| format!("edge-saas@{}", env!("CARGO_PKG_VERSION"))),
    }
}

/// Error reporting for code that has no request to fail (Durable Objects): an invalid `SENTRY_DSN`
/// turns reports off there, while requests answer with the configuration error.
pub fn reporting(env: &Env) -> Reporting {
    let environment = get(env, ENVIRONMENT).unwrap_or_else(|| "production".into());
    Reporting {
        dsn: get(env, SENTRY_DSN).and_then(|raw| crate::observability::sentry::Dsn::parse(&raw)),
        source: report_source(env, &environment),
    }
}

fn get(env: &Env, name: &str) -> Option<String> {
    env.secret(name).map(|s| s.to_string()).or_else(|_| env.var(name).map(|v| v.to_string())).ok().filter(|s| !s.trim().is_empty())
}

fn number(env: &Env, name: &'static str, default: f64) -> Result<f64, ConfigError> {
    match get(env, name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or(ConfigError::Invalid { name, reason: "expected a non-negative number".into() }),
    }
}

fn required(env: &Env, name: &'static str) -> Result<String, ConfigError> {
    get(env, name).ok_or(ConfigError::Missing(name))
}

/// Parses a flag value: `true/1/on/yes` and `false/0/off/no`, case-insensitively.
pub fn parse_flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Some(true),
        "false" | "0" | "off" | "no" => Some(false),
        _ => None,
    }
}

thread_local! {
    static LOADED: std::cell::RefCell<Option<std::rc::Rc<Config>>> = const { std::cell::RefCell::new(None) };
}

impl Config {
    /// The configuration, read from `env` once per isolate and kept: vars and secrets change only with a
    /// deployment (`wrangler deploy`, `wrangler secret put`), which starts new isolates. An invalid
    /// configuration is not kept, so each request reports it until it is fixed.
    pub fn load(env: &Env) -> Result<std::rc::Rc<Config>, ConfigError> {
        if let Some(c) = LOADED.with(|l| l.borrow().clone()) {
            return Ok(c);
        }
        let c = std::rc::Rc::new(Config::from_env(env)?);
        c.apply_observability();
        LOADED.with(|l| *l.borrow_mut() = Some(c.clone()));
        Ok(c)
    }

    /// Applies the observability settings to this isolate's log and metrics writers (once per
    /// configuration read, before anything logs).
    pub fn apply_observability(&self) {
        crate::log::set_sample_rate(self.log_sample_rate);
        crate::adapters::metrics::set_enabled(self.metrics_enabled);
    }

    pub fn from_env(env: &Env) -> Result<Config, ConfigError> {
        let supabase_url = required(env, SUPABASE_URL)?.trim_end_matches('/').to_string();
        let postgrest_url =
            get(env, POSTGREST_URL).map(|u| u.trim_end_matches('/').to_string()).unwrap_or_else(|| format!("{supabase_url}/rest/v1"));
        let max_body_bytes = match get(env, MAX_BODY_BYTES) {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid { name: MAX_BODY_BYTES, reason: "expected a whole number of bytes".into() })?,
        };
        let features = FEATURE_FLAGS
            .iter()
            .map(|(name, default)| {
                let on = get(env, name).and_then(|v| parse_flag(&v)).unwrap_or(*default);
                (*name, on)
            })
            .collect();
        let defaults = JwksPolicy::default();
        let jwks_policy = JwksPolicy {
            ttl_ms: number(env, JWKS_CACHE_TTL_SECS, defaults.ttl_ms / 1000.0)? * 1000.0,
            stale_ms: number(env, JWKS_STALE_SECS, defaults.stale_ms / 1000.0)? * 1000.0,
            min_refetch_ms: number(env, JWKS_REFETCH_MIN_INTERVAL_SECS, defaults.min_refetch_ms / 1000.0)? * 1000.0,
        };
        let jwks_url = get(env, SUPABASE_JWKS_URL).unwrap_or_else(|| format!("{supabase_url}/auth/v1/.well-known/jwks.json"));
        let environment = get(env, ENVIRONMENT).unwrap_or_else(|| "production".into());
        // Unset or empty means the default list; only the development environment starts with none
        // (an empty value must never switch the protection off in production).
        let deny_src = match get(env, SSRF_DENY_CIDRS) {
            Some(v) => v,
            None if environment == "development" => String::new(),
            None => DEFAULT_DENY.to_string(),
        };
        let ssrf_deny = DenyList::parse(&deny_src)
            .ok_or(ConfigError::Invalid { name: SSRF_DENY_CIDRS, reason: "expected comma-separated CIDRs".into() })?;
        let price_plans = PriceMap::parse(&get(env, STRIPE_PRICE_PLANS).unwrap_or_default())
            .ok_or(ConfigError::Invalid { name: STRIPE_PRICE_PLANS, reason: "expected price_id:PLAN pairs".into() })?;
        let credit_packs = parse_credit_packs(&get(env, CREDIT_PACKS).unwrap_or_default())
            .ok_or(ConfigError::Invalid { name: CREDIT_PACKS, reason: "expected name:price_id:credits triples".into() })?;
        let reporting = Reporting {
            dsn: match get(env, SENTRY_DSN) {
                None => None,
                Some(raw) => Some(
                    crate::observability::sentry::Dsn::parse(&raw)
                        .ok_or(ConfigError::Invalid { name: SENTRY_DSN, reason: "expected https://<key>@<host>/<project id>".into() })?,
                ),
            },
            source: report_source(env, &environment),
        };
        let log_sample_rate = number(env, LOG_SAMPLE_RATE, 1.0)?;
        if log_sample_rate > 1.0 {
            return Err(ConfigError::Invalid { name: LOG_SAMPLE_RATE, reason: "expected a number from 0 to 1".into() });
        }
        let metrics_enabled = match get(env, METRICS_ENABLED) {
            None => true,
            Some(v) => parse_flag(&v).ok_or(ConfigError::Invalid { name: METRICS_ENABLED, reason: "expected true or false".into() })?,
        };
        let ai = AiConfig {
            chat_url: match (get(env, AI_GATEWAY_ACCOUNT_ID), get(env, AI_GATEWAY_ID)) {
                (Some(account), Some(gateway)) => format!(
                    "{}/{}/{}/compat/chat/completions",
                    get(env, AI_GATEWAY_BASE_URL).unwrap_or_else(|| DEFAULT_AI_GATEWAY_BASE_URL.into()).trim_end_matches('/'),
                    account.trim(),
                    gateway.trim()
                ),
                _ => String::new(),
            },
            api_key: get(env, AI_PROVIDER_API_KEY).map(Secret::new),
            gateway_token: get(env, AI_GATEWAY_TOKEN).map(Secret::new),
            models: [AI_MODEL_LIGHT, AI_MODEL_DEEP, AI_MODEL_XRAY]
                .iter()
                .zip(DEFAULT_AI_MODELS)
                .map(|(name, default)| get(env, name).map(|m| m.trim().to_string()).unwrap_or_else(|| default.to_string()))
                .collect::<Vec<_>>()
                .try_into()
                .expect("three tiers"),
            timeout_ms: number(env, AI_TIMEOUT_MS, 60_000.0)?.clamp(1_000.0, 300_000.0) as u32,
        };
        let prices = crate::leads::cost::Prices::parse(
            &get(env, AI_MODEL_PRICES).unwrap_or_else(|| DEFAULT_AI_MODEL_PRICES.into()),
            number(env, BROWSER_RENDERING_USD_PER_HOUR, crate::leads::cost::DEFAULT_BROWSER_USD_PER_HOUR)?,
        )
        .ok_or(ConfigError::Invalid { name: AI_MODEL_PRICES, reason: "expected model:input:output[:cached_input] entries".into() })?;
        if let Some(m) = ai.models.iter().find(|m| prices.model(m).is_none()) {
            return Err(ConfigError::Invalid { name: AI_MODEL_PRICES, reason: format!("no price for the configured model {m}") });
        }
        Ok(Config {
            ai,
            prices,
            reporting,
            log_sample_rate,
            metrics_enabled,
            stripe_secret_key: get(env, STRIPE_SECRET_KEY).map(Secret::new),
            stripe_webhook_secrets: get(env, STRIPE_WEBHOOK_SECRET)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(Secret::new).collect())
                .unwrap_or_default(),
            stripe_api_base: get(env, STRIPE_API_BASE).unwrap_or_else(|| "https://api.stripe.com".into()).trim_end_matches('/').to_string(),
            price_plans,
            credit_packs,
            browser_rendering_url: get(env, BROWSER_RENDERING_URL).unwrap_or_default().trim_end_matches('/').to_string(),
            cloudflare_api_token: get(env, CLOUDFLARE_API_TOKEN).map(Secret::new),
            stripe_metered_prices: get(env, STRIPE_METERED_PRICES)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
                .unwrap_or_default(),
            stripe_meter_event_name: get(env, STRIPE_METER_EVENT_NAME),
            stripe_meter_id: get(env, STRIPE_METER_ID),
            retention: Retention {
                usage_events_days: number(env, RETENTION_USAGE_EVENTS_DAYS, 400.0)?.max(1.0) as u32,
                webhook_events_days: number(env, RETENTION_WEBHOOK_EVENTS_DAYS, 90.0)?.max(1.0) as u32,
                job_payload_days: number(env, RETENTION_JOB_PAYLOAD_DAYS, 30.0)?.max(1.0) as u32,
                soft_deleted_days: number(env, RETENTION_SOFT_DELETED_DAYS, 30.0)?.max(1.0) as u32,
            },
            ssrf_deny,
            job_retry_base_secs: number(env, JOB_RETRY_BASE_SECS, 5.0)?.max(1.0) as u32,
            job_retry_max_secs: number(env, JOB_RETRY_MAX_SECS, 300.0)?.max(1.0) as u32,
            stuck_pending_secs: number(env, STUCK_PENDING_SECS, 900.0)? as u32,
            webhook_retry_base_secs: number(env, WEBHOOK_RETRY_BASE_SECS, 30.0)?.max(1.0) as u32,
            webhook_retry_max_secs: number(env, WEBHOOK_RETRY_MAX_SECS, 600.0)?.max(1.0) as u32,
            webhook_redrive_max_attempts: number(env, WEBHOOK_REDRIVE_MAX_ATTEMPTS, 10.0)?.clamp(1.0, 100.0) as u32,
            stuck_running_secs: number(env, STUCK_RUNNING_SECS, 1800.0)? as u32,
            jwt_issuer: format!("{supabase_url}/auth/v1"),
            jwks_url,
            jwt_secret: get(env, SUPABASE_JWT_SECRET).map(Secret::new),
            jwks_policy,
            jwks_fetch_timeout_ms: number(env, JWKS_FETCH_TIMEOUT_MS, 3000.0)?.clamp(100.0, 30_000.0) as u32,
            environment,
            supabase_url,
            postgrest_url,
            postgrest_timeout_ms: number(env, POSTGREST_TIMEOUT_MS, 8000.0)?.clamp(100.0, 60_000.0) as u32,
            health_cache_ms: number(env, HEALTH_CACHE_MS, 1000.0)?.min(60_000.0) as u32,
            job_pending_ttl_secs: number(env, JOB_PENDING_TTL_SECS, 3600.0)?.clamp(10.0, 7.0 * 86_400.0) as u32,
            anon_key: Secret::new(required(env, SUPABASE_ANON_KEY)?),
            service_role_key: Secret::new(required(env, SUPABASE_SERVICE_ROLE_KEY)?),
            cors: CorsPolicy::parse(&get(env, CORS_ORIGINS).unwrap_or_default()),
            max_body_bytes,
            features,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_is_declared_in_every_environment() {
        let toml = include_str!("../wrangler.toml");
        for env in ["", "env.staging.", "env.production."] {
            for b in bindings::ALL {
                let declared = toml.split(&format!("[[{env}")).skip(1).any(|section| {
                    let header = section.lines().next().unwrap_or("");
                    (header.starts_with("queues.producers]]") || header.starts_with("durable_objects.bindings]]"))
                        && section
                            .lines()
                            .take(3)
                            .any(|l| l.trim() == format!("binding = \"{b}\"") || l.trim() == format!("name = \"{b}\""))
                });
                assert!(declared, "{b} is not declared for [{env}] in wrangler.toml");
            }
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("sk_live_abc");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
    }

    #[test]
    fn flags_parse_common_spellings() {
        assert_eq!(parse_flag("TRUE"), Some(true));
        assert_eq!(parse_flag(" off "), Some(false));
        assert_eq!(parse_flag("maybe"), None);
    }
}
