-- Reverts 20261201000100_contract.sql: the earlier functions, offset pages and default EXECUTE grants.
alter default privileges grant execute on functions to public;
alter default privileges in schema public grant execute on functions to anon, authenticated;
alter default privileges in schema private grant execute on functions to public;
grant execute on function private.account_for_customer(text, jsonb), private.account_or_raise(text, jsonb),
  private.charge_submission(public.jobs), private.create_personal_account(), private.current_period(uuid),
  private.grant_signup_credits(), private.record_event(jsonb, text), private.record_usage(),
  private.resolve_account(uuid), public.health_check(), public.pricing() to public;

drop function public.list_credit_transactions(integer, uuid, uuid, uuid);
drop function public.list_jobs(integer, uuid, uuid, text, text, uuid);
drop function private.cursor_error(text);
drop function private.job_summary(public.jobs);
drop function public.fail_unqueued_job(uuid);
drop function public.submit_job(uuid, text, jsonb, integer, text, text, uuid);
drop index public.credit_transactions_account_cursor_idx;
drop index public.jobs_account_cursor_idx;
alter table public.jobs drop column request_fingerprint;


create or replace function private.resolve_account(p_account_id uuid) returns uuid
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

drop function private.resolve_account_for(uuid, uuid);

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

create function public.list_credit_transactions(p_limit integer, p_offset integer, p_account_id uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
begin
  return jsonb_build_object(
    'total', (select count(*) from public.credit_transactions where account_id = acct),
    'items', coalesce((select jsonb_agg(jsonb_build_object('id', t.id, 'amount', t.amount, 'kind', t.kind, 'job_id', t.job_id,
                 'reference', t.reference, 'balance_after', t.balance_after, 'created_at', t.created_at) order by t.created_at desc, t.id)
               from (select * from public.credit_transactions where account_id = acct
                     order by created_at desc, id limit least(greatest(p_limit, 1), 100) offset greatest(p_offset, 0)) t), '[]'::jsonb));
end
$$;

revoke all on function public.submit_job(text, jsonb, integer, text, text, uuid) from public, anon;
revoke all on function public.list_jobs(integer, integer, text, text, uuid) from public, anon;
revoke all on function public.fail_unqueued_job(uuid) from public, anon;
revoke all on function public.list_credit_transactions(integer, integer, uuid) from public, anon;
grant execute on function public.submit_job(text, jsonb, integer, text, text, uuid) to authenticated, service_role;
grant execute on function public.list_jobs(integer, integer, text, text, uuid) to authenticated, service_role;
grant execute on function public.fail_unqueued_job(uuid) to authenticated, service_role;
grant execute on function public.list_credit_transactions(integer, integer, uuid) to authenticated, service_role;
