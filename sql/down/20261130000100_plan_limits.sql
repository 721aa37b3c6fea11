-- Reverts 20261130000100_plan_limits.sql.
drop function if exists public.request_limits(uuid);
drop function if exists public.expire_pending_jobs(integer);
drop function if exists public.job_start(uuid, integer);
-- Consumer: PENDING/RUNNING → RUNNING with attempts + 1. Returns the job as it now is (a terminal job
-- comes back unchanged, which tells the consumer to skip a duplicate delivery).
create function public.job_start(p_job_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  j public.jobs;
begin
  update public.jobs set status = 'RUNNING', attempts = attempts + 1, step = 'starting', progress = 0,
      started_at = coalesce(started_at, now()), updated_at = now()
    where id = p_job_id and status in ('PENDING', 'RUNNING') and cancel_requested_at is null
    returning * into j;
  if not found then
    select * into j from public.jobs where id = p_job_id;
  end if;
  return to_jsonb(j);
end
$$;
revoke all on function public.job_start(uuid) from public, anon, authenticated;
grant execute on function public.job_start(uuid) to service_role;
drop index if exists public.jobs_account_unfinished_idx;
update public.jobs set failure_reason = 'stuck' where failure_reason = 'expired';
alter table public.jobs drop constraint jobs_failure_reason_check;
alter table public.jobs add constraint jobs_failure_reason_check
  check (failure_reason in ('task_error', 'timeout', 'max_attempts_exceeded', 'feature_flag_disabled', 'cancelled', 'stuck'));
