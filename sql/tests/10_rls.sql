-- Row-level security, table by table: user A cannot select, insert, update or delete user B's rows; anon
-- sees nothing; the service role can. Writes by users are refused everywhere: they go through SQL
-- functions and the service role only.
begin;
create extension if not exists pgtap;
select plan(87);

-- Arrange: two users (each gets a personal account by trigger) and a row of B's in every table.
insert into auth.users (id, email) values
  ('aaaaaaaa-0000-4000-8000-000000000001', 'a@example.test'),
  ('bbbbbbbb-0000-4000-8000-000000000002', 'b@example.test');
create temp table ids as select
  'aaaaaaaa-0000-4000-8000-000000000001'::uuid as user_a,
  'bbbbbbbb-0000-4000-8000-000000000002'::uuid as user_b,
  (select id from public.accounts where personal_owner_id = 'aaaaaaaa-0000-4000-8000-000000000001') as acct_a,
  (select id from public.accounts where personal_owner_id = 'bbbbbbbb-0000-4000-8000-000000000002') as acct_b,
  'cccccccc-0000-4000-8000-000000000003'::uuid as job_b;
grant select on ids to public;

insert into public.stripe_customers (account_id, stripe_customer_id) select acct_b, 'cus_b' from ids;
insert into public.subscriptions (id, account_id, stripe_customer_id, status, plan, stripe_event_created)
  select 'sub_b', acct_b, 'cus_b', 'active', 'PRO', now() from ids;
insert into public.webhook_events (id, type, stripe_created, payload) values ('evt_b', 'customer.created', now(), '{}');
insert into public.jobs (id, account_id, user_id, task_type, correlation_id) select job_b, acct_b, user_b, 'http.request', 'cid-b' from ids;
insert into public.usage_counters (account_id, period_start, period_end) select acct_b, date_trunc('month', now()), date_trunc('month', now()) + interval '1 month' from ids;
insert into public.usage_events (account_id, job_id, task_type) select acct_b, job_b, 'http.request' from ids;
select public.grant_credits(acct_b, 50, 'grant', 'test-grant-b') from ids;
select public.deduct_credits(acct_b, job_b, 5) from ids;
insert into public.dead_letter_jobs (job_id, queue, envelope, reason) select job_b, 'jobs-dlq', '{}', 'test' from ids;

