// Local stand-in for Supabase Auth (LOCAL ONLY): its signing keys and the email sign-in API a Supabase
// app calls, with Supabase's paths, shapes and error bodies.
//
// Supabase's contract (every /auth/v1 route but the JWKS and the mailed GET /verify link needs the project's `apikey` header, as
// Supabase's gateway does: 401 {"message":"No API key found in request"} / {"message":"Invalid API key"}):
//   GET  /auth/v1/.well-known/jwks.json
//   POST /auth/v1/signup                          {email, password} → a session (email autoconfirm on)
//   POST /auth/v1/token?grant_type=password       {email, password} → a session
//   POST /auth/v1/token?grant_type=refresh_token  {refresh_token}   → a new session; the old refresh
//                                                 token is spent (reuse within 10 s returns the same child)
//   POST /auth/v1/otp[?redirect_to=]              {email, create_user?} → {} and a magic-link mail with a
//                                                 6-digit code in the outbox (one per email per 60 s: 429)
//   GET  /auth/v1/verify?token=&type=magiclink&redirect_to=  → 303 to redirect_to#access_token=…&refresh_token=…
//                                                 (or #error=access_denied&error_code=otp_expired&…)
//   POST /auth/v1/verify                          {type: "email"|"magiclink", email, token} → a session
//   GET  /auth/v1/user                            Authorization: Bearer → the user
//   POST /auth/v1/logout?scope=global|local|others  Authorization: Bearer → 204; refresh tokens revoked
// Errors: {"code": <status>, "error_code": "...", "msg": "..."}, or {"code": "...", "message": "..."} when the
// request sends `X-Supabase-Api-Version: 2024-01-01`, as Supabase Auth does.
//
// Dev-only endpoints (never part of Supabase's contract, never called by the Worker or the dashboard):
//   POST /_dev/token   {"email", "alg"?: ES256|RS256|HS256, "expires_in"?, "claims"?: {overrides; null deletes}}
//                      -> {"access_token", "user_id", "email", ...}
//   POST /_dev/keys    {"alg": ES256|RS256} -> {"kid", "alg"}: adds a signing key (key rotation)
//   POST /_dev/project-keys                  -> {"anon_key", "service_role_key"}
//   GET  /_dev/outbox[?email=]               -> the mails sent, newest first (JSON; `Accept: text/html` a page)
//   GET  /_dev/stats                         -> {"grants": {"password": n, "refresh_token": n, ...}}
//
// Environment: AUTH_PORT, AUTH_STATE_DIR (keys persist there), SUPABASE_URL (issuer base),
// DATABASE_URL (libpq URI of a superuser connection, for auth.users), AUTH_JWT_SECRET (optional:
// enables HS256 tokens, like a project on the legacy JWT secret), AUTH_JWT_EXPIRY (seconds an access token
// lives, default 3600, as Supabase's JWT expiry setting), AUTH_SITE_URL (comma-separated: the site URL
// first, then other allowed redirect origins).
import http from "node:http";
import { execFileSync } from "node:child_process";
import { randomUUID, randomBytes, randomInt, scryptSync, timingSafeEqual, createHash } from "node:crypto";
import { loadOrCreateKeys, signJwt, signHs256, verifyJwt } from "./lib/jwt.mjs";

const port = Number(process.env.AUTH_PORT ?? 54321);
const stateDir = process.env.AUTH_STATE_DIR ?? ".local/auth";
const supabaseUrl = (process.env.SUPABASE_URL ?? `http://127.0.0.1:${port}`).replace(/\/$/, "");
const databaseUrl = process.env.DATABASE_URL;
const jwtSecret = process.env.AUTH_JWT_SECRET || null;
const jwtExpiry = Number(process.env.AUTH_JWT_EXPIRY || 3600);
const siteUrls = (process.env.AUTH_SITE_URL || "http://localhost:3000").split(",").map((s) => s.trim()).filter(Boolean);
const issuer = `${supabaseUrl}/auth/v1`;

const keys = loadOrCreateKeys(stateDir);

// ---- auth.users -----------------------------------------------------------------------------------
function psql(sql, vars) {
  if (!databaseUrl) throw new Error("DATABASE_URL is not set");
  const args = ["-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-F", "\t"];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  return execFileSync("psql", [...args, databaseUrl], { input: sql, encoding: "utf8" }).trim();
}

const USER_COLUMNS = `id, email, coalesce(encrypted_password, ''), coalesce(to_char(email_confirmed_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), ''),
  to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(updated_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  coalesce(to_char(last_sign_in_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '')`;

