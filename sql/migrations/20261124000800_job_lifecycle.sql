-- The job lifecycle as SQL functions: each transition is one statement guarded by the current state, so
-- at-least-once queue delivery can never apply a transition twice. Users submit, list, read and cancel
-- through SECURITY DEFINER functions that resolve and check their account; consumers and cron move jobs
-- with the service role.

alter table public.jobs add column cancel_requested_at timestamptz;
create index jobs_dedupe_idx on public.jobs (account_id, task_type, created_at desc) where status in ('PENDING', 'RUNNING');

create table public.dead_letter_jobs (
  id uuid primary key default gen_random_uuid(),
  job_id uuid references public.jobs (id) on delete set null,
  queue text not null,
  envelope jsonb not null,
  reason text not null,
  received_at timestamptz not null default now()
);
create unique index dead_letter_jobs_job_queue_key on public.dead_letter_jobs (job_id, queue);
comment on table public.dead_letter_jobs is 'Every message that reached a dead-letter queue. Service role only.';
alter table public.dead_letter_jobs enable row level security;

-- The caller's account: p_account_id when the caller is a member, else their personal account.
-- Raises not_found (P0001) when the caller has no such membership.
create function private.resolve_account(p_account_id uuid) returns uuid
language plpgsql stable security definer set search_path = ''
as $$
declare
  found_id uuid;
begin
  select m.account_id into found_id
  from public.account_members m join public.accounts a on a.id = m.account_id
  where m.user_id = (select auth.uid()) and a.deleted_at is null
    and (p_account_id is null or m.account_id = p_account_id)
  order by (a.personal_owner_id is not distinct from (select auth.uid())) desc, m.created_at
  limit 1;
  if found_id is null then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return found_id;
end
$$;
grant execute on function private.resolve_account(uuid) to authenticated;

