-- Users reach tables only through row-level security and the SQL functions; they never need to truncate,
-- reference or trigger on them. Supabase's defaults grant `anon` and `authenticated` every privilege on
-- new tables, so both the grants and the defaults are narrowed (RLS does not apply to TRUNCATE).
revoke truncate, references, trigger on all tables in schema public from anon, authenticated;
alter default privileges in schema public revoke truncate, references, trigger on tables from anon, authenticated;
