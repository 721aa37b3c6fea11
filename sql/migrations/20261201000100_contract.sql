-- The API contract's database side (docs/adr/0015-api-contract.md):
--   * jobs are created only through the Worker: `submit_job` and `fail_unqueued_job` run as the service
--     role, for the user the Worker verified, and no user can call them on the public PostgREST endpoint;
--   * idempotency keys like Stripe's: a key remembers its request's fingerprint for 24 hours; a replay
--     with another request is refused, a key reused after 24 hours starts a new job;
--   * cursor pagination (newest first, `starting_after`/`ending_before`, both for the items between, `has_more`)
--     over summaries;
--   * an `X-Account-Id` the caller is not a member of is `account_forbidden`, not "not found";
--   * EXECUTE on functions is an allow-list (sql/tests/60_privileges.sql walks the catalogue).

-- Which account a request acts on: the named one if the user is a member, else their personal account.
create function private.resolve_account_for(p_user uuid, p_account_id uuid) returns uuid
language plpgsql stable security definer set search_path = ''
as $$
declare
  found_id uuid;
begin
  select m.account_id into found_id
  from public.account_members m join public.accounts a on a.id = m.account_id
  where m.user_id = p_user and a.deleted_at is null
    and (p_account_id is null or m.account_id = p_account_id)
  order by (a.personal_owner_id is not distinct from p_user) desc, m.created_at
  limit 1;
  if found_id is null then
    if p_account_id is not null then
      raise exception using errcode = 'P0001', message = 'account_forbidden';
    end if;
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return found_id;
end
$$;

create or replace function private.resolve_account(p_account_id uuid) returns uuid
language sql stable security definer set search_path = ''
as $$ select private.resolve_account_for((select auth.uid()), p_account_id) $$;

alter table public.jobs add column request_fingerprint text;
comment on column public.jobs.request_fingerprint is
  'md5 of the submission (task type, max attempts, payload) an Idempotency-Key was first used with';

create index jobs_account_cursor_idx on public.jobs (account_id, created_at desc, id desc);
create index credit_transactions_account_cursor_idx on public.credit_transactions (account_id, created_at desc, id desc);

