-- Usage: one event per completed job, one counter per account and billing period.

create table public.usage_counters (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  period_start timestamptz not null,
  period_end timestamptz not null,
  jobs_used integer not null default 0 check (jobs_used >= 0),
  updated_at timestamptz not null default now(),
  unique (account_id, period_start),
  check (period_end > period_start)
);

create table public.usage_events (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  job_id uuid unique references public.jobs (id) on delete set null,
  task_type text not null,
  quantity integer not null default 1 check (quantity > 0),
  occurred_at timestamptz not null default now(),
  reported_at timestamptz
);
create index usage_events_unreported_idx on public.usage_events (occurred_at) where reported_at is null;
create index usage_events_account_idx on public.usage_events (account_id, occurred_at desc);

alter table public.usage_counters enable row level security;
alter table public.usage_events enable row level security;
create policy usage_counters_read_own on public.usage_counters for select to authenticated
  using (account_id in (select private.current_account_ids()));
create policy usage_events_read_own on public.usage_events for select to authenticated
  using (account_id in (select private.current_account_ids()));
