#!/usr/bin/env bash
# Applies sql/migrations in order and records each in supabase_migrations.schema_migrations (the table
# the Supabase CLI uses), so the same files work with `supabase db push` against a real project.
#   scripts/migrate.sh up            apply every migration not yet applied
#   scripts/migrate.sh down [N]      revert the last N applied migrations (default 1) with sql/down/
#   scripts/migrate.sh bootstrap     local only: what Supabase provides (roles, auth schema)
# Connection: the standard libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -euo pipefail
cd "$(dirname "$0")/.."

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
PSQL=(psql -X -q -v ON_ERROR_STOP=1 --no-psqlrc)

ensure_table() {
  "${PSQL[@]}" <<'SQL'
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  name text,
  statements text[]
);
SQL
}

applied() {
  "${PSQL[@]}" -At -c "select version from supabase_migrations.schema_migrations order by version"
}

case "${1:-up}" in
  bootstrap)
    for f in sql/bootstrap/*.sql; do "${PSQL[@]}" -1 -f "$f"; done
    ;;
  up)
    ensure_table
    done_list=$(applied)
    for f in sql/migrations/*.sql; do
      base=$(basename "$f" .sql)
      version=${base%%_*}
      name=${base#*_}
      if grep -qx "$version" <<<"$done_list"; then continue; fi
      # One transaction per migration: the file and its bookkeeping row commit together.
      { cat "$f"; printf "\ninsert into supabase_migrations.schema_migrations (version, name) values ('%s', '%s');\n" "$version" "$name"; } \
        | "${PSQL[@]}" -1 -f - >/dev/null
      echo "migrated: $base"
    done
    ;;
  down)
    ensure_table
    n=${2:-1}
    for version in $(applied | sort -r | head -n "$n"); do
      f=$(ls sql/down/"${version}"_*.sql 2>/dev/null | head -n1)
      if [ -z "$f" ]; then echo "migrate: no down migration for $version" >&2; exit 1; fi
      { cat "$f"; printf "\ndelete from supabase_migrations.schema_migrations where version = '%s';\n" "$version"; } \
        | "${PSQL[@]}" -1 -f - >/dev/null
      echo "reverted: $(basename "$f" .sql)"
    done
    ;;
  *) echo "usage: $0 up|down [N]|bootstrap" >&2; exit 2 ;;
esac
