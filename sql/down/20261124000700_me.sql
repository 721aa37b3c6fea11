drop function if exists public.me(uuid);
