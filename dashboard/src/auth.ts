// Supabase Auth, spoken as supabase-js does: the /auth/v1 endpoints with the project's `apikey`, the
// session kept in localStorage, and the access token refreshed before it expires.
import { config } from "./config";

export interface User {
  id: string;
  email: string | null;
}

export interface Session {
  access_token: string;
  refresh_token: string;
  /** Unix seconds. */
  expires_at: number;
  expires_in: number;
  user: User;
}

export class AuthError extends Error {
  constructor(message: string, readonly status: number, readonly code: string) {
    super(message);
  }
}

const STORAGE_KEY = `sb-${new URL(config.supabase_url || location.origin).hostname.split(".")[0]}-auth-token`;
/** Refresh this long before expiry (supabase-js uses a similar margin). */
const REFRESH_MARGIN_S = 60;

type Listener = (s: Session | null) => void;
let session: Session | null = load();
let timer: number | undefined;
const listeners = new Set<Listener>();
let refreshing: Promise<Session | null> | null = null;

function load(): Session | null {
  try {
    const s = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "null") as Session | null;
    return s && typeof s.access_token === "string" && typeof s.refresh_token === "string" ? s : null;
  } catch {
    return null;
  }
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

async function request<T>(path: string, init: { method?: string; body?: unknown; token?: string; query?: Record<string, string> } = {}): Promise<T> {
  const url = new URL(`${config.supabase_url}/auth/v1${path}`);
  for (const [k, v] of Object.entries(init.query ?? {})) url.searchParams.set(k, v);
  const headers: Record<string, string> = { apikey: config.supabase_anon_key, "X-Supabase-Api-Version": "2024-01-01" };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  let resp: Response;
  try {
    resp = await fetch(url, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new AuthError("Could not reach the sign-in service. Check your connection and try again.", 0, "network");
  }
  if (resp.status === 204) return undefined as T;
  const body = (await resp.json().catch(() => ({}))) as Record<string, unknown>;
  if (!resp.ok) {
    const message = String(body.message ?? body.msg ?? body.error_description ?? `Sign-in failed (HTTP ${resp.status})`);
    const code = String(typeof body.code === "string" ? body.code : body.error_code ?? body.error ?? "unknown");
    throw new AuthError(message, resp.status, code);
  }
  return body as T;
}

function setSession(s: Session | null): void {
  session = s;
  if (s) localStorage.setItem(STORAGE_KEY, JSON.stringify(s));
  else localStorage.removeItem(STORAGE_KEY);
  window.clearTimeout(timer);
  if (s) {
    const lifetime = Math.max(s.expires_in || s.expires_at - nowS(), 1);
    // Refresh a minute before expiry, or at 80 % of a short lifetime.
    const at = s.expires_at - Math.min(REFRESH_MARGIN_S, lifetime * 0.2);
    timer = window.setTimeout(() => void refresh(), Math.max((at - nowS()) * 1000, 0));
  }
  for (const l of listeners) l(s);
}

function accept(raw: Session): Session {
  const expires_at = raw.expires_at ?? nowS() + raw.expires_in;
  const s = { ...raw, expires_at, user: { id: raw.user.id, email: raw.user.email ?? null } };
  setSession(s);
  return s;
}

export function current(): Session | null {
  return session;
}

export function onChange(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function signInWithPassword(email: string, password: string): Promise<Session> {
  return request<Session>("/token", { method: "POST", query: { grant_type: "password" }, body: { email, password } }).then(accept);
}

export function signUp(email: string, password: string): Promise<Session> {
  return request<Session>("/signup", { method: "POST", body: { email, password } }).then(accept);
}

/** Mails a magic link (and a 6-digit code) that comes back to /auth/callback. */
export async function sendMagicLink(email: string): Promise<void> {
  await request("/otp", { method: "POST", query: { redirect_to: `${location.origin}/auth/callback` }, body: { email, create_user: true } });
}

export function verifyCode(email: string, token: string): Promise<Session> {
  return request<Session>("/verify", { method: "POST", body: { type: "email", email, token } }).then(accept);
}

/** The session a magic link's redirect carries in the URL fragment (implicit flow), or the error it names. */
export async function fromRedirect(hash: string): Promise<Session> {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const error = p.get("error_description") ?? p.get("error");
  if (error) throw new AuthError(error, 403, p.get("error_code") ?? "otp_expired");
  const access_token = p.get("access_token");
  const refresh_token = p.get("refresh_token");
  if (!access_token || !refresh_token) throw new AuthError("This sign-in link is incomplete.", 400, "validation_failed");
  const user = await request<User>("/user", { token: access_token });
  const expires_in = Number(p.get("expires_in") ?? 3600);
  return accept({ access_token, refresh_token, expires_in, expires_at: Number(p.get("expires_at") ?? nowS() + expires_in), user });
}

/** A new access token from the refresh token; one call at a time. Signs out when the session is gone. */
export function refresh(): Promise<Session | null> {
  if (!session) return Promise.resolve(null);
  refreshing ??= request<Session>("/token", { method: "POST", query: { grant_type: "refresh_token" }, body: { refresh_token: session.refresh_token } })
    .then(accept)
    .catch((e: unknown) => {
      // A network failure keeps the session (retried shortly); a refused refresh token ends it.
      if (e instanceof AuthError && e.status >= 400 && e.status < 500) setSession(null);
      else window.setTimeout(() => void refresh(), 5000);
      return session;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** A token that is valid for at least a few more seconds, refreshing first if needed. */
export async function accessToken(): Promise<string | null> {
  if (session && session.expires_at - nowS() < 10) await refresh();
  return session?.access_token ?? null;
}

export async function signOut(): Promise<void> {
  const token = session?.access_token;
  setSession(null);
  if (token) await request("/logout", { method: "POST", query: { scope: "local" }, token }).catch(() => undefined);
}

// A stored session that expired while the tab was closed is refreshed at once.
if (session) setSession(session);
