-- A cheap round trip for GET /health: proves PostgREST can reach Postgres and run a function as `anon`.
create or replace function public.health_check() returns text
language sql stable
as $$ select 'ok'::text $$;

comment on function public.health_check() is
  'Liveness probe for the Worker''s /health: returns ok when the database answers. Callable by anon.';

revoke all on function public.health_check() from public;
grant execute on function public.health_check() to anon, authenticated, service_role;
