-- Jobs (API.md "The job"). Users read their own account's jobs; they are created and moved through their
-- states only by SQL functions and the service role (queue consumers, cron).

create table public.jobs (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  user_id uuid references auth.users (id) on delete set null,
  task_type text not null check (task_type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  status text not null default 'PENDING' check (status in ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
  progress smallint not null default 0 check (progress between 0 and 100),
  step text not null default 'queued' check (length(step) <= 100),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 3 check (max_attempts between 1 and 10),
  correlation_id text not null check (length(correlation_id) between 1 and 128),
  idempotency_key text check (length(idempotency_key) between 1 and 255),
  payload jsonb not null default '{}'::jsonb,
  result jsonb,
  last_error text,
  failure_reason text check (failure_reason in ('task_error', 'timeout', 'max_attempts_exceeded',
                                                'feature_flag_disabled', 'cancelled', 'stuck')),
  credit_cost integer not null default 0 check (credit_cost >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  unique (account_id, idempotency_key),
  -- Terminal states and only they have a finish time; only FAILED/CANCELLED carry a failure reason.
  check ((status in ('COMPLETED', 'FAILED', 'CANCELLED')) = (finished_at is not null)),
  check (failure_reason is null or status in ('FAILED', 'CANCELLED')),
  check (status <> 'FAILED' or failure_reason is not null),
  check (result is null or status = 'COMPLETED')
);
create index jobs_account_created_idx on public.jobs (account_id, created_at desc);
create index jobs_status_idx on public.jobs (status);

alter table public.jobs enable row level security;
create policy jobs_read_own on public.jobs for select to authenticated
  using (account_id in (select private.current_account_ids()));
