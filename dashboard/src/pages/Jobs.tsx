// Jobs: a form per task type, the live list over SSE (/jobs/stream), batches with their progress, and a
// job's detail with its steps as they happen (/jobs/{id}/events), result or error, and cancel.
import { useEffect, useRef, useState } from "preact/hooks";
import * as api from "../api";
import type { BatchProgress, Job, JobFrame } from "../api";
import { config } from "../config";
import { openStream, type StreamState } from "../sse";
import { Banner, Field, Json, Progress, Status, time, useLoad, Table } from "../ui";

const TASK_LABELS: Record<string, string> = {
  "http.request": "HTTP request",
  "browser.extract_text": "Extract page text (browser)",
};

function applyFrame(job: Job, f: JobFrame): Job {
  return { ...job, status: f.status, progress: f.progress, step: f.step, attempts: f.attempts, updated_at: f.updated_at,
    last_error: f.last_error, failure_reason: f.failure_reason, cancel_requested: f.cancel_requested };
}

export function StreamBadge(props: { state: StreamState }) {
  const text = { connecting: "Connecting…", open: "Live", reconnecting: "Reconnecting…", closed: "Offline" }[props.state];
  return (
    <span class={`live l-${props.state}`} role="status" aria-live="polite">
      {text}
    </span>
  );
}

