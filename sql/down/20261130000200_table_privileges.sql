-- Reverts 20261130000200_table_privileges.sql (Supabase's defaults).
alter default privileges in schema public grant truncate, references, trigger on tables to anon, authenticated;
grant truncate, references, trigger on all tables in schema public to anon, authenticated;
