-- No table of the public schema lets `anon` or `authenticated` truncate, reference or trigger on it.
begin;
create extension if not exists pgtap;
select plan(2);

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

select * from finish();
rollback;
