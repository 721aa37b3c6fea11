-- Prepaid credits: a balance per account (never negative) and an append-only ledger. Changed only through
-- the functions below, each one transaction holding the balance row lock (docs/adr/0006).

create table public.credit_balances (
  account_id uuid primary key references public.accounts (id) on delete cascade,
  balance bigint not null default 0 check (balance >= 0),
  updated_at timestamptz not null default now()
);

create table public.credit_transactions (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references public.accounts (id) on delete cascade,
  amount bigint not null check (amount <> 0),
  kind text not null check (kind in ('grant', 'purchase', 'deduct', 'refund', 'adjustment')),
  job_id uuid references public.jobs (id) on delete set null,
  reference text check (length(reference) between 1 and 255),
  balance_after bigint not null check (balance_after >= 0),
  created_at timestamptz not null default now(),
  check ((kind in ('deduct', 'refund')) = (job_id is not null) or job_id is null),
  check ((kind = 'deduct') = (amount < 0) or kind = 'adjustment')
);
-- One deduction and at most one refund per job; one grant per external reference (invoice, checkout).
create unique index credit_transactions_job_kind_key on public.credit_transactions (job_id, kind) where job_id is not null;
create unique index credit_transactions_reference_kind_key on public.credit_transactions (reference, kind) where reference is not null;
create index credit_transactions_account_idx on public.credit_transactions (account_id, created_at desc);

alter table public.credit_balances enable row level security;
alter table public.credit_transactions enable row level security;
create policy credit_balances_read_own on public.credit_balances for select to authenticated
  using (account_id in (select private.current_account_ids()));
create policy credit_transactions_read_own on public.credit_transactions for select to authenticated
  using (account_id in (select private.current_account_ids()));

-- Deducts p_amount for a job. Idempotent per job (a second call returns the balance unchanged).
-- Raises 'insufficient_credits' (SQLSTATE P0001, detail {"required","balance"}) when the balance is short.
-- The balance row is locked FOR UPDATE, so concurrent calls serialise and the balance never goes negative.
create function public.deduct_credits(p_account_id uuid, p_job_id uuid, p_amount bigint) returns bigint
language plpgsql security definer set search_path = ''
as $$
declare
  cur bigint;
begin
  if p_amount is null or p_amount <= 0 then
    raise exception using errcode = '22023', message = 'amount must be positive';
  end if;
  select balance into cur from public.credit_balances where account_id = p_account_id for update;
  if exists (select 1 from public.credit_transactions where job_id = p_job_id and kind = 'deduct') then
    return coalesce(cur, 0);
  end if;
  if cur is null or cur < p_amount then
    raise exception using errcode = 'P0001', message = 'insufficient_credits',
      detail = json_build_object('required', p_amount, 'balance', coalesce(cur, 0))::text;
  end if;
  update public.credit_balances set balance = balance - p_amount, updated_at = now()
    where account_id = p_account_id returning balance into cur;
  insert into public.credit_transactions (account_id, amount, kind, job_id, balance_after)
    values (p_account_id, -p_amount, 'deduct', p_job_id, cur);
  return cur;
end
$$;

-- Refunds what a job was charged, exactly once. Returns the new balance, or null when the job was never
-- charged.
create function public.refund_credits(p_job_id uuid) returns bigint
language plpgsql security definer set search_path = ''
as $$
declare
  charged public.credit_transactions;
  cur bigint;
  inserted uuid;
begin
  select * into charged from public.credit_transactions where job_id = p_job_id and kind = 'deduct';
  if not found then
    return null;
  end if;
  select balance into cur from public.credit_balances where account_id = charged.account_id for update;
  insert into public.credit_transactions (account_id, amount, kind, job_id, balance_after)
    values (charged.account_id, -charged.amount, 'refund', p_job_id, cur - charged.amount)
    on conflict (job_id, kind) where job_id is not null do nothing
    returning id into inserted;
  if inserted is null then
    return cur; -- already refunded
  end if;
  update public.credit_balances set balance = balance - charged.amount, updated_at = now()
    where account_id = charged.account_id returning balance into cur;
  return cur;
end
$$;

-- Adds credits (plan grant, purchase, adjustment), once per p_reference and kind.
create function public.grant_credits(p_account_id uuid, p_amount bigint, p_kind text, p_reference text) returns bigint
language plpgsql security definer set search_path = ''
as $$
declare
  cur bigint;
  inserted uuid;
begin
  if p_amount is null or p_amount <= 0 then
    raise exception using errcode = '22023', message = 'amount must be positive';
  end if;
  if p_kind not in ('grant', 'purchase', 'adjustment') then
    raise exception using errcode = '22023', message = 'kind must be grant, purchase or adjustment';
  end if;
  insert into public.credit_balances (account_id) values (p_account_id) on conflict do nothing;
  select balance into cur from public.credit_balances where account_id = p_account_id for update;
  insert into public.credit_transactions (account_id, amount, kind, reference, balance_after)
    values (p_account_id, p_amount, p_kind, p_reference, cur + p_amount)
    on conflict (reference, kind) where reference is not null do nothing
    returning id into inserted;
  if inserted is null then
    return cur; -- this reference was already granted
  end if;
  update public.credit_balances set balance = balance + p_amount, updated_at = now()
    where account_id = p_account_id returning balance into cur;
  return cur;
end
$$;

revoke all on function public.deduct_credits(uuid, uuid, bigint) from public, anon, authenticated;
revoke all on function public.refund_credits(uuid) from public, anon, authenticated;
revoke all on function public.grant_credits(uuid, bigint, text, text) from public, anon, authenticated;
grant execute on function public.deduct_credits(uuid, uuid, bigint) to service_role;
grant execute on function public.refund_credits(uuid) to service_role;
grant execute on function public.grant_credits(uuid, bigint, text, text) to service_role;
