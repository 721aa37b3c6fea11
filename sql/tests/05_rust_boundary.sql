-- The Rust/SQL boundary: every function the Worker calls (src/adapters/rpc.rs, FUNCTIONS) exists with
-- exactly the argument types the Rust side declares. A host test keeps this list and the Rust one equal.
begin;
create extension if not exists pgtap;
select plan(38);

select has_function('public', 'health_check', array[]::text[], 'public.health_check() exists');
select has_function('public', 'me', array['uuid']::text[], 'public.me(uuid) exists');
select has_function('public', 'submit_job', array['uuid', 'text', 'jsonb', 'integer', 'text', 'text', 'uuid']::text[], 'public.submit_job(uuid, text, jsonb, integer, text, text, uuid) exists');
select has_function('public', 'fail_unqueued_job', array['uuid']::text[], 'public.fail_unqueued_job(uuid) exists');
select has_function('public', 'list_jobs', array['integer', 'uuid', 'uuid', 'text', 'text', 'uuid']::text[], 'public.list_jobs(integer, uuid, uuid, text, text, uuid) exists');
select has_function('public', 'get_job', array['uuid']::text[], 'public.get_job(uuid) exists');
select has_function('public', 'cancel_job', array['uuid']::text[], 'public.cancel_job(uuid) exists');
select has_function('public', 'stream_context', array['uuid', 'uuid']::text[], 'public.stream_context(uuid, uuid) exists');
select has_function('public', 'job_start', array['uuid', 'integer']::text[], 'public.job_start(uuid, integer) exists');
select has_function('public', 'request_limits', array['uuid']::text[], 'public.request_limits(uuid) exists');
select has_function('public', 'expire_pending_jobs', array['integer']::text[], 'public.expire_pending_jobs(integer) exists');
select has_function('public', 'job_retry', array['uuid', 'text']::text[], 'public.job_retry(uuid, text) exists');
select has_function('public', 'job_defer', array['uuid', 'text']::text[], 'public.job_defer(uuid, text) exists');
select has_function('public', 'job_finish', array['uuid', 'text', 'jsonb', 'text', 'text']::text[], 'public.job_finish(uuid, text, jsonb, text, text) exists');
select has_function('public', 'record_dead_letter', array['uuid', 'text', 'jsonb', 'text']::text[], 'public.record_dead_letter(uuid, text, jsonb, text) exists');
select has_function('public', 'sweep_stuck_jobs', array['integer', 'integer']::text[], 'public.sweep_stuck_jobs(integer, integer) exists');
select has_function('public', 'store_webhook_event', array['jsonb']::text[], 'public.store_webhook_event(jsonb) exists');
select has_function('public', 'billing_overview', array['uuid']::text[], 'public.billing_overview(uuid) exists');
select has_function('public', 'list_credit_transactions', array['integer', 'uuid', 'uuid', 'uuid']::text[], 'public.list_credit_transactions(integer, uuid, uuid, uuid) exists');
select has_function('public', 'pricing', array[]::text[], 'public.pricing() exists');
select has_function('public', 'apply_ignored_event', array['jsonb']::text[], 'public.apply_ignored_event(jsonb) exists');
select has_function('public', 'apply_checkout_completed', array['jsonb', 'integer']::text[], 'public.apply_checkout_completed(jsonb, integer) exists');
select has_function('public', 'apply_customer_event', array['jsonb']::text[], 'public.apply_customer_event(jsonb) exists');
select has_function('public', 'apply_customer_snapshot', array['jsonb', 'jsonb']::text[], 'public.apply_customer_snapshot(jsonb, jsonb) exists');
select has_function('public', 'apply_subscription_event', array['jsonb', 'text']::text[], 'public.apply_subscription_event(jsonb, text) exists');
select has_function('public', 'apply_subscription_snapshot', array['jsonb', 'jsonb', 'text']::text[], 'public.apply_subscription_snapshot(jsonb, jsonb, text) exists');
select has_function('public', 'apply_invoice_paid', array['jsonb', 'text', 'bigint', 'bigint']::text[], 'public.apply_invoice_paid(jsonb, text, bigint, bigint) exists');
select has_function('public', 'apply_invoice_payment_failed', array['jsonb', 'text']::text[], 'public.apply_invoice_payment_failed(jsonb, text) exists');
select has_function('public', 'record_webhook_failure', array['jsonb', 'text', 'boolean', 'integer']::text[], 'public.record_webhook_failure(jsonb, text, boolean, integer) exists');
select has_function('public', 'pending_webhook_events', array['integer']::text[], 'public.pending_webhook_events(integer) exists');
select has_function('public', 'cron_run_start', array['text']::text[], 'public.cron_run_start(text) exists');
select has_function('public', 'cron_run_finish', array['uuid', 'text', 'jsonb', 'text']::text[], 'public.cron_run_finish(uuid, text, jsonb, text) exists');
select has_function('public', 'unreported_meter_usage', array['text[]', 'integer']::text[], 'public.unreported_meter_usage(text[], integer) exists');
select has_function('public', 'mark_usage_reported', array['uuid[]']::text[], 'public.mark_usage_reported(uuid[]) exists');
select has_function('public', 'metered_periods', array['text[]']::text[], 'public.metered_periods(text[]) exists');
select has_function('public', 'record_reconciliation', array['uuid', 'uuid', 'text', 'timestamp with time zone', 'timestamp with time zone', 'bigint', 'bigint']::text[], 'public.record_reconciliation(uuid, uuid, text, timestamp with time zone, timestamp with time zone, bigint, bigint) exists');
select has_function('public', 'renew_monthly_credits', array[]::text[], 'public.renew_monthly_credits() exists');
select has_function('public', 'apply_retention', array['integer', 'integer', 'integer', 'integer']::text[], 'public.apply_retention(integer, integer, integer, integer) exists');

select * from finish();
rollback;
