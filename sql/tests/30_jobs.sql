-- Job lifecycle functions: submission (idempotency, duplicates), transitions that apply once, cancel,
-- refunds on failure, the stuck sweep, dead letters.
begin;
create extension if not exists pgtap;
select plan(37);

insert into auth.users (id, email) values ('eeeeeeee-0000-4000-8000-000000000005', 'e@example.test'),
                                          ('ffffffff-0000-4000-8000-000000000006', 'f@example.test');
create temp table ctx (k text primary key, v jsonb);
grant all on ctx to public;

-- Jobs are created only through the Worker (service role, for the user it verified).
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"eeeeeeee-0000-4000-8000-000000000005","role":"authenticated"}', true);
select throws_ok($$select public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://a.test"}', 3, 'c', 'k')$$,
          '42501', null, 'a user cannot call submit_job on the public endpoint');
select throws_ok($$select public.fail_unqueued_job(gen_random_uuid())$$, '42501', null, 'nor fail_unqueued_job');
reset role;
set local role service_role;
insert into ctx select 'j1', public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://a.test"}', 3, 'corr-1', 'key-1');
select is((select v ->> 'outcome' from ctx where k = 'j1'), 'created', 'a first submission creates a job');
select is((select v -> 'job' ->> 'status' from ctx where k = 'j1'), 'PENDING', 'new jobs are PENDING');
select is((select v -> 'job' ->> 'correlation_id' from ctx where k = 'j1'), 'corr-1', 'the correlation id is kept');
select is((select v -> 'job' ->> 'user_id' from ctx where k = 'j1'), 'eeeeeeee-0000-4000-8000-000000000005', 'the job is the verified user''s');
select is((select (v -> 'job' ->> 'credit_cost')::int from ctx where k = 'j1'), 1, 'submission charges the task type''s credit cost');
select is((select balance from public.credit_balances b join public.accounts a on a.id = b.account_id
           where a.personal_owner_id = 'eeeeeeee-0000-4000-8000-000000000005'), 99::bigint,
          'a new account got its plan''s 100 credits, minus this job''s 1');
select is(public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://a.test"}', 3, 'corr-2', 'key-1') ->> 'outcome',
          'existing', 'the same Idempotency-Key and request return the same job');
select throws_ok($$select public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://other.test"}', 3, 'corr-2', 'key-1')$$,
          'P0001', 'idempotency_key_reused', 'the same key with another request is refused');
select throws_ok($$select public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://a.test"}', 3, 'corr-3')$$,
          'P0001', 'duplicate_job', 'the same payload in flight is a duplicate');
select is(public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://b.test"}', 3, 'corr-4') ->> 'outcome', 'created',
          'a different payload is not a duplicate');
select throws_ok($$select public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://c.test"}', 3, 'c', null,
                   (select a.id from public.accounts a where a.personal_owner_id = 'ffffffff-0000-4000-8000-000000000006'))$$,
          'P0001', 'account_forbidden', 'an account the user is not a member of is forbidden');
reset role;
-- A key older than 24 hours is free again: the same key with another request starts a new job.
update public.jobs set created_at = created_at - interval '25 hours' where correlation_id = 'corr-1';
set local role service_role;
select is(public.submit_job('eeeeeeee-0000-4000-8000-000000000005', 'http.request', '{"url":"https://d.test"}', 3, 'corr-5', 'key-1') ->> 'outcome',
          'created', 'an expired key starts a new job');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"eeeeeeee-0000-4000-8000-000000000005","role":"authenticated"}', true);
select is(jsonb_array_length(public.list_jobs(10) -> 'items'), 3, 'list_jobs lists the account''s jobs');
select is(public.list_jobs(2) -> 'has_more', 'true'::jsonb, 'a short page says there is more');
select is(public.list_jobs(1, (public.list_jobs(2) -> 'items' -> 1 ->> 'id')::uuid) -> 'items' -> 0 ->> 'id',
          public.list_jobs(3) -> 'items' -> 2 ->> 'id', 'starting_after continues after the cursor');
select is(public.list_jobs(1, null, (public.list_jobs(3) -> 'items' -> 2 ->> 'id')::uuid) -> 'items' -> 0 ->> 'id',
          public.list_jobs(3) -> 'items' -> 1 ->> 'id', 'ending_before gives the items just before the cursor');
