-- Stripe mirror tables and the webhook event log. Written only by the service role (webhook consumer);
-- users read their own account's customer and subscription rows.

create table public.stripe_customers (
  account_id uuid primary key references public.accounts (id) on delete cascade,
  stripe_customer_id text not null unique check (stripe_customer_id like 'cus_%'),
  email text,
  deleted boolean not null default false,
  stripe_event_created timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.subscriptions (
  id text primary key check (id like 'sub_%'),
  account_id uuid not null references public.accounts (id) on delete cascade,
  stripe_customer_id text not null,
  status text not null check (status in ('incomplete', 'incomplete_expired', 'trialing', 'active',
                                         'past_due', 'canceled', 'unpaid', 'paused')),
  plan text not null references public.plans (code),
  price_id text,
  current_period_start timestamptz,
  current_period_end timestamptz,
  cancel_at_period_end boolean not null default false,
  stripe_event_created timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (current_period_end is null or current_period_start is null or current_period_end > current_period_start)
);
create index subscriptions_account_idx on public.subscriptions (account_id);

create table public.webhook_events (
  id text primary key check (id like 'evt_%'),
  type text not null,
  stripe_created timestamptz not null,
  payload jsonb not null,
  status text not null default 'received' check (status in ('received', 'processed', 'ignored', 'failed')),
  error text,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  check ((status in ('processed', 'ignored')) = (processed_at is not null))
);
comment on table public.webhook_events is 'Stripe events by id: the unique key that makes applying an event idempotent. Service role only.';

alter table public.stripe_customers enable row level security;
alter table public.subscriptions enable row level security;
alter table public.webhook_events enable row level security;

create policy stripe_customers_read_own on public.stripe_customers for select to authenticated
  using (account_id in (select private.current_account_ids()));
create policy subscriptions_read_own on public.subscriptions for select to authenticated
  using (account_id in (select private.current_account_ids()));
-- webhook_events: no policy for users at all.
