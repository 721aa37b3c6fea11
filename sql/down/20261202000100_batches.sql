-- Reverts 20261202000100_batches.sql: job_start without lanes, summaries without batches.
drop function public.batch_stream_context(uuid);
drop function public.cancel_batch(uuid);
drop function public.list_batches(integer, uuid, uuid, uuid);
drop function public.get_batch(uuid, integer, uuid);
drop function public.fail_unqueued_jobs(uuid[]);
drop function public.submit_batch(uuid, jsonb, text, text, uuid);
drop function private.batch_view(public.batches);

create or replace function public.job_start(p_job_id uuid, p_pending_ttl_secs integer default null) returns jsonb
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

create or replace function private.job_summary(j public.jobs) returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object('id', j.id, 'task_type', j.task_type, 'status', j.status, 'progress', j.progress,
    'step', j.step, 'attempts', j.attempts, 'max_attempts', j.max_attempts, 'failure_reason', j.failure_reason,
    'credit_cost', j.credit_cost, 'cancel_requested', j.cancel_requested_at is not null,
    'created_at', j.created_at, 'updated_at', j.updated_at, 'started_at', j.started_at, 'finished_at', j.finished_at)
$$;


alter table public.jobs drop constraint jobs_batch_index_check2;
drop index public.jobs_batch_items_idx;
alter table public.jobs drop column batch_index;
alter table public.jobs drop column batch_id;
drop table public.batches;
