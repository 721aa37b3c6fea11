-- Reverts 20261204000100_usage_daily.sql.
drop function public.usage_daily(integer, uuid);
create or replace function public.pricing() returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'plans', (select jsonb_agg(jsonb_build_object('code', code, 'name', name, 'job_quota', job_quota,
                'monthly_credits', monthly_credits, 'max_concurrent_jobs', max_concurrent_jobs,
                'rate_limit_per_minute', rate_limit_per_minute, 'max_sse_streams', max_sse_streams,
                'task_types', allowed_task_types) order by job_quota) from public.plans),
    'task_credit_costs', (select jsonb_object_agg(task_type, credit_cost) from public.task_types))
$$;
