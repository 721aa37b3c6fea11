-- Batches (docs/adr/0016): all-or-nothing submission, credits and quota for the whole batch, per-item
-- refunds exactly once, cancellation, RLS, and lanes under the concurrency cap.
begin;
create extension if not exists pgtap;
select plan(27);

insert into auth.users (id, email) values ('ba000000-0000-4000-8000-000000000001', 'batch@example.test'),
                                          ('ba000000-0000-4000-8000-000000000002', 'stranger@example.test');
create temp table r (k text primary key, v jsonb);
grant all on r to public;
create function pg_temp.items(n integer, tag text) returns jsonb language sql as $$
  select jsonb_agg(jsonb_build_object('task_type', 'http.request', 'max_attempts', 3,
    'payload', jsonb_build_object('url', format('https://batch.test/%s/%s', tag, i), 'method', 'GET', 'timeout_ms', 1000)))
  from generate_series(1, n) i
$$;
grant execute on function pg_temp.items(integer, text) to public;
create function pg_temp.balance() returns bigint language sql as $$
  select b.balance from public.credit_balances b join public.accounts a on a.id = b.account_id
  where a.personal_owner_id = 'ba000000-0000-4000-8000-000000000001'
$$;
grant execute on function pg_temp.balance() to public;

set local role service_role;
-- FREE: 100 jobs a period, 100 credits at signup, http.request costs 1.
select throws_ok($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001',
    pg_temp.items(2, 'x') || '[{"task_type":"browser.extract_text","max_attempts":3,"payload":{"url":"https://batch.test"}}]', 'c-1') $$,
  'P0001', 'feature_disabled', 'an item the plan does not include refuses the whole batch');
select throws_ok($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(101, 'x'), 'c-1') $$,
  '22023', 'a batch holds 1 to 100 items', 'more than 100 items is refused');
select is((select count(*) from public.jobs j join public.accounts a on a.id = j.account_id
           where a.personal_owner_id = 'ba000000-0000-4000-8000-000000000001'), 0::bigint, 'nothing was created');

insert into r values ('b1', public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(60, 'a'), 'c-b1', 'key-1'));
select is((select v ->> 'outcome' from r where k = 'b1'), 'created', 'a batch of 60 is created');
select is((select jsonb_array_length(v -> 'jobs') from r where k = 'b1'), 60, 'with 60 jobs');
select is((select v -> 'batch' ->> 'credits_charged' from r where k = 'b1'), '60', 'each item charged');
select is(pg_temp.balance(), 40::bigint, '100 - 60');
select is((select array_agg(distinct (x ->> 'batch_index')::int order by (x ->> 'batch_index')::int) from r, jsonb_array_elements(v -> 'jobs') x where k = 'b1')
          = array(select generate_series(0, 59)), true, 'items keep their order');

select is(public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(60, 'a'), 'c-again', 'key-1') ->> 'outcome',
          'existing', 'the same key and items replay the batch');
select throws_ok($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(3, 'other'), 'c-2', 'key-1') $$,
  'P0001', 'idempotency_key_reused', 'the key with other items is refused');

select throws_like($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(41, 'b'), 'c-3') $$,
  '%plan_limit_exceeded%', 'quota: 60 in flight + 41 > 100');
reset role;
update public.credit_balances set balance = 10 from public.accounts a
  where a.id = credit_balances.account_id and a.personal_owner_id = 'ba000000-0000-4000-8000-000000000001';
set local role service_role;
select throws_like($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001', pg_temp.items(11, 'c'), 'c-4') $$,
  '%insufficient_credits%', 'credits: 11 items, 10 credits');
select is(pg_temp.balance(), 10::bigint, 'a refused batch charges nothing');
reset role;
update public.credit_balances set balance = 40 from public.accounts a
  where a.id = credit_balances.account_id and a.personal_owner_id = 'ba000000-0000-4000-8000-000000000001';
set local role service_role;

