drop function if exists public.job_defer(uuid, text);
