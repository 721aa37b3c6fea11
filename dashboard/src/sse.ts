// Live streams over EventSource. EventSource cannot send an Authorization header, so the API reads the
// caller's token from the HttpOnly stream cookie that POST /api/v1/stream-session sets (docs/adr/0020).
// The browser reconnects by itself and sends Last-Event-ID, so no frame is missed across a drop; when it
// gives up (the server answered with an error, or refused an expired token), the cookie is set again and a
// new stream opened with `?last_event_id=`, which resumes the same way.
import * as auth from "./auth";

let cookieFor: string | null = null;
let cookieSetting: Promise<void> | null = null;

/** Makes sure the stream cookie carries the current access token. */
export function ensureStreamCookie(): Promise<void> {
  const token = auth.current()?.access_token ?? null;
  if (!token) return Promise.resolve();
  if (cookieFor === token) return cookieSetting ?? Promise.resolve();
  cookieFor = token;
  cookieSetting = fetch("/api/v1/stream-session", { method: "POST", headers: { Authorization: `Bearer ${token}` } })
    .then((r) => {
      if (!r.ok) cookieFor = null;
    })
    .catch(() => {
      cookieFor = null;
    });
  return cookieSetting;
}

auth.onChange((s) => {
  if (s) void ensureStreamCookie();
  else {
    cookieFor = null;
    void fetch("/api/v1/stream-session", { method: "DELETE" }).catch(() => undefined);
  }
});

export type StreamState = "connecting" | "open" | "reconnecting" | "closed";

export interface StreamHandlers {
  onFrame: (event: string, data: unknown) => void;
  onState?: (s: StreamState) => void;
}

/** Opens `path` (under /api/v1) and keeps it open until the returned function is called. */
export function openStream(path: string, events: string[], h: StreamHandlers): () => void {
  let source: EventSource | null = null;
  let stopped = false;
  let retry: number | undefined;
  let failures = 0;
  let lastEventId: string | null = null;

  const open = async () => {
    h.onState?.(failures ? "reconnecting" : "connecting");
    await ensureStreamCookie();
    if (stopped) return;
    // A stream the browser gave up on resumes where it was: the API takes `last_event_id` when no header.
    const resume = lastEventId ? `${path.includes("?") ? "&" : "?"}last_event_id=${encodeURIComponent(lastEventId)}` : "";
    source = new EventSource(`/api/v1${path}${resume}`);
    source.onopen = () => {
      failures = 0;
      h.onState?.("open");
    };
    for (const name of events) {
      source.addEventListener(name, (e) => {
        if ((e as MessageEvent).lastEventId) lastEventId = (e as MessageEvent).lastEventId;
        try {
          h.onFrame(name, JSON.parse((e as MessageEvent<string>).data));
        } catch {
          /* a frame that is not JSON is ignored */
        }
      });
    }
    source.onerror = () => {
      if (stopped || !source) return;
      if (source.readyState === EventSource.CONNECTING) {
        h.onState?.("reconnecting"); // the browser retries with Last-Event-ID
        return;
      }
      // Refused (e.g. 401 after expiry) or closed: new cookie, then a new stream, with backoff.
      source.close();
      failures += 1;
      h.onState?.("reconnecting");
      cookieFor = null;
      retry = window.setTimeout(() => void auth.accessToken().then(open), Math.min(1000 * 2 ** failures, 15000));
    };
  };
  void open();
  return () => {
    stopped = true;
    window.clearTimeout(retry);
    source?.close();
    h.onState?.("closed");
  };
}
