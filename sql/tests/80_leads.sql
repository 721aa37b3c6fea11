-- Lead analysis (docs/adr/0018): tier prices, duplicate refusal, bulk all-or-nothing, the analysis stored
-- with its job's completion, refunds, soft delete and restore window, RLS.
begin;
create extension if not exists pgtap;
select plan(31);

insert into auth.users (id, email) values ('1ead0000-0000-4000-8000-000000000001', 'leads@example.test'),
                                          ('1ead0000-0000-4000-8000-000000000002', 'other@example.test');
create temp table r (k text primary key, v jsonb);
grant all on r to public;
create function pg_temp.balance() returns bigint language sql as $$
  select b.balance from public.credit_balances b join public.accounts a on a.id = b.account_id
  where a.personal_owner_id = '1ead0000-0000-4000-8000-000000000001'
$$;
grant execute on function pg_temp.balance() to public;
create function pg_temp.acct() returns uuid language sql as $$
  select id from public.accounts where personal_owner_id = '1ead0000-0000-4000-8000-000000000001'
$$;
grant execute on function pg_temp.acct() to public;

set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"1ead0000-0000-4000-8000-000000000001","role":"authenticated"}', true);
insert into r values ('bp', public.create_business_profile('Acme', 'We sell rockets', 'Space startups', null));
select is((select v ->> 'name' from r where k = 'bp'), 'Acme', 'a member creates a business profile');
select throws_ok($$ insert into public.leads (account_id, profile_url) values (pg_temp.acct(), 'https://x.test') $$,
  '42501', null, 'users cannot write leads directly');

reset role;
set local role service_role;
select is(pg_temp.balance(), 100::bigint, 'signup credits');
insert into r values ('a1', public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
  (select (v ->> 'id')::uuid from r where k = 'bp'), 'DEEP', array['https://profiles.test/ann'], false, 'c-1'));
select is((select v -> 'job' ->> 'credit_cost' from r where k = 'a1'), '3', 'DEEP costs 3 credits');
select is(pg_temp.balance(), 97::bigint, 'deducted at submission');
select is((select v -> 'analyses' -> 0 ->> 'status' from r where k = 'a1'), 'PENDING', 'the analysis shows its job''s status');
select is((select count(*) from public.leads where account_id = pg_temp.acct()), 1::bigint, 'the lead is upserted');

select throws_like($$ select public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
    (select (v ->> 'id')::uuid from r where k = 'bp'), 'DEEP', array['https://profiles.test/ann'], false, 'c-2') $$,
  '%duplicate_job%', 'the same lead and tier in progress is refused');
select is(pg_temp.balance(), 97::bigint, 'and charges nothing');
select is(public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
    (select (v ->> 'id')::uuid from r where k = 'bp'), 'LIGHT', array['https://profiles.test/ann'], false, 'c-3') -> 'job' ->> 'credit_cost',
  '1', 'another tier of the same lead is its own analysis (LIGHT costs 1)');
select is((select count(*) from public.leads where account_id = pg_temp.acct()), 1::bigint, 'still one lead for that URL');
select throws_like($$ select public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
    gen_random_uuid(), 'LIGHT', array['https://profiles.test/bob'], false, 'c-4') $$,
  '%business_profile_not_found%', 'an unknown business profile is refused');

-- Bulk: all or nothing on credits.
update public.credit_balances set balance = 9 where account_id = pg_temp.acct();
select throws_like($$ select public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
    (select (v ->> 'id')::uuid from r where k = 'bp'), 'XRAY', array['https://p.test/1', 'https://p.test/2'], true, 'c-5') $$,
  '%insufficient_credits%', 'two XRAY analyses need 10 credits');
select is((select count(*) from public.leads where account_id = pg_temp.acct()), 1::bigint, 'a refused bulk upserts no lead');
update public.credit_balances set balance = 96 where account_id = pg_temp.acct();
insert into r values ('bulk', public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
  (select (v ->> 'id')::uuid from r where k = 'bp'), 'LIGHT', array['https://p.test/1', 'https://p.test/2', 'https://p.test/3'], true, 'c-6', 'bulk-key'));
