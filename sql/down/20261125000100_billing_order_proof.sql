-- Reverts 20261125000100_billing_order_proof.sql: the functions as 20261124000900 defined them.
drop view if exists public.dead_webhook_events;
drop function if exists public.retry_dead_webhook_event(text);
drop function if exists public.pending_webhook_events(integer);
drop function if exists public.record_webhook_failure(jsonb, text, boolean, integer);
drop function if exists private.redrive_delay(integer);
drop function if exists public.apply_invoice_payment_failed(jsonb, text);
drop function if exists public.apply_invoice_paid(jsonb, text, bigint, bigint);
drop function if exists public.apply_customer_snapshot(jsonb, jsonb);
drop function if exists public.apply_subscription_snapshot(jsonb, jsonb, text);
drop function if exists private.upsert_subscription(uuid, jsonb, text, text, timestamptz);
drop function if exists private.sync_account_plan(uuid);
drop function if exists private.stripe_metadata(jsonb);
create or replace function private.record_event(p_event jsonb, p_status text) returns boolean
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

create or replace function public.apply_customer_event(p_event jsonb) returns text
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

create or replace function public.apply_subscription_event(p_event jsonb, p_plan text) returns text
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

create function public.pending_webhook_events(p_limit integer) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(payload order by received_at), '[]'::jsonb) from (
    select payload, received_at from public.webhook_events where status = 'received' order by received_at limit p_limit) e
$$;

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

revoke all on function public.apply_invoice_paid(jsonb) from public, anon, authenticated;
revoke all on function public.apply_invoice_payment_failed(jsonb) from public, anon, authenticated;
revoke all on function public.pending_webhook_events(integer) from public, anon, authenticated;
grant execute on function public.apply_invoice_paid(jsonb) to service_role;
grant execute on function public.apply_invoice_payment_failed(jsonb) to service_role;
grant execute on function public.pending_webhook_events(integer) to service_role;
drop function if exists private.event_handled(text);
drop function if exists private.is_live_subscription_status(text);

update public.webhook_events set status = 'failed' where status = 'dead';
drop index if exists public.webhook_events_redrive_idx;
alter table public.webhook_events drop column if exists permanent, drop column if exists next_attempt_at, drop column if exists attempts;
alter table public.webhook_events drop constraint webhook_events_status_check;
alter table public.webhook_events add constraint webhook_events_status_check
  check (status in ('received', 'processed', 'ignored', 'failed'));
alter table public.plans drop column if exists rank;
