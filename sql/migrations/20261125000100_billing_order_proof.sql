-- Billing that stays right under Stripe's real delivery (docs/adr/0012):
--   * an event not strictly newer than the stored state writes nothing and answers 'stale': the consumer
--     re-reads the object from Stripe and applies that snapshot (`apply_*_snapshot`), ties included;
--   * the account's plan and status are recomputed from all of its subscriptions, under a row lock;
--   * `invoice.paid` grants the credits of the plan the invoice itself pays for (the Worker maps its
--     line items' prices to a plan) and opens a usage period only for a plan line that is not a proration;
--   * failures are stored (`failed`, attempts, next attempt), re-driven with backoff, then `dead`.

alter table public.plans add column rank smallint not null default 0;
comment on column public.plans.rank is 'Order of plans: the account takes the highest-ranked plan among its live subscriptions.';
update public.plans set rank = case code when 'FREE' then 0 when 'PRO' then 1 when 'ENTERPRISE' then 2 end;

alter table public.webhook_events drop constraint webhook_events_status_check;
alter table public.webhook_events add constraint webhook_events_status_check
  check (status in ('received', 'processed', 'ignored', 'failed', 'dead'));
alter table public.webhook_events
  add column attempts integer not null default 0 check (attempts >= 0),
  add column next_attempt_at timestamptz,
  add column permanent boolean not null default false;
comment on column public.webhook_events.attempts is 'Failed applications recorded so far (queue exhaustion, a permanent error, each failed re-drive).';
create index webhook_events_redrive_idx on public.webhook_events (next_attempt_at) where status in ('received', 'failed');

-- Live subscription statuses: the ones that give the account their plan.
create function private.is_live_subscription_status(p_status text) returns boolean
language sql immutable set search_path = ''
as $$ select p_status in ('active', 'trialing', 'past_due') $$;

-- An event id already applied (or deliberately ignored).
create function private.event_handled(p_id text) returns boolean
language sql stable security definer set search_path = ''
as $$ select exists (select 1 from public.webhook_events where id = p_id and status in ('processed', 'ignored')) $$;

-- Records an event as handled; false when it was already handled. A row stored by the webhook
-- endpoint's fallback or by a failure (`received`, `failed`, `dead`) is taken over.
create or replace function private.record_event(p_event jsonb, p_status text) returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.webhook_events (id, type, stripe_created, payload, status, processed_at)
    values (p_event ->> 'id', p_event ->> 'type', to_timestamp((p_event ->> 'created')::bigint), p_event, p_status, now())
    on conflict (id) do update set status = excluded.status, processed_at = now(), next_attempt_at = null
      where public.webhook_events.status in ('received', 'failed', 'dead');
  return found;
end
$$;

-- Account metadata from everywhere Stripe copies it: the object's own metadata and, for invoices, the
-- subscription's metadata snapshot (`parent.subscription_details.metadata`).
create function private.stripe_metadata(o jsonb) returns jsonb
language sql immutable set search_path = ''
as $$
  select coalesce(o -> 'parent' -> 'subscription_details' -> 'metadata', '{}'::jsonb)
      || coalesce(o -> 'subscription_details' -> 'metadata', '{}'::jsonb)
      || coalesce(o -> 'metadata', '{}'::jsonb)
$$;

-- The account's plan and status from all of its subscriptions: the best plan (by rank) among live ones,
-- FREE when none is live; past_due while the plan-giving subscription is past_due or any is unpaid.
-- Callers hold the account's row lock.
create function private.sync_account_plan(p_account uuid) returns void
language plpgsql security definer set search_path = ''
as $$
declare
  best_plan text;
  best_status text;
  unpaid boolean;
begin
  select s.plan, s.status into best_plan, best_status
    from public.subscriptions s join public.plans p on p.code = s.plan
    where s.account_id = p_account and private.is_live_subscription_status(s.status)
    order by p.rank desc, (s.status = 'past_due'), s.current_period_end desc nulls last
    limit 1;
  unpaid := exists (select 1 from public.subscriptions where account_id = p_account and status = 'unpaid');
  update public.accounts
    set plan = coalesce(best_plan, 'FREE'),
        status = case when status not in ('active', 'past_due') then status
                      when best_status = 'past_due' or unpaid then 'past_due' else 'active' end,
        updated_at = now()
    where id = p_account
      and (plan is distinct from coalesce(best_plan, 'FREE')
           or status <> case when status not in ('active', 'past_due') then status
                             when best_status = 'past_due' or unpaid then 'past_due' else 'active' end);
end
$$;

-- Writes a subscription object (from an event or a snapshot) as the stored state, marked `p_marker`.
create function private.upsert_subscription(p_account uuid, s jsonb, p_status text, p_plan text, p_marker timestamptz) returns void
language plpgsql security definer set search_path = ''
as $$
declare
  item jsonb := s -> 'items' -> 'data' -> 0;
begin
  insert into public.subscriptions (id, account_id, stripe_customer_id, status, plan, price_id, current_period_start,
                                    current_period_end, cancel_at_period_end, stripe_event_created)
    values (s ->> 'id', p_account, s ->> 'customer', p_status, p_plan, item -> 'price' ->> 'id',
            to_timestamp(coalesce(s ->> 'current_period_start', item ->> 'current_period_start')::bigint),
            to_timestamp(coalesce(s ->> 'current_period_end', item ->> 'current_period_end')::bigint),
            coalesce((s ->> 'cancel_at_period_end')::boolean, false), p_marker)
    on conflict (id) do update
      set status = excluded.status, plan = excluded.plan, price_id = excluded.price_id,
          current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
          cancel_at_period_end = excluded.cancel_at_period_end, stripe_event_created = excluded.stripe_event_created,
          updated_at = now();
end
$$;

-- customer.subscription.*: applied only when strictly newer than the stored subscription; otherwise
-- nothing is written and 'stale' tells the consumer to re-read the subscription from Stripe.
create or replace function public.apply_subscription_event(p_event jsonb, p_plan text) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  s jsonb := p_event -> 'data' -> 'object';
  created timestamptz := to_timestamp((p_event ->> 'created')::bigint);
  acct uuid;
  stored timestamptz;
begin
  if private.event_handled(p_event ->> 'id') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(s ->> 'customer', private.stripe_metadata(s));
  perform 1 from public.accounts where id = acct for no key update;
  select stripe_event_created into stored from public.subscriptions where id = s ->> 'id';
  if stored is not null and stored >= created then
    return 'stale';
  end if;
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  perform private.upsert_subscription(acct, s,
    case when p_event ->> 'type' = 'customer.subscription.deleted' then 'canceled' else s ->> 'status' end, p_plan, created);
  perform private.sync_account_plan(acct);
  return 'applied';
end
$$;

-- A subscription as Stripe has it now (`GET /v1/subscriptions/{id}`), applied for `p_event` (recorded as
-- processed). Marked with the time of application, so an event created before it is stale.
create function public.apply_subscription_snapshot(p_event jsonb, p_subscription jsonb, p_plan text) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid;
  stored timestamptz;
begin
  if private.event_handled(p_event ->> 'id') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(p_subscription ->> 'customer', private.stripe_metadata(p_subscription));
  perform 1 from public.accounts where id = acct for no key update;
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  select stripe_event_created into stored from public.subscriptions where id = p_subscription ->> 'id';
  perform private.upsert_subscription(acct, p_subscription, p_subscription ->> 'status', p_plan, greatest(stored, now()));
  perform private.sync_account_plan(acct);
  return 'refetched';
end
$$;

-- customer.created|updated|deleted: strictly newer events apply; others answer 'stale' (re-read).
create or replace function public.apply_customer_event(p_event jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  c jsonb := p_event -> 'data' -> 'object';
  created timestamptz := to_timestamp((p_event ->> 'created')::bigint);
  acct uuid := private.account_for_customer(c ->> 'id', c -> 'metadata');
  stored timestamptz;
begin
  if private.event_handled(p_event ->> 'id') then
    return 'duplicate';
  end if;
  if acct is null then
    if private.record_event(p_event, 'ignored') then
      update public.webhook_events set error = 'customer not linked to an account' where id = p_event ->> 'id';
      return 'ignored';
    end if;
    return 'duplicate';
  end if;
  perform 1 from public.accounts where id = acct for no key update;
  select stripe_event_created into stored from public.stripe_customers where account_id = acct and stripe_customer_id = c ->> 'id';
  if stored is not null and stored >= created then
    return 'stale';
  end if;
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  insert into public.stripe_customers (account_id, stripe_customer_id, email, deleted, stripe_event_created)
    values (acct, c ->> 'id', c ->> 'email', p_event ->> 'type' = 'customer.deleted', created)
    on conflict (account_id) do update
      set stripe_customer_id = excluded.stripe_customer_id, email = excluded.email, deleted = excluded.deleted,
          stripe_event_created = excluded.stripe_event_created, updated_at = now();
  return 'applied';
end
$$;

-- A customer as Stripe has it now (`GET /v1/customers/{id}`; a deleted one is `{id, deleted: true}`).
create function public.apply_customer_snapshot(p_event jsonb, p_customer jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid := private.account_for_customer(p_customer ->> 'id', p_customer -> 'metadata');
begin
  if private.event_handled(p_event ->> 'id') then
    return 'duplicate';
  end if;
  if acct is null then
    return case when private.record_event(p_event, 'ignored') then 'ignored' else 'duplicate' end;
  end if;
  perform 1 from public.accounts where id = acct for no key update;
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  update public.stripe_customers
    set email = case when coalesce((p_customer ->> 'deleted')::boolean, false) then email else p_customer ->> 'email' end,
        deleted = coalesce((p_customer ->> 'deleted')::boolean, false),
        stripe_event_created = greatest(stripe_event_created, now()), updated_at = now()
    where account_id = acct and stripe_customer_id = p_customer ->> 'id';
  return 'refetched';
end
$$;

-- invoice.paid: `p_grant_plan` is the plan the invoice pays for, read by the Worker from the invoice's own
-- line items (null: nothing to grant, e.g. a proration, zero-amount or credit-pack invoice; docs/adr/0012).
-- Its monthly credits are granted once per invoice. `p_period_start`/`p_period_end` (unix seconds) are the
-- period of its plan line, which opens a usage period; null for invoices that do not start a period.
drop function public.apply_invoice_paid(jsonb);
create function public.apply_invoice_paid(p_event jsonb, p_grant_plan text default null, p_period_start bigint default null,
                                          p_period_end bigint default null) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  inv jsonb := p_event -> 'data' -> 'object';
  acct uuid;
  credits integer;
begin
  if private.event_handled(p_event ->> 'id') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(inv ->> 'customer', private.stripe_metadata(inv));
  perform 1 from public.accounts where id = acct for no key update;
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  if p_period_start is not null and p_period_end > p_period_start then
    insert into public.usage_counters (account_id, period_start, period_end)
      values (acct, to_timestamp(p_period_start), to_timestamp(p_period_end))
      on conflict (account_id, period_start) do nothing;
  end if;
  select monthly_credits into credits from public.plans where code = p_grant_plan;
  if coalesce(credits, 0) > 0 then
    perform public.grant_credits(acct, credits, 'grant', 'invoice:' || (inv ->> 'id'));
  end if;
  return 'applied';
end
$$;

-- invoice.payment_failed: the account's status follows its subscriptions. The consumer re-reads the
-- invoice's subscription from Stripe and applies that snapshot; this function only records an event
-- that needs nothing else (no subscription, or an invoice paid since).
drop function public.apply_invoice_payment_failed(jsonb);
create function public.apply_invoice_payment_failed(p_event jsonb, p_note text) returns text
language plpgsql security definer set search_path = ''
as $$
begin
  if not private.record_event(p_event, 'ignored') then
    return 'duplicate';
  end if;
  update public.webhook_events set error = left(p_note, 500) where id = p_event ->> 'id';
  return 'ignored';
end
$$;

-- ---- failures, re-drive and dead events --------------------------------------------------------------

-- Delay before the next re-drive after `p_attempts` recorded failures: the first is due at once (the
-- next cron run), then 5 min doubling, at most 6 h.
create function private.redrive_delay(p_attempts integer) returns interval
language sql immutable set search_path = ''
as $$
  select case when p_attempts <= 1 then interval '0'
              else least(interval '5 minutes' * power(2, least(p_attempts - 2, 12)), interval '6 hours') end
$$;

-- Stores an event that could not be applied: `failed` with the error and a next attempt, or `dead`
-- after `p_max_attempts` failures. An event applied meanwhile is left alone. Returns the row's status.
create function public.record_webhook_failure(p_event jsonb, p_error text, p_permanent boolean, p_max_attempts integer)
returns text
language plpgsql security definer set search_path = ''
as $$
declare
  st text;
begin
  insert into public.webhook_events as w (id, type, stripe_created, payload, status, error, attempts, next_attempt_at, permanent)
    values (p_event ->> 'id', p_event ->> 'type', to_timestamp((p_event ->> 'created')::bigint), p_event,
            case when p_max_attempts <= 1 then 'dead' else 'failed' end, left(p_error, 2000), 1,
            case when p_max_attempts <= 1 then null else now() + private.redrive_delay(1) end, p_permanent)
    on conflict (id) do update
      set status = case when w.attempts + 1 >= p_max_attempts then 'dead' else 'failed' end,
          error = excluded.error, attempts = w.attempts + 1, permanent = excluded.permanent,
          next_attempt_at = case when w.attempts + 1 >= p_max_attempts then null else now() + private.redrive_delay(w.attempts + 1) end
      where w.status in ('received', 'failed')
    returning status into st;
  return coalesce(st, (select status from public.webhook_events where id = p_event ->> 'id'));
end
$$;

-- Cron: events stored by the endpoint (`received`) and failed events whose next attempt is due, oldest first.
create or replace function public.pending_webhook_events(p_limit integer) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(payload order by due), '[]'::jsonb) from (
    select payload, coalesce(next_attempt_at, received_at) due from public.webhook_events
    where status = 'received' or (status = 'failed' and next_attempt_at <= now())
    order by coalesce(next_attempt_at, received_at) limit p_limit) e
$$;

-- Runbook (docs/runbooks/stripe-webhook-dead-events.md): put a dead event back in line once its cause is fixed.
create function public.retry_dead_webhook_event(p_id text) returns text
language sql security definer set search_path = ''
as $$
  update public.webhook_events set status = 'failed', attempts = 0, next_attempt_at = now()
    where id = p_id and status = 'dead'
  returning status
$$;

-- Service role: dead events, newest first (for the runbook and alerts).
create view public.dead_webhook_events with (security_invoker = true) as
  select id, type, stripe_created, attempts, permanent, error, received_at from public.webhook_events where status = 'dead';
revoke all on public.dead_webhook_events from public, anon, authenticated;
grant select on public.dead_webhook_events to service_role;

-- The billing overview also says which live subscription the account has (checkout refuses a second one).
create or replace function public.billing_overview(p_account_id uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  per record;
begin
  select * into per from private.current_period(acct);
  return (
    select jsonb_build_object(
      'account_id', a.id, 'plan', a.plan, 'status', a.status,
      'current_period_start', per.period_start, 'current_period_end', per.period_end,
      'cancel_at_period_end', coalesce(s.cancel_at_period_end, false),
      'stripe_customer_id', c.stripe_customer_id,
      'subscription_status', s.status,
      'live_subscription_id', (select x.id from public.subscriptions x
                               where x.account_id = a.id and private.is_live_subscription_status(x.status)
                               order by x.current_period_end desc nulls last limit 1),
      'jobs_limit', p.job_quota,
      'jobs_used', coalesce((select jobs_used from public.usage_counters u where u.account_id = a.id and u.period_start = per.period_start), 0),
      'by_task_type', coalesce((select jsonb_object_agg(task_type, n) from (
          select task_type, sum(quantity) n from public.usage_events e
          where e.account_id = a.id and e.occurred_at >= per.period_start and e.occurred_at < per.period_end group by task_type) t), '{}'::jsonb),
      'balance', coalesce(b.balance, 0), 'balance_updated_at', b.updated_at)
    from public.accounts a
    join public.plans p on p.code = a.plan
    left join public.stripe_customers c on c.account_id = a.id and not c.deleted
    left join lateral (select * from public.subscriptions x where x.account_id = a.id
                       order by private.is_live_subscription_status(x.status) desc, x.stripe_event_created desc limit 1) s on true
    left join public.credit_balances b on b.account_id = a.id
    where a.id = acct);
end
$$;

-- Helpers are called only by the security-definer functions above.
revoke all on function private.is_live_subscription_status(text) from public;
revoke all on function private.event_handled(text) from public;
revoke all on function private.stripe_metadata(jsonb) from public;
revoke all on function private.sync_account_plan(uuid) from public;
revoke all on function private.upsert_subscription(uuid, jsonb, text, text, timestamptz) from public;
revoke all on function private.redrive_delay(integer) from public;
revoke all on function public.apply_subscription_snapshot(jsonb, jsonb, text) from public, anon, authenticated;
revoke all on function public.apply_customer_snapshot(jsonb, jsonb) from public, anon, authenticated;
revoke all on function public.apply_invoice_paid(jsonb, text, bigint, bigint) from public, anon, authenticated;
revoke all on function public.apply_invoice_payment_failed(jsonb, text) from public, anon, authenticated;
revoke all on function public.record_webhook_failure(jsonb, text, boolean, integer) from public, anon, authenticated;
revoke all on function public.retry_dead_webhook_event(text) from public, anon, authenticated;
grant execute on function public.apply_subscription_snapshot(jsonb, jsonb, text) to service_role;
grant execute on function public.apply_customer_snapshot(jsonb, jsonb) to service_role;
grant execute on function public.apply_invoice_paid(jsonb, text, bigint, bigint) to service_role;
grant execute on function public.apply_invoice_payment_failed(jsonb, text) to service_role;
grant execute on function public.record_webhook_failure(jsonb, text, boolean, integer) to service_role;
grant execute on function public.retry_dead_webhook_event(text) to service_role;
