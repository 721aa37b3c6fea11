drop table if exists public.jobs;
