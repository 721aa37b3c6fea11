-- Account-based tenancy: users belong to accounts through memberships; everything billable belongs to an
-- account. Every new auth.users row gets a personal account it owns (trigger below).

create schema if not exists private;
comment on schema private is 'Helpers for policies and triggers; not exposed through PostgREST.';
grant usage on schema private to anon, authenticated, service_role;

create table public.plans (
  code text primary key check (code in ('FREE', 'PRO', 'ENTERPRISE')),
  name text not null,
  job_quota integer not null check (job_quota >= 0),
  monthly_credits integer not null check (monthly_credits >= 0),
  max_concurrent_jobs integer not null check (max_concurrent_jobs > 0),
  rate_limit_per_minute integer not null check (rate_limit_per_minute > 0),
  max_sse_streams integer not null check (max_sse_streams > 0),
  allowed_task_types text[] not null default '{}',
  stripe_price_id text unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.plans is 'Plan limits; readable by signed-in users, changed only by migrations or the service role.';

insert into public.plans (code, name, job_quota, monthly_credits, max_concurrent_jobs, rate_limit_per_minute, max_sse_streams, allowed_task_types) values
  ('FREE', 'Free', 100, 100, 2, 60, 25, '{http.request}'),
  ('PRO', 'Pro', 5000, 5000, 10, 600, 25, '{http.request,browser.extract_text}'),
  ('ENTERPRISE', 'Enterprise', 100000, 50000, 100, 6000, 100, '{http.request,browser.extract_text}');

create table public.accounts (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  plan text not null default 'FREE' references public.plans (code),
  status text not null default 'active' check (status in ('active', 'past_due', 'canceled', 'suspended')),
  personal_owner_id uuid unique references auth.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
comment on column public.accounts.personal_owner_id is 'Set for a user''s personal account (one per user).';

create table public.account_members (
  account_id uuid not null references public.accounts (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'member')),
  created_at timestamptz not null default now(),
  primary key (account_id, user_id)
);
create index account_members_user_idx on public.account_members (user_id);

-- The accounts the caller belongs to. SECURITY DEFINER so policies on account_members can use it
-- without recursing into their own policy; it only ever answers for auth.uid().
create function private.current_account_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$ select account_id from public.account_members where user_id = (select auth.uid()) $$;
revoke all on function private.current_account_ids() from public;
grant execute on function private.current_account_ids() to authenticated;

alter table public.plans enable row level security;
alter table public.accounts enable row level security;
alter table public.account_members enable row level security;

create policy plans_read on public.plans for select to authenticated using (true);
create policy accounts_read_own on public.accounts for select to authenticated
  using (id in (select private.current_account_ids()));
create policy account_members_read_own on public.account_members for select to authenticated
  using (account_id in (select private.current_account_ids()));

-- A personal account (owned by the user) for every new user.
create function private.create_personal_account() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
  new_account uuid;
begin
  insert into public.accounts (name, personal_owner_id)
    values (coalesce(nullif(new.email, ''), 'Personal account'), new.id)
    returning id into new_account;
  insert into public.account_members (account_id, user_id, role) values (new_account, new.id, 'owner');
  return new;
end
$$;
comment on function private.create_personal_account() is 'Trigger: every auth.users row gets a personal account it owns.';

create trigger on_auth_user_created after insert on auth.users
  for each row execute function private.create_personal_account();

-- Users that existed before this migration.
insert into public.accounts (name, personal_owner_id)
  select coalesce(nullif(u.email, ''), 'Personal account'), u.id from auth.users u
  where not exists (select 1 from public.accounts a where a.personal_owner_id = u.id);
insert into public.account_members (account_id, user_id, role)
  select a.id, a.personal_owner_id, 'owner' from public.accounts a
  where a.personal_owner_id is not null
  on conflict do nothing;
