drop function if exists public.health_check();
