-- Lead analysis (docs/adr/0018-lead-analysis.md): the seeds' product on the job platform.
--   * `business_profiles` (what the user sells), `leads` (one per account and normalised profile URL, soft
--     deleted with a recovery window), `analyses` (one per `lead.analyze` job: tier, scores, structured
--     result, cost breakdown, step timings, model, cache hit). RLS on each: members of the account read.
--   * Credits depend on the tier (`lead_tiers`): `private.credit_cost` is now the one price lookup of
--     `charge_submission` and `submit_batch`.
--   * `submit_lead_analyses` (service role, for the user the Worker verified) upserts the leads, refuses a
--     duplicate in progress (same lead and tier, 5 minutes), and submits the jobs through `submit_job` or
--     `submit_batch` (credits, quota, idempotency as for any job), with one analysis row per job.
--   * The analysis is stored when its job COMPLETES, in the same transaction (a trigger on `jobs`): an
--     analysis has a result exactly when its job completed; failed or cancelled jobs are refunded as usual.

create table public.lead_tiers (
  tier text primary key check (tier in ('LIGHT', 'DEEP', 'XRAY')),
  credit_cost integer not null check (credit_cost > 0)
);
comment on table public.lead_tiers is 'Credits charged per lead analysis tier at submission. Changed by migrations.';
insert into public.lead_tiers (tier, credit_cost) values ('LIGHT', 1), ('DEEP', 3), ('XRAY', 5);
alter table public.lead_tiers enable row level security;
create policy lead_tiers_read on public.lead_tiers for select to authenticated using (true);
revoke insert, update, delete on public.lead_tiers from anon, authenticated;

-- The task type's own price is LIGHT's; `private.credit_cost` charges the tier's.
insert into public.task_types (task_type, credit_cost) values ('lead.analyze', 1);
update public.plans set allowed_task_types = array_append(allowed_task_types, 'lead.analyze')
  where not ('lead.analyze' = any (allowed_task_types));

alter table public.jobs drop constraint jobs_failure_reason_check;
alter table public.jobs add constraint jobs_failure_reason_check
  check (failure_reason in ('task_error', 'timeout', 'max_attempts_exceeded', 'feature_flag_disabled', 'cancelled', 'stuck', 'expired', 'ai_invalid_output'));

create function private.credit_cost(p_task_type text, p_payload jsonb) returns integer
language sql stable security definer set search_path = ''
as $$
  select coalesce(
    case when p_task_type = 'lead.analyze' then (select credit_cost from public.lead_tiers where tier = p_payload ->> 'tier') end,
    (select credit_cost from public.task_types where task_type = p_task_type),
    0)
$$;