-- Submits a job. Outcomes: {"outcome":"created"|"existing", "job":{...}}; raises duplicate_job (detail
-- {"job_id"}) when the same task with the same payload is PENDING or RUNNING for the account within
-- 5 minutes. BILLING SEAM: private.charge_submission (quota and credits) runs in this same transaction.
create function public.submit_job(
  p_task_type text, p_payload jsonb, p_max_attempts integer, p_correlation_id text,
  p_idempotency_key text default null, p_account_id uuid default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  existing public.jobs;
  created public.jobs;
begin
  -- Serialise identical submissions of one account so the duplicate check cannot race.
  perform pg_advisory_xact_lock(hashtextextended(acct::text || p_task_type || p_payload::text, 0));
  if p_idempotency_key is not null then
    select * into existing from public.jobs where account_id = acct and idempotency_key = p_idempotency_key;
    if found then
      return jsonb_build_object('outcome', 'existing', 'job', to_jsonb(existing));
    end if;
  end if;
  select * into existing from public.jobs
    where account_id = acct and task_type = p_task_type and payload = p_payload
      and status in ('PENDING', 'RUNNING') and created_at > now() - interval '5 minutes'
    order by created_at desc limit 1;
  if found then
    raise exception using errcode = 'P0001', message = 'duplicate_job',
      detail = json_build_object('job_id', existing.id)::text;
  end if;
  insert into public.jobs (account_id, user_id, task_type, payload, max_attempts, correlation_id, idempotency_key)
    values (acct, (select auth.uid()), p_task_type, p_payload, p_max_attempts, p_correlation_id, p_idempotency_key)
    returning * into created;
  created := private.charge_submission(created);
  return jsonb_build_object('outcome', 'created', 'job', to_jsonb(created));
end
$$;

-- The submitting request could not queue the job: it fails at once (and refunds), so no PENDING job
-- is left that no queue holds. Only for the caller's own never-started jobs.
create function public.fail_unqueued_job(p_job_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  if not exists (select 1 from public.jobs where id = p_job_id and status = 'PENDING' and attempts = 0
                 and account_id in (select private.current_account_ids())) then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return public.job_finish(p_job_id, 'FAILED', null, 'the job could not be queued', 'task_error');
end
$$;

-- The billing seam: no-op until the billing migration replaces it with the quota and credit checks.
create function private.charge_submission(j public.jobs) returns public.jobs
language sql as $$ select j $$;

-- Lists the active account's jobs, newest first: {"total", "items"}.
create function public.list_jobs(
  p_limit integer, p_offset integer, p_status text default null, p_task_type text default null, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
begin
  return jsonb_build_object(
    'total', (select count(*) from public.jobs j where j.account_id = acct
              and (p_status is null or j.status = p_status) and (p_task_type is null or j.task_type = p_task_type)),
    'items', coalesce((select jsonb_agg(to_jsonb(x) order by x.created_at desc, x.id) from (
              select * from public.jobs j where j.account_id = acct
                and (p_status is null or j.status = p_status) and (p_task_type is null or j.task_type = p_task_type)
              order by j.created_at desc, j.id limit least(greatest(p_limit, 1), 100) offset greatest(p_offset, 0)) x), '[]'::jsonb));
end
$$;

-- One job of the caller's accounts, or null.
create function public.get_job(p_job_id uuid) returns jsonb
language sql stable security invoker set search_path = ''
as $$ select to_jsonb(j) from public.jobs j where j.id = p_job_id $$;

-- Cancels a job: PENDING ends CANCELLED at once (and refunds); RUNNING is flagged and the consumer
-- stops at its next step boundary; a finished job raises conflict.
create function public.cancel_job(p_job_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  j public.jobs;
begin
  select * into j from public.jobs
    where id = p_job_id and account_id in (select private.current_account_ids())
    for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  if j.status in ('COMPLETED', 'FAILED', 'CANCELLED') then
    raise exception using errcode = 'P0001', message = 'conflict', detail = json_build_object('status', j.status)::text;
  end if;
  if j.status = 'PENDING' then
    update public.jobs set status = 'CANCELLED', failure_reason = 'cancelled', step = 'cancelled',
      cancel_requested_at = now(), finished_at = now(), updated_at = now()
      where id = p_job_id returning * into j;
    perform public.refund_credits(p_job_id);
  else
    update public.jobs set cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
      where id = p_job_id returning * into j;
  end if;
  return to_jsonb(j);
end
$$;

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

-- Consumer: a retryable failure with attempts left: back to PENDING until the redelivery.
create function public.job_retry(p_job_id uuid, p_last_error text) returns jsonb
language sql security definer set search_path = ''
as $$
  update public.jobs set status = 'PENDING', step = 'retrying', last_error = left(p_last_error, 2000), updated_at = now()
    where id = p_job_id and status = 'RUNNING'
    returning to_jsonb(jobs.*)
$$;

-- Consumer, cron and dead-letter path: the terminal transition. Only from a non-terminal state, so it
-- applies once; FAILED and CANCELLED refund the job's credits (exactly once, see refund_credits).
-- Returns the job as it now is.
create function public.job_finish(
  p_job_id uuid, p_status text, p_result jsonb default null, p_last_error text default null, p_failure_reason text default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  j public.jobs;
begin
  update public.jobs set status = p_status, result = p_result, last_error = coalesce(left(p_last_error, 2000), last_error),
      failure_reason = p_failure_reason, step = lower(p_status), progress = case when p_status = 'COMPLETED' then 100 else progress end,
      finished_at = now(), updated_at = now()
    where id = p_job_id and status in ('PENDING', 'RUNNING')
    returning * into j;
  if found and p_status in ('FAILED', 'CANCELLED') then
    perform public.refund_credits(p_job_id);
  end if;
  if not found then
    select * into j from public.jobs where id = p_job_id;
  end if;
  return to_jsonb(j);
end
$$;

-- Cron: jobs stuck past their deadline become FAILED 'stuck'. Idempotent. Returns the swept jobs.
create function public.sweep_stuck_jobs(p_pending_secs integer, p_running_secs integer) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  swept jsonb := '[]'::jsonb;
  j record;
begin
  for j in
    select id from public.jobs
    where (status = 'PENDING' and updated_at < now() - make_interval(secs => p_pending_secs))
       or (status = 'RUNNING' and updated_at < now() - make_interval(secs => p_running_secs))
    for update skip locked
  loop
    swept := swept || jsonb_build_array(public.job_finish(j.id, 'FAILED', null, 'no progress before the deadline', 'stuck'));
  end loop;
  return swept;
end
$$;

-- Dead-letter consumer: records the message and fails the job for good (if it is not already finished).
create function public.record_dead_letter(p_job_id uuid, p_queue text, p_envelope jsonb, p_reason text) returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  insert into public.dead_letter_jobs (job_id, queue, envelope, reason)
    values ((select id from public.jobs where id = p_job_id), p_queue, p_envelope, p_reason)
    on conflict (job_id, queue) do nothing; -- a redelivered dead letter is recorded once
  return public.job_finish(p_job_id, 'FAILED', null, null, 'max_attempts_exceeded');
end
$$;

-- What a stream needs: the account's id and its plan's stream cap, and the job when asked for one.
create function public.stream_context(p_job_id uuid default null, p_account_id uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid;
  j public.jobs;
begin
  if p_job_id is not null then
    select * into j from public.jobs where id = p_job_id and account_id in (select private.current_account_ids());
    if not found then
      raise exception using errcode = 'P0001', message = 'not_found';
    end if;
    acct := j.account_id;
  else
    acct := private.resolve_account(p_account_id);
  end if;
  return jsonb_build_object(
    'account_id', acct,
    'max_streams', (select p.max_sse_streams from public.accounts a join public.plans p on p.code = a.plan where a.id = acct),
    'job', case when j.id is null then null else to_jsonb(j) end);
end
$$;

revoke all on function public.submit_job(text, jsonb, integer, text, text, uuid) from public, anon;
revoke all on function public.list_jobs(integer, integer, text, text, uuid) from public, anon;
revoke all on function public.fail_unqueued_job(uuid) from public, anon;
grant execute on function public.fail_unqueued_job(uuid) to authenticated;
revoke all on function public.get_job(uuid) from public, anon;
revoke all on function public.cancel_job(uuid) from public, anon;
revoke all on function public.stream_context(uuid, uuid) from public, anon;
grant execute on function public.submit_job(text, jsonb, integer, text, text, uuid) to authenticated;
grant execute on function public.list_jobs(integer, integer, text, text, uuid) to authenticated;
grant execute on function public.get_job(uuid) to authenticated;
grant execute on function public.cancel_job(uuid) to authenticated;
grant execute on function public.stream_context(uuid, uuid) to authenticated;

revoke all on function public.job_start(uuid) from public, anon, authenticated;
revoke all on function public.job_retry(uuid, text) from public, anon, authenticated;
revoke all on function public.job_finish(uuid, text, jsonb, text, text) from public, anon, authenticated;
revoke all on function public.sweep_stuck_jobs(integer, integer) from public, anon, authenticated;
revoke all on function public.record_dead_letter(uuid, text, jsonb, text) from public, anon, authenticated;
grant execute on function public.job_start(uuid) to service_role;
grant execute on function public.job_retry(uuid, text) to service_role;
grant execute on function public.job_finish(uuid, text, jsonb, text, text) to service_role;
grant execute on function public.sweep_stuck_jobs(integer, integer) to service_role;
grant execute on function public.record_dead_letter(uuid, text, jsonb, text) to service_role;
