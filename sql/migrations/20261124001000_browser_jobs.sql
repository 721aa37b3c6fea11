-- Browser jobs (docs/adr/0010): when Browser Rendering itself is unavailable (5xx, rate limited,
-- unreachable), the attempt is handed back: the job returns to PENDING without spending it, and the
-- queue redelivers the message later. Only the task's own failures count against max_attempts.
-- A PENDING job (the circuit breaker refused before it started) is only touched, so the stuck-job sweep
-- sees it is still being waited on.
create function public.job_defer(p_job_id uuid, p_reason text) returns jsonb
language sql security definer set search_path = ''
as $$
  update public.jobs set status = 'PENDING',
      attempts = case when status = 'RUNNING' then greatest(attempts - 1, 0) else attempts end,
      step = 'waiting_for_browser', last_error = left(p_reason, 2000), updated_at = now()
    where id = p_job_id and status in ('PENDING', 'RUNNING')
    returning to_jsonb(jobs.*)
$$;
comment on function public.job_defer(uuid, text) is
  'Consumer: hand back a job''s attempt (or mark a PENDING job as waiting) because the service it needs is unavailable.';
revoke all on function public.job_defer(uuid, text) from public, anon, authenticated;
grant execute on function public.job_defer(uuid, text) to service_role;
