-- Billing: what each task type costs, quota and credits charged at submission (in submit_job's
-- transaction), usage recorded when a job completes, credits for new accounts, and one function per
-- Stripe event kind (docs/adr/0005, 0006, 0009).

create table public.task_types (
  task_type text primary key,
  credit_cost integer not null check (credit_cost >= 0),
  created_at timestamptz not null default now()
);
comment on table public.task_types is 'Credits charged per task type at submission. Changed by migrations.';
insert into public.task_types (task_type, credit_cost) values ('http.request', 1), ('browser.extract_text', 5);
alter table public.task_types enable row level security;
create policy task_types_read on public.task_types for select to authenticated using (true);

-- The account's current usage period: the newest period a paid invoice opened (a usage counter covering
-- now), else its live subscription's period, else the calendar month (UTC).
create function private.current_period(p_account uuid, out period_start timestamptz, out period_end timestamptz)
language sql stable security definer set search_path = ''
as $$
  select coalesce(u.period_start, s.current_period_start, date_trunc('month', now() at time zone 'utc') at time zone 'utc'),
         coalesce(u.period_end, s.current_period_end, (date_trunc('month', now() at time zone 'utc') + interval '1 month') at time zone 'utc')
  from (select 1) one
  left join lateral (
    select c.period_start, c.period_end from public.usage_counters c
    where c.account_id = p_account and c.period_start <= now() and c.period_end > now()
      and c.period_start > date_trunc('month', now() at time zone 'utc') at time zone 'utc'
    order by c.period_start desc limit 1) u on true
  left join lateral (
    select current_period_start, current_period_end from public.subscriptions
    where account_id = p_account and status in ('active', 'trialing', 'past_due')
      and current_period_start <= now() and current_period_end > now()
    order by current_period_end desc limit 1) s on true
$$;

-- Quota and credits for a new job, in submit_job's transaction. The quota counts the period's completed
-- jobs plus the jobs in flight (so a burst cannot overshoot it); the credit cost is the task type's.
-- Raises plan_limit_exceeded {limit, used, resets_at}, insufficient_credits {required, balance}, or
-- feature_disabled when the plan does not include the task type.
create or replace function private.charge_submission(j public.jobs) returns public.jobs
language plpgsql security definer set search_path = ''
as $$
declare
  pl public.plans;
  per record;
  used bigint;
  cost integer;
begin
  select p.* into pl from public.plans p join public.accounts a on a.plan = p.code where a.id = j.account_id;
  if not (j.task_type = any (pl.allowed_task_types)) then
    raise exception using errcode = 'P0001', message = 'feature_disabled',
      detail = json_build_object('task_type', j.task_type, 'plan', pl.code)::text;
  end if;
  select * into per from private.current_period(j.account_id);
  -- Serialise quota checks per account.
  perform 1 from public.accounts where id = j.account_id for no key update;
  used := coalesce((select jobs_used from public.usage_counters where account_id = j.account_id and period_start = per.period_start), 0)
        + (select count(*) from public.jobs where account_id = j.account_id and status in ('PENDING', 'RUNNING') and id <> j.id);
  if used >= pl.job_quota then
    raise exception using errcode = 'P0001', message = 'plan_limit_exceeded',
      detail = json_build_object('limit', pl.job_quota, 'used', used, 'resets_at', per.period_end)::text;
  end if;
  cost := coalesce((select credit_cost from public.task_types where task_type = j.task_type), 0);
  if cost > 0 then
    perform public.deduct_credits(j.account_id, j.id, cost);
    update public.jobs set credit_cost = cost where id = j.id returning * into j;
  end if;
  return j;
end
$$;

-- Completion records usage: one usage event per job and the period counter, in the same transaction
-- as the COMPLETED transition.
create function private.record_usage() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  per record;
begin
  select * into per from private.current_period(new.account_id);
  insert into public.usage_events (account_id, job_id, task_type) values (new.account_id, new.id, new.task_type)
    on conflict (job_id) do nothing;
  if found then
    insert into public.usage_counters (account_id, period_start, period_end, jobs_used)
      values (new.account_id, per.period_start, per.period_end, 1)
      on conflict (account_id, period_start) do update set jobs_used = usage_counters.jobs_used + 1, updated_at = now();
  end if;
  return new;
end
$$;
create trigger on_job_completed after update of status on public.jobs
  for each row when (new.status = 'COMPLETED' and old.status is distinct from 'COMPLETED')
  execute function private.record_usage();

