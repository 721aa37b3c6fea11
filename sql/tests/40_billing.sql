-- Stripe event functions: each applies once, older events never overwrite newer state, plans follow
-- subscriptions, invoices open periods and grant credits once, and quota is enforced at submission.
begin;
create extension if not exists pgtap;
select plan(15);

insert into auth.users (id, email) values ('22222222-0000-4000-8000-000000000002', 'bill@example.test');
create temp table b as select (select id from public.accounts where personal_owner_id = '22222222-0000-4000-8000-000000000002') as acct;
grant select on b to public;

create function pg_temp.ev(id text, kind text, created bigint, obj jsonb) returns jsonb language sql as $$
  select jsonb_build_object('id', id, 'type', kind, 'created', created, 'data', jsonb_build_object('object', obj)) $$;
create function pg_temp.sub(status text, price text) returns jsonb language sql as $$
  select jsonb_build_object('id', 'sub_t', 'customer', 'cus_t', 'status', status, 'cancel_at_period_end', false, 'metadata', '{}'::jsonb,
    'items', jsonb_build_object('data', jsonb_build_array(jsonb_build_object('price', jsonb_build_object('id', price),
      'current_period_start', extract(epoch from now())::bigint - 86400, 'current_period_end', extract(epoch from now())::bigint + 86400 * 29)))) $$;
-- Helpers are created before the role switches; functions are not executable by default (60_privileges).
grant execute on function pg_temp.ev(text, text, bigint, jsonb), pg_temp.sub(text, text) to public;

set local role service_role;
select is(public.apply_checkout_completed(pg_temp.ev('evt_c1', 'checkout.session.completed', 100,
  jsonb_build_object('id', 'cs_1', 'client_reference_id', (select acct from b), 'customer', 'cus_t', 'payment_status', 'paid')), 0),
  'applied', 'checkout links the customer');
select is(public.apply_checkout_completed(pg_temp.ev('evt_c1', 'checkout.session.completed', 100, '{}'), 0), 'duplicate', 'a duplicate is a no-op');
select is(public.apply_subscription_event(pg_temp.ev('evt_s2', 'customer.subscription.updated', 200, pg_temp.sub('active', 'p_ent')), 'ENTERPRISE'),
  'applied', 'an update applies');
select is(public.apply_subscription_event(pg_temp.ev('evt_s1', 'customer.subscription.created', 150, pg_temp.sub('active', 'p_pro')), 'PRO'),
  'stale', 'an older create does not overwrite it');
select is((select plan from public.accounts where id = (select acct from b)), 'ENTERPRISE', 'the plan follows the newest state');
select is(public.apply_subscription_event(pg_temp.ev('evt_s4', 'customer.subscription.updated', 210, pg_temp.sub('past_due', 'p_ent')), 'ENTERPRISE'),
  'applied', 'a subscription going past_due applies');
select is((select status from public.accounts where id = (select acct from b)), 'past_due', 'the account is past_due with it');
select is(public.apply_invoice_paid(pg_temp.ev('evt_i1', 'invoice.paid', 220, jsonb_build_object('id', 'in_1', 'customer', 'cus_t')),
  'ENTERPRISE', extract(epoch from now())::bigint - 60, extract(epoch from now())::bigint + 86400 * 30),
  'applied', 'a paid invoice applies');
select is(public.apply_invoice_paid(pg_temp.ev('evt_i1', 'invoice.paid', 220, '{}'), 'ENTERPRISE', null, null), 'duplicate', 'and applies once');
select is(public.apply_subscription_event(pg_temp.ev('evt_s5', 'customer.subscription.updated', 230, pg_temp.sub('active', 'p_ent')), 'ENTERPRISE'),
  'applied', 'the subscription is active again');
select is((select status from public.accounts where id = (select acct from b)), 'active', 'and so is the account');
select is((select amount::int from public.credit_transactions where reference = 'invoice:in_1'), 50000, 'the invoice''s plan credits are granted once');
select is(public.apply_subscription_event(pg_temp.ev('evt_s3', 'customer.subscription.deleted', 300, pg_temp.sub('canceled', 'p_ent')), 'FREE'),
  'applied', 'a deletion applies');
select is((select plan from public.accounts where id = (select acct from b)), 'FREE', 'a canceled subscription means FREE');
select is(public.apply_ignored_event(pg_temp.ev('evt_x1', 'charge.refunded', 400, '{}')), 'ignored', 'unknown types are recorded and ignored');
reset role;

select * from finish();
rollback;
