// Lead analysis: business profiles, the analyze form (tier and its credit cost), the leads with their
// latest score, and a lead's analyses with their results and cost.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import type { JobFrame } from "../api";
import { config } from "../config";
import { openStream } from "../sse";
import { Banner, Field, Json, Progress, Status, time, useLoad, Table } from "../ui";

interface Profile {
  id: string;
  name: string;
  description: string;
  ideal_customer: string | null;
  website: string | null;
}
interface Lead {
  id: string;
  profile_url: string;
  display_name: string | null;
  headline: string | null;
  latest_fit_score: number | null;
  latest_tier: string | null;
  last_analyzed_at: string | null;
}
interface Analysis {
  id: string;
  lead_id: string;
  job_id: string;
  tier: string;
  status: string;
  progress: number;
  step: string;
  failure_reason: string | null;
  credit_cost: number;
  fit_score: number | null;
  summary: string | null;
  result: unknown;
  cost: { total_usd: number; scrape_usd: number; ai_usd: number } | null;
  model: string | null;
  cache_hit: boolean | null;
  created_at: string;
  completed_at: string | null;
}

function ProfileForm(props: { onCreated: (p: Profile) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [ideal, setIdeal] = useState("");
  const [error, setError] = useState<unknown>(null);
  const fields = error instanceof api.ApiError ? error.fields : {};
  return (
    <form
      class="card"
      aria-labelledby="new-profile"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          props.onCreated(await api.post<Profile>("/business-profiles", { name, description, ideal_customer: ideal || null }));
          setName("");
          setDescription("");
          setIdeal("");
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2 id="new-profile">Business profile</h2>
      <Banner error={error} />
      <Field label="Business name" name="name" required value={name} onInput={setName} error={fields.name} />
      <Field label="What you offer" name="description" id="profile-description" error={fields.description}>
        <textarea id="profile-description" name="description" required value={description} onInput={(e) => setDescription((e.target as HTMLTextAreaElement).value)} />
      </Field>
      <Field label="Ideal customer (optional)" name="ideal_customer" value={ideal} onInput={setIdeal} error={fields.ideal_customer} />
      <button type="submit">Save profile</button>
    </form>
  );
}

function AnalyzeForm(props: { profiles: Profile[]; costs: Record<string, number>; onAccepted: (a: Analysis) => void }) {
  const tiers = config.lead_tiers;
  const [url, setUrl] = useState("");
  const [tier, setTier] = useState(tiers[0] ?? "LIGHT");
  const [profile, setProfile] = useState("");
  const [error, setError] = useState<unknown>(null);
  const profileId = profile || props.profiles[0]?.id || "";
  const fields = error instanceof api.ApiError ? error.fields : {};
  if (!tiers.length) return <p class="card">Lead analysis is switched off at the moment.</p>;
  return (
    <form
      class="card"
      aria-labelledby="analyze"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        try {
          props.onAccepted(await api.post<Analysis>("/leads/analyze", { profile_url: url, tier, business_profile_id: profileId }));
          setUrl("");
        } catch (err) {
          setError(err);
        }
      }}
    >
      <h2 id="analyze">Analyze a lead</h2>
      <Banner error={error} />
      <Field label="Profile URL" name="profile_url" type="url" inputmode="url" required value={url} onInput={setUrl} error={fields.profile_url} />
      <fieldset>
        <legend>Tier</legend>
        {tiers.map((t) => (
          <label key={t} class="radio">
            <input type="radio" name="tier" value={t} checked={tier === t} onChange={() => setTier(t)} /> {t}{" "}
            <span class="muted">({props.costs[t] ?? "?"} credits)</span>
          </label>
        ))}
      </fieldset>
      <Field label="For business profile" name="business_profile_id" id="analyze-profile" error={fields.business_profile_id}>
        <select id="analyze-profile" name="business_profile_id" value={profileId} onChange={(e) => setProfile((e.target as HTMLSelectElement).value)}>
          {props.profiles.map((p) => (
            <option key={p.id} value={p.id}>
              {p.name}
            </option>
          ))}
        </select>
      </Field>
      <button type="submit" disabled={!profileId}>
        Analyze ({props.costs[tier] ?? "?"} credits)
      </button>
    </form>
  );
}

