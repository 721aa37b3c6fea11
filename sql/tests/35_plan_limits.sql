-- The concurrent-job cap (first in, first out per account, no attempt spent while waiting) and the expiry
-- of waiting work (docs/adr/0014).
begin;
create extension if not exists pgtap;
select plan(17);

insert into auth.users (id, email) values ('c0000000-0000-4000-8000-000000000001', 'cap@example.test'),
                                          ('c0000000-0000-4000-8000-000000000002', 'other@example.test');
create temp table j (k text primary key, id uuid);
grant all on j to public;

-- Five jobs of a FREE account (cap 2) and one of another account, submitted one second apart.
set local role service_role;
insert into j select 'a' || n, (public.submit_job('c0000000-0000-4000-8000-000000000001', 'http.request', format('{"url":"https://cap.test/%s"}', n)::jsonb, 3, 'cap-' || n) -> 'job' ->> 'id')::uuid
  from generate_series(1, 5) n;
insert into j select 'b1', (public.submit_job('c0000000-0000-4000-8000-000000000002', 'http.request', '{"url":"https://other.test"}', 3, 'other-1') -> 'job' ->> 'id')::uuid;
reset role;
update public.jobs set created_at = now() - interval '1 minute' + make_interval(secs => substr(k, 2)::int)
  from j where j.id = jobs.id;
select is((select max_concurrent_jobs from public.plans where code = 'FREE'), 2, 'FREE runs two jobs at once');

set local role service_role;
select is(public.job_start((select id from j where k = 'a1')) ->> 'status', 'RUNNING', 'the first job starts');
select is(public.job_start((select id from j where k = 'a2')) ->> 'status', 'RUNNING', 'the second job starts');
select is(public.job_start((select id from j where k = 'a3')) ->> 'step', 'waiting_for_slot', 'the third waits for a slot');
select is((select (status, attempts) from public.jobs where id = (select id from j where k = 'a3'))::text, '(PENDING,0)',
          'waiting spends no attempt');
select is(public.job_start((select id from j where k = 'b1')) ->> 'status', 'RUNNING', 'another account''s job is not held back');
select is(public.job_start((select id from j where k = 'a5')) ->> 'step', 'waiting_for_slot', 'the fifth waits');
select is(public.job_finish((select id from j where k = 'a1'), 'COMPLETED', '{}') ->> 'status', 'COMPLETED', 'a slot frees');
select is(public.job_start((select id from j where k = 'a5')) ->> 'step', 'waiting_for_slot',
          'first in, first out: the fifth still waits while the third and fourth are ahead');
select is(public.job_start((select id from j where k = 'a3')) ->> 'status', 'RUNNING', 'the third takes the freed slot');
select is(public.job_retry((select id from j where k = 'a2'), 'HTTP 503') ->> 'status', 'PENDING', 'a retrying job ...');
select is(public.job_start((select id from j where k = 'a4')) ->> 'step', 'waiting_for_slot', '... keeps its slot');
select is(public.job_finish((select id from j where k = 'a2'), 'CANCELLED', null, null, 'cancelled') ->> 'status', 'CANCELLED',
          'cancelling frees a slot');
select is(public.job_start((select id from j where k = 'a4')) ->> 'status', 'RUNNING', 'the fourth starts');

-- Expiry: the fifth has waited longer than a 30 second TTL.
select is(public.job_start((select id from j where k = 'a5'), 30) ->> 'failure_reason', 'expired',
          'a job still PENDING past the TTL expires at its next delivery');
reset role;
select is((select balance from public.credit_balances b join public.jobs x on x.account_id = b.account_id
           where x.id = (select id from j where k = 'a5')), 97::bigint,
          '100 at signup, 5 charged, the cancelled and the expired job refunded');
insert into public.jobs (account_id, task_type, correlation_id, created_at)
  select account_id, 'http.request', 'old-1', now() - interval '2 hours' from public.jobs where id = (select id from j where k = 'b1');
set local role service_role;
select is(jsonb_array_length(public.expire_pending_jobs(3600)) || '/' || jsonb_array_length(public.expire_pending_jobs(3600)), '1/0',
          'the sweep expires the old PENDING job once');
reset role;

select * from finish();
rollback;
