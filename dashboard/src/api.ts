// The Worker's API (docs/openapi.json): the envelope unwrapped, errors with their field details, the
// caller's token on every call and one retry after a refresh when the API says 401.
import * as auth from "./auth";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
  }
  /** Field errors (`details.fields`), keyed as the API names them (`payload.url`, `email`, …). */
  get fields(): Record<string, string> {
    const f = this.details.fields;
    return f && typeof f === "object" ? (f as Record<string, string>) : {};
  }
}

export interface Page<T> {
  data: T[];
  pagination: { has_more: boolean; next_cursor?: string | null; prev_cursor?: string | null };
}

/** A read refused for the plan's request rate is retried once after `Retry-After`, if that is short. */
const MAX_RATE_WAIT_S = 15;

async function call(method: string, path: string, body?: unknown, retried = false, waited = false): Promise<Record<string, unknown>> {
  const token = await auth.accessToken();
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let resp: Response;
  try {
    resp = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError("The API could not be reached. Check your connection and try again.", 0, "network", {});
  }
  if (resp.status === 401 && token && !retried && (await auth.refresh())) return call(method, path, body, true, waited);
  const retryAfter = Number(resp.headers.get("Retry-After") ?? "NaN");
  if (resp.status === 429 && method === "GET" && !waited && retryAfter >= 0 && retryAfter <= MAX_RATE_WAIT_S) {
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    return call(method, path, body, retried, true);
  }
  const json = (await resp.json().catch(() => null)) as Record<string, unknown> | null;
  if (!resp.ok || !json || json.success !== true) {
    const err = (json?.error ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
    throw new ApiError(err.message ?? `Request failed (HTTP ${resp.status})`, resp.status, err.code ?? "unknown", err.details ?? {});
  }
  return json;
}

export async function get<T>(path: string): Promise<T> {
  return (await call("GET", path)).data as T;
}

export async function list<T>(path: string): Promise<Page<T>> {
  const json = await call("GET", path);
  return { data: json.data as T[], pagination: json.pagination as Page<T>["pagination"] };
}

export async function post<T>(path: string, body?: unknown): Promise<T> {
  return (await call("POST", path, body ?? {})).data as T;
}

export async function put<T>(path: string, body: unknown): Promise<T> {
  return (await call("PUT", path, body)).data as T;
}

export async function del<T>(path: string): Promise<T> {
  return (await call("DELETE", path)).data as T;
}

// ---- the shapes the pages read (docs/openapi.json) ---------------------------------------------------
export type JobStatus = "PENDING" | "RUNNING" | "COMPLETED" | "FAILED" | "CANCELLED";
export const TERMINAL: JobStatus[] = ["COMPLETED", "FAILED", "CANCELLED"];

export interface Job {
  id: string;
  task_type: string;
  status: JobStatus;
  progress: number;
  step: string;
  attempts: number;
  max_attempts: number;
  payload: unknown;
  result: unknown;
  last_error: string | null;
  failure_reason: string | null;
  cancel_requested: boolean;
  credit_cost: number;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  batch_id: string | null;
}

/** The `data` of an SSE `job` frame. */
export interface JobFrame {
  id: string;
  status: JobStatus;
  progress: number;
  step: string;
  attempts: number;
  updated_at: string;
  last_error: string | null;
  failure_reason: string | null;
  cancel_requested: boolean;
  batch_id: string | null;
}

export interface BatchProgress {
  id: string;
  status: "RUNNING" | "FINISHED";
  total: number;
  counts: { pending: number; running: number; completed: number; failed: number; cancelled: number };
  progress: number;
  cancel_requested: boolean;
}

export interface Me {
  user: { id: string; email: string | null };
  account: { id: string; name?: string; plan: string; status: string; role?: string };
  credits: { balance: number };
}
