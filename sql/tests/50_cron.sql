-- Cron functions: the run log, metered usage selection and marking, reconciliation idempotency,
-- renewal once per month, the retention policy, and that users can reach none of it.
begin;
create extension if not exists pgtap;
select plan(17);

insert into auth.users (id, email) values ('55555555-0000-4000-8000-000000000005', 'cron@example.test');
create temp table c as select (select id from public.accounts where personal_owner_id = '55555555-0000-4000-8000-000000000005') as acct;
grant select on c to public;

set local role service_role;
insert into public.stripe_customers (account_id, stripe_customer_id) values ((select acct from c), 'cus_cron');
insert into public.subscriptions (id, account_id, stripe_customer_id, status, plan, price_id, current_period_start,
  current_period_end, stripe_event_created, created_at)
  values ('sub_cron', (select acct from c), 'cus_cron', 'active', 'PRO', 'price_m', now() - interval '2 days', now() + interval '28 days',
          now(), now() - interval '2 days');
insert into public.usage_events (account_id, task_type, occurred_at) values
  ((select acct from c), 'http.request', now() - interval '1 hour'),
  ((select acct from c), 'http.request', now() - interval '3 days');   -- before the metered subscription

-- run log
create temp table r as select public.cron_run_start('report_usage') as id;
grant select on r to public;
select is((select outcome from public.cron_runs where id = (select id from r)), 'running', 'a run starts as running');
select public.cron_run_finish((select id from r), 'ok', '{"reported": 1}', 'reported');
select is((select outcome || ':' || (counts ->> 'reported') from public.cron_runs where id = (select id from r)), 'ok:1', 'and finishes with its counts');
select throws_ok($$select public.cron_run_start('nonsense')$$, '23514', null, 'only known jobs are logged');

-- metered usage
select is((select count(*)::int from public.unreported_meter_usage(array['price_m'], 100)), 1, 'only events since the metered subscription');
select is((select count(*)::int from public.unreported_meter_usage(array['price_other'], 100)), 0, 'other prices are not metered');
select is(public.mark_usage_reported((select array_agg(id) from public.unreported_meter_usage(array['price_m'], 100))), 1, 'marked once');
select is(public.mark_usage_reported((select array_agg(id) from public.usage_events where account_id = (select acct from c))), 1,
  'marking again changes only what was not marked');

-- reconciliation
select is((select reported_quantity::int from public.metered_periods(array['price_m']) where account_id = (select acct from c)), 1,
  'the period counts what was reported');
select is(public.record_reconciliation((select id from r), (select acct from c), 'cus_cron', date_trunc('minute', now()), now() + interval '1 day', 1, 4),
  'stripe_ahead', 'more in Stripe is ahead');
create temp table d1 as select last_changed_at from public.usage_discrepancies where account_id = (select acct from c);
grant select on d1 to public;
select is(public.record_reconciliation((select id from r), (select acct from c), 'cus_cron', date_trunc('minute', now()), now() + interval '1 day', 1, 4),
  'stripe_ahead', 'the same numbers again');
select is((select last_changed_at from public.usage_discrepancies where account_id = (select acct from c)), (select last_changed_at from d1),
  'change nothing');
select is(public.record_reconciliation((select id from r), (select acct from c), 'cus_cron', date_trunc('minute', now()), now() + interval '1 day', 1),
  'missing', 'no summary is missing');
select is(public.record_reconciliation((select id from r), (select acct from c), 'cus_cron', date_trunc('minute', now()), now() + interval '1 day', 1, 1),
  'ok', 'equal numbers');
select isnt((select resolved_at from public.usage_discrepancies where account_id = (select acct from c)), null, 'resolve it');

-- renewal: the account is made older than this month; a second run grants nothing
update public.subscriptions set status = 'canceled' where id = 'sub_cron';
update public.accounts set created_at = now() - interval '40 days' where id = (select acct from c);
select cmp_ok(public.renew_monthly_credits(), '>=', 1, 'renewal grants');
select is(public.renew_monthly_credits(), 0, 'a second run in the month grants nothing');

-- users reach none of it
reset role;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "55555555-0000-4000-8000-000000000005", "role": "authenticated"}', true);
select throws_ok($$select public.renew_monthly_credits()$$, '42501', null, 'users cannot run cron functions');

select * from finish();
rollback;
