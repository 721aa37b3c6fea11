-- usage_daily (GET /api/v1/usage/daily): every day present, counts per UTC day of submission, credits
-- spent net of refunds, the balance at each day's end carried across quiet days, membership enforced.
begin;
create extension if not exists pgtap;
select plan(10);

insert into auth.users (id, email) values
  ('0da70000-0000-4000-8000-000000000001', 'daily-a@example.test'),
  ('0da70000-0000-4000-8000-000000000002', 'daily-b@example.test');
create temp table t as select
  (select id from public.accounts where personal_owner_id = '0da70000-0000-4000-8000-000000000001') as acct,
  (select id from public.accounts where personal_owner_id = '0da70000-0000-4000-8000-000000000002') as other;
grant select on t to authenticated;
delete from public.credit_transactions where account_id = (select acct from t);
update public.credit_balances set balance = 0 where account_id = (select acct from t);
-- Two days ago: a grant of 50; three jobs (one completed, one failed); 2 + 1 credits deducted, 1 refunded.
-- Today: one job, 1 credit deducted.
insert into public.jobs (id, account_id, task_type, correlation_id, status, created_at, finished_at, failure_reason)
select j.id, acct, 'http.request', j.id::text, j.status, j.at,
       case when j.status in ('COMPLETED', 'FAILED') then j.at end, case when j.status = 'FAILED' then 'task_error' end
from t, (values
  ('0da7a000-0000-4000-8000-000000000001'::uuid, 'COMPLETED', now() - interval '2 days'),
  ('0da7a000-0000-4000-8000-000000000002'::uuid, 'FAILED', now() - interval '2 days'),
  ('0da7a000-0000-4000-8000-000000000003'::uuid, 'PENDING', now() - interval '2 days'),
  ('0da7a000-0000-4000-8000-000000000004'::uuid, 'PENDING', now())) as j(id, status, at);
select public.grant_credits(acct, 50, 'grant', 'daily_grant') from t;
select public.deduct_credits(acct, '0da7a000-0000-4000-8000-000000000001', 2) from t;
select public.deduct_credits(acct, '0da7a000-0000-4000-8000-000000000002', 1) from t;
select public.refund_credits('0da7a000-0000-4000-8000-000000000002');
update public.credit_transactions set created_at = created_at - interval '2 days'
  where account_id = (select acct from t);
select public.deduct_credits(acct, '0da7a000-0000-4000-8000-000000000004', 1) from t;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"0da70000-0000-4000-8000-000000000001","role":"authenticated"}', true);
create temp table d as select public.usage_daily(7) as days;

select is(jsonb_array_length(days), 7, 'seven days asked, seven days answered') from d;
select is(days -> 6 ->> 'date', to_char((now() at time zone 'utc')::date, 'YYYY-MM-DD'), 'the last day is today (UTC)') from d;
select is((days -> 4) - 'date', '{"jobs_submitted": 3, "jobs_completed": 1, "jobs_failed": 1, "credits_spent": 2, "credits_added": 50, "balance": 48}'::jsonb,
  'two days ago: three jobs, one completed and one failed; 3 deducted less 1 refunded; 50 granted') from d;
select is((days -> 5) - 'date', '{"jobs_submitted": 0, "jobs_completed": 0, "jobs_failed": 0, "credits_spent": 0, "credits_added": 0, "balance": 48}'::jsonb,
  'a quiet day carries the balance') from d;
select is(((days -> 6) ->> 'jobs_submitted')::int, 1, 'today: one job') from d;
select is(((days -> 6) ->> 'balance')::int, 47, 'today ends at the current balance') from d;
select is(((days -> 0) ->> 'balance')::int, 0, 'before the first transaction the balance is 0') from d;
select is(jsonb_array_length(public.usage_daily(500)), 90, 'at most 90 days');
select throws_ok(format('select public.usage_daily(7, %L)', other), 'P0001', 'account_forbidden', 'another account is refused') from t;
reset role;
select is(has_function_privilege('anon', 'public.usage_daily(integer, uuid)', 'execute'), false, 'anon cannot call it');

select * from finish();
rollback;