function NewJob(props: { onSubmitted: (j: Job) => void }) {
  const types = config.task_types;
  const [taskType, setTaskType] = useState(types[0] ?? "");
  const [url, setUrl] = useState("");
  const [method, setMethod] = useState("GET");
  const [selector, setSelector] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  if (!types.length) return <p>No task type is switched on at the moment.</p>;
  const fields = error instanceof api.ApiError ? error.fields : {};
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const payload: Record<string, unknown> = { url };
    if (taskType === "http.request") payload.method = method;
    if (taskType === "browser.extract_text" && selector.trim()) payload.selector = selector.trim();
    try {
      props.onSubmitted(await api.post<Job>("/jobs", { task_type: taskType, payload }));
      setUrl("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" aria-labelledby="new-job" onSubmit={submit} noValidate>
      <h2 id="new-job">New job</h2>
      <Banner error={error} />
      <Field label="Task type" name="task_type" id="task-type" error={fields.task_type}>
        <select id="task-type" name="task_type" value={taskType} onChange={(e) => setTaskType((e.target as HTMLSelectElement).value)}>
          {types.map((t) => (
            <option value={t} key={t}>
              {TASK_LABELS[t] ?? t}
            </option>
          ))}
        </select>
      </Field>
      <Field label="URL" name="url" type="url" inputmode="url" required value={url} onInput={setUrl} error={fields["payload.url"]} hint="http or https, a public address" />
      {taskType === "http.request" && (
        <Field label="Method" name="method" id="method" error={fields["payload.method"]}>
          <select id="method" name="method" value={method} onChange={(e) => setMethod((e.target as HTMLSelectElement).value)}>
            {["GET", "HEAD", "POST"].map((m) => (
              <option key={m}>{m}</option>
            ))}
          </select>
        </Field>
      )}
      {taskType === "browser.extract_text" && (
        <Field label="CSS selector (optional)" name="selector" value={selector} onInput={setSelector} error={fields["payload.selector"]} />
      )}
      <button type="submit" disabled={busy}>
        Submit job
      </button>
    </form>
  );
}

function Batches(props: { version: number }) {
  const { data, error } = useLoad(() => api.list<BatchProgress & { created_at: string }>("/batches?limit=5"), [props.version]);
  if (error) return <Banner error={error} />;
  if (!data?.data.length) return null;
  return (
    <section class="card" aria-labelledby="batches">
      <h2 id="batches">Batches</h2>
      <ul class="batches">
        {data.data.map((b) => (
          <li key={b.id} data-batch={b.id}>
            <span>
              {b.total} jobs · {b.counts.completed} completed, {b.counts.failed} failed, {b.counts.cancelled} cancelled
            </span>
            <Status status={b.status} />
            <Progress value={b.progress} label={`Batch ${b.id} progress`} />
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Jobs() {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [state, setState] = useState<StreamState>("connecting");
  const [batchVersion, setBatchVersion] = useState(0);
  const known = useRef(new Set<string>());

  // The newer of two views of a job wins: a stream frame may overtake the answer to the submission.
  const upsert = (j: Job) => {
    known.current.add(j.id);
    setJobs((list) =>
      list.some((x) => x.id === j.id) ? list.map((x) => (x.id === j.id && Date.parse(x.updated_at) <= Date.parse(j.updated_at) ? j : x)) : [j, ...list],
    );
  };

  useEffect(() => {
    let batchTimer: number | undefined;
    api.list<Job>("/jobs?limit=25").then((p) => {
      for (const j of p.data) known.current.add(j.id);
      setJobs((live) => [...live.filter((j) => !p.data.some((x) => x.id === j.id)), ...p.data]);
    }, setError);
    const close = openStream("/jobs/stream", ["job"], {
      onState: setState,
      onFrame: (_e, data) => {
        const f = data as JobFrame;
        if (f.batch_id) {
          window.clearTimeout(batchTimer);
          batchTimer = window.setTimeout(() => setBatchVersion((v) => v + 1), 400);
        }
        if (known.current.has(f.id)) setJobs((list) => list.map((j) => (j.id === f.id ? applyFrame(j, f) : j)));
        else {
          known.current.add(f.id);
          api.get<Job>(`/jobs/${f.id}`).then((j) => upsert(applyFrame(j, f)), () => undefined);
        }
      },
    });
    return () => {
      close();
      window.clearTimeout(batchTimer);
    };
  }, []);

  return (
    <main id="main">
      <div class="title">
        <h1>Jobs</h1>
        <StreamBadge state={state} />
      </div>
      <div class="grid">
        <NewJob onSubmitted={upsert} />
        <Batches version={batchVersion} />
      </div>
      <Banner error={error} />
      <section aria-labelledby="recent">
        <h2 id="recent">Recent jobs</h2>
        {jobs.length === 0 ? (
          <p>No jobs yet. Submit one above.</p>
        ) : (
          <Table class="jobs" headers={["Job", "Type", "Status", "Progress", "Step", "Created"]}>
                {jobs.map((j) => (
                  <tr key={j.id} data-job={j.id}>
                    <td>
                      <a href={`/jobs/${j.id}`}>{j.id.slice(0, 8)}</a>
                    </td>
                    <td>{j.task_type}</td>
                    <td>
                      <Status status={j.status} cancelRequested={j.cancel_requested} />
                    </td>
                    <td>
                      <Progress value={j.progress} label={`Job ${j.id.slice(0, 8)} progress`} />
                    </td>
                    <td>{j.step}</td>
                    <td>{time(j.created_at)}</td>
                  </tr>
                ))}
          </Table>
        )}
      </section>
    </main>
  );
}

export function JobDetail(props: { id: string }) {
  const { data: loaded, error } = useLoad(() => api.get<Job>(`/jobs/${props.id}`), [props.id]);
  const [job, setJob] = useState<Job | null>(null);
  const [steps, setSteps] = useState<{ step: string; status: string; at: string }[]>([]);
  const [state, setState] = useState<StreamState>("connecting");
  const [cancelError, setCancelError] = useState<unknown>(null);
  const current = job ?? loaded;

  useEffect(() => {
    if (!loaded) return;
    setJob(loaded);
    setSteps([{ step: loaded.step, status: loaded.status, at: loaded.updated_at }]);
    if (api.TERMINAL.includes(loaded.status)) {
      setState("closed");
      return;
    }
    let close = () => {};
    close = openStream(`/jobs/${props.id}/events`, ["job"], {
      onState: setState,
      onFrame: (_e, data) => {
        const f = data as JobFrame;
        setJob((j) => (j ? applyFrame(j, f) : j));
        setSteps((s) => (s.length && s[s.length - 1].step === f.step && s[s.length - 1].status === f.status ? s : [...s, { step: f.step, status: f.status, at: f.updated_at }]));
        if (api.TERMINAL.includes(f.status)) {
          close();
          // The final row carries the result.
          api.get<Job>(`/jobs/${props.id}`).then(setJob, () => undefined);
        }
      },
    });
    return () => close();
  }, [loaded]);

  if (error) return <main id="main"><h1>Job</h1><Banner error={error} /></main>;
  if (!current) return <main id="main"><h1>Job</h1><p>Loading…</p></main>;
  const cancel = async () => {
    setCancelError(null);
    try {
      setJob(await api.post<Job>(`/jobs/${current.id}/cancel`));
    } catch (e) {
      setCancelError(e);
    }
  };
  return (
    <main id="main">
      <div class="title">
        <h1>Job {current.id.slice(0, 8)}</h1>
        <StreamBadge state={state} />
      </div>
      <p>
        <a href="/jobs">← All jobs</a>
      </p>
      <dl class="facts">
        <dt>Type</dt>
        <dd>{current.task_type}</dd>
        <dt>Status</dt>
        <dd>
          <Status status={current.status} cancelRequested={current.cancel_requested} />
        </dd>
        <dt>Progress</dt>
        <dd>
          <Progress value={current.progress} label="Job progress" />
        </dd>
        <dt>Attempts</dt>
        <dd>
          {current.attempts} of {current.max_attempts}
        </dd>
        <dt>Credits</dt>
        <dd>{current.credit_cost}</dd>
        <dt>Created</dt>
        <dd>{time(current.created_at)}</dd>
        <dt>Finished</dt>
        <dd>{time(current.finished_at)}</dd>
      </dl>
      {!api.TERMINAL.includes(current.status) && (
        <button type="button" class="danger" onClick={cancel} disabled={current.cancel_requested}>
          {current.cancel_requested ? "Cancelling…" : "Cancel job"}
        </button>
      )}
      <Banner error={cancelError} />
      <section aria-labelledby="steps">
        <h2 id="steps">Steps</h2>
        <ol class="steps">
          {steps.map((s, i) => (
            <li key={i}>
              <Status status={s.status} /> {s.step} <span class="muted">{time(s.at)}</span>
            </li>
          ))}
        </ol>
      </section>
      {current.status === "COMPLETED" && (
        <section aria-labelledby="result">
          <h2 id="result">Result</h2>
          <Json value={current.result} label="Job result" />
        </section>
      )}
      {(current.last_error || current.failure_reason) && (
        <section aria-labelledby="err">
          <h2 id="err">Error</h2>
          <p class="error-text">
            {current.failure_reason && <strong>{current.failure_reason}: </strong>}
            {current.last_error}
          </p>
        </section>
      )}
      <details>
        <summary>Payload</summary>
        <Json value={current.payload} label="Job payload" />
      </details>
    </main>
  );
}
