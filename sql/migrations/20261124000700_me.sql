-- GET /api/v1/me in one round trip. SECURITY INVOKER: row-level security decides what the caller sees,
-- so it can only ever describe the caller's own memberships. The active account is p_account_id when
-- given (and the caller is a member), otherwise the caller's personal account.
create function public.me(p_account_id uuid default null) returns jsonb
language sql stable security invoker set search_path = ''
as $$
  select jsonb_build_object(
    'user', jsonb_build_object('id', (select auth.uid()), 'email', (select auth.jwt()) ->> 'email'),
    'account', jsonb_build_object('id', a.id, 'name', a.name, 'plan', a.plan, 'status', a.status, 'role', m.role),
    'credits', jsonb_build_object('balance', coalesce(b.balance, 0)))
  from public.account_members m
  join public.accounts a on a.id = m.account_id
  left join public.credit_balances b on b.account_id = a.id
  where m.user_id = (select auth.uid())
    and a.deleted_at is null
    and (p_account_id is null or a.id = p_account_id)
  order by (a.personal_owner_id is not distinct from (select auth.uid())) desc, m.created_at
  limit 1
$$;
revoke all on function public.me(uuid) from public, anon;
grant execute on function public.me(uuid) to authenticated;