-- New accounts start with their plan's monthly credits (once per account).
create function private.grant_signup_credits() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform public.grant_credits(new.id, p.monthly_credits, 'grant', 'signup:' || new.id)
    from public.plans p where p.code = new.plan and p.monthly_credits > 0;
  return new;
end
$$;
create trigger on_account_created after insert on public.accounts
  for each row execute function private.grant_signup_credits();

-- ---- Stripe events: one function per kind. Each records the event id first (unique: a duplicate is a
-- no-op) and applies its effect in the same transaction. An event older than what a row reflects (by
-- Stripe's `created`) does not overwrite it. Returns 'applied', 'stale', 'ignored' or 'duplicate'.

-- Records an event as handled; false when it was already handled. A row stored by the webhook endpoint's
-- fallback (status 'received') is taken over.
create function private.record_event(p_event jsonb, p_status text) returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.webhook_events (id, type, stripe_created, payload, status, processed_at)
    values (p_event ->> 'id', p_event ->> 'type', to_timestamp((p_event ->> 'created')::bigint), p_event, p_status, now())
    on conflict (id) do update set status = excluded.status, processed_at = now()
      where public.webhook_events.status = 'received';
  return found;
end
$$;

-- The webhook endpoint's fallback when the queue refuses: keep the event for the cron re-drive.
create function public.store_webhook_event(p_event jsonb) returns text
language sql security definer set search_path = ''
as $$
  insert into public.webhook_events (id, type, stripe_created, payload)
    values (p_event ->> 'id', p_event ->> 'type', to_timestamp((p_event ->> 'created')::bigint), p_event)
    on conflict (id) do nothing
  returning 'stored'
$$;

create function private.account_for_customer(p_customer text, p_metadata jsonb) returns uuid
language sql stable security definer set search_path = ''
as $$
  select coalesce(
    (select account_id from public.stripe_customers where stripe_customer_id = p_customer),
    (select id from public.accounts where id::text = p_metadata ->> 'account_id'))
$$;

-- The account of an event's customer, or unknown_customer (P0001): the event is retried (it may have
-- arrived before the checkout that links the customer) and dead-lettered if it never resolves.
create function private.account_or_raise(p_customer text, p_metadata jsonb) returns uuid
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.account_for_customer(p_customer, p_metadata);
begin
  if acct is null then
    raise exception using errcode = 'P0001', message = 'unknown_customer', detail = json_build_object('customer', p_customer)::text;
  end if;
  return acct;
end
$$;

