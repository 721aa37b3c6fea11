drop table if exists public.usage_events;
drop table if exists public.usage_counters;
