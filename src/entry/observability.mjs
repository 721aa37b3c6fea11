// Error reports from the JS entry: a panic traps the WebAssembly instance, so the Rust reporter
// (src/observability/sentry.rs) cannot run; this sends the same Sentry envelope from JavaScript, with the
// same scrubbing. Pure but for `report`, so `node --test` checks it.

const SECRET_PREFIXES = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"];
const TOKEN_RUN = /[A-Za-z0-9._\-+@%]+/g;

function isJwt(run) {
  const parts = run.split(".");
  return run.startsWith("eyJ") && parts.length === 3 && parts[0].length >= 4 && parts[1].length >= 4 && /^[A-Za-z0-9._-]+$/.test(run);
}

function isEmail(run) {
  const at = run.indexOf("@");
  if (at <= 0 || run.indexOf("@", at + 1) !== -1) return false;
  const domain = run.slice(at + 1);
  // A domain ends in a top-level label of letters (`example.com`, not `edge-saas@0.1.0`).
  return domain.includes(".") && domain.split(".").every((l) => l.length > 0) && /^[A-Za-z]{2,}$/.test(domain.split(".").pop());
}

function isSensitive(run) {
  return isJwt(run) || SECRET_PREFIXES.some((p) => run.startsWith(p) && run.length > p.length) || isEmail(run);
}

/** Text with JWTs, the token after `Bearer`, Stripe secrets and e-mail addresses replaced by `[redacted]`. */
export function scrub(text) {
  let afterBearer = false;
  let last = 0;
  return String(text).replace(TOKEN_RUN, (run, offset, whole) => {
    const gap = whole.slice(last, offset);
    last = offset + run.length;
    const core = run.replace(/\.+$/, "");
    const trailing = run.slice(core.length);
    const bearerToken = afterBearer && core.length > 0 && gap.trim() === "" && gap.length <= 2;
    afterBearer = core === "Bearer";
    return bearerToken || isSensitive(core) ? `[redacted]${trailing}` : run;
  });
}

/** `https://<key>@<host>/<project>` → {publicKey, envelopeUrl}, or null. */
export function parseDsn(raw) {
  let url;
  try {
    url = new URL(String(raw ?? "").trim());
  } catch {
    return null;
  }
  if (!["https:", "http:"].includes(url.protocol) || !url.username) return null;
  const path = url.pathname.replace(/^\/+|\/+$/g, "");
  const slash = path.lastIndexOf("/");
  const prefix = slash >= 0 ? `/${path.slice(0, slash)}` : "";
  const project = slash >= 0 ? path.slice(slash + 1) : path;
  if (!/^[0-9]+$/.test(project)) return null;
  return { publicKey: url.username, envelopeUrl: `${url.protocol}//${url.host}${prefix}/api/${project}/envelope/` };
}

/** The envelope text for one report, as src/observability/sentry.rs builds it. */
export function envelope({ kind, message, tags, extra }, { environment, release }, eventId, now) {
  const event = {
    event_id: eventId, timestamp: now, platform: "javascript", level: "fatal", logger: "edge-saas",
    environment, release, tags, exception: { values: [{ type: kind, value: message }] }, extra: extra ?? null,
    sdk: { name: "edge-saas.envelope", version: "0.1.0" },
  };
  const payload = scrub(JSON.stringify(event));
  const header = JSON.stringify({ event_id: eventId, sent_at: now });
  const item = JSON.stringify({ type: "event", length: new TextEncoder().encode(payload).length, content_type: "application/json" });
  return `${header}\n${item}\n${payload}\n`;
}

/** Sends a report when SENTRY_DSN is set; never throws. Hand the promise to `ctx.waitUntil`. */
export async function report(env, fields, fetchImpl = fetch) {
  const dsn = parseDsn(env?.SENTRY_DSN);
  if (!dsn) return;
  const source = { environment: env.ENVIRONMENT || "production", release: env.RELEASE || "edge-saas@0.1.0" };
  const eventId = crypto.randomUUID().replaceAll("-", "");
  try {
    const resp = await fetchImpl(dsn.envelopeUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-sentry-envelope",
        "x-sentry-auth": `Sentry sentry_version=7, sentry_key=${dsn.publicKey}, sentry_client=edge-saas-entry/0.1.0`,
      },
      body: envelope(fields, source, eventId, new Date().toISOString()),
      signal: AbortSignal.timeout(5000),
    });
    if (!resp.ok) console.warn(JSON.stringify({ level: "warn", msg: "sentry: report not sent", event: "sentry.report_not_sent", status: resp.status }));
  } catch (err) {
    console.warn(JSON.stringify({ level: "warn", msg: "sentry: report not sent", event: "sentry.report_not_sent", error: scrub(String(err)) }));
  }
}
