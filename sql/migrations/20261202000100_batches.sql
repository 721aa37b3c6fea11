-- Batches (docs/adr/0016-batches.md): up to 100 jobs submitted, followed and cancelled as one.
--   * `submit_batch` (service role, for the user the Worker verified) checks the whole batch before it
--     writes anything: plan task types, the period's quota for every item, the credits for every item;
--     then inserts the batch and its jobs and deducts each job's credits, all in one transaction. Each job
--     is charged on its own ledger row, so each is refunded on its own, exactly once, by `job_finish` or
--     `cancel_batch` (refund_credits is keyed by job).
--   * A batch has no status column: it is FINISHED when every item is terminal, RUNNING before.
--   * Concurrency: a batch's items take the account's slots like any job, but a waiting item does not
--     hold back jobs outside its batch (lanes, in `job_start`).

create table public.batches (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  user_id uuid references auth.users (id) on delete set null,
  item_count integer not null check (item_count between 1 and 100),
  correlation_id text not null check (length(correlation_id) between 1 and 128),
  idempotency_key text check (length(idempotency_key) between 1 and 255),
  request_fingerprint text,
  cancel_requested_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (account_id, idempotency_key)
);
create index batches_account_cursor_idx on public.batches (account_id, created_at desc, id desc);
alter table public.batches enable row level security;
create policy batches_read_own on public.batches for select to authenticated
  using (account_id in (select private.current_account_ids()));
revoke insert, update, delete on public.batches from anon, authenticated;

alter table public.jobs add column batch_id uuid references public.batches (id) on delete cascade;
alter table public.jobs add column batch_index smallint check (batch_index between 0 and 99);
alter table public.jobs add constraint jobs_batch_index_check2 check ((batch_id is null) = (batch_index is null));
create unique index jobs_batch_items_idx on public.jobs (batch_id, batch_index) where batch_id is not null;

-- The fields of a job in a list, now with its batch.
create or replace function private.job_summary(j public.jobs) returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object('id', j.id, 'task_type', j.task_type, 'status', j.status, 'progress', j.progress,
    'step', j.step, 'attempts', j.attempts, 'max_attempts', j.max_attempts, 'failure_reason', j.failure_reason,
    'credit_cost', j.credit_cost, 'cancel_requested', j.cancel_requested_at is not null,
    'batch_id', j.batch_id, 'batch_index', j.batch_index,
    'created_at', j.created_at, 'updated_at', j.updated_at, 'started_at', j.started_at, 'finished_at', j.finished_at)
$$;

-- A batch as clients see it: counts by status, progress (the share of items finished), credits.
create function private.batch_view(b public.batches) returns jsonb
language sql stable security definer set search_path = ''
as $$
  with items as (
    select status, finished_at from public.jobs where batch_id = b.id
  ), counts as (
    select count(*) filter (where status = 'PENDING') as pending,
           count(*) filter (where status = 'RUNNING') as running,
           count(*) filter (where status = 'COMPLETED') as completed,
           count(*) filter (where status = 'FAILED') as failed,
           count(*) filter (where status = 'CANCELLED') as cancelled,
           max(finished_at) as last_finished
    from items
  ), ledger as (
    select coalesce(-sum(t.amount) filter (where t.kind = 'deduct'), 0) as charged,
           coalesce(sum(t.amount) filter (where t.kind = 'refund'), 0) as refunded
    from public.credit_transactions t join public.jobs j on j.id = t.job_id
    where j.batch_id = b.id and t.account_id = b.account_id
  )
  select jsonb_build_object(
    'id', b.id,
    'status', case when c.pending + c.running = 0 then 'FINISHED' else 'RUNNING' end,
    'total', b.item_count,
    'counts', jsonb_build_object('pending', c.pending, 'running', c.running, 'completed', c.completed,
                                 'failed', c.failed, 'cancelled', c.cancelled),
    'progress', ((c.completed + c.failed + c.cancelled) * 100 / b.item_count)::int,
    'credits_charged', l.charged,
    'credits_refunded', l.refunded,
    'cancel_requested', b.cancel_requested_at is not null,
    'correlation_id', b.correlation_id,
    'created_at', b.created_at,
    'finished_at', case when c.pending + c.running = 0 then c.last_finished end)
  from counts c cross join ledger l
