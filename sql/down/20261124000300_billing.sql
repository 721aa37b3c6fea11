drop table if exists public.webhook_events;
drop table if exists public.subscriptions;
drop table if exists public.stripe_customers;