create function public.apply_ignored_event(p_event jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
begin
  return case when private.record_event(p_event, 'ignored') then 'ignored' else 'duplicate' end;
end
$$;

-- checkout.session.completed: links the customer to the account (client_reference_id); a paid credit
-- pack grants its credits once (reference = the session id).
create function public.apply_checkout_completed(p_event jsonb, p_pack_credits integer) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  s jsonb := p_event -> 'data' -> 'object';
  acct uuid;
begin
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  select id into acct from public.accounts where id::text = s ->> 'client_reference_id';
  if acct is null then
    update public.webhook_events set status = 'ignored', error = 'no account for client_reference_id' where id = p_event ->> 'id';
    return 'ignored';
  end if;
  if s ->> 'customer' is not null then
    insert into public.stripe_customers (account_id, stripe_customer_id, email, stripe_event_created)
      values (acct, s ->> 'customer', s -> 'customer_details' ->> 'email', to_timestamp((p_event ->> 'created')::bigint))
      on conflict (account_id) do update set stripe_customer_id = excluded.stripe_customer_id, updated_at = now();
  end if;
  if coalesce(p_pack_credits, 0) > 0 and s ->> 'payment_status' = 'paid' then
    perform public.grant_credits(acct, p_pack_credits, 'purchase', 'checkout:' || (s ->> 'id'));
  end if;
  return 'applied';
end
$$;

-- customer.created|updated|deleted.
create function public.apply_customer_event(p_event jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  c jsonb := p_event -> 'data' -> 'object';
  created timestamptz := to_timestamp((p_event ->> 'created')::bigint);
  acct uuid := private.account_for_customer(c ->> 'id', c -> 'metadata');
begin
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  if acct is null then
    update public.webhook_events set status = 'ignored', error = 'customer not linked to an account' where id = p_event ->> 'id';
    return 'ignored';
  end if;
  insert into public.stripe_customers (account_id, stripe_customer_id, email, deleted, stripe_event_created)
    values (acct, c ->> 'id', c ->> 'email', p_event ->> 'type' = 'customer.deleted', created)
    on conflict (account_id) do update
      set stripe_customer_id = excluded.stripe_customer_id, email = excluded.email, deleted = excluded.deleted,
          stripe_event_created = excluded.stripe_event_created, updated_at = now()
      where public.stripe_customers.stripe_event_created is null or public.stripe_customers.stripe_event_created <= excluded.stripe_event_created;
  return case when found then 'applied' else 'stale' end;
end
$$;

-- customer.subscription.created|updated|deleted|paused|resumed. p_plan is the plan the Worker mapped from
-- the price id (configuration). The account's plan follows the subscription: a live subscription's plan,
-- FREE once it is canceled or expired.
create function public.apply_subscription_event(p_event jsonb, p_plan text) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  s jsonb := p_event -> 'data' -> 'object';
  created timestamptz := to_timestamp((p_event ->> 'created')::bigint);
  acct uuid;
  item jsonb := s -> 'items' -> 'data' -> 0;
  sub_status text := case when p_event ->> 'type' = 'customer.subscription.deleted' then 'canceled' else s ->> 'status' end;
  live boolean;
begin
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(s ->> 'customer', s -> 'metadata');
  insert into public.subscriptions (id, account_id, stripe_customer_id, status, plan, price_id, current_period_start,
                                    current_period_end, cancel_at_period_end, stripe_event_created)
    values (s ->> 'id', acct, s ->> 'customer', sub_status, p_plan, item -> 'price' ->> 'id',
            to_timestamp(coalesce(s ->> 'current_period_start', item ->> 'current_period_start')::bigint),
            to_timestamp(coalesce(s ->> 'current_period_end', item ->> 'current_period_end')::bigint),
            coalesce((s ->> 'cancel_at_period_end')::boolean, false), created)
    on conflict (id) do update
      set status = excluded.status, plan = excluded.plan, price_id = excluded.price_id,
          current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
          cancel_at_period_end = excluded.cancel_at_period_end, stripe_event_created = excluded.stripe_event_created,
          updated_at = now()
      where public.subscriptions.stripe_event_created <= excluded.stripe_event_created;
  if not found then
    return 'stale';
  end if;
  live := sub_status in ('active', 'trialing', 'past_due', 'unpaid');
  update public.accounts
    set plan = case when live and sub_status <> 'unpaid' then p_plan else 'FREE' end,
        status = case when sub_status in ('past_due', 'unpaid') then 'past_due' else 'active' end,
        updated_at = now()
    where id = acct;
  return 'applied';
end
$$;

-- invoice.paid: a new period begins (a fresh usage counter) and the plan's monthly credits are granted
-- once per invoice. A past_due account is active again.
create function public.apply_invoice_paid(p_event jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  inv jsonb := p_event -> 'data' -> 'object';
  line jsonb := inv -> 'lines' -> 'data' -> 0;
  acct uuid;
  p_start timestamptz := to_timestamp(coalesce(line -> 'period' ->> 'start', inv ->> 'period_start')::bigint);
  p_end timestamptz := to_timestamp(coalesce(line -> 'period' ->> 'end', inv ->> 'period_end')::bigint);
  pl public.plans;
begin
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(inv ->> 'customer', inv -> 'metadata');
  if p_end > p_start then
    insert into public.usage_counters (account_id, period_start, period_end) values (acct, p_start, p_end)
      on conflict (account_id, period_start) do nothing;
  end if;
  update public.accounts set status = 'active', updated_at = now() where id = acct and status = 'past_due';
  select p.* into pl from public.plans p join public.accounts a on a.plan = p.code where a.id = acct;
  if pl.monthly_credits > 0 then
    perform public.grant_credits(acct, pl.monthly_credits, 'grant', 'invoice:' || (inv ->> 'id'));
  end if;
  return 'applied';
end
$$;

-- invoice.payment_failed: the account is past_due (policy: docs/adr/0009 — jobs stay allowed while
-- Stripe retries the payment; the subscription's own status decides when the plan ends).
create function public.apply_invoice_payment_failed(p_event jsonb) returns text
language plpgsql security definer set search_path = ''
as $$
declare
  inv jsonb := p_event -> 'data' -> 'object';
  acct uuid;
begin
  if not private.record_event(p_event, 'processed') then
    return 'duplicate';
  end if;
  acct := private.account_or_raise(inv ->> 'customer', inv -> 'metadata');
  update public.accounts set status = 'past_due', updated_at = now() where id = acct;
  return 'applied';
end
$$;

-- Cron: events the webhook endpoint stored because the queue refused them, oldest first.
create function public.pending_webhook_events(p_limit integer) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(payload order by received_at), '[]'::jsonb) from (
    select payload, received_at from public.webhook_events where status = 'received' order by received_at limit p_limit) e
$$;
revoke all on function public.pending_webhook_events(integer) from public, anon, authenticated;
grant execute on function public.pending_webhook_events(integer) to service_role;

-- Read models for the billing routes (as the caller; RLS applies underneath).
create function public.billing_overview(p_account_id uuid default null) returns jsonb
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
      'jobs_limit', p.job_quota,
      'jobs_used', coalesce((select jobs_used from public.usage_counters u where u.account_id = a.id and u.period_start = per.period_start), 0),
      'by_task_type', coalesce((select jsonb_object_agg(task_type, n) from (
          select task_type, sum(quantity) n from public.usage_events e
          where e.account_id = a.id and e.occurred_at >= per.period_start and e.occurred_at < per.period_end group by task_type) t), '{}'::jsonb),
      'balance', coalesce(b.balance, 0), 'balance_updated_at', b.updated_at)
    from public.accounts a
    join public.plans p on p.code = a.plan
    left join public.stripe_customers c on c.account_id = a.id and not c.deleted
    left join lateral (select * from public.subscriptions x where x.account_id = a.id order by x.stripe_event_created desc limit 1) s on true
    left join public.credit_balances b on b.account_id = a.id
    where a.id = acct);
end
$$;

create function public.list_credit_transactions(p_limit integer, p_offset integer, p_account_id uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
begin
  return jsonb_build_object(
    'total', (select count(*) from public.credit_transactions where account_id = acct),
    'items', coalesce((select jsonb_agg(jsonb_build_object('id', t.id, 'amount', t.amount, 'kind', t.kind, 'job_id', t.job_id,
                 'reference', t.reference, 'balance_after', t.balance_after, 'created_at', t.created_at) order by t.created_at desc, t.id)
               from (select * from public.credit_transactions where account_id = acct
                     order by created_at desc, id limit least(greatest(p_limit, 1), 100) offset greatest(p_offset, 0)) t), '[]'::jsonb));
end
$$;

-- The pricing page: plans and task costs (public).
create function public.pricing() returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'plans', (select jsonb_agg(jsonb_build_object('code', code, 'name', name, 'job_quota', job_quota,
                'monthly_credits', monthly_credits, 'max_concurrent_jobs', max_concurrent_jobs,
                'rate_limit_per_minute', rate_limit_per_minute, 'max_sse_streams', max_sse_streams,
                'task_types', allowed_task_types) order by job_quota) from public.plans),
    'task_credit_costs', (select jsonb_object_agg(task_type, credit_cost) from public.task_types))
$$;

revoke all on function public.store_webhook_event(jsonb) from public, anon, authenticated;
revoke all on function public.apply_ignored_event(jsonb) from public, anon, authenticated;
revoke all on function public.apply_checkout_completed(jsonb, integer) from public, anon, authenticated;
revoke all on function public.apply_customer_event(jsonb) from public, anon, authenticated;
revoke all on function public.apply_subscription_event(jsonb, text) from public, anon, authenticated;
revoke all on function public.apply_invoice_paid(jsonb) from public, anon, authenticated;
revoke all on function public.apply_invoice_payment_failed(jsonb) from public, anon, authenticated;
grant execute on function public.store_webhook_event(jsonb) to service_role;
grant execute on function public.apply_ignored_event(jsonb) to service_role;
grant execute on function public.apply_checkout_completed(jsonb, integer) to service_role;
grant execute on function public.apply_customer_event(jsonb) to service_role;
grant execute on function public.apply_subscription_event(jsonb, text) to service_role;
grant execute on function public.apply_invoice_paid(jsonb) to service_role;
grant execute on function public.apply_invoice_payment_failed(jsonb) to service_role;
revoke all on function public.billing_overview(uuid) from public, anon;
revoke all on function public.list_credit_transactions(integer, integer, uuid) from public, anon;
grant execute on function public.billing_overview(uuid) to authenticated;
grant execute on function public.list_credit_transactions(integer, integer, uuid) to authenticated;
grant execute on function public.pricing() to anon, authenticated, service_role;