select is(public.list_jobs(10) -> 'items' -> 0 -> 'payload', null, 'list items are summaries (no payload)');
select is(jsonb_array_length(public.list_jobs(10, null, null, 'PENDING', 'browser.extract_text') -> 'items'), 0, 'list_jobs filters by task type');
select throws_ok($$select public.list_jobs(10, gen_random_uuid())$$, 'P0001', 'invalid_cursor', 'a cursor outside the list is refused');

-- Another user sees none of it.
select set_config('request.jwt.claims', '{"sub":"ffffffff-0000-4000-8000-000000000006","role":"authenticated"}', true);
select is(jsonb_array_length(public.list_jobs(10) -> 'items'), 0, 'another user lists nothing');
select is(public.get_job((select (v -> 'job' ->> 'id')::uuid from ctx where k = 'j1')), null, 'another user cannot read the job');
select throws_ok(format('select public.cancel_job(%L)', (select v -> 'job' ->> 'id' from ctx where k = 'j1')),
          'P0001', 'not_found', 'another user cannot cancel the job');
select throws_ok($$select public.job_start(gen_random_uuid())$$, '42501', null, 'users cannot move jobs through states');
reset role;
set local role service_role;
select throws_ok($$select public.submit_job('ffffffff-0000-4000-8000-000000000006', 'browser.extract_text', '{"url":"https://a.test"}', 3, 'corr-x')$$,
          'P0001', 'feature_disabled', 'a task type outside the plan is refused');
reset role;
set local role authenticated;

-- Back to the owner: cancel a PENDING job at once.
select set_config('request.jwt.claims', '{"sub":"eeeeeeee-0000-4000-8000-000000000005","role":"authenticated"}', true);
select is(public.cancel_job((select (v -> 'job' ->> 'id')::uuid from ctx where k = 'j1')) ->> 'status', 'CANCELLED',
          'a PENDING job cancels at once');
select throws_ok(format('select public.cancel_job(%L)', (select v -> 'job' ->> 'id' from ctx where k = 'j1')),
          'P0001', 'conflict', 'cancelling a finished job is a conflict');

reset role;
-- The consumer's transitions (service role).
insert into ctx select 'j2', to_jsonb(j) from public.jobs j where correlation_id = 'corr-4';
select public.grant_credits(account_id, 5, 'grant', 'jobs-test') from public.jobs where correlation_id = 'corr-4';
set local role service_role;
select is((public.job_start((select (v ->> 'id')::uuid from ctx where k = 'j2')) ->> 'attempts')::int, 1, 'start counts an attempt');
select is(public.job_retry((select (v ->> 'id')::uuid from ctx where k = 'j2'), 'HTTP 503') ->> 'status', 'PENDING', 'a retry goes back to PENDING');
select is((public.job_start((select (v ->> 'id')::uuid from ctx where k = 'j2')) ->> 'attempts')::int, 2, 'a redelivery counts another attempt');
select is(public.job_finish((select (v ->> 'id')::uuid from ctx where k = 'j2'), 'FAILED', null, 'HTTP 503', 'max_attempts_exceeded') ->> 'status',
          'FAILED', 'a job fails for good');
select is(public.job_finish((select (v ->> 'id')::uuid from ctx where k = 'j2'), 'COMPLETED', '{}') ->> 'status', 'FAILED',
          'a terminal job never changes again');
select is((public.job_start((select (v ->> 'id')::uuid from ctx where k = 'j2')) ->> 'attempts')::int, 2, 'a duplicate delivery of a finished job changes nothing');
reset role;
select is((select balance from public.credit_balances b join public.jobs j on j.account_id = b.account_id where j.correlation_id = 'corr-4'),
          104::bigint, 'failed and cancelled jobs refund their credits (100 at signup + 5 granted - 1 for the job still PENDING)');

-- Stuck sweep.
insert into public.jobs (account_id, task_type, correlation_id, updated_at)
  select account_id, 'http.request', 'stuck-1', now() - interval '2 hours' from public.jobs where correlation_id = 'corr-4';
set local role service_role;
select is(jsonb_array_length(public.sweep_stuck_jobs(900, 1800)), 1, 'the sweep fails exactly the stuck job');
select is(jsonb_array_length(public.sweep_stuck_jobs(900, 1800)), 0, 'a second sweep changes nothing');
reset role;

select * from finish();
rollback;
