// Small shared pieces: form fields with inline errors, status badges, progress bars, time formatting.
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "./api";

let nextId = 0;

export function Field(props: {
  label: string;
  /** The control's id, when the field wraps its own control (`children`). */
  id?: string;
  name: string;
  error?: string;
  hint?: string;
  children?: ComponentChildren;
  type?: string;
  value?: string;
  required?: boolean;
  autocomplete?: string;
  onInput?: (v: string) => void;
  inputmode?: "numeric" | "email" | "url" | "text";
}) {
  const [generated] = useState(() => `f${++nextId}`);
  const id = props.id ?? generated;
  const describedBy = [props.error ? `${id}-err` : "", props.hint ? `${id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${props.error ? " invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.children ?? (
        <input
          id={id}
          name={props.name}
          type={props.type ?? "text"}
          value={props.value}
          required={props.required}
          autocomplete={props.autocomplete}
          inputMode={props.inputmode}
          aria-invalid={props.error ? "true" : undefined}
          aria-describedby={describedBy}
          onInput={(e) => props.onInput?.((e.target as HTMLInputElement).value)}
        />
      )}
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="error" id={`${id}-err`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/** The message of an error, for a banner; field errors are shown by their fields. */
export function Banner(props: { error: unknown }) {
  if (!props.error) return null;
  const e = props.error;
  const text = e instanceof ApiError && Object.keys(e.fields).length ? "Please correct the highlighted fields." : e instanceof Error ? e.message : String(e);
  return (
    <div class="banner error" role="alert">
      {text}
    </div>
  );
}

export function Status(props: { status: string; cancelRequested?: boolean }) {
  return (
    <span class={`status s-${props.status.toLowerCase()}`} data-status={props.status}>
      {props.status}
      {props.cancelRequested && props.status === "RUNNING" ? " · cancelling" : ""}
    </span>
  );
}

export function Progress(props: { value: number; label: string }) {
  return (
    <div class="progress" role="progressbar" aria-label={props.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={props.value}>
      <div style={{ width: `${Math.max(0, Math.min(100, props.value))}%` }} />
    </div>
  );
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** Loads `load()` once per `deps` change; `reload` runs it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data: T | null; error: unknown; reload: () => void; set: (t: T) => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(null)),
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { data, error, reload: () => setN((x) => x + 1), set: setData };
}

export function Json(props: { value: unknown; label: string }) {
  return (
    <pre class="json" tabIndex={0} aria-label={props.label}>
      {JSON.stringify(props.value, null, 2)}
    </pre>
  );
}

/** A table with column headers, scrolling sideways on narrow screens. */
export function Table(props: { headers: string[]; class?: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap">
      <table class={props.class}>
        <thead>
          <tr>
            {props.headers.map((h) => (
              <th scope="col" key={h}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}
