// Billing: plan, period, usage against quota, credits and their ledger; upgrade through Stripe Checkout,
// manage through the billing portal. Back from Checkout, the page follows the plan until the webhook has
// changed it, without a reload.
import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { Banner, Progress, time, useLoad, Table } from "../ui";

interface Billing {
  plan: string;
  status: string;
  subscription_status: string | null;
  current_period_start: string | null;
  current_period_end: string | null;
  cancel_at_period_end: boolean;
  stripe_customer_id: string | null;
}
interface Usage {
  period_start: string | null;
  period_end: string | null;
  jobs_used: number;
  job_quota?: number;
  jobs_limit?: number;
  by_task_type: Record<string, number>;
}
interface Txn {
  id: string;
  amount: number;
  kind: string;
  reference: string | null;
  balance_after: number;
  created_at: string;
}
interface Pricing {
  credit_packs: { credit_pack: string; credits: number }[];
}

const PENDING_KEY = "edge-saas:pending-plan";
const FOLLOW_MS = 60_000;

export function BillingPage(props: { onPlanChange: () => void }) {
  const billing = useLoad(() => api.get<Billing>("/billing"), []);
  const usage = useLoad(() => api.get<Usage>("/usage"), []);
  const balance = useLoad(() => api.get<{ balance: number }>("/credits/balance"), []);
  const ledger = useLoad(() => api.list<Txn>("/credits/transactions?limit=20"), []);
  const pricing = useLoad(() => api.get<Pricing>("/credits/pricing"), []);
  const [error, setError] = useState<unknown>(null);
  const [waiting, setWaiting] = useState<string | null>(() => (new URLSearchParams(location.search).get("checkout") === "success" ? sessionStorage.getItem(PENDING_KEY) : null));

  // Back from Checkout: the webhook may land a moment later. Follow /billing until the plan is the one paid for.
  useEffect(() => {
    if (!waiting) return;
    const until = Date.now() + FOLLOW_MS;
    let timer: number | undefined;
    const tick = async () => {
      try {
        const b = await api.get<Billing>("/billing");
        billing.set(b);
        if (b.plan === waiting || Date.now() > until) {
          sessionStorage.removeItem(PENDING_KEY);
          setWaiting(null);
          history.replaceState(null, "", "/billing");
          usage.reload();
          balance.reload();
          ledger.reload();
          props.onPlanChange();
          return;
        }
      } catch {
        /* keep following */
      }
      timer = window.setTimeout(tick, 1000);
    };
    void tick();
    return () => window.clearTimeout(timer);
  }, [waiting]);

  const go = async (path: string, body: Record<string, string>, pendingPlan?: string) => {
    setError(null);
    try {
      const { url } = await api.post<{ url: string }>(path, body);
      if (pendingPlan) sessionStorage.setItem(PENDING_KEY, pendingPlan);
      location.assign(url);
    } catch (e) {
      setError(e);
    }
  };
  const back = `${location.origin}/billing`;
  const b = billing.data;
  const u = usage.data;
  const quota = u?.job_quota ?? u?.jobs_limit ?? 0;
  const paid = b && b.plan !== "FREE" && b.subscription_status && b.subscription_status !== "canceled";

  return (
    <main id="main">
      <h1>Billing</h1>
      <Banner error={error ?? billing.error ?? usage.error} />
      {waiting && (
        <p class="banner info" role="status">
          Payment received. Waiting for Stripe to confirm your {waiting} plan…
        </p>
      )}
      <div class="grid">
        <section class="card" aria-labelledby="plan">
          <h2 id="plan">Plan</h2>
          <p class="big" data-testid="plan">
            {b?.plan ?? "…"}
          </p>
          <dl class="facts">
            <dt>Status</dt>
            <dd>{b ? b.subscription_status ?? b.status : "…"}</dd>
            <dt>Period</dt>
            <dd>
              {time(b?.current_period_start)} – {time(b?.current_period_end)}
            </dd>
            {b?.cancel_at_period_end && (
              <>
                <dt>Renewal</dt>
                <dd>Ends at the period's end</dd>
              </>
            )}
          </dl>
          <div class="actions">
            {b?.plan === "FREE" &&
              ["PRO", "ENTERPRISE"].map((plan) => (
                <button type="button" key={plan} onClick={() => go("/billing/checkout", { plan, success_url: `${back}?checkout=success`, cancel_url: `${back}?checkout=cancelled` }, plan)}>
                  Upgrade to {plan}
                </button>
              ))}
            {paid && (
              <button type="button" class="secondary" onClick={() => go("/billing/portal", { return_url: back })}>
                Manage billing
              </button>
            )}
          </div>
        </section>
        <section class="card" aria-labelledby="usage">
          <h2 id="usage">Usage this period</h2>
          {u ? (
            <>
              <p>
                <strong data-testid="jobs-used">{u.jobs_used}</strong> of {quota} jobs
              </p>
              <Progress value={quota ? Math.round((100 * u.jobs_used) / quota) : 0} label="Jobs used of quota" />
              <ul>
                {Object.entries(u.by_task_type ?? {}).map(([t, n]) => (
                  <li key={t}>
                    {t}: {n}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <p>…</p>
          )}
        </section>
        <section class="card" aria-labelledby="credits">
          <h2 id="credits">Credits</h2>
          <p class="big" data-testid="balance">
            {balance.data?.balance ?? "…"}
          </p>
          <div class="actions">
            {(pricing.data?.credit_packs ?? []).map((p) => (
              <button type="button" class="secondary" key={p.credit_pack} onClick={() => go("/billing/checkout", { credit_pack: p.credit_pack, success_url: `${back}?checkout=success`, cancel_url: `${back}?checkout=cancelled` })}>
                Buy {p.credits} credits ({p.credit_pack})
              </button>
            ))}
          </div>
        </section>
      </div>
      <section aria-labelledby="ledger">
        <h2 id="ledger">Credit ledger</h2>
        <Table headers={["When", "Kind", "Amount", "Balance", "Reference"]}>
              {(ledger.data?.data ?? []).map((t) => (
                <tr key={t.id}>
                  <td>{time(t.created_at)}</td>
                  <td>{t.kind}</td>
                  <td class={t.amount < 0 ? "neg" : "pos"}>{t.amount > 0 ? `+${t.amount}` : t.amount}</td>
                  <td>{t.balance_after}</td>
                  <td>{t.reference ?? ""}</td>
                </tr>
              ))}
        </Table>
      </section>
    </main>
  );
}
