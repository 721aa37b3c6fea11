drop trigger if exists on_auth_user_created on auth.users;
drop function if exists private.create_personal_account();
drop table if exists public.account_members;
drop table if exists public.accounts;
drop function if exists private.current_account_ids();
drop table if exists public.plans;
drop schema if exists private;