-- Timestamps as the contract prints them (RFC 3339, UTC, `Z`).
create function private.utc(t timestamptz) returns text
language sql immutable set search_path = ''
as $$ select to_char(t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

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
  cost := private.credit_cost(j.task_type, j.payload);
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
  select coalesce(sum(private.credit_cost(e.value ->> 'task_type', e.value -> 'payload')), 0) into total_cost
    from jsonb_array_elements(p_items) e;
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
    cost := private.credit_cost(j.task_type, j.payload);
    if cost > 0 then
      perform public.deduct_credits(acct, j.id, cost);
      update public.jobs set credit_cost = cost where id = j.id returning * into j;
    end if;
    rows := rows || jsonb_build_array(to_jsonb(j));
  end loop;
  return jsonb_build_object('outcome', 'created', 'batch', private.batch_view(b), 'jobs', rows);
end
$$;

-- ---- tables ----------------------------------------------------------------------------------------

create table public.business_profiles (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  name text not null check (length(name) between 1 and 200),
  description text not null check (length(description) between 1 and 4000),
  ideal_customer text not null default '' check (length(ideal_customer) <= 2000),
  website text check (length(website) between 1 and 2048),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index business_profiles_account_cursor_idx on public.business_profiles (account_id, created_at desc, id desc);

create table public.leads (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  -- Normalised by the Worker (scheme and host lower case, no fragment, no trailing slash).
  profile_url text not null check (length(profile_url) between 1 and 2048),
  display_name text check (length(display_name) <= 500),
  headline text check (length(headline) <= 2000),
  image_url text check (length(image_url) <= 2048),
  latest_fit_score smallint check (latest_fit_score between 0 and 100),
  latest_tier text references public.lead_tiers (tier),
  latest_analysis_id uuid,
  last_analyzed_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (account_id, profile_url)
);
create index leads_account_cursor_idx on public.leads (account_id, created_at desc, id desc);

create table public.analyses (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  lead_id uuid not null references public.leads (id) on delete cascade,
  business_profile_id uuid references public.business_profiles (id) on delete set null,
  job_id uuid not null unique references public.jobs (id) on delete cascade,
  tier text not null references public.lead_tiers (tier),
  fit_score smallint check (fit_score between 0 and 100),
  summary text,
  result jsonb,
  cost jsonb,
  total_cost_usd numeric(14, 8),
  step_timings jsonb,
  model text,
  cache_hit boolean,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index analyses_lead_cursor_idx on public.analyses (lead_id, created_at desc, id desc);
create index analyses_in_progress_idx on public.analyses (lead_id, tier, created_at desc);

alter table public.business_profiles enable row level security;
alter table public.leads enable row level security;
alter table public.analyses enable row level security;
create policy business_profiles_read_own on public.business_profiles for select to authenticated
  using (account_id in (select private.current_account_ids()));
create policy leads_read_own on public.leads for select to authenticated
  using (account_id in (select private.current_account_ids()));
create policy analyses_read_own on public.analyses for select to authenticated
  using (account_id in (select private.current_account_ids()));
revoke insert, update, delete on public.business_profiles, public.leads, public.analyses from anon, authenticated;

-- ---- views as clients see them -------------------------------------------------------------------------

create function private.business_profile_view(b public.business_profiles) returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object('id', b.id, 'name', b.name, 'description', b.description, 'ideal_customer', b.ideal_customer,
    'website', b.website, 'created_at', private.utc(b.created_at), 'updated_at', private.utc(b.updated_at))
$$;

create function private.lead_view(l public.leads) returns jsonb
language sql immutable set search_path = ''
as $$
  select jsonb_build_object('id', l.id, 'profile_url', l.profile_url, 'display_name', l.display_name, 'headline', l.headline,
    'image_url', l.image_url, 'latest_fit_score', l.latest_fit_score, 'latest_tier', l.latest_tier,
    'latest_analysis_id', l.latest_analysis_id, 'last_analyzed_at', private.utc(l.last_analyzed_at),
    'deleted_at', private.utc(l.deleted_at), 'created_at', private.utc(l.created_at), 'updated_at', private.utc(l.updated_at))
$$;

-- An analysis with its job's state (the job is the one source of status, progress and failure).
create function private.analysis_view(a public.analyses) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object('id', a.id, 'lead_id', a.lead_id, 'business_profile_id', a.business_profile_id,
    'job_id', a.job_id, 'tier', a.tier, 'status', j.status, 'progress', j.progress, 'step', j.step,
    'failure_reason', j.failure_reason, 'credit_cost', j.credit_cost, 'fit_score', a.fit_score, 'summary', a.summary,
    'result', a.result, 'cost', a.cost, 'step_timings', a.step_timings, 'model', a.model, 'cache_hit', a.cache_hit,
    'created_at', private.utc(a.created_at), 'completed_at', private.utc(a.completed_at))
  from public.jobs j where j.id = a.job_id
$$;

-- ---- submission ----------------------------------------------------------------------------------------

-- Upserts the leads of `p_profile_urls` (normalised by the Worker) and submits one `lead.analyze` job per
-- lead: through `submit_job` (one URL, `p_bulk` false) or as one batch through `submit_batch`. Answers
-- {outcome, job | batch + jobs, analyses}. A lead being analysed at the same tier (a job PENDING or RUNNING,
-- submitted in the last 5 minutes) refuses the request: `duplicate_job` with its job and analysis.
create function public.submit_lead_analyses(
  p_user_id uuid, p_business_profile_id uuid, p_tier text, p_profile_urls text[], p_bulk boolean,
  p_correlation_id text, p_idempotency_key text default null, p_account_id uuid default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account_for(p_user_id, p_account_id);
  n integer := coalesce(array_length(p_profile_urls, 1), 0);
  items jsonb := '[]'::jsonb;
  url text;
  idx integer := 0;
  lead public.leads;
  busy record;
  replay jsonb;
  out jsonb;
  jobs jsonb;
  analyses jsonb := '[]'::jsonb;
  job jsonb;
  made public.analyses;
begin
  if n < 1 or n > 50 or (not p_bulk and n <> 1) then
    raise exception using errcode = '22023', message = 'one profile URL, or 1 to 50 in bulk';
  end if;
  if not exists (select 1 from public.lead_tiers where tier = p_tier) then
    raise exception using errcode = '22023', message = 'unknown tier';
  end if;
  if not exists (select 1 from public.business_profiles where id = p_business_profile_id and account_id = acct) then
    raise exception using errcode = 'P0001', message = 'business_profile_not_found';
  end if;
  -- A replayed Idempotency-Key answers what the first request created (submit_job and submit_batch check
  -- the key against the request's fingerprint).
  if p_idempotency_key is not null and (
       (not p_bulk and exists (select 1 from public.jobs where account_id = acct and idempotency_key = p_idempotency_key
                                and created_at > now() - interval '24 hours'))
    or (p_bulk and exists (select 1 from public.batches where account_id = acct and idempotency_key = p_idempotency_key
                            and created_at > now() - interval '24 hours'))) then
    replay := 'true';
  end if;
  foreach url in array p_profile_urls loop
    items := items || jsonb_build_array(jsonb_build_object('task_type', 'lead.analyze', 'max_attempts', 3,
      'payload', jsonb_build_object('profile_url', url, 'tier', p_tier, 'business_profile_id', p_business_profile_id)));
    if replay is null then
      insert into public.leads as l (account_id, profile_url) values (acct, url)
        on conflict (account_id, profile_url) do update set deleted_at = null, updated_at = now()
        returning * into lead;
      select pj.id as job_id, pa.id as analysis_id into busy
        from public.analyses pa join public.jobs pj on pj.id = pa.job_id
        where pa.lead_id = lead.id and pa.tier = p_tier and pj.status in ('PENDING', 'RUNNING')
          and pj.created_at > now() - interval '5 minutes'
        order by pj.created_at desc limit 1;
      if found then
        raise exception using errcode = 'P0001', message = 'duplicate_job',
          detail = json_build_object('job_id', busy.job_id, 'analysis_id', busy.analysis_id, 'index', idx)::text;
      end if;
    end if;
    idx := idx + 1;
  end loop;

  if p_bulk then
    out := public.submit_batch(p_user_id, items, p_correlation_id, p_idempotency_key, acct);
    jobs := out -> 'jobs';
  else
    out := public.submit_job(p_user_id, 'lead.analyze', items -> 0 -> 'payload', 3, p_correlation_id, p_idempotency_key, acct);
    jobs := jsonb_build_array(out -> 'job');
  end if;
  for job in select value from jsonb_array_elements(jobs) loop
    if out ->> 'outcome' = 'created' then
      select * into lead from public.leads where account_id = acct and profile_url = job -> 'payload' ->> 'profile_url';
      insert into public.analyses (account_id, lead_id, business_profile_id, job_id, tier)
        values (acct, lead.id, p_business_profile_id, (job ->> 'id')::uuid, p_tier)
        returning * into made;
    else
      select * into made from public.analyses x where x.job_id = (job ->> 'id')::uuid;
    end if;
    analyses := analyses || jsonb_build_array(private.analysis_view(made));
  end loop;
  return out || jsonb_build_object('analyses', analyses);
end
$$;

-- What the `lead.analyze` consumer needs (service role).
create function public.lead_analysis_context(p_job_id uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select jsonb_build_object('analysis_id', a.id, 'lead_id', a.lead_id, 'tier', a.tier, 'profile_url', l.profile_url,
    'business_profile', case when b.id is null then null
      else jsonb_build_object('name', b.name, 'description', b.description, 'ideal_customer', b.ideal_customer, 'website', b.website) end)
  from public.analyses a join public.leads l on l.id = a.lead_id
  left join public.business_profiles b on b.id = a.business_profile_id
  where a.job_id = p_job_id
$$;

-- The analysis is stored with its job's COMPLETED transition (job_finish), from the job's result.
create function private.lead_analysis_completed() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  r jsonb := new.result;
  a public.analyses;
begin
  update public.analyses set fit_score = (r ->> 'fit_score')::smallint, summary = r ->> 'summary',
      result = r -> 'analysis', cost = r -> 'cost', total_cost_usd = (r -> 'cost' ->> 'total_usd')::numeric,
      step_timings = r -> 'step_timings', model = r ->> 'model', cache_hit = (r ->> 'cache_hit')::boolean,
      completed_at = now()
    where job_id = new.id
    returning * into a;
  if found then
    update public.leads set display_name = left(coalesce(r -> 'profile' ->> 'display_name', display_name), 500),
        headline = left(coalesce(r -> 'profile' ->> 'headline', headline), 2000),
        image_url = case when length(r -> 'profile' ->> 'image_url') <= 2048 then r -> 'profile' ->> 'image_url' else image_url end,
        latest_fit_score = a.fit_score, latest_tier = a.tier, latest_analysis_id = a.id, last_analyzed_at = now(),
        updated_at = now()
      where id = a.lead_id;
  end if;
  return null;
end
$$;
create trigger jobs_lead_analysis_completed after update of status on public.jobs
  for each row when (new.task_type = 'lead.analyze' and new.status = 'COMPLETED' and old.status <> 'COMPLETED')
  execute function private.lead_analysis_completed();

-- ---- reads and edits, as the caller --------------------------------------------------------------------

-- Pages by (created_at, id) descending, like list_jobs; `p_deleted` lists the recycle bin instead.
create function public.list_leads(
  p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null,
  p_min_score integer default null, p_deleted boolean default false, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.leads;
  before_row public.leads;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if p_starting_after is not null then
    select * into after_row from public.leads where id = p_starting_after and account_id = acct;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.leads where id = p_ending_before and account_id = acct;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select private.lead_view(l) as v, l.created_at, l.id from public.leads l
    where l.account_id = acct and (l.deleted_at is not null) = coalesce(p_deleted, false)
      and (p_min_score is null or l.latest_fit_score >= p_min_score)
      and (after_row.id is null or (l.created_at, l.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (l.created_at, l.id) > (before_row.created_at, before_row.id))
    order by case when backwards then l.created_at end asc, case when backwards then l.id end asc,
             l.created_at desc, l.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc, c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(x.v order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb), count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

-- A lead that is not deleted; `null` if none is visible.
create function public.get_lead(p_lead_id uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select private.lead_view(l) from public.leads l
  where l.id = p_lead_id and l.deleted_at is null and l.account_id in (select private.current_account_ids())
$$;

create function public.list_lead_analyses(
  p_lead_id uuid, p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.analyses;
  before_row public.analyses;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if not exists (select 1 from public.leads where id = p_lead_id and deleted_at is null
                   and account_id in (select private.current_account_ids())) then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  if p_starting_after is not null then
    select * into after_row from public.analyses where id = p_starting_after and lead_id = p_lead_id;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.analyses where id = p_ending_before and lead_id = p_lead_id;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select private.analysis_view(a) as v, a.created_at, a.id from public.analyses a
    where a.lead_id = p_lead_id
      and (after_row.id is null or (a.created_at, a.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (a.created_at, a.id) > (before_row.created_at, before_row.id))
    order by case when backwards then a.created_at end asc, case when backwards then a.id end asc,
             a.created_at desc, a.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc, c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(x.v order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb), count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

create function public.get_analysis(p_analysis_id uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select private.analysis_view(a) from public.analyses a
  where a.id = p_analysis_id and a.account_id in (select private.current_account_ids())
$$;

-- Soft delete: the lead and its analyses leave every list and read; restorable for p_window_days, then
-- purged by the daily cron (`purge_deleted_leads`). Deleting a deleted lead changes nothing.
create function public.delete_lead(p_lead_id uuid) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  l public.leads;
begin
  update public.leads set deleted_at = coalesce(deleted_at, now()), updated_at = now()
    where id = p_lead_id and account_id in (select private.current_account_ids())
    returning * into l;
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return private.lead_view(l);
end
$$;

create function public.restore_lead(p_lead_id uuid, p_window_days integer) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  l public.leads;
begin
  update public.leads set deleted_at = null, updated_at = now()
    where id = p_lead_id and account_id in (select private.current_account_ids())
      and (deleted_at is null or deleted_at > now() - make_interval(days => p_window_days))
    returning * into l;
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return private.lead_view(l);
end
$$;

create function public.purge_deleted_leads(p_window_days integer) returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  n integer;
begin
  delete from public.leads where deleted_at < now() - make_interval(days => p_window_days);
  get diagnostics n = row_count;
  return n;
end
$$;

create function public.list_business_profiles(
  p_limit integer, p_starting_after uuid default null, p_ending_before uuid default null, p_account_id uuid default null
) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  acct uuid := private.resolve_account(p_account_id);
  lim integer := least(greatest(p_limit, 1), 100);
  after_row public.business_profiles;
  before_row public.business_profiles;
  backwards boolean := p_ending_before is not null and p_starting_after is null;
  page jsonb;
  n integer;
begin
  if p_starting_after is not null then
    select * into after_row from public.business_profiles where id = p_starting_after and account_id = acct;
    if not found then perform private.cursor_error('starting_after'); end if;
  end if;
  if p_ending_before is not null then
    select * into before_row from public.business_profiles where id = p_ending_before and account_id = acct;
    if not found then perform private.cursor_error('ending_before'); end if;
  end if;
  with candidates as (
    select private.business_profile_view(b) as v, b.created_at, b.id from public.business_profiles b
    where b.account_id = acct
      and (after_row.id is null or (b.created_at, b.id) < (after_row.created_at, after_row.id))
      and (before_row.id is null or (b.created_at, b.id) > (before_row.created_at, before_row.id))
    order by case when backwards then b.created_at end asc, case when backwards then b.id end asc,
             b.created_at desc, b.id desc
    limit lim + 1
  ), numbered as (
    select c.*, row_number() over (order by case when backwards then c.created_at end asc,
                                            case when backwards then c.id end asc, c.created_at desc, c.id desc) as rn
    from candidates c
  )
  select coalesce(jsonb_agg(x.v order by x.created_at desc, x.id desc) filter (where x.rn <= lim), '[]'::jsonb), count(*)
    into page, n from numbered x;
  return jsonb_build_object('items', page, 'has_more', n > lim);
end
$$;

create function public.get_business_profile(p_id uuid) returns jsonb
language sql stable security definer set search_path = ''
as $$
  select private.business_profile_view(b) from public.business_profiles b
  where b.id = p_id and b.account_id in (select private.current_account_ids())
$$;

create function public.create_business_profile(
  p_name text, p_description text, p_ideal_customer text, p_website text default null, p_account_id uuid default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  b public.business_profiles;
begin
  insert into public.business_profiles (account_id, name, description, ideal_customer, website)
    values (private.resolve_account(p_account_id), p_name, p_description, coalesce(p_ideal_customer, ''), nullif(p_website, ''))
    returning * into b;
  return private.business_profile_view(b);
end
$$;

create function public.update_business_profile(
  p_id uuid, p_name text, p_description text, p_ideal_customer text, p_website text default null
) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  b public.business_profiles;
begin
  update public.business_profiles set name = p_name, description = p_description,
      ideal_customer = coalesce(p_ideal_customer, ''), website = nullif(p_website, ''), updated_at = now()
    where id = p_id and account_id in (select private.current_account_ids())
    returning * into b;
  if not found then
    raise exception using errcode = 'P0001', message = 'not_found';
  end if;
  return private.business_profile_view(b);
end
$$;

revoke execute on function private.credit_cost(text, jsonb), private.utc(timestamptz),
  private.business_profile_view(public.business_profiles), private.lead_view(public.leads),
  private.analysis_view(public.analyses), private.lead_analysis_completed() from public, anon, authenticated;
revoke execute on function public.submit_lead_analyses(uuid, uuid, text, text[], boolean, text, text, uuid),
  public.lead_analysis_context(uuid), public.purge_deleted_leads(integer),
  public.list_leads(integer, uuid, uuid, integer, boolean, uuid), public.get_lead(uuid),
  public.list_lead_analyses(uuid, integer, uuid, uuid), public.get_analysis(uuid), public.delete_lead(uuid),
  public.restore_lead(uuid, integer), public.list_business_profiles(integer, uuid, uuid, uuid),
  public.get_business_profile(uuid), public.create_business_profile(text, text, text, text, uuid),
  public.update_business_profile(uuid, text, text, text, text) from public, anon, authenticated;
grant execute on function public.submit_lead_analyses(uuid, uuid, text, text[], boolean, text, text, uuid),
  public.lead_analysis_context(uuid), public.purge_deleted_leads(integer) to service_role;
grant execute on function public.list_leads(integer, uuid, uuid, integer, boolean, uuid), public.get_lead(uuid),
  public.list_lead_analyses(uuid, integer, uuid, uuid), public.get_analysis(uuid), public.delete_lead(uuid),
  public.restore_lead(uuid, integer), public.list_business_profiles(integer, uuid, uuid, uuid),
  public.get_business_profile(uuid), public.create_business_profile(text, text, text, text, uuid),
  public.update_business_profile(uuid, text, text, text, text) to authenticated, service_role;
