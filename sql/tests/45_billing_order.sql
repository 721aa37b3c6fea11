-- Order-proof Stripe events (docs/adr/0012): ties are stale (re-read), snapshots apply Stripe's state,
-- the plan follows all live subscriptions, failures are stored, re-driven with backoff, then dead.
begin;
create extension if not exists pgtap;
select plan(23);

insert into auth.users (id, email) values ('45454545-0000-4000-8000-000000000045', 'order@example.test');
create temp table o as select (select id from public.accounts where personal_owner_id = '45454545-0000-4000-8000-000000000045') as acct;
grant select on o to public;

create function pg_temp.ev(id text, kind text, created bigint, obj jsonb) returns jsonb language sql as $$
  select jsonb_build_object('id', id, 'type', kind, 'created', created, 'data', jsonb_build_object('object', obj)) $$;
create function pg_temp.sub(id text, status text, price text) returns jsonb language sql as $$
  select jsonb_build_object('id', id, 'customer', 'cus_o', 'status', status, 'cancel_at_period_end', false, 'metadata', '{}'::jsonb,
    'items', jsonb_build_object('data', jsonb_build_array(jsonb_build_object('price', jsonb_build_object('id', price),
      'current_period_start', extract(epoch from now())::bigint - 86400, 'current_period_end', extract(epoch from now())::bigint + 86400 * 29)))) $$;
create function pg_temp.plan() returns text language sql as $$ select plan from public.accounts where id = (select acct from o) $$;
-- Helpers are created before the role switches; functions are not executable by default (60_privileges).
grant execute on function pg_temp.ev(text, text, bigint, jsonb), pg_temp.sub(text, text, text), pg_temp.plan() to public;

set local role service_role;
select is(public.apply_checkout_completed(pg_temp.ev('evt_o0', 'checkout.session.completed', 100,
  jsonb_build_object('id', 'cs_o', 'client_reference_id', (select acct from o), 'customer', 'cus_o', 'payment_status', 'paid')), 0),
  'applied', 'checkout links the customer');

-- Ties: an event of the same second as the stored state writes nothing and asks for a re-read.
select is(public.apply_subscription_event(pg_temp.ev('evt_o1', 'customer.subscription.created', 200, pg_temp.sub('sub_a', 'trialing', 'p_pro')), 'PRO'), 'applied', 'a create applies');
select is(public.apply_subscription_event(pg_temp.ev('evt_o2', 'customer.subscription.updated', 200, pg_temp.sub('sub_a', 'active', 'p_pro')), 'PRO'), 'stale', 'a tie is stale');
select is((select count(*)::int from public.webhook_events where id = 'evt_o2'), 0, 'and is not recorded, so a retry can still apply it');
select is(public.apply_subscription_snapshot(pg_temp.ev('evt_o2', 'customer.subscription.updated', 200, '{}'), pg_temp.sub('sub_a', 'active', 'p_pro'), 'PRO'),
  'refetched', 'Stripe''s current state applies for the tied event');
select is((select status from public.subscriptions where id = 'sub_a'), 'active', 'the stored state is Stripe''s');
select is(public.apply_subscription_snapshot(pg_temp.ev('evt_o2', 'customer.subscription.updated', 200, '{}'), pg_temp.sub('sub_a', 'canceled', 'p_pro'), 'PRO'),
  'duplicate', 'a snapshot for an event already applied is a duplicate');
select ok((select stripe_event_created from public.subscriptions where id = 'sub_a') >= now() - interval '1 minute', 'a snapshot is marked with the time it was applied');
select is(public.apply_subscription_event(pg_temp.ev('evt_o3', 'customer.subscription.updated', 250, pg_temp.sub('sub_a', 'past_due', 'p_pro')), 'PRO'),
  'stale', 'an event created before the snapshot is stale');

-- Two subscriptions: the plan is the best live one; one ending does not downgrade the other.
select is(public.apply_subscription_event(pg_temp.ev('evt_o4', 'customer.subscription.created', extract(epoch from now())::bigint + 10, pg_temp.sub('sub_b', 'active', 'p_ent')), 'ENTERPRISE'),
  'applied', 'a second subscription applies');
select is(pg_temp.plan(), 'ENTERPRISE', 'the best live plan wins');
select is(public.apply_subscription_event(pg_temp.ev('evt_o5', 'customer.subscription.deleted', extract(epoch from now())::bigint + 20, pg_temp.sub('sub_a', 'canceled', 'p_pro')), 'PRO'),
  'applied', 'the first subscription ends');
select is(pg_temp.plan(), 'ENTERPRISE', 'the other live subscription keeps its plan');
select is(public.apply_subscription_event(pg_temp.ev('evt_o6', 'customer.subscription.updated', extract(epoch from now())::bigint + 30, pg_temp.sub('sub_b', 'unpaid', 'p_ent')), 'ENTERPRISE'),
  'applied', 'the last one becomes unpaid');
select results_eq($$select plan, status from public.accounts where id = (select acct from o)$$, $$values ('FREE', 'past_due')$$, 'no live subscription: FREE and past_due');

-- Invoices: the grant comes from the plan the invoice pays for; none when the Worker found none.
select is(public.apply_invoice_paid(pg_temp.ev('evt_o7', 'invoice.paid', 300, '{"id": "in_o1", "customer": "cus_o"}'), null, null, null), 'applied', 'an invoice without a plan line applies');
select is((select count(*)::int from public.credit_transactions where reference = 'invoice:in_o1'), 0, 'and grants nothing');

-- Failures: stored, due at once, backed off, then dead; a dead event can be put back in line.
select is(public.record_webhook_failure(pg_temp.ev('evt_of', 'invoice.paid', 400, '{}'), 'price x is not in STRIPE_PRICE_PLANS', true, 3), 'failed', 'a failure is stored');
select ok((select payload from public.webhook_events where id = 'evt_of') = any (select jsonb_array_elements(public.pending_webhook_events(100))),
  'the first failure is due at once');
select is(public.record_webhook_failure(pg_temp.ev('evt_of', 'invoice.paid', 400, '{}'), 'again', true, 3), 'failed', 'a second failure');
select ok((select next_attempt_at from public.webhook_events where id = 'evt_of') > now() + interval '4 minutes', 'backs off');
select is(public.record_webhook_failure(pg_temp.ev('evt_of', 'invoice.paid', 400, '{}'), 'again', true, 3), 'dead', 'the third is dead');
select is(public.retry_dead_webhook_event('evt_of'), 'failed', 'the runbook puts a dead event back in line');
reset role;

select * from finish();
rollback;