-- Item keys: one in use refuses the batch and names the item.
insert into r values ('single', public.submit_job('ba000000-0000-4000-8000-000000000001', 'http.request', '{"url":"https://batch.test/single","method":"GET","timeout_ms":1000}', 3, 'c-s', 'item-key'));
select throws_like($$ select public.submit_batch('ba000000-0000-4000-8000-000000000001',
    pg_temp.items(1, 'f') || '[{"task_type":"http.request","max_attempts":3,"idempotency_key":"item-key","payload":{"url":"https://batch.test/k"}}]', 'c-5') $$,
  '%idempotency_key_reused%', 'an item key already used refuses the batch');

-- Lanes: FREE runs 2 at once. Two batch items run; a third item waits; a single job outside the batch
-- is not queued behind the other 57 items.
select is(public.job_start((select (v -> 'jobs' -> 0 ->> 'id')::uuid from r where k = 'b1')) ->> 'status', 'RUNNING', 'item 0 starts');
select is(public.job_start((select (v -> 'jobs' -> 2 ->> 'id')::uuid from r where k = 'b1')) ->> 'step', 'waiting_for_slot',
          'item 2 waits behind item 1 (first in, first out in its batch)');
select is(public.job_start((select (v -> 'jobs' -> 1 ->> 'id')::uuid from r where k = 'b1')) ->> 'status', 'RUNNING', 'item 1 starts');
select is(public.job_finish((select (v -> 'jobs' -> 0 ->> 'id')::uuid from r where k = 'b1'), 'COMPLETED', '{}') ->> 'status', 'COMPLETED', 'item 0 completes');
select is(public.job_start((select id from public.jobs where idempotency_key = 'item-key')) ->> 'status', 'RUNNING',
          'a job outside the batch takes the free slot ahead of 57 waiting items');
select is(public.job_start((select (v -> 'jobs' -> 2 ->> 'id')::uuid from r where k = 'b1')) ->> 'step', 'waiting_for_slot',
          'the cap still holds: item 2 waits');
reset role;

-- The user's side: cancel, read, RLS.
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"ba000000-0000-4000-8000-000000000002","role":"authenticated"}', true);
select throws_ok(format($$ select public.cancel_batch(%L) $$, (select v -> 'batch' ->> 'id' from r where k = 'b1')),
  'P0001', 'not_found', 'another account cannot cancel the batch');
select is((select count(*) from public.batches), 0::bigint, 'nor see it');
select set_config('request.jwt.claims', '{"sub":"ba000000-0000-4000-8000-000000000001","role":"authenticated"}', true);
insert into r select 'cancel', public.cancel_batch((select (v -> 'batch' ->> 'id')::uuid from r where k = 'b1'));
select is((select v -> 'batch' -> 'counts' from r where k = 'cancel'),
          '{"pending": 0, "running": 1, "completed": 1, "failed": 0, "cancelled": 58}'::jsonb,
          'pending items are cancelled at once; the running one is flagged; the completed one keeps its result');
select is(pg_temp.balance(), 97::bigint, '40 - 1 (the single job) + 58 refunds');
reset role;
set local role service_role;
select is(public.job_finish((select (v -> 'jobs' -> 1 ->> 'id')::uuid from r where k = 'b1'), 'CANCELLED', null, null, 'cancelled') ->> 'status',
          'CANCELLED', 'the flagged item stops at its step boundary');
reset role;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"ba000000-0000-4000-8000-000000000001","role":"authenticated"}', true);
select is((select public.get_batch((v -> 'batch' ->> 'id')::uuid, 2) - 'created_at' - 'finished_at' - 'id' - 'correlation_id' - 'items' from r where k = 'b1'),
          '{"status": "FINISHED", "total": 60, "progress": 100, "cancel_requested": true, "credits_charged": 60, "credits_refunded": 59,
            "counts": {"pending": 0, "running": 0, "completed": 1, "failed": 0, "cancelled": 59}}'::jsonb,
          'the batch finished: every item terminal, 59 refunds, each once');
select throws_ok(format($$ select public.cancel_batch(%L) $$, (select v -> 'batch' ->> 'id' from r where k = 'b1')),
  'P0001', 'batch_finished', 'a finished batch cannot be cancelled');
reset role;

select * from finish();
rollback;