function rowToUser(line) {
  if (!line) return null;
  const [id, email, password, confirmed, created, updated, lastSignIn] = line.split("\n").pop().split("\t");
  return { id, email, password, confirmed: confirmed || null, created, updated, lastSignIn: lastSignIn || null };
}

function upsertUser(email) {
  const sql = `insert into auth.users (email, email_confirmed_at) values (:'email', now())
               on conflict (email) do update set updated_at = now() returning id`;
  return psql(sql, { email }).split("\n").pop();
}

function findUser({ email, id }) {
  const where = email ? "email = :'email'" : "id = :'id'::uuid";
  return rowToUser(psql(`select ${USER_COLUMNS} from auth.users where ${where} and deleted_at is null`, email ? { email } : { id }));
}

/** Creates a confirmed user with a password; null when the email is taken by a user that has one. */
function createPasswordUser(email, password) {
  const sql = `insert into auth.users (email, encrypted_password, email_confirmed_at) values (:'email', :'pw', now())
               on conflict (email) do update set encrypted_password = excluded.encrypted_password, updated_at = now()
                 where auth.users.encrypted_password is null
               returning ${USER_COLUMNS}`;
  return rowToUser(psql(sql, { email, pw: hashPassword(password) }));
}

function touchSignIn(id) {
  return rowToUser(psql(`update auth.users set last_sign_in_at = now(), email_confirmed_at = coalesce(email_confirmed_at, now())
                         where id = :'id'::uuid returning ${USER_COLUMNS}`, { id }));
}

