#!/bin/sh
# The store's test suite and a few hunts against a throw-away PostgreSQL
# (scripts/pg-test.sh). Exit 77 (skipped) when PostgreSQL cannot start.
set -u
koban=${1:?usage: pg.sh KOBAN}
dir=$(dirname "$koban")
[ -x "$dir/test_store" ] || { echo "SKIP: $dir/test_store not built" >&2; exit 77; }
exec sh scripts/pg-test.sh sh -c '
    set -e
    "$1/test_store"
    "$1/test_store_module"
    K="$2 --data /nonexistent"
    export KOBAN_STORE="$KOBAN_PG_DSN"
    psql -q "$KOBAN_PG_DSN" -c "SET client_min_messages TO warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public"
    $K load -q demo/incident/ids demo/incident/linux demo/incident/zeek
    n=$($K hunt -o jsonl "host.name:bastion-1 and source.ip:198.51.100.23" | wc -l)
    [ "$n" -eq 8 ] || { echo "FAIL: pg hunt: $n rows, expected 8" >&2; exit 1; }
    $K hunt -o jsonl "| stats count()" | grep -qx "{\"count\":26}" || { echo "FAIL: pg count" >&2; exit 1; }
    # Migration 3 on PostgreSQL adds obs_events.fm and fills it from the
    # events: make the store a schema 2 one again and reopen it.
    a=$($K hunt -o jsonl "source.ip:198.51.100.23 | stats count()")
    b=$($K hunt -o jsonl "destination.ip:10.1.0.80 | stats count()")
    psql -q "$KOBAN_PG_DSN" -c "ALTER TABLE obs_events DROP COLUMN fm; DELETE FROM schema_version WHERE version = 3"
    $K store stats | grep -q "schema version 3" || { echo "FAIL: pg migration 3" >&2; exit 1; }
    [ "$a" = "$($K hunt -o jsonl "source.ip:198.51.100.23 | stats count()")" ] && [ "$a" != "{\"count\":0}" ] &&
        [ "$b" = "$($K hunt -o jsonl "destination.ip:10.1.0.80 | stats count()")" ] && [ "$b" != "{\"count\":0}" ] ||
        { echo "FAIL: pg pivots after migration 3 ($a, $b)" >&2; exit 1; }
    # a scan not asked to write (KOBAN_STORE, no --store) opens the store
    # read-only: no intel tables appear; indicators added later are read
    $K scan -q --no-correlation demo/incident/linux >/dev/null
    t=$(psql -qtA "$KOBAN_PG_DSN" -c "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '"'"'intel%'"'"'")
    [ "$t" = 0 ] || { echo "FAIL: pg: a plain scan created intel tables ($t)" >&2; exit 1; }
    $K intel add 203.0.113.66 --feed internal >/dev/null 2>&1
    $K scan --no-correlation demo/incident 2>&1 >/dev/null | grep -q "^intel: 1 indicators; [0-9]* lookups, 13 hits" ||
        { echo "FAIL: pg: scan with indicators read-only" >&2; exit 1; }
    echo "postgresql: all checks passed"
' sh "$dir" "$koban"
