// Local stand-in for Supabase Auth's signing keys (LOCAL ONLY).
//
// Serves the JWKS exactly where Supabase does, `GET /auth/v1/.well-known/jwks.json`, and mints access
// tokens shaped like Supabase's (iss, aud "authenticated", sub, role, email, exp, iat, session_id, aal,
// is_anonymous, ...) for dev users, creating the user in the local `auth.users` first.
// Dev-only endpoints (never part of Supabase's contract, never called by the Worker):
//   POST /_dev/token   {"email", "alg"?: ES256|RS256|HS256, "expires_in"?, "claims"?: {overrides; null deletes}}
//                      -> {"access_token", "user_id", "email", ...}
//   POST /_dev/keys    {"alg": ES256|RS256} -> {"kid", "alg"}: adds a signing key (key rotation)
//   POST /_dev/project-keys                  -> {"anon_key", "service_role_key"}
//
// Environment: AUTH_PORT, AUTH_STATE_DIR (keys persist there), SUPABASE_URL (issuer base),
// DATABASE_URL (libpq URI of a superuser connection, for auth.users), AUTH_JWT_SECRET (optional:
// enables HS256 tokens, like a project on the legacy JWT secret).
import http from "node:http";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { loadOrCreateKeys, signJwt, signHs256 } from "./lib/jwt.mjs";

const port = Number(process.env.AUTH_PORT ?? 54321);
const stateDir = process.env.AUTH_STATE_DIR ?? ".local/auth";
const supabaseUrl = (process.env.SUPABASE_URL ?? `http://127.0.0.1:${port}`).replace(/\/$/, "");
const databaseUrl = process.env.DATABASE_URL;
const jwtSecret = process.env.AUTH_JWT_SECRET || null;
const issuer = `${supabaseUrl}/auth/v1`;

const keys = loadOrCreateKeys(stateDir);

function upsertUser(email) {
  if (!databaseUrl) throw new Error("DATABASE_URL is not set");
  const sql = `insert into auth.users (email) values (:'email')
               on conflict (email) do update set updated_at = now() returning id`;
  const out = execFileSync("psql", ["-X", "-At", "-q", "-v", "ON_ERROR_STOP=1", "-v", `email=${email}`, databaseUrl],
    { input: sql, encoding: "utf8" });
  return out.trim().split("\n").pop();
}

const EMAIL = /^[^\s@'"\\]{1,64}@[^\s@'"\\]{1,190}$/;

export function accessTokenClaims({ userId, email, now, expiresIn }) {
  return {
    iss: issuer, aud: "authenticated", sub: userId, role: "authenticated", email, phone: "",
    exp: now + expiresIn, iat: now, session_id: randomUUID(), aal: "aal1", is_anonymous: false,
    amr: [{ method: "password", timestamp: now }],
    app_metadata: { provider: "email", providers: ["email"] }, user_metadata: {},
  };
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let data = "";
  for await (const chunk of req) { data += chunk; if (data.length > 65536) throw new Error("body too large"); }
  return data ? JSON.parse(data) : {};
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, "http://localhost");
    if (req.method === "GET" && url.pathname === "/auth/v1/.well-known/jwks.json") {
      res.writeHead(200, { "content-type": "application/json", "cache-control": "public, max-age=600" });
      return res.end(JSON.stringify({ keys: keys.publicJwks() }));
    }
    if (req.method === "GET" && url.pathname === "/health") return send(res, 200, { ok: true });
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
    send(res, 500, { error: String(e.message ?? e) });
  }
});

server.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "auth server listening", port, issuer }));
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => server.close(() => process.exit(0)));