-- (table, condition selecting B's rows, column for a no-op update, an insert A must not be allowed)
create temp table cases (tbl text, cond text, col text, ins text);
insert into cases values
  ('accounts', 'id = (select acct_b from ids)', 'name', $$insert into public.accounts (name) values ('mine now')$$),
  ('account_members', 'account_id = (select acct_b from ids)', 'role',
     $$insert into public.account_members (account_id, user_id, role) select acct_b, user_a, 'owner' from ids$$),
  ('stripe_customers', 'account_id = (select acct_b from ids)', 'email',
     $$insert into public.stripe_customers (account_id, stripe_customer_id) select acct_a, 'cus_a' from ids$$),
  ('subscriptions', 'account_id = (select acct_b from ids)', 'status',
     $$insert into public.subscriptions (id, account_id, stripe_customer_id, status, plan, stripe_event_created) select 'sub_x', acct_b, 'cus_b', 'active', 'ENTERPRISE', now() from ids$$),
  ('webhook_events', $$id = 'evt_b'$$, 'status',
     $$insert into public.webhook_events (id, type, stripe_created, payload) values ('evt_x', 'x', now(), '{}')$$),
  ('jobs', 'account_id = (select acct_b from ids)', 'step',
     $$insert into public.jobs (account_id, task_type, correlation_id) select acct_b, 'http.request', 'x' from ids$$),
  ('usage_counters', 'account_id = (select acct_b from ids)', 'jobs_used',
     $$insert into public.usage_counters (account_id, period_start, period_end) select acct_b, now() - interval '1 year', now() from ids$$),
  ('usage_events', 'account_id = (select acct_b from ids)', 'quantity',
     $$insert into public.usage_events (account_id, task_type) select acct_b, 'http.request' from ids$$),
  ('credit_balances', 'account_id = (select acct_b from ids)', 'balance',
     $$insert into public.credit_balances (account_id, balance) select acct_a, 1000000 from ids$$),
  ('dead_letter_jobs', 'true', 'reason',
     $$insert into public.dead_letter_jobs (queue, envelope, reason) values ('jobs-dlq', '{}', 'x')$$),
  ('credit_transactions', 'account_id = (select acct_b from ids)', 'amount',
     $$insert into public.credit_transactions (account_id, amount, kind, balance_after) select acct_b, -50, 'adjustment', 0 from ids$$);
grant select on cases to public;

create function pg_temp.count_rows(tbl text, cond text) returns int language plpgsql as $f$
declare n int;
begin
  execute format('select count(*) from public.%I where %s', tbl, cond) into n;
  return n;
end $f$;

create function pg_temp.count_changed(verb text, tbl text, cond text, col text) returns int language plpgsql as $f$
declare n int;
begin
  if verb = 'update' then
    execute format('with c as (update public.%I set %I = %I where %s returning 1) select count(*) from c', tbl, col, col, cond) into n;
  else
    execute format('with c as (delete from public.%I where %s returning 1) select count(*) from c', tbl, cond) into n;
  end if;
  return n;
end $f$;
-- Helpers are created before the role switches; functions are not executable by default (60_privileges).
grant execute on function pg_temp.count_rows(text, text), pg_temp.count_changed(text, text, text, text) to public;

-- The arrangement worked: B's rows exist (so the refusals below are meaningful).
select ok(pg_temp.count_rows(tbl, cond) > 0, tbl || ': B has a row to protect') from cases order by tbl;

-- User A.
set local role authenticated;
select set_config('request.jwt.claims', json_build_object('sub', user_a, 'role', 'authenticated')::text, true) from ids;

select is(pg_temp.count_rows(tbl, cond), 0, tbl || ': A cannot select B''s rows') from cases order by tbl;
select throws_ok(ins, '42501', null, tbl || ': A cannot insert') from cases order by tbl;
select is(pg_temp.count_changed('update', tbl, cond, col), 0, tbl || ': A cannot update B''s rows') from cases order by tbl;
select is(pg_temp.count_changed('delete', tbl, cond, col), 0, tbl || ': A cannot delete B''s rows') from cases order by tbl;

-- A sees their own account, membership and the plans.
select is((select count(*)::int from public.accounts), 1, 'A sees exactly one account');
select is((select id from public.accounts), (select acct_a from ids), 'and it is A''s own');
select is((select role from public.account_members where user_id = (select user_a from ids)), 'owner', 'A owns their personal account');
select is((select count(*)::int from public.plans), 3, 'signed-in users read the plans');
select is((public.me() -> 'account' ->> 'id')::uuid, (select acct_a from ids), 'me() describes A''s own account');
select is(public.me((select acct_b from ids)), null, 'me() for B''s account answers nothing to A');
select throws_ok($$select public.deduct_credits((select acct_a from ids), gen_random_uuid(), 1)$$, '42501', null, 'users cannot call deduct_credits');
select throws_ok($$select public.grant_credits((select acct_a from ids), 1000, 'grant', 'free money')$$, '42501', null, 'users cannot grant themselves credits');
select throws_ok($$select public.refund_credits((select job_b from ids))$$, '42501', null, 'users cannot trigger refunds');

-- Anonymous: nothing at all.
reset role;
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);
select is(pg_temp.count_rows(tbl, 'true'), 0, tbl || ': anon sees nothing') from cases order by tbl;
select is((select count(*)::int from public.plans), 0, 'plans: anon sees nothing');

-- The service role bypasses RLS.
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);
select ok(pg_temp.count_rows(tbl, cond) > 0, tbl || ': the service role sees B''s rows') from cases order by tbl;

reset role;
select * from finish();
rollback;
