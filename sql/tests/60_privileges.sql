-- No table of the public schema lets `anon` or `authenticated` truncate, reference or trigger on it, and
-- EXECUTE on functions is an explicit allow-list: a function not listed here fails the test
-- (docs/adr/0015: jobs are created only through the Worker).
begin;
create extension if not exists pgtap;
select plan(4);

select is_empty($$
  select c.relname, r.rolname, p.privilege_type
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) p
  join pg_roles r on r.oid = p.grantee
  where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm')
    and r.rolname in ('anon', 'authenticated') and p.privilege_type in ('TRUNCATE', 'REFERENCES', 'TRIGGER')
$$, 'anon and authenticated hold no TRUNCATE, REFERENCES or TRIGGER on any table');

create table public.privileges_probe (id int);
select is_empty($$
  select p.privilege_type from pg_class c
  cross join lateral aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) p
  join pg_roles r on r.oid = p.grantee
  where c.oid = 'public.privileges_probe'::regclass and r.rolname in ('anon', 'authenticated')
    and p.privilege_type in ('TRUNCATE', 'REFERENCES', 'TRIGGER')
$$, 'a new table does not get them by default either');

select is(array(
  select (n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || r.rolname)
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  cross join (values ('anon'), ('authenticated')) r(rolname)
  where n.nspname in ('public', 'private') and has_function_privilege(r.rolname, p.oid, 'execute')
    and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
  order by 1
)::text[], array[
  'private.current_account_ids() authenticated',
  'public.batch_stream_context(p_batch_id uuid) authenticated',
  'public.billing_overview(p_account_id uuid) authenticated',
  'public.cancel_batch(p_batch_id uuid) authenticated',
  'public.cancel_job(p_job_id uuid) authenticated',
  'public.create_business_profile(p_name text, p_description text, p_ideal_customer text, p_website text, p_account_id uuid) authenticated',
  'public.delete_lead(p_lead_id uuid) authenticated',
  'public.get_analysis(p_analysis_id uuid) authenticated',
  'public.get_batch(p_batch_id uuid, p_limit integer, p_starting_after uuid) authenticated',
  'public.get_business_profile(p_id uuid) authenticated',
  'public.get_job(p_job_id uuid) authenticated',
  'public.get_lead(p_lead_id uuid) authenticated',
  'public.health_check() anon',
  'public.health_check() authenticated',
  'public.list_batches(p_limit integer, p_starting_after uuid, p_ending_before uuid, p_account_id uuid) authenticated',
  'public.list_business_profiles(p_limit integer, p_starting_after uuid, p_ending_before uuid, p_account_id uuid) authenticated',
  'public.list_credit_transactions(p_limit integer, p_starting_after uuid, p_ending_before uuid, p_account_id uuid) authenticated',
  'public.list_jobs(p_limit integer, p_starting_after uuid, p_ending_before uuid, p_status text, p_task_type text, p_account_id uuid) authenticated',
  'public.list_lead_analyses(p_lead_id uuid, p_limit integer, p_starting_after uuid, p_ending_before uuid) authenticated',
  'public.list_leads(p_limit integer, p_starting_after uuid, p_ending_before uuid, p_min_score integer, p_deleted boolean, p_account_id uuid) authenticated',
  'public.me(p_account_id uuid) authenticated',
  'public.pricing() anon',
  'public.pricing() authenticated',
  'public.request_limits(p_account_id uuid) authenticated',
  'public.restore_lead(p_lead_id uuid, p_window_days integer) authenticated',
  'public.stream_context(p_job_id uuid, p_account_id uuid) authenticated',
  'public.update_business_profile(p_id uuid, p_name text, p_description text, p_ideal_customer text, p_website text) authenticated',
  'public.usage_daily(p_days integer, p_account_id uuid) authenticated'
]::text[], 'anon and authenticated may execute exactly the allow-listed functions');

create function public.privileges_probe_fn() returns int language sql as 'select 1';
select ok(not has_function_privilege('authenticated', 'public.privileges_probe_fn()', 'execute')
          and not has_function_privilege('anon', 'public.privileges_probe_fn()', 'execute'),
          'a new function is not executable by anon or authenticated by default');

select * from finish();
rollback;
