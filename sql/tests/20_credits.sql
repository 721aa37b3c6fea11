-- Credit functions: exact arithmetic, idempotency per job and reference, never a negative balance.
-- (Concurrent deductions are exercised end to end in tests/api/credits.rs.)
begin;
create extension if not exists pgtap;
select plan(12);

insert into auth.users (id, email) values ('dddddddd-0000-4000-8000-000000000004', 'd@example.test');
create temp table t as select
  (select id from public.accounts where personal_owner_id = 'dddddddd-0000-4000-8000-000000000004') as acct,
  gen_random_uuid() as job1, gen_random_uuid() as job2;
-- Start from an empty ledger (new accounts get their plan's credits at signup; covered in 30_jobs).
delete from public.credit_transactions where account_id = (select acct from t);
update public.credit_balances set balance = 0 where account_id = (select acct from t);
insert into public.jobs (id, account_id, task_type, correlation_id) select job1, acct, 'http.request', 'c1' from t;
insert into public.jobs (id, account_id, task_type, correlation_id) select job2, acct, 'http.request', 'c2' from t;

select is(public.grant_credits(acct, 10, 'grant', 'inv_1'), 10::bigint, 'a grant adds credits') from t;
select is(public.grant_credits(acct, 10, 'grant', 'inv_1'), 10::bigint, 'the same grant reference applies once') from t;
select is(public.deduct_credits(acct, job1, 7), 3::bigint, 'a deduction subtracts') from t;
select is(public.deduct_credits(acct, job1, 7), 3::bigint, 'deducting for the same job again changes nothing') from t;
select throws_ok(format('select public.deduct_credits(%L, %L, 4)', acct, job2), 'P0001', 'insufficient_credits',
  'a deduction larger than the balance is refused') from t;
select is((select balance from public.credit_balances where account_id = (select acct from t)), 3::bigint,
  'a refused deduction leaves the balance alone');
select throws_ok(format('select public.deduct_credits(%L, %L, 0)', acct, job2), '22023', null, 'zero is not an amount') from t;
select is(public.refund_credits(job1), 10::bigint, 'a refund returns what the job was charged') from t;
select is(public.refund_credits(job1), 10::bigint, 'a second refund of the same job changes nothing') from t;
select is(public.refund_credits(job2), null, 'a job that was never charged refunds nothing') from t;
select throws_ok($$update public.credit_balances set balance = -1$$, '23514', null, 'the balance can never be negative');
select is((select sum(amount)::bigint from public.credit_transactions where account_id = (select acct from t)),
  (select balance from public.credit_balances where account_id = (select acct from t)),
  'the ledger sums to the balance');

select * from finish();
rollback;
