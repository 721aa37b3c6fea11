-- Reverts 20261203000100_lead_analysis.sql (lead data is dropped; lead.analyze jobs keep their rows).
drop trigger jobs_lead_analysis_completed on public.jobs;
drop function public.update_business_profile(uuid, text, text, text, text);
drop function public.create_business_profile(text, text, text, text, uuid);
drop function public.get_business_profile(uuid);
drop function public.list_business_profiles(integer, uuid, uuid, uuid);
drop function public.purge_deleted_leads(integer);
drop function public.restore_lead(uuid, integer);
drop function public.delete_lead(uuid);
drop function public.get_analysis(uuid);
drop function public.list_lead_analyses(uuid, integer, uuid, uuid);
drop function public.get_lead(uuid);
drop function public.list_leads(integer, uuid, uuid, integer, boolean, uuid);
drop function private.lead_analysis_completed();
drop function public.lead_analysis_context(uuid);
drop function public.submit_lead_analyses(uuid, uuid, text, text[], boolean, text, text, uuid);
drop function private.analysis_view(public.analyses);
drop function private.lead_view(public.leads);
drop function private.business_profile_view(public.business_profiles);
drop table public.analyses;
drop table public.leads;
drop table public.business_profiles;

create or replace function private.charge_submission(j public.jobs) returns public.jobs
language plpgsql security definer set search_path = ''
as $$
declare
  pl public.plans;
  per record;
  used bigint;
  cost integer;
begin
  select p.* into pl from public.plans p join public.accounts a on a.plan = p.code where a.id = j.account_id;
  if not (j.task_type = any (pl.allowed_task_types)) then
    raise exception using errcode = 'P0001', message = 'feature_disabled',
      detail = json_build_object('task_type', j.task_type, 'plan', pl.code)::text;
  end if;
  select * into per from private.current_period(j.account_id);
  -- Serialise quota checks per account.
  perform 1 from public.accounts where id = j.account_id for no key update;
  used := coalesce((select jobs_used from public.usage_counters where account_id = j.account_id and period_start = per.period_start), 0)
        + (select count(*) from public.jobs where account_id = j.account_id and status in ('PENDING', 'RUNNING') and id <> j.id);
  if used >= pl.job_quota then
    raise exception using errcode = 'P0001', message = 'plan_limit_exceeded',
      detail = json_build_object('limit', pl.job_quota, 'used', used, 'resets_at', per.period_end)::text;
  end if;
  cost := coalesce((select credit_cost from public.task_types where task_type = j.task_type), 0);
  if cost > 0 then
    perform public.deduct_credits(j.account_id, j.id, cost);
    update public.jobs set credit_cost = cost where id = j.id returning * into j;
  end if;
  return j;
end
$$;

create or replace function public.submit_batch(
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

drop function private.utc(timestamptz);
drop function private.credit_cost(text, jsonb);
update public.jobs set failure_reason = 'task_error' where failure_reason = 'ai_invalid_output';
alter table public.jobs drop constraint jobs_failure_reason_check;
alter table public.jobs add constraint jobs_failure_reason_check
  check (failure_reason in ('task_error', 'timeout', 'max_attempts_exceeded', 'feature_flag_disabled', 'cancelled', 'stuck', 'expired'));
update public.plans set allowed_task_types = array_remove(allowed_task_types, 'lead.analyze');
delete from public.task_types where task_type = 'lead.analyze';
drop table public.lead_tiers;