select is((select jsonb_array_length(v -> 'analyses') from r where k = 'bulk'), 3, 'a bulk of 3 makes 3 analyses');
select is((select v -> 'batch' ->> 'total' from r where k = 'bulk'), '3', 'in one batch');
select is(pg_temp.balance(), 93::bigint, 'each charged');
select is(public.submit_lead_analyses('1ead0000-0000-4000-8000-000000000001',
    (select (v ->> 'id')::uuid from r where k = 'bp'), 'LIGHT', array['https://p.test/1', 'https://p.test/2', 'https://p.test/3'], true, 'c-7', 'bulk-key')
    -> 'analyses' -> 0 ->> 'id',
  (select v -> 'analyses' -> 0 ->> 'id' from r where k = 'bulk'), 'the bulk key replays the same analyses');

-- Completion stores the analysis with the job, from its result.
select is(public.job_start((select (v -> 'job' ->> 'id')::uuid from r where k = 'a1')) ->> 'status', 'RUNNING', 'started');
select is(public.job_finish((select (v -> 'job' ->> 'id')::uuid from r where k = 'a1'), 'COMPLETED',
  '{"fit_score": 72, "summary": "Good fit", "analysis": {"fit_score": 72}, "model": "openai/gpt-5-mini", "cache_hit": false,
    "cost": {"total_usd": 0.0123}, "step_timings": {"total_ms": 900}, "profile": {"display_name": "Ann", "headline": "CTO"}}') ->> 'status',
  'COMPLETED', 'completed');
select is((select fit_score from public.analyses where job_id = (select (v -> 'job' ->> 'id')::uuid from r where k = 'a1')), 72::smallint,
  'the analysis holds the score');
select is((select latest_fit_score || ' ' || display_name from public.leads where profile_url = 'https://profiles.test/ann'), '72 Ann',
  'the lead shows the latest analysis');
select is((select total_cost_usd from public.analyses where job_id = (select (v -> 'job' ->> 'id')::uuid from r where k = 'a1')),
  0.0123::numeric, 'with its cost');

-- A failed analysis is refunded like any job.
select is(public.job_finish((select (v -> 'jobs' -> 0 ->> 'id')::uuid from r where k = 'bulk'), 'FAILED', null, 'invalid output',
  'ai_invalid_output') ->> 'failure_reason', 'ai_invalid_output', 'ai_invalid_output is a failure reason');
select is(pg_temp.balance(), 94::bigint, 'and refunded');

-- Reads as the user; another account sees nothing.
reset role;
set local role authenticated;
select set_config('request.jwt.claims', '{"sub":"1ead0000-0000-4000-8000-000000000002","role":"authenticated"}', true);
select is(public.list_leads(100) -> 'items', '[]'::jsonb, 'another account lists no lead');
select is(public.get_analysis((select (v -> 'analyses' -> 0 ->> 'id')::uuid from r where k = 'a1')), null, 'nor reads the analysis');
select throws_ok($$ select public.delete_lead((select id from public.leads where profile_url = 'https://profiles.test/ann')) $$,
  'P0001', 'not_found', 'nor deletes the lead');

select set_config('request.jwt.claims', '{"sub":"1ead0000-0000-4000-8000-000000000001","role":"authenticated"}', true);
insert into r values ('lead', (select to_jsonb(l) from public.leads l where profile_url = 'https://profiles.test/ann'));
select isnt(public.delete_lead((select (v ->> 'id')::uuid from r where k = 'lead')) ->> 'deleted_at', null, 'soft delete');
select is(public.get_lead((select (v ->> 'id')::uuid from r where k = 'lead')), null, 'a deleted lead is hidden');
reset role;
update public.leads set deleted_at = now() - interval '31 days' where profile_url = 'https://profiles.test/ann';
set local role authenticated;
select throws_ok($$ select public.restore_lead((select (v ->> 'id')::uuid from r where k = 'lead'), 30) $$,
  'P0001', 'not_found', 'past the recovery window it cannot be restored');

select * from finish();
rollback;
