-- Scheduled work (docs/adr/0011): a run log, metered usage for Stripe Billing Meters, daily
-- reconciliation against Stripe's meter summaries, monthly renewal of credits granted outside Stripe,
-- and retention. Every function here is idempotent: a second run changes nothing. Service role only.

create table public.cron_runs (
  id uuid primary key default gen_random_uuid(),
  job text not null check (job in ('sweep_stuck_jobs', 'redrive_webhooks', 'report_usage', 'reconcile_usage',
                                    'renew_credits', 'retention')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text not null default 'running' check (outcome in ('running', 'ok', 'partial', 'failed', 'skipped')),
  counts jsonb not null default '{}'::jsonb,
  message text check (length(message) <= 2000),
  check ((outcome = 'running') = (finished_at is null))
);
create index cron_runs_job_idx on public.cron_runs (job, started_at desc);
comment on table public.cron_runs is 'One row per scheduled job run: started, finished, outcome, counts. Service role only.';
alter table public.cron_runs enable row level security;

create function public.cron_run_start(p_job text) returns uuid
language sql security definer set search_path = ''
as $$ insert into public.cron_runs (job) values (p_job) returning id $$;

create function public.cron_run_finish(p_run uuid, p_outcome text, p_counts jsonb, p_message text) returns void
language sql security definer set search_path = ''
as $$
  update public.cron_runs set outcome = p_outcome, counts = coalesce(p_counts, '{}'::jsonb),
      message = left(p_message, 2000), finished_at = now()
    where id = p_run and outcome = 'running'
$$;

-- ---- usage reporting --------------------------------------------------------------------------------
-- Usage events of accounts on a metered price, not yet reported, oldest first. Stripe accepts meter
-- events up to 35 days old; an event from before the account's metered subscription existed is not
-- billable on it.
create function public.unreported_meter_usage(p_metered_prices text[], p_limit integer)
returns table (id uuid, account_id uuid, stripe_customer_id text, quantity integer, occurred_at timestamptz)
language sql stable security definer set search_path = ''
as $$
  select ue.id, ue.account_id, sc.stripe_customer_id, ue.quantity, ue.occurred_at
  from public.usage_events ue
  join public.stripe_customers sc on sc.account_id = ue.account_id and not sc.deleted
  where ue.reported_at is null
    and ue.occurred_at > now() - interval '35 days'
    and exists (select 1 from public.subscriptions s
                where s.account_id = ue.account_id and s.status in ('active', 'trialing', 'past_due')
                  and s.price_id = any (p_metered_prices) and s.created_at <= ue.occurred_at)
  order by ue.occurred_at, ue.id
  limit greatest(p_limit, 0)
$$;

create function public.mark_usage_reported(p_ids uuid[]) returns integer
language sql security definer set search_path = ''
as $$
  with u as (update public.usage_events set reported_at = now() where id = any (p_ids) and reported_at is null returning 1)
  select count(*)::int from u
$$;

-- ---- reconciliation ---------------------------------------------------------------------------------
create table public.usage_discrepancies (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  stripe_customer_id text not null,
  period_start timestamptz not null,
  period_end timestamptz not null,
  internal_quantity bigint not null,
  stripe_quantity bigint,
  kind text not null check (kind in ('stripe_ahead', 'stripe_behind', 'missing')),
  run_id uuid references public.cron_runs (id) on delete set null,
  first_detected_at timestamptz not null default now(),
  last_changed_at timestamptz not null default now(),
  resolved_at timestamptz,
  unique (account_id, period_start)
);
comment on table public.usage_discrepancies is
  'Daily reconciliation: a metered account''s reported usage vs Stripe''s meter summary for the period. Service role only; see docs/runbooks/reconciliation-missing.md.';
alter table public.usage_discrepancies enable row level security;

-- What to reconcile: each account on a metered price, its current period as minute-aligned bounds
-- (Stripe's summaries take minute boundaries), and the usage it has reported (and not yet) inside them.
create function public.metered_periods(p_metered_prices text[])
returns table (account_id uuid, stripe_customer_id text, window_start timestamptz, window_end timestamptz,
               reported_quantity bigint, unreported_quantity bigint)
language sql stable security definer set search_path = ''
as $$
  select s.account_id, sc.stripe_customer_id, w.ws, w.we,
    coalesce((select sum(quantity) from public.usage_events ue where ue.account_id = s.account_id
              and ue.occurred_at >= w.ws and ue.occurred_at < w.we and ue.reported_at is not null), 0)::bigint,
    coalesce((select sum(quantity) from public.usage_events ue where ue.account_id = s.account_id
              and ue.occurred_at >= w.ws and ue.occurred_at < w.we and ue.reported_at is null), 0)::bigint
  from (select distinct on (account_id) * from public.subscriptions
        where status in ('active', 'trialing', 'past_due') and price_id = any (p_metered_prices)
          and current_period_start is not null
        order by account_id, current_period_end desc) s
  join public.stripe_customers sc on sc.account_id = s.account_id and not sc.deleted
  cross join lateral (select date_trunc('minute', s.current_period_start) as ws,
                             least(date_trunc('minute', now()) + interval '1 minute',
                                   date_trunc('minute', s.current_period_end)) as we) w
  where w.we > w.ws
$$;

-- Records one account's comparison. Equal numbers resolve an open discrepancy; different ones open or
-- update it. Nothing changes when the numbers are what was already recorded. Returns the kind ('ok' when
-- equal).
create function public.record_reconciliation(
  p_run uuid, p_account uuid, p_customer text, p_period_start timestamptz, p_period_end timestamptz,
  p_internal bigint, p_stripe bigint default null
) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  k text := case
    when p_internal = coalesce(p_stripe, 0) then 'ok'
    when p_stripe is null or (p_stripe = 0 and p_internal > 0) then 'missing'
    when p_stripe > p_internal then 'stripe_ahead'
    else 'stripe_behind' end;
begin
  if k = 'ok' then
    update public.usage_discrepancies set resolved_at = now(), last_changed_at = now(), run_id = p_run,
        internal_quantity = p_internal, stripe_quantity = p_stripe
      where account_id = p_account and period_start = p_period_start and resolved_at is null;
    return k;
  end if;
  insert into public.usage_discrepancies (account_id, stripe_customer_id, period_start, period_end,
      internal_quantity, stripe_quantity, kind, run_id)
    values (p_account, p_customer, p_period_start, p_period_end, p_internal, p_stripe, k, p_run)
    on conflict (account_id, period_start) do update
      set internal_quantity = excluded.internal_quantity, stripe_quantity = excluded.stripe_quantity,
          kind = excluded.kind, period_end = excluded.period_end, run_id = excluded.run_id,
          last_changed_at = now(), resolved_at = null
      where (usage_discrepancies.internal_quantity, usage_discrepancies.stripe_quantity, usage_discrepancies.kind)
              is distinct from (excluded.internal_quantity, excluded.stripe_quantity, excluded.kind)
         or usage_discrepancies.resolved_at is not null;
  return k;
end
$$;

-- The admin view of open discrepancies (service role: SQL editor, or PostgREST with the service key).
create view public.open_usage_discrepancies with (security_invoker = true) as
  select d.*, a.name as account_name from public.usage_discrepancies d join public.accounts a on a.id = d.account_id
  where d.resolved_at is null;
revoke all on public.open_usage_discrepancies from anon, authenticated;

-- ---- renewal ----------------------------------------------------------------------------------------
-- Monthly credits for accounts without a live Stripe subscription (their paid plans' credits come with
-- invoice.paid). One grant per account and calendar month (UTC), keyed by the reference
-- renewal:<account>:<YYYY-MM>, so no number of runs can grant twice; the month an account was created in
-- is covered by its signup grant.
create function public.renew_monthly_credits() returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  month_start timestamptz := date_trunc('month', now() at time zone 'utc') at time zone 'utc';
  r record;
  granted integer := 0;
begin
  for r in
    select a.id, p.monthly_credits from public.accounts a join public.plans p on p.code = a.plan
    where a.deleted_at is null and a.created_at < month_start and p.monthly_credits > 0
      and not exists (select 1 from public.subscriptions s where s.account_id = a.id
                      and s.status in ('active', 'trialing', 'past_due'))
      and not exists (select 1 from public.credit_transactions t where t.kind = 'grant'
                      and t.reference = 'renewal:' || a.id || ':' || to_char(month_start at time zone 'utc', 'YYYY-MM'))
  loop
    perform public.grant_credits(r.id, r.monthly_credits, 'grant',
      'renewal:' || r.id || ':' || to_char(month_start at time zone 'utc', 'YYYY-MM'));
    granted := granted + 1;
  end loop;
  return granted;
end
$$;

-- ---- retention --------------------------------------------------------------------------------------
alter table public.jobs add column scrubbed_at timestamptz;

-- Policy (docs/adr/0011):
-- - usage events older than p_usage_days are deleted, except unreported ones Stripe could still take
--   (under 35 days); usage_counters keep the aggregates;
-- - webhook events processed or ignored more than p_webhook_days ago are deleted (received and failed ones
--   stay for investigation);
-- - jobs finished more than p_payload_days ago lose their payload, result and last_error (user content);
--   status, timings, task type and credit cost stay; dead-letter envelopes lose their payload too;
-- - accounts soft-deleted more than p_soft_deleted_days ago are deleted with everything that cascades.
create function public.apply_retention(p_usage_days integer, p_webhook_days integer, p_payload_days integer,
                                       p_soft_deleted_days integer) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  n_usage integer; n_webhooks integer; n_jobs integer; n_dead integer; n_accounts integer;
begin
  delete from public.usage_events
    where occurred_at < now() - make_interval(days => p_usage_days)
      and (reported_at is not null or occurred_at < now() - interval '35 days');
  get diagnostics n_usage = row_count;
  delete from public.webhook_events
    where status in ('processed', 'ignored') and processed_at < now() - make_interval(days => p_webhook_days);
  get diagnostics n_webhooks = row_count;
  update public.jobs set payload = '{"scrubbed": true}'::jsonb,
      result = case when result is null then null else '{"scrubbed": true}'::jsonb end,
      last_error = case when last_error is null then null else '[scrubbed]' end,
      scrubbed_at = now()
    where scrubbed_at is null and finished_at < now() - make_interval(days => p_payload_days);
  get diagnostics n_jobs = row_count;
  update public.dead_letter_jobs set envelope = envelope - 'payload' || '{"payload": {"scrubbed": true}}'::jsonb
    where received_at < now() - make_interval(days => p_payload_days) and envelope ? 'payload'
      and envelope -> 'payload' <> '{"scrubbed": true}'::jsonb;
  get diagnostics n_dead = row_count;
  delete from public.accounts where deleted_at < now() - make_interval(days => p_soft_deleted_days);
  get diagnostics n_accounts = row_count;
  return jsonb_build_object('usage_events_deleted', n_usage, 'webhook_events_deleted', n_webhooks,
    'jobs_scrubbed', n_jobs, 'dead_letters_scrubbed', n_dead, 'accounts_deleted', n_accounts);
end
$$;

do $$
declare f text;
begin
  foreach f in array array[
    'public.cron_run_start(text)', 'public.cron_run_finish(uuid, text, jsonb, text)',
    'public.unreported_meter_usage(text[], integer)', 'public.mark_usage_reported(uuid[])',
    'public.metered_periods(text[])',
    'public.record_reconciliation(uuid, uuid, text, timestamptz, timestamptz, bigint, bigint)',
    'public.renew_monthly_credits()', 'public.apply_retention(integer, integer, integer, integer)']
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