$$;

-- Creates a batch of jobs (service role only: the Worker's verified user is `p_user_id`). `p_items` is
-- the Worker's validated, canonical list: [{task_type, payload, max_attempts, idempotency_key?}].
-- All or nothing: raises feature_disabled {index, task_type, plan}, idempotency_key_reused
-- {batch_id} or {index, job_id}, plan_limit_exceeded {limit, used, requested, resets_at} or
-- insufficient_credits {required, balance} before anything is written.
-- Returns {outcome: created | existing, batch, jobs: [rows]}.
create function public.submit_batch(
  p_user_id uuid, p_items jsonb, p_correlation_id text, p_idempotency_key text default null, p_account_id uuid default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account_for(p_user_id, p_account_id);
  fingerprint text := md5(p_items::text);
  n integer := jsonb_array_length(p_items);
  existing public.batches;
  b public.batches;
  pl public.plans;
  per record;
  used bigint;
  total_cost bigint;
  bal bigint;
  item record;
  held public.jobs;
  j public.jobs;
  cost integer;
  rows jsonb := '[]'::jsonb;
begin
  if n < 1 or n > 100 then
    raise exception using errcode = '22023', message = 'a batch holds 1 to 100 items';
  end if;
  if p_idempotency_key is not null then
    perform pg_advisory_xact_lock(hashtextextended('idem-batch:' || acct::text || ':' || p_idempotency_key, 0));
    select * into existing from public.batches where account_id = acct and idempotency_key = p_idempotency_key;
    if found and existing.created_at > now() - interval '24 hours' then
      if existing.request_fingerprint is not null and existing.request_fingerprint <> fingerprint then
        raise exception using errcode = 'P0001', message = 'idempotency_key_reused',
          detail = json_build_object('batch_id', existing.id)::text;
      end if;
      return jsonb_build_object('outcome', 'existing', 'batch', private.batch_view(existing),
        'jobs', (select coalesce(jsonb_agg(to_jsonb(x) order by x.batch_index), '[]'::jsonb) from public.jobs x where x.batch_id = existing.id));
    elsif found then
      update public.batches set idempotency_key = null where id = existing.id;
    end if;
  end if;

  select p.* into pl from public.plans p join public.accounts a on a.plan = p.code where a.id = acct;
  -- Serialise quota and credit checks per account (as charge_submission does).
  perform 1 from public.accounts where id = acct for no key update;
  for item in select e.value as v, (e.ordinality - 1)::int as idx from jsonb_array_elements(p_items) with ordinality e loop
    if not ((item.v ->> 'task_type') = any (pl.allowed_task_types)) then
      raise exception using errcode = 'P0001', message = 'feature_disabled',
        detail = json_build_object('task_type', item.v ->> 'task_type', 'plan', pl.code, 'index', item.idx)::text;
    end if;
    if item.v ? 'idempotency_key' then
      select * into held from public.jobs where account_id = acct and idempotency_key = item.v ->> 'idempotency_key';
      if found and held.created_at > now() - interval '24 hours' then
        raise exception using errcode = 'P0001', message = 'idempotency_key_reused',
          detail = json_build_object('index', item.idx, 'job_id', held.id)::text;
      elsif found then
        update public.jobs set idempotency_key = null where id = held.id;
      end if;
    end if;
  end loop;

  select * into per from private.current_period(acct);
  used := coalesce((select jobs_used from public.usage_counters where account_id = acct and period_start = per.period_start), 0)
        + (select count(*) from public.jobs where account_id = acct and status in ('PENDING', 'RUNNING'));
  if used + n > pl.job_quota then
    raise exception using errcode = 'P0001', message = 'plan_limit_exceeded',
      detail = json_build_object('limit', pl.job_quota, 'used', used, 'requested', n, 'resets_at', per.period_end)::text;
  end if;
  select coalesce(sum(t.credit_cost), 0) into total_cost
    from jsonb_array_elements(p_items) e join public.task_types t on t.task_type = e.value ->> 'task_type';
  select balance into bal from public.credit_balances where account_id = acct for update;
  if total_cost > 0 and coalesce(bal, 0) < total_cost then
    raise exception using errcode = 'P0001', message = 'insufficient_credits',
      detail = json_build_object('required', total_cost, 'balance', coalesce(bal, 0))::text;
  end if;

  insert into public.batches (account_id, user_id, item_count, correlation_id, idempotency_key, request_fingerprint)
    values (acct, p_user_id, n, p_correlation_id, p_idempotency_key,
            case when p_idempotency_key is not null then fingerprint end)
    returning * into b;
  for item in select e.value as v, (e.ordinality - 1)::int as idx from jsonb_array_elements(p_items) with ordinality e loop
    insert into public.jobs (account_id, user_id, task_type, payload, max_attempts, correlation_id, idempotency_key,
                             request_fingerprint, batch_id, batch_index)
      values (acct, p_user_id, item.v ->> 'task_type', item.v -> 'payload', (item.v ->> 'max_attempts')::int,
              p_correlation_id, item.v ->> 'idempotency_key',
              case when item.v ? 'idempotency_key'
                then md5((item.v ->> 'task_type') || E'\n' || (item.v ->> 'max_attempts') || E'\n' || (item.v -> 'payload')::text) end,
              b.id, item.idx)
      returning * into j;
    cost := coalesce((select credit_cost from public.task_types where task_type = j.task_type), 0);
    if cost > 0 then
      perform public.deduct_credits(acct, j.id, cost);
      update public.jobs set credit_cost = cost where id = j.id returning * into j;
    end if;
    rows := rows || jsonb_build_array(to_jsonb(j));
  end loop;
  return jsonb_build_object('outcome', 'created', 'batch', private.batch_view(b), 'jobs', rows);
end
$$;

-- The Worker's answer when the queue refused some of a batch's jobs (service role only): each is FAILED
-- and refunded. Returns the rows.
create function public.fail_unqueued_jobs(p_job_ids uuid[]) returns jsonb
language sql security definer set search_path = ''
as $$
  select coalesce(jsonb_agg(public.job_finish(j.id, 'FAILED', null, 'the job could not be queued', 'task_error')), '[]'::jsonb)
  from public.jobs j where j.id = any (p_job_ids) and j.status = 'PENDING' and j.attempts = 0
$$;

-- One batch with a page of its items in submission order (`p_starting_after`: an item's job id).
create function public.get_batch(p_batch_id uuid, p_limit integer default 100, p_starting_after uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  b public.batches;
  after_index integer := -1;
  lim integer := least(greatest(p_limit, 1), 100);
  page jsonb;
  n integer;
begin
  select * into b from public.batches where id = p_batch_id and account_id in (select private.current_account_ids());
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  if p_starting_after is not null then
    select batch_index into after_index from public.jobs where id = p_starting_after and batch_id = b.id;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  select coalesce(jsonb_agg(x.s order by x.batch_index) filter (where x.rn <= lim), '[]'::jsonb), count(*)
    into page, n
    from (select private.job_summary(j) as s, j.batch_index, row_number() over (order by j.batch_index) as rn
          from public.jobs j where j.batch_id = b.id and j.batch_index > after_index
          order by j.batch_index limit lim + 1) x;
  return private.batch_view(b) || jsonb_build_object('items', jsonb_build_object('data', page, 'has_more', n > lim));
end
$$;

-- The account's batches, newest first, with the cursors of list_jobs.
create function public.list_batches(
  p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.batches;
  before_row public.batches;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if p_starting_after is not null then
    select * into after_row from public.batches where id = p_starting_after and account_id = acct;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.batches where id = p_ending_before and account_id = acct;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select b.id, b.created_at, private.batch_view(b) as v from public.batches b
    where b.account_id = acct
      and (after_row.id is null or (b.created_at, b.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (b.created_at, b.id) > (before_row.created_at, before_row.id))
    order by case when backwards then b.created_at end asc, case when backwards then b.id end asc,
             b.created_at desc, b.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc,
                                            c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(x.v order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb),
         count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

-- Cancels a batch: PENDING items end CANCELLED at once (each refunded once); RUNNING items are flagged
-- and stop at their next step boundary (refunded when they end CANCELLED); finished items keep their
-- result. A finished batch raises batch_finished. Returns {batch, jobs: [rows changed]}.
create function public.cancel_batch(p_batch_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  b public.batches;
  j public.jobs;
  changed jsonb := '[]'::jsonb;
begin
  select * into b from public.batches
    where id = p_batch_id and account_id in (select private.current_account_ids())
    for update;
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  if not exists (select 1 from public.jobs where batch_id = b.id and status in ('PENDING', 'RUNNING')) then
    raise exception using errcode = 'P0001', message = 'batch_finished';
  end if;
  update public.batches set cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
    where id = b.id returning * into b;
  -- Each unfinished item as cancel_job cancels a job (PENDING: CANCELLED and refunded; RUNNING: flagged).
  for j in select * from public.jobs where batch_id = b.id and status in ('PENDING', 'RUNNING') order by batch_index for update loop
    changed := changed || jsonb_build_array(public.cancel_job(j.id));
  end loop;
  return jsonb_build_object('batch', private.batch_view(b), 'jobs', changed);
end
$$;

-- What a batch's stream needs: the account, its stream cap, the batch and its items' rows (to seed
-- JobHub when it no longer holds them).
create function public.batch_stream_context(p_batch_id uuid) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  b public.batches;
begin
  select * into b from public.batches where id = p_batch_id and account_id in (select private.current_account_ids());
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return jsonb_build_object(
    'account_id', b.account_id,
    'max_streams', (select p.max_sse_streams from public.accounts a join public.plans p on p.code = a.plan where a.id = b.account_id),
    'batch', private.batch_view(b),
    'jobs', (select coalesce(jsonb_agg(to_jsonb(j) order by j.batch_index), '[]'::jsonb) from public.jobs j where j.batch_id = b.id));
end
$$;

-- job_start with lanes: a job waits while its account's slots are held, but only its own lane queues in
-- front of it. A lane is one batch, or the account's jobs outside batches. In front of a job: every job
-- of another lane that holds a slot (RUNNING, or PENDING after an attempt: retrying or deferred) and
-- every unfinished job of its own lane submitted before it (first in, first out within a lane). So a
-- 100-item batch takes the slots it can, and a job submitted after it starts at the next free slot
-- instead of after the whole batch.
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
    -- Slot decisions of one account are serialised: counts below cannot race another start.
    select p.max_concurrent_jobs into cap
      from public.accounts a join public.plans p on p.code = a.plan where a.id = j.account_id for no key update of a;
    select count(*) into ahead from public.jobs o
      where o.account_id = j.account_id and o.id <> j.id and o.status in ('PENDING', 'RUNNING')
        and case when o.batch_id is not distinct from j.batch_id
                 then (o.created_at, coalesce(o.batch_index, 0), o.id) < (j.created_at, coalesce(j.batch_index, 0), j.id)
                 else o.status = 'RUNNING' or o.attempts > 0 end;
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

revoke execute on function private.batch_view(public.batches) from public, anon, authenticated;
revoke execute on function public.submit_batch(uuid, jsonb, text, text, uuid), public.fail_unqueued_jobs(uuid[]),
  public.get_batch(uuid, integer, uuid), public.list_batches(integer, uuid, uuid, uuid),
  public.cancel_batch(uuid), public.batch_stream_context(uuid) from public, anon, authenticated;
grant execute on function public.submit_batch(uuid, jsonb, text, text, uuid), public.fail_unqueued_jobs(uuid[]),
  public.get_batch(uuid, integer, uuid), public.list_batches(integer, uuid, uuid, uuid),
  public.cancel_batch(uuid), public.batch_stream_context(uuid) to service_role;
grant execute on function public.get_batch(uuid, integer, uuid), public.list_batches(integer, uuid, uuid, uuid),
  public.cancel_batch(uuid), public.batch_stream_context(uuid) to authenticated;