drop function public.submit_job(text, jsonb, integer, text, text, uuid);
create function public.submit_job(
  p_user_id uuid, p_task_type text, p_payload jsonb, p_max_attempts integer, p_correlation_id text,
  p_idempotency_key text default null, p_account_id uuid default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account_for(p_user_id, p_account_id);
  fingerprint text := md5(p_task_type || E'\n' || p_max_attempts::text || E'\n' || p_payload::text);
  existing public.jobs;
  created public.jobs;
begin
  if p_idempotency_key is not null then
    -- One holder of a key at a time, so a concurrent replay waits for the first and then sees its job.
    perform pg_advisory_xact_lock(hashtextextended('idem:' || acct::text || ':' || p_idempotency_key, 0));
    select * into existing from public.jobs where account_id = acct and idempotency_key = p_idempotency_key;
    if found and existing.created_at > now() - interval '24 hours' then
      if existing.request_fingerprint is not null and existing.request_fingerprint <> fingerprint then
        raise exception using errcode = 'P0001', message = 'idempotency_key_reused',
          detail = json_build_object('job_id', existing.id)::text;
      end if;
      return jsonb_build_object('outcome', 'existing', 'job', to_jsonb(existing));
    elsif found then
      -- The key expired: it is free again (the old job keeps everything else).
      update public.jobs set idempotency_key = null where id = existing.id;
    end if;
  end if;
  -- Serialise identical submissions of one account so the duplicate check cannot race.
  perform pg_advisory_xact_lock(hashtextextended(acct::text || p_task_type || p_payload::text, 0));
  select * into existing from public.jobs
    where account_id = acct and task_type = p_task_type and payload = p_payload
      and status in ('PENDING', 'RUNNING') and created_at > now() - interval '5 minutes'
    order by created_at desc limit 1;
  if found then
    raise exception using errcode = 'P0001', message = 'duplicate_job',
      detail = json_build_object('job_id', existing.id)::text;
  end if;
  insert into public.jobs (account_id, user_id, task_type, payload, max_attempts, correlation_id, idempotency_key,
                           request_fingerprint)
    values (acct, p_user_id, p_task_type, p_payload, p_max_attempts, p_correlation_id, p_idempotency_key,
            case when p_idempotency_key is not null then fingerprint end)
    returning * into created;
  created := private.charge_submission(created);
  return jsonb_build_object('outcome', 'created', 'job', to_jsonb(created));
end
$$;

-- The Worker's answer when the queue refused a job it just created (service role only).
drop function public.fail_unqueued_job(uuid);
create function public.fail_unqueued_job(p_job_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  if not exists (select 1 from public.jobs where id = p_job_id and status = 'PENDING' and attempts = 0) then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return public.job_finish(p_job_id, 'FAILED', null, 'the job could not be queued', 'task_error');
end
$$;

-- The fields of a job in a list (details by id).
create function private.job_summary(j public.jobs) returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object('id', j.id, 'task_type', j.task_type, 'status', j.status, 'progress', j.progress,
    'step', j.step, 'attempts', j.attempts, 'max_attempts', j.max_attempts, 'failure_reason', j.failure_reason,
    'credit_cost', j.credit_cost, 'cancel_requested', j.cancel_requested_at is not null,
    'created_at', j.created_at, 'updated_at', j.updated_at, 'started_at', j.started_at, 'finished_at', j.finished_at)
$$;

-- A cursor names a row of the caller's list; anything else is `invalid_cursor` naming the parameter.
create function private.cursor_error(p_param text) returns void
language plpgsql immutable set search_path = ''
as $$
begin
  raise exception using errcode = 'P0001', message = 'invalid_cursor', detail = json_build_object('param', p_param)::text;
end
$$;

drop function public.list_jobs(integer, integer, text, text, uuid);
create function public.list_jobs(
  p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null,
  p_status text default null, p_task_type text default null, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.jobs;
  before_row public.jobs;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if p_starting_after is not null then
    select * into after_row from public.jobs where id = p_starting_after and account_id = acct;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.jobs where id = p_ending_before and account_id = acct;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select private.job_summary(j) as summary, j.created_at, j.id from public.jobs j
    where j.account_id = acct
      and (p_status is null or j.status = p_status) and (p_task_type is null or j.task_type = p_task_type)
      and (after_row.id is null or (j.created_at, j.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (j.created_at, j.id) > (before_row.created_at, before_row.id))
    order by case when backwards then j.created_at end asc, case when backwards then j.id end asc,
             j.created_at desc, j.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc,
                                            c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(x.summary order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb),
         count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

drop function public.list_credit_transactions(integer, integer, uuid);
create function public.list_credit_transactions(
  p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.credit_transactions;
  before_row public.credit_transactions;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if p_starting_after is not null then
    select * into after_row from public.credit_transactions where id = p_starting_after and account_id = acct;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.credit_transactions where id = p_ending_before and account_id = acct;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select t.* from public.credit_transactions t
    where t.account_id = acct
      and (after_row.id is null or (t.created_at, t.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (t.created_at, t.id) > (before_row.created_at, before_row.id))
    order by case when backwards then t.created_at end asc, case when backwards then t.id end asc,
             t.created_at desc, t.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc,
                                            c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'amount', x.amount, 'kind', x.kind, 'job_id', x.job_id,
           'reference', x.reference, 'balance_after', x.balance_after, 'created_at', x.created_at)
           order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb),
         count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

-- EXECUTE is an allow-list. Supabase's defaults grant it to PUBLIC (and so to `anon` and
-- `authenticated`) on every new function; revoke those, then grant exactly what each role may call.
revoke execute on all functions in schema public from public, anon, authenticated;
revoke execute on all functions in schema private from public, anon, authenticated;
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from public, anon, authenticated;
alter default privileges in schema private revoke execute on functions from public, anon, authenticated;
grant execute on all functions in schema public to service_role;

-- Row-level security policies call this as the querying user.
grant execute on function private.current_account_ids() to authenticated;
-- Public, unauthenticated reads.
grant execute on function public.health_check() to anon, authenticated;
grant execute on function public.pricing() to anon, authenticated;
-- What a signed-in user may call (each checks membership or relies on row-level security).
grant execute on function public.me(uuid) to authenticated;
grant execute on function public.billing_overview(uuid) to authenticated;
grant execute on function public.request_limits(uuid) to authenticated;
grant execute on function public.get_job(uuid) to authenticated;
grant execute on function public.cancel_job(uuid) to authenticated;
grant execute on function public.stream_context(uuid, uuid) to authenticated;
grant execute on function public.list_jobs(integer, uuid, uuid, text, text, uuid) to authenticated;
grant execute on function public.list_credit_transactions(integer, uuid, uuid, uuid) to authenticated;
