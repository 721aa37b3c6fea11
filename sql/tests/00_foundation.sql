-- Foundation invariants that every later migration must keep.
begin;
create extension if not exists pgtap;
select plan(8);

select has_role('anon', 'the anon API role exists');
select has_role('authenticated', 'the authenticated API role exists');
select has_role('service_role', 'the service role exists');
select ok((select rolbypassrls from pg_roles where rolname = 'service_role'), 'the service role bypasses RLS');
select ok(not (select rolbypassrls from pg_roles where rolname = 'authenticated'), 'authenticated users do not bypass RLS');

select is(
  (select coalesce(array_agg(tablename::text order by tablename), '{}') from pg_tables
    where schemaname = 'public' and not rowsecurity),
  '{}'::text[],
  'every table in public has row-level security enabled'
);

set local role anon;
select is(public.health_check(), 'ok', 'anon can run the health check');
reset role;

select is(
  (select count(*)::int from supabase_migrations.schema_migrations),
  (select count(*)::int from supabase_migrations.schema_migrations where version ~ '^\d{14}$'),
  'every applied migration has a 14-digit timestamp version'
);

select * from finish();
rollback;
