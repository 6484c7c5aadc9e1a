#!/bin/sh
# The store's test suite and a few hunts against a throw-away PostgreSQL
# (scripts/pg-test.sh). Exit 77 (skipped) when PostgreSQL cannot start.
set -u
koban=${1:?usage: pg.sh KOBAN}
dir=$(dirname "$koban")
[ -x "$dir/test_store" ] || { echo "SKIP: $dir/test_store not built" >&2; exit 77; }
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
sh scripts/pg-test.sh sh -c '
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
    # events (and 4 counts them): make the store a schema 2 one again and
    # reopen it.
    a=$($K hunt -o jsonl "source.ip:198.51.100.23 | stats count()")
    b=$($K hunt -o jsonl "destination.ip:10.1.0.80 | stats count()")
    psql -q "$KOBAN_PG_DSN" -c "ALTER TABLE obs_events DROP COLUMN fm; DROP TABLE obs_counts; ALTER TABLE alerts DROP COLUMN threat; ALTER TABLE alerts DROP COLUMN confidence; DELETE FROM schema_version WHERE version >= 3"
    $K store stats | grep -q "schema version 5" || { echo "FAIL: pg migrations 3, 4 and 5" >&2; exit 1; }
    [ "$a" = "$($K hunt -o jsonl "source.ip:198.51.100.23 | stats count()")" ] && [ "$a" != "{\"count\":0}" ] &&
        [ "$b" = "$($K hunt -o jsonl "destination.ip:10.1.0.80 | stats count()")" ] && [ "$b" != "{\"count\":0}" ] ||
        { echo "FAIL: pg pivots after migration 3 ($a, $b)" >&2; exit 1; }
    # Migration 4 on PostgreSQL builds obs_counts from obs_events.
    a=$($K hunt -o jsonl "ip:198.51.100.23 | stats count()")
    psql -q "$KOBAN_PG_DSN" -c "DROP TABLE obs_counts; ALTER TABLE alerts DROP COLUMN threat; ALTER TABLE alerts DROP COLUMN confidence; DELETE FROM schema_version WHERE version >= 4"
    $K store stats | grep -q "schema version 5" || { echo "FAIL: pg migration 4" >&2; exit 1; }
    [ "$a" = "$($K hunt -o jsonl "ip:198.51.100.23 | stats count()")" ] && [ "$a" = "{\"count\":8}" ] ||
        { echo "FAIL: pg count pivot after migration 4 ($a)" >&2; exit 1; }
    # Raw fields and free text (the residual, evaluated in C): the same
    # list as hunt.sh, with the same output as SQLite loaded the same way.
    $K load -q demo/incident
    L="$2 --data $3/sq"
    env -u KOBAN_STORE $L load -q demo/incident/ids demo/incident/linux demo/incident/zeek
    env -u KOBAN_STORE $L load -q demo/incident
    grep -v "^#" tests/e2e/lib/raw-hunts.txt >"$3/raw-hunts"
    while IFS="	" read -r n q; do
        a=$($K hunt -o jsonl "$q" 2>/dev/null) || { echo "FAIL: pg raw hunt $q: exit $?" >&2; exit 1; }
        b=$(env -u KOBAN_STORE $L hunt -o jsonl "$q" 2>/dev/null)
        [ "$(printf "%s\n" "$a" | grep -c .)" -eq "$n" ] ||
            { echo "FAIL: pg raw hunt $q: $(printf "%s\n" "$a" | grep -c .) lines, expected $n" >&2; exit 1; }
        [ "$a" = "$b" ] || { echo "FAIL: pg raw hunt $q: $a (SQLite: $b)" >&2; exit 1; }
    done <"$3/raw-hunts"
    $K hunt --explain "host.name:PC* and Image:*powershell*" | grep -q "^residual .*(sql#1 and raw(Image)" ||
        { echo "FAIL: pg explain shows no residual" >&2; exit 1; }
    n=$($K hunt -o jsonl --ask process-tree PC-0042.corp.example.com 6644 | wc -l)
    [ "$n" -eq 4 ] || { echo "FAIL: pg ask process-tree: $n rows, expected 4" >&2; exit 1; }
    for q in source.ip:198.51.100.23 ip:10.1.0.80 user.name:alice hash:7353f60b1739074eb17c5f4dddefe239; do
        a=$($K hunt -o jsonl "$q | stats count()")
        b=$($K hunt --limit 0 -o jsonl "$q" 2>/dev/null | wc -l)
        [ "$a" = "{\"count\":$b}" ] && [ "$b" -gt 0 ] || { echo "FAIL: pg count pivot $q: $a, $b events" >&2; exit 1; }
        for t in "| head 2" "| sort -@timestamp | head 3"; do
            [ "$($K hunt -o jsonl "$q $t")" = "$($K hunt -o jsonl "$q and not user.name:zz-none $t")" ] ||
                { echo "FAIL: pg listing pivot $q $t" >&2; exit 1; }
        done
    done
    # a playbook step hunts a raw field (Sysmon Image) on PostgreSQL too
    mkdir -p "$3/pb"
    printf "%s\n" "name: rawpb" "processes:" \
        "  - {id: a, method: {hunt: \"host.name:{{incident.host}} and Image:*powershell*\"}, outputs: {n: count, imgs: Image}}" \
        "steps:" "  - {id: s, process: a}" "  - {id: fin, outcome: done, end: true}" >"$3/pb/rawpb.yml"
    printf "{\"type\":\"x\",\"severity\":\"low\",\"host\":\"PC-0042.corp.example.com\"}" >"$3/inc.json"
    $K playbook run rawpb --dir "$3/pb" --incident-file "$3/inc.json" >"$3/pb.out" 2>&1 ||
        { cat "$3/pb.out" >&2; echo "FAIL: pg playbook with a raw-field hunt" >&2; exit 1; }
    grep -q "step s: hunt: .* -> 3 rows" "$3/pb.out" ||
        { cat "$3/pb.out" >&2; echo "FAIL: pg playbook raw-field hunt rows" >&2; exit 1; }
    $K store prune --source demo/incident/linux >/dev/null
    [ "$($K hunt -o jsonl "source.ip:198.51.100.23 | stats count()")" = "{\"count\":0}" ] &&
        [ "$($K hunt -o jsonl "user.name:alice | stats count()")" = "{\"count\":9}" ] ||
        { echo "FAIL: pg count pivots after prune" >&2; exit 1; }
    # a scan not asked to write (KOBAN_STORE, no --store) opens the store
    # read-only: no intel tables appear; indicators added later are read
    $K scan -q --no-correlation demo/incident/linux >/dev/null
    t=$(psql -qtA "$KOBAN_PG_DSN" -c "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE '"'"'intel%'"'"'")
    [ "$t" = 0 ] || { echo "FAIL: pg: a plain scan created intel tables ($t)" >&2; exit 1; }
    $K intel add 203.0.113.66 --feed internal >/dev/null 2>&1
    $K scan --no-correlation demo/incident 2>&1 >/dev/null | grep -q "^intel: 1 indicators; [0-9]* lookups, 13 hits" ||
        { echo "FAIL: pg: scan with indicators read-only" >&2; exit 1; }
    echo "postgresql: all checks passed"
' sh "$dir" "$koban" "$tmp"
