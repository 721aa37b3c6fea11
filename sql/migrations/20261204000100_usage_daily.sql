-- Daily usage for the dashboard's charts (GET /api/v1/usage/daily): per UTC day of the last `p_days`
-- (1 to 90, default 30), jobs submitted, completed and failed (by the day they were submitted), credits
-- spent (deductions less refunds), credits added (grants and purchases) and the balance at the day's end.
-- Every day is present, oldest first, so a chart needs no gap filling. The caller must be a member of
-- the account (private.resolve_account), as for every other account read.
create function public.usage_daily(p_days integer default 30, p_account_id uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  n integer := least(greatest(coalesce(p_days, 30), 1), 90);
  first_day date := (now() at time zone 'utc')::date - (n - 1);
  since timestamptz := first_day::timestamp at time zone 'utc';
  current_balance bigint := coalesce((select b.balance from public.credit_balances b where b.account_id = acct), 0);
begin
  return (
    with days as (
      select (first_day + i) as day from generate_series(0, n - 1) as i
    ), j as (
      select (created_at at time zone 'utc')::date as day, count(*) as submitted,
             count(*) filter (where status = 'COMPLETED') as completed,
             count(*) filter (where status = 'FAILED') as failed
      from public.jobs where account_id = acct and created_at >= since group by 1
    ), c as (
      select (created_at at time zone 'utc')::date as day,
             coalesce(sum(-amount) filter (where kind = 'deduct'), 0) - coalesce(sum(amount) filter (where kind = 'refund'), 0) as spent,
             coalesce(sum(amount) filter (where kind in ('grant', 'purchase')), 0) as added
      from public.credit_transactions where account_id = acct and created_at >= since group by 1
    )
    select jsonb_agg(jsonb_build_object(
             'date', to_char(d.day, 'YYYY-MM-DD'),
             'jobs_submitted', coalesce(j.submitted, 0), 'jobs_completed', coalesce(j.completed, 0),
             'jobs_failed', coalesce(j.failed, 0),
             'credits_spent', coalesce(c.spent, 0), 'credits_added', coalesce(c.added, 0),
             -- The balance now less what the ledger moved after the day ended: exact even when several
             -- entries share a timestamp (one transaction), where ordering by time could not tell.
             'balance', current_balance - coalesce((select sum(t.amount) from public.credit_transactions t
                                  where t.account_id = acct and t.created_at >= (d.day + 1)::timestamp at time zone 'utc'), 0))
           order by d.day)
    from days d left join j on j.day = d.day left join c on c.day = d.day
  );
end
$$;

revoke execute on function public.usage_daily(integer, uuid) from public, anon, authenticated;
grant execute on function public.usage_daily(integer, uuid) to authenticated, service_role;

-- The pricing page also names what each lead-analysis tier costs (the dashboard's analyze form shows it).
create or replace function public.pricing() returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object(
    'plans', (select jsonb_agg(jsonb_build_object('code', code, 'name', name, 'job_quota', job_quota,
                'monthly_credits', monthly_credits, 'max_concurrent_jobs', max_concurrent_jobs,
                'rate_limit_per_minute', rate_limit_per_minute, 'max_sse_streams', max_sse_streams,
                'task_types', allowed_task_types) order by job_quota) from public.plans),
    'task_credit_costs', (select jsonb_object_agg(task_type, credit_cost) from public.task_types),
    'lead_tier_credits', (select jsonb_object_agg(tier, credit_cost) from public.lead_tiers))
$$;
