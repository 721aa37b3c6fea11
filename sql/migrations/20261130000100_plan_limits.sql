-- Plan limits (docs/adr/0014). The plan's concurrent-job cap: a job over it is started later, not refused.
-- `job_start` leaves it PENDING with step `waiting_for_slot` (no attempt spent) until it is among the
-- account's `max_concurrent_jobs` oldest unfinished jobs: first in, first out per account, and one
-- account's queue never holds back another's. Waiting work expires: a job still PENDING after the
-- configured TTL ends FAILED `expired` and is refunded (at its next delivery, or by the cron sweep).

alter table public.jobs drop constraint jobs_failure_reason_check;
alter table public.jobs add constraint jobs_failure_reason_check
  check (failure_reason in ('task_error', 'timeout', 'max_attempts_exceeded', 'feature_flag_disabled', 'cancelled', 'stuck', 'expired'));

-- The cap's question, asked per account and ordered by submission.
create index jobs_account_unfinished_idx on public.jobs (account_id, created_at, id) where status in ('PENDING', 'RUNNING');

drop function public.job_start(uuid);
-- Consumer: PENDING/RUNNING → RUNNING with attempts + 1, when the job holds one of its account's slots.
-- Returns the job as it now is: terminal (a duplicate delivery, or expired just now), PENDING
-- `waiting_for_slot` (retry the message later), or RUNNING (run it).
create function public.job_start(p_job_id uuid, p_pending_ttl_secs integer default null) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  j public.jobs;
  cap integer;
  ahead integer;
begin
  select * into j from public.jobs where id = p_job_id for update;
  if not found then
    return null;
  end if;
  if j.status not in ('PENDING', 'RUNNING') or j.cancel_requested_at is not null then
    return to_jsonb(j);
  end if;
  if j.status = 'PENDING' and p_pending_ttl_secs is not null
     and j.created_at < now() - make_interval(secs => p_pending_ttl_secs) then
    return public.job_finish(p_job_id, 'FAILED', null,
      format('still waiting %s seconds after submission', p_pending_ttl_secs), 'expired');
  end if;
  if j.status = 'PENDING' then
    select p.max_concurrent_jobs into cap
      from public.accounts a join public.plans p on p.code = a.plan where a.id = j.account_id;
    -- The account's oldest unfinished jobs (running, retrying or waiting for a service) hold its slots.
    select count(*) into ahead from public.jobs o
      where o.account_id = j.account_id and o.status in ('PENDING', 'RUNNING')
        and (o.created_at, o.id) < (j.created_at, j.id);
    if ahead >= coalesce(cap, 1) then
      update public.jobs set step = 'waiting_for_slot', updated_at = now() where id = p_job_id returning * into j;
      return to_jsonb(j);
    end if;
  end if;
  update public.jobs set status = 'RUNNING', attempts = attempts + 1, step = 'starting', progress = 0,
      started_at = coalesce(started_at, now()), updated_at = now()
    where id = p_job_id
    returning * into j;
  return to_jsonb(j);
end
$$;
revoke all on function public.job_start(uuid, integer) from public, anon, authenticated;
grant execute on function public.job_start(uuid, integer) to service_role;

-- Cron: PENDING jobs older than the TTL become FAILED `expired` (refunded). Idempotent. Returns them.
create function public.expire_pending_jobs(p_ttl_secs integer) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  expired jsonb := '[]'::jsonb;
  j record;
begin
  for j in
    select id from public.jobs
    where status = 'PENDING' and created_at < now() - make_interval(secs => p_ttl_secs)
    order by created_at
    for update skip locked
  loop
    expired := expired || jsonb_build_array(public.job_finish(j.id, 'FAILED', null,
      format('still waiting %s seconds after submission', p_ttl_secs), 'expired'));
  end loop;
  return expired;
end
$$;
revoke all on function public.expire_pending_jobs(integer) from public, anon, authenticated;
grant execute on function public.expire_pending_jobs(integer) to service_role;

-- What the Worker enforces per request: the caller's active account and its plan's request rate. Raises
-- not_found for an account the caller is not a member of.
create function public.request_limits(p_account_id uuid default null) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object('account_id', a.id, 'rate_limit_per_minute', p.rate_limit_per_minute)
  from public.accounts a join public.plans p on p.code = a.plan
  where a.id = private.resolve_account(p_account_id)
$$;
revoke all on function public.request_limits(uuid) from public, anon;
grant execute on function public.request_limits(uuid) to authenticated;