// scrypt stands in for Supabase's bcrypt (not in Node's standard library); the hash never leaves this process.
function hashPassword(password) {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString("base64")}$${scryptSync(password, salt, 32).toString("base64")}`;
}
function passwordMatches(stored, password) {
  const [scheme, salt, hash] = String(stored).split("$");
  if (scheme !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = scryptSync(password, Buffer.from(salt, "base64"), expected.length);
  return timingSafeEqual(expected, actual);
}

// ---- sessions, refresh tokens, one-time tokens (in memory: a restart signs everyone out) ------------
const sessions = new Map(); // session_id -> {userId, revoked}
const refreshTokens = new Map(); // token -> {sessionId, userId, revokedAt, child}
const otps = new Map(); // token_hash -> {email, code, expiresAt, used}
const lastOtpSent = new Map(); // email -> ms
const outbox = [];
const grants = {};
const OTP_TTL_MS = 3600_000;
const OTP_INTERVAL_MS = 60_000;
const REFRESH_REUSE_MS = 10_000;

export function accessTokenClaims({ userId, email, now, expiresIn, sessionId = randomUUID(), method = "password" }) {
  return {
    iss: issuer, aud: "authenticated", sub: userId, role: "authenticated", email, phone: "",
    exp: now + expiresIn, iat: now, session_id: sessionId, aal: "aal1", is_anonymous: false,
    amr: [{ method, timestamp: now }],
    app_metadata: { provider: "email", providers: ["email"] }, user_metadata: {},
  };
}

function publicUser(u) {
  return {
    id: u.id, aud: "authenticated", role: "authenticated", email: u.email, email_confirmed_at: u.confirmed,
    phone: "", confirmed_at: u.confirmed, last_sign_in_at: u.lastSignIn,
    app_metadata: { provider: "email", providers: ["email"] }, user_metadata: {}, identities: [],
    created_at: u.created, updated_at: u.updated, is_anonymous: false,
  };
}

function newRefreshToken(sessionId, userId) {
  const token = randomBytes(9).toString("base64url");
  refreshTokens.set(token, { sessionId, userId, revokedAt: null, child: null });
  return token;
}

function issueSession(user, { sessionId = null, method = "password", refreshToken = null } = {}) {
  if (!sessionId) {
    sessionId = randomUUID();
    sessions.set(sessionId, { userId: user.id, revoked: false });
  }
  const now = Math.floor(Date.now() / 1000);
  const claims = accessTokenClaims({ userId: user.id, email: user.email, now, expiresIn: jwtExpiry, sessionId, method });
  return {
    access_token: signJwt(keys.current(), claims), token_type: "bearer", expires_in: jwtExpiry, expires_at: now + jwtExpiry,
    refresh_token: refreshToken ?? newRefreshToken(sessionId, user.id), user: publicUser(user),
  };
}

// ---- HTTP -----------------------------------------------------------------------------------------
const EMAIL = /^[^\s@'"\\]{1,64}@[^\s@'"\\]{1,190}$/;

class AuthError extends Error {
  constructor(status, errorCode, msg) { super(msg); this.status = status; this.errorCode = errorCode; }
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, apikey, content-type, x-client-info, x-supabase-api-version",
  "access-control-allow-methods": "GET, POST, PUT, DELETE, OPTIONS",
  "access-control-expose-headers": "x-supabase-api-version",
  "access-control-max-age": "86400",
};

function send(res, status, body, extra = {}) {
  res.writeHead(status, { "content-type": "application/json", ...CORS, ...extra });
  res.end(body === undefined ? "" : JSON.stringify(body));
}

function sendError(req, res, e) {
  if (req.headers["x-supabase-api-version"] === "2024-01-01") {
    return send(res, e.status, { code: e.errorCode, message: e.message });
  }
  send(res, e.status, { code: e.status, error_code: e.errorCode, msg: e.message });
}

async function readJson(req) {
  let data = "";
  for await (const chunk of req) { data += chunk; if (data.length > 65536) throw new AuthError(413, "request_too_large", "Request body too large"); }
  if (!data) return {};
  try {
    const v = JSON.parse(data);
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error();
    return v;
  } catch {
    throw new AuthError(400, "bad_json", "Could not parse request body as JSON");
  }
}

/** The project's API keys are JWTs this server signed with role anon or service_role. */
function checkApiKey(req, url) {
  const key = req.headers.apikey ?? url.searchParams.get("apikey");
  if (!key) return { message: "No API key found in request", hint: "No `apikey` request header or url param was found." };
  const claims = verifyJwt(keys, key);
  if (!claims || !["anon", "service_role"].includes(claims.role)) return { message: "Invalid API key", hint: "Double check your Supabase `anon` or `service_role` API key." };
  return null;
}

/** The caller's access token: verified, unexpired, of a session that was not signed out. */
function bearerSession(req) {
  const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? "");
  if (!m) throw new AuthError(401, "no_authorization", "This endpoint requires a Bearer token");
  const claims = verifyJwt(keys, m[1]);
  if (!claims) throw new AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, token is malformed");
  if (claims.exp <= Date.now() / 1000) throw new AuthError(403, "bad_jwt", "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired");
  const session = sessions.get(claims.session_id);
  if (session?.revoked) throw new AuthError(403, "session_not_found", "Session from session_id claim in JWT does not exist");
  return claims;
}

function credentials(body) {
  const email = String(body.email ?? "").trim().toLowerCase();
  const password = typeof body.password === "string" ? body.password : "";
  if (!email) throw new AuthError(400, "validation_failed", "missing email or phone");
  if (!EMAIL.test(email)) throw new AuthError(400, "email_address_invalid", "Unable to validate email address: invalid format");
  return { email, password };
}

function redirectTarget(requested) {
  if (requested) {
    try {
      const u = new URL(requested);
      if (siteUrls.some((s) => new URL(s).origin === u.origin)) return u.toString();
    } catch {}
  }
  return siteUrls[0];
}

function sendMagicLink(email, redirectTo) {
  const last = lastOtpSent.get(email) ?? 0;
  const wait = Math.ceil((last + OTP_INTERVAL_MS - Date.now()) / 1000);
  if (wait > 0) throw new AuthError(429, "over_email_send_rate_limit", `For security purposes, you can only request this after ${wait} seconds.`);
  lastOtpSent.set(email, Date.now());
  const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
  const tokenHash = createHash("sha224").update(`${email}${code}${randomUUID()}`).digest("hex");
  otps.set(tokenHash, { email, code, expiresAt: Date.now() + OTP_TTL_MS, used: false });
  const link = `${issuer}/verify?token=${tokenHash}&type=magiclink&redirect_to=${encodeURIComponent(redirectTarget(redirectTo))}`;
  outbox.unshift({
    id: randomUUID(), to: email, subject: "Your Magic Link", sent_at: new Date().toISOString(), link, code,
    text: `Follow this link to login:\n${link}\n\nAlternatively, enter the code: ${code}`,
  });
  outbox.length = Math.min(outbox.length, 200);
}

function consumeOtp(match) {
  for (const [hash, o] of otps) {
    if (match(hash, o)) {
      otps.delete(hash);
      if (o.used || o.expiresAt < Date.now()) return null;
      return o;
    }
  }
  return null;
}

function tokenGrant(grantType, body) {
  grants[grantType] = (grants[grantType] ?? 0) + 1;
  if (grantType === "password") {
    const { email, password } = credentials(body);
    const user = findUser({ email });
    if (!user || !user.password || !password || !passwordMatches(user.password, password)) {
      throw new AuthError(400, "invalid_credentials", "Invalid login credentials");
    }
    return issueSession(touchSignIn(user.id), { method: "password" });
  }
  if (grantType === "refresh_token") {
    const token = typeof body.refresh_token === "string" ? body.refresh_token : "";
    const rt = refreshTokens.get(token);
    if (!rt) throw new AuthError(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
    const session = sessions.get(rt.sessionId);
    if (!session || session.revoked) throw new AuthError(400, "session_not_found", "Invalid Refresh Token: Session Expired");
    const user = findUser({ id: rt.userId });
    if (!user) throw new AuthError(400, "user_not_found", "Invalid Refresh Token: User Not Found");
    if (rt.revokedAt) {
      // A client that sent the same token twice at once (two tabs) gets the same child within the window.
      if (rt.child && Date.now() - rt.revokedAt < REFRESH_REUSE_MS) return issueSession(user, { sessionId: rt.sessionId, refreshToken: rt.child });
      session.revoked = true; // reuse of a spent token: the whole session is revoked, as Supabase does
      throw new AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
    }
    rt.revokedAt = Date.now();
    rt.child = newRefreshToken(rt.sessionId, rt.userId);
    return issueSession(user, { sessionId: rt.sessionId, refreshToken: rt.child });
  }
  throw new AuthError(400, "validation_failed", "unsupported_grant_type");
}

async function authRoute(req, res, url) {
  const p = url.pathname.slice("/auth/v1".length);
  if (req.method === "POST" && p === "/signup") {
    const { email, password } = credentials(await readJson(req));
    if (password.length < 6) throw new AuthError(422, "weak_password", "Password should be at least 6 characters.");
    const user = createPasswordUser(email, password);
    if (!user) throw new AuthError(422, "user_already_exists", "User already registered");
    return send(res, 200, issueSession(touchSignIn(user.id)));
  }
  if (req.method === "POST" && p === "/token") {
    return send(res, 200, tokenGrant(url.searchParams.get("grant_type") ?? "", await readJson(req)));
  }
  if (req.method === "POST" && p === "/otp") {
    const body = await readJson(req);
    const { email } = credentials(body);
    if (!findUser({ email })) {
      if (body.create_user === false) throw new AuthError(422, "otp_disabled", "Signups not allowed for otp");
      upsertUser(email);
    }
    sendMagicLink(email, url.searchParams.get("redirect_to") ?? body.options?.email_redirect_to);
    return send(res, 200, {});
  }
  if (req.method === "GET" && p === "/verify") {
    const redirectTo = redirectTarget(url.searchParams.get("redirect_to"));
    const token = url.searchParams.get("token") ?? "";
    const otp = ["magiclink", "signup", "email"].includes(url.searchParams.get("type")) ? consumeOtp((hash) => hash === token) : null;
    const fragment = otp
      ? (() => {
          const s = issueSession(touchSignIn(findUser({ email: otp.email }).id), { method: "otp" });
          return new URLSearchParams({ access_token: s.access_token, expires_at: String(s.expires_at), expires_in: String(s.expires_in),
            refresh_token: s.refresh_token, token_type: "bearer", type: "magiclink" });
        })()
      : new URLSearchParams({ error: "access_denied", error_code: "otp_expired", error_description: "Email link is invalid or has expired" });
    res.writeHead(303, { location: `${redirectTo.split("#")[0]}#${fragment}`, ...CORS });
    return res.end();
  }
  if (req.method === "POST" && p === "/verify") {
    const body = await readJson(req);
    if (!["email", "magiclink"].includes(body.type)) throw new AuthError(400, "validation_failed", "Verify requires a verification type");
    const { email } = credentials(body);
    const code = String(body.token ?? "");
    const otp = consumeOtp((hash, o) => o.email === email && (o.code === code || hash === body.token_hash));
    if (!otp) throw new AuthError(403, "otp_expired", "Token has expired or is invalid");
    return send(res, 200, issueSession(touchSignIn(findUser({ email }).id), { method: "otp" }));
  }
  if (req.method === "GET" && p === "/user") {
    const claims = bearerSession(req);
    const user = findUser({ id: claims.sub });
    if (!user) throw new AuthError(403, "user_not_found", "User from sub claim in JWT does not exist");
    return send(res, 200, publicUser(user));
  }
  if (req.method === "POST" && p === "/logout") {
    const claims = bearerSession(req);
    const scope = url.searchParams.get("scope") ?? "global";
    if (!["global", "local", "others"].includes(scope)) throw new AuthError(400, "validation_failed", "Unsupported logout scope");
    for (const [id, s] of sessions) {
      if (s.userId !== claims.sub) continue;
      const mine = id === claims.session_id;
      if (scope === "global" || (scope === "local" && mine) || (scope === "others" && !mine)) s.revoked = true;
    }
    if (!sessions.has(claims.session_id) && scope !== "others") sessions.set(claims.session_id, { userId: claims.sub, revoked: true });
    return send(res, 204);
  }
  throw new AuthError(404, "not_found", "Not Found");
}

