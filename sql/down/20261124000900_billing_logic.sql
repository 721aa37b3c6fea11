drop function if exists public.pricing();
drop function if exists public.pending_webhook_events(integer);
drop function if exists public.list_credit_transactions(integer, integer, uuid);
drop function if exists public.billing_overview(uuid);
drop function if exists public.apply_invoice_payment_failed(jsonb);
drop function if exists public.apply_invoice_paid(jsonb);
drop function if exists public.apply_subscription_event(jsonb, text);
drop function if exists public.apply_customer_event(jsonb);
drop function if exists public.apply_checkout_completed(jsonb, integer);
drop function if exists public.apply_ignored_event(jsonb);
drop function if exists private.account_or_raise(text, jsonb);
drop function if exists private.account_for_customer(text, jsonb);
drop function if exists public.store_webhook_event(jsonb);
drop function if exists private.record_event(jsonb, text);
drop trigger if exists on_account_created on public.accounts;
drop function if exists private.grant_signup_credits();
drop trigger if exists on_job_completed on public.jobs;
drop function if exists private.record_usage();
-- Back to the jobs migration's no-op seam.
create or replace function private.charge_submission(j public.jobs) returns public.jobs
language sql as $$ select j $$;
drop function if exists private.current_period(uuid);
drop table if exists public.task_types;