export function LeadsPage() {
  const profiles = useLoad(() => api.list<Profile>("/business-profiles?limit=50"), []);
  const leads = useLoad(() => api.list<Lead>("/leads?limit=50"), []);
  const pricing = useLoad(() => api.get<{ lead_tier_credits?: Record<string, number> }>("/credits/pricing"), []);
  const [running, setRunning] = useState<Record<string, JobFrame>>({});

  // Follow the account's jobs: an analysis in flight shows its progress; a finished one refreshes the list.
  useEffect(
    () =>
      openStream("/jobs/stream", ["job"], {
        onFrame: (_e, data) => {
          const f = data as JobFrame;
          setRunning((r) => {
            if (!(f.id in r)) return r;
            if (api.TERMINAL.includes(f.status)) {
              leads.reload();
              const { [f.id]: _done, ...rest } = r;
              return rest;
            }
            return { ...r, [f.id]: f };
          });
        },
      }),
    [],
  );

  const list = profiles.data?.data ?? [];
  return (
    <main id="main">
      <h1>Leads</h1>
      <Banner error={profiles.error ?? leads.error} />
      <div class="grid">
        {list.length > 0 ? (
          <AnalyzeForm
            profiles={list}
            costs={pricing.data?.lead_tier_credits ?? {}}
            onAccepted={(a) => setRunning((r) => ({ ...r, [a.job_id]: { id: a.job_id, status: a.status as JobFrame["status"], progress: a.progress, step: a.step } as JobFrame }))}
          />
        ) : (
          <p class="card">Create a business profile first: every analysis scores a lead against it.</p>
        )}
        <ProfileForm onCreated={(p) => profiles.set({ data: [p, ...list], pagination: profiles.data?.pagination ?? { has_more: false } })} />
      </div>
      {Object.values(running).length > 0 && (
        <section aria-labelledby="in-flight">
          <h2 id="in-flight">In progress</h2>
          <ul>
            {Object.values(running).map((f) => (
              <li key={f.id}>
                <Status status={f.status} /> {f.step} <Progress value={f.progress} label="Analysis progress" />
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="leads">
        <h2 id="leads">Leads</h2>
        <Table headers={["Lead", "Headline", "Fit", "Tier", "Analyzed"]}>
              {(leads.data?.data ?? []).map((l) => (
                <tr key={l.id} data-lead={l.id}>
                  <td>
                    <a href={`/leads/${l.id}`}>{l.display_name ?? l.profile_url}</a>
                  </td>
                  <td>{l.headline ?? ""}</td>
                  <td data-testid="fit">{l.latest_fit_score ?? "—"}</td>
                  <td>{l.latest_tier ?? "—"}</td>
                  <td>{time(l.last_analyzed_at)}</td>
                </tr>
              ))}
        </Table>
      </section>
    </main>
  );
}

export function LeadDetail(props: { id: string; onDeleted: () => void }) {
  const lead = useLoad(() => api.get<Lead>(`/leads/${props.id}`), [props.id]);
  const analyses = useLoad(() => api.list<Analysis>(`/leads/${props.id}/analyses?limit=20`), [props.id]);
  const [error, setError] = useState<unknown>(null);
  const l = lead.data;
  return (
    <main id="main">
      <h1>{l?.display_name ?? "Lead"}</h1>
      <p>
        <a href="/leads">← All leads</a>
      </p>
      <Banner error={lead.error ?? analyses.error ?? error} />
      {l && (
        <dl class="facts">
          <dt>Profile</dt>
          <dd>
            <a href={l.profile_url} rel="noreferrer noopener" target="_blank">
              {l.profile_url}
            </a>
          </dd>
          <dt>Headline</dt>
          <dd>{l.headline ?? "—"}</dd>
          <dt>Latest fit</dt>
          <dd>{l.latest_fit_score ?? "—"}</dd>
        </dl>
      )}
      {l && (
        <button
          type="button"
          class="danger"
          onClick={async () => {
            try {
              await api.del(`/leads/${l.id}`);
              props.onDeleted();
            } catch (e) {
              setError(e);
            }
          }}
        >
          Delete lead (restorable for 30 days)
        </button>
      )}
      <h2>Analyses</h2>
      {(analyses.data?.data ?? []).map((a) => (
        <article class="card" key={a.id} data-analysis={a.id}>
          <h3>
            {a.tier} · <Status status={a.status} /> {a.fit_score !== null && <span>fit {a.fit_score}</span>}
          </h3>
          <p class="muted">
            {time(a.created_at)} · {a.credit_cost} {a.credit_cost === 1 ? "credit" : "credits"} · {a.model ?? ""}
            {a.cache_hit ? " · cached profile" : ""}
            {a.cost ? ` · cost $${a.cost.total_usd.toFixed(4)} (scrape $${a.cost.scrape_usd.toFixed(4)}, AI $${a.cost.ai_usd.toFixed(4)})` : ""}
          </p>
          {a.summary && <p>{a.summary}</p>}
          {a.failure_reason && <p class="error-text">{a.failure_reason}</p>}
          {a.result != null && (
            <details>
              <summary>Full result</summary>
              <Json value={a.result} label="Analysis result" />
            </details>
          )}
        </article>
      ))}
    </main>
  );
}