function outboxPage(mails) {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outbox · Auth (local)</title></head><body>
<h1>Local auth outbox</h1><p>Mails Supabase Auth would have sent (newest first). Nothing leaves this machine.</p>
${mails.map((m) => `<article><h2>${esc(m.subject)} → ${esc(m.to)}</h2><p>${esc(m.sent_at)}</p><p><a href="${esc(m.link)}">Log in</a> · code <code>${esc(m.code)}</code></p></article>`).join("\n") || "<p>No mail yet.</p>"}
</body></html>`;
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://localhost");
    if (req.method === "OPTIONS") { res.writeHead(204, CORS); return res.end(); }
    if (req.method === "GET" && url.pathname === "/auth/v1/.well-known/jwks.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=600", ...CORS });
      return res.end(JSON.stringify({ keys: keys.publicJwks() }));
    }
    if (req.method === "GET" && url.pathname === "/health") return send(res, 200, { ok: true });
    if (url.pathname.startsWith("/auth/v1/")) {
      // Links opened from a mail carry no key: Supabase's gateway leaves GET /verify open.
      const bad = req.method === "GET" && url.pathname === "/auth/v1/verify" ? null : checkApiKey(req, url);
      if (bad) return send(res, 401, bad);
      try {
        return await authRoute(req, res, url);
      } catch (e) {
        if (e instanceof AuthError) return sendError(req, res, e);
        throw e;
      }
    }
    if (req.method === "GET" && url.pathname === "/_dev/outbox") {
      const email = url.searchParams.get("email")?.toLowerCase();
      const mails = outbox.filter((m) => !email || m.to === email);
      if ((req.headers.accept ?? "").includes("text/html")) {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
        return res.end(outboxPage(mails));
      }
      return send(res, 200, { data: mails });
    }
    if (req.method === "GET" && url.pathname === "/_dev/stats") return send(res, 200, { grants });
    if (req.method === "POST" && url.pathname === "/_dev/token") {
      const body = await readJson(req);
      const email = String(body.email ?? "").toLowerCase();
      if (!EMAIL.test(email)) return send(res, 400, { error: "a valid email is required" });
      const expiresIn = Number(body.expires_in ?? 3600);
      const alg = body.alg ?? "ES256";
      if (!["ES256", "RS256", "HS256"].includes(alg)) return send(res, 400, { error: "alg must be ES256, RS256 or HS256" });
      if (alg === "HS256" && !jwtSecret) return send(res, 400, { error: "HS256 needs AUTH_JWT_SECRET" });
      const key = alg === "HS256" ? null : keys.current(alg);
      if (alg !== "HS256" && !key) return send(res, 400, { error: `no ${alg} key yet: POST /_dev/keys first` });
      const userId = upsertUser(email);
      const now = Math.floor(Date.now() / 1000);
      const claims = accessTokenClaims({ userId, email, now, expiresIn });
      for (const [k, v] of Object.entries(body.claims ?? {})) {
        if (v === null) delete claims[k]; else claims[k] = v;
      }
      const token = alg === "HS256" ? signHs256(jwtSecret, claims) : signJwt(key, claims);
      return send(res, 200, { access_token: token, token_type: "bearer", expires_in: expiresIn, user_id: userId, email });
    }
    if (req.method === "POST" && url.pathname === "/_dev/keys") {
      const body = await readJson(req);
      if (!["ES256", "RS256"].includes(body.alg)) return send(res, 400, { error: "alg must be ES256 or RS256" });
      const k = keys.add(body.alg);
      return send(res, 200, { kid: k.kid, alg: k.alg });
    }
    if (req.method === "POST" && url.pathname === "/_dev/project-keys") {
      // Legacy-style project keys (JWTs with role anon / service_role), signed by the local key so the
      // local PostgREST verifies them through the same JWKS.
      const now = Math.floor(Date.now() / 1000);
      const ten = 10 * 365 * 24 * 3600;
      const mk = (role) => signJwt(keys.current(), { iss: "supabase", ref: "local", role, iat: now, exp: now + ten });
      return send(res, 200, { anon_key: mk("anon"), service_role_key: mk("service_role") });
    }
    send(res, 404, { error: "not found" });
  } catch (e) {
    send(res, e instanceof AuthError ? e.status : 500, { error: String(e.message ?? e) });
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "auth server listening", port, issuer }));
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
