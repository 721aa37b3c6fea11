drop function if exists public.grant_credits(uuid, bigint, text, text);
drop function if exists public.refund_credits(uuid);
drop function if exists public.deduct_credits(uuid, uuid, bigint);
drop table if exists public.credit_transactions;
drop table if exists public.credit_balances;
