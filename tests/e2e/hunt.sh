#!/bin/sh
# End-to-end: `koban load`, `koban hunt`, `koban store` on the bundled
# incident and on shared data, including a loader killed with SIGKILL
# mid-load that must resume without duplicates or corruption.
set -u
koban=${1:?usage: hunt.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"
inc=demo/incident
data=../shared/data
K="$koban --data $tmp/d"

# --- command line ---------------------------------------------------------
"$koban" help | grep -q '^  hunt ' || fail "help lists hunt"
expect_status 2 $K hunt
expect_status 2 $K load
expect_status 2 $K store
expect_status 2 $K store prune
expect_status 2 $K hunt --ask nosuch x
expect_status 2 $K hunt --ask where-hash
expect_status 2 $K store prune --older-than yesterday

# --- load the incident --------------------------------------------------------
$K load "$inc" 2>"$tmp/load.err" || fail "load: exit $?: $(cat "$tmp/load.err")"
grep -q '^loaded 44 events (0 already stored, 132 observables)' "$tmp/load.err" ||
    fail "load summary: $(tail -1 "$tmp/load.err")"
$K load -q "$inc" 2>/dev/null
$K hunt -o jsonl '| stats count()' | grep -qx '{"count":44}' || fail "reload duplicated events"
$K store stats >"$tmp/stats" || fail "store stats"
grep -q '^events: *44$' "$tmp/stats" || fail "stats events: $(cat "$tmp/stats")"
grep -q '^oldest: *2026-11-20T08:55:01Z' "$tmp/stats" || fail "stats oldest"
grep -q '^newest: *2026-11-20T09:50:20Z' "$tmp/stats" || fail "stats newest"
grep -q ' 11  zeek ' "$tmp/stats" || fail "stats per source (zeek 11)"

# --- hunts ------------------------------------------------------------------------
n=$($K hunt -o jsonl 'host.name:bastion-1 and source.ip:198.51.100.23' | wc -l)
[ "$n" -eq 8 ] || fail "host+ip hunt: $n rows, expected 8"
$K hunt -o csv 'destination.ip:10.0.0.0/8 | stats count() by destination.ip | sort -count | head 2' >"$tmp/csv"
printf 'destination.ip,count\n10.1.0.80,5\n10.1.20.10,2\n' | cmp -s - "$tmp/csv" || fail "stats csv: $(cat "$tmp/csv")"
$K hunt -o jsonl 'Image:*powershell* | fields host.name, user.name | head 1' |
    grep -qx '{"host.name":"PC-0042.corp.example.com","user.name":"alice"}' || fail "raw field hunt"
# Raw fields and free text: SQLite's SQL functions and the residual that
# koban evaluates in C (PostgreSQL's path, forced here) print the same lines
# (pg.sh runs the same list against PostgreSQL).
grep -v '^#' "$(dirname "$0")/lib/raw-hunts.txt" >"$tmp/raw-hunts"
while IFS='	' read -r n q; do
    a=$($K hunt -o jsonl "$q" 2>/dev/null)
    b=$(KOBAN_HUNT_RESIDUAL=1 $K hunt -o jsonl "$q" 2>/dev/null)
    [ "$(printf '%s\n' "$a" | grep -c .)" -eq "$n" ] || fail "raw hunt '$q': $(printf '%s\n' "$a" | grep -c .) lines, expected $n"
    [ "$a" = "$b" ] || fail "raw hunt '$q': the residual in C differs: $b (SQL: $a)"
done <"$tmp/raw-hunts"
$K hunt -o jsonl '"failed password" | stats count()' | grep -qx '{"count":6}' || fail "free text is case-insensitive"
KOBAN_HUNT_RESIDUAL=1 $K hunt --explain 'host.name:PC* and Image:*powershell*' >"$tmp/res.exp"
grep -q '^residual (koban evaluates it in C.*: (sql#1 and raw(Image):"\*powershell\*")$' "$tmp/res.exp" ||
    fail "explain shows the residual: $(cat "$tmp/res.exp")"
grep -q '^candidates sql.*WHERE (e.host_name LIKE ? ESCAPE' "$tmp/res.exp" || fail "explain: the candidates are narrowed in SQL"
$K hunt -o jsonl --ask where-hash 7353f60b1739074eb17c5f4dddefe239 |
    grep -q '"host.name":"PC-0042.corp.example.com","count":1' || fail "ask where-hash"
n=$($K hunt -o jsonl --ask host-activity bastion-1 2026-11-20T08:55:05Z 2026-11-20T08:55:12Z | wc -l)
[ "$n" -eq 3 ] || fail "ask host-activity: $n rows, expected 3"
$K hunt -o jsonl --ask first-seen 198.51.100.23 | grep -q '"@timestamp":"2026-11-20T08:55:01' ||
    fail "ask first-seen"
n=$($K hunt -o jsonl --ask process-tree PC-0042.corp.example.com 6644 | wc -l)
[ "$n" -eq 4 ] || fail "ask process-tree: $n rows, expected 4 (the process and its child)"
$K hunt --explain 'hash:7353f60b1739074eb17c5f4dddefe239' | grep -q 'USING INDEX observables_kv' ||
    fail "explain shows the observables index"
# Values are parameters: a quote in a value is data, not SQL.
$K hunt --explain "user.name:\"x' OR 1=1 --\"" | grep -q "OR 1=1" && ! $K hunt --explain "user.name:\"x' OR 1=1 --\"" | grep -q "^sql:.*OR 1=1" ||
    fail "a value leaked into the SQL text"
n=$($K hunt -o jsonl "user.name:\"x' OR 1=1 --\"" 2>/dev/null | wc -l)
[ "$n" -eq 0 ] || fail "injection matched $n rows"

# --- --limit: event listings are capped (default 1000), stats and head are not
n=$($K hunt --limit 3 -o jsonl 'event.kind:event' 2>"$tmp/lim.err" | wc -l)
[ "$n" -eq 3 ] || fail "--limit 3: $n rows"
grep -q 'showed the first 3 events' "$tmp/lim.err" || fail "--limit note: $(cat "$tmp/lim.err")"
n=$($K hunt --limit 3 -o jsonl 'event.kind:event | head 5' | wc -l)
[ "$n" -eq 5 ] || fail "--limit with head 5: $n rows"
n=$($K hunt --limit 3 -o jsonl '| stats count() by log.format' | wc -l)
[ "$n" -eq 7 ] || fail "--limit capped stats: $n rows"
expect_status 2 $K hunt --limit -1 'event.kind:event'

# --- bad queries ---------------------------------------------------------------
$K hunt 'hots.name:pc-a' 2>"$tmp/e1"; [ $? -eq 2 ] || fail "unknown field exit"
grep -q "unknown field 'hots.name'; did you mean host.name" "$tmp/e1" || fail "suggestion: $(cat "$tmp/e1")"
$K hunt 'host.name:a and (b or' 2>"$tmp/e2"; [ $? -eq 2 ] || fail "syntax error exit"
grep -q 'error at column 22: expected a field' "$tmp/e2" || fail "syntax error position: $(cat "$tmp/e2")"
$K hunt 'destination.port > abc' 2>"$tmp/e3"
grep -q "column 20: expected a whole number for 'destination.port'" "$tmp/e3" || fail "number error: $(cat "$tmp/e3")"

# --- prune ------------------------------------------------------------------------
$K store prune --source "$inc/linux" | grep -qx 'pruned 10 events' || fail "prune --source"
$K hunt -o jsonl '| stats count()' | grep -qx '{"count":34}' || fail "count after prune"

# --- retention from the configuration (store.retention) ----------------------------
R="$koban --data $tmp/r"
$R load -q "$inc" 2>/dev/null
expect_status 2 $R store prune # no options and no store.retention
printf 'store:\n  retention:\n    default: 0\n' >"$tmp/bad.yaml"
$koban --config "$tmp/bad.yaml" --data "$tmp/r" store prune 2>"$tmp/bad.err"; [ $? -eq 2 ] || fail "bad retention exit"
grep -q "bad.yaml:3: store.retention: a number of days" "$tmp/bad.err" || fail "bad retention message: $(cat "$tmp/bad.err")"
# The incident is from 2026-11-20: a day's retention prunes it, except the
# zeek directory (kept forever) and linux/auth.log (ten years).
printf 'store:\n  retention:\n    default: 1\n    %s/zeek/: forever\n    %s/linux/auth.log: 3650\n' "$inc" "$inc" >"$tmp/r/koban.yaml"
$R store prune >"$tmp/ret.out" || fail "prune by store.retention: exit $?"
grep -q '^pruned 23 events (store.retention of ' "$tmp/ret.out" || fail "store.retention prune: $(cat "$tmp/ret.out")"
grep -q '^  6 events older than 1 days from demo/incident/endpoint/sysmon.jsonl$' "$tmp/ret.out" || fail "per-source prune line: $(cat "$tmp/ret.out")"
$R hunt -o csv '| stats count() by log.format' >"$tmp/ret.csv"
printf 'log.format,count\nsyslog,10\nzeek,11\n' | cmp -s - "$tmp/ret.csv" || fail "left after retention: $(cat "$tmp/ret.csv")"

# --- pivot counts (schema 4: obs_counts, kept by load and prune) -----------------
# A count pivot is one obs_counts lookup; it must agree with counting the
# listed events, after a load, after a prune, and after migration 4 rebuilt
# the table from obs_events.
C="$koban --data $tmp/cnt"
$C load -q "$inc" 2>/dev/null
$C hunt --explain 'source.ip:198.51.100.23 | stats count()' | grep -q '^sql: SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM obs_counts' ||
    fail "count pivot reads obs_counts"
$C hunt --explain 'ip:10.1.0.80 | sort -@timestamp | head 2' | grep -q '^sql: .*AND event_id BETWEEN ? AND ?[^)]*) AND e2.ts >= ? ORDER BY e2.ts DESC, e2.id LIMIT ?) ORDER BY e.ts DESC' ||
    fail "newest-N pivot reads the hours that hold them"
pivots='source.ip:198.51.100.23 destination.ip:10.1.0.80 ip:10.1.0.80 ip:10.1.20.10 user.name:alice user:root user:deploy hash:7353f60b1739074eb17c5f4dddefe239 url.domain:nosuch.example'
check_counts() {
    for q in $pivots; do
        a=$($C hunt -o jsonl "$q | stats count()")
        b=$($C hunt --limit 0 -o jsonl "$q" 2>/dev/null | wc -l)
        [ "$a" = "{\"count\":$b}" ] || fail "$1: $q | stats count() gives $a, the listing $b events"
        # First / newest N through the hours of obs_counts, against the same
        # query in a shape that takes the plain plan.
        for t in '| head 1' '| head 3' '| sort -@timestamp | head 1' '| sort -@timestamp | head 4' '| sort @timestamp | head 2'; do
            a=$($C hunt -o jsonl "$q $t" 2>/dev/null)
            b=$($C hunt -o jsonl "$q and not user.name:zz-none $t" 2>/dev/null)
            [ "$a" = "$b" ] || fail "$1: $q $t lists other events than the plain plan"
        done
    done
}
check_counts "after load"
# A pivot inside a time window reads only the window's hours of sightings:
# the same counts as the query in a shape that cannot narrow (top-level or).
for q in 'source.ip:198.51.100.23 and @timestamp >= 2026-11-20T08:55:05Z and @timestamp <= 2026-11-20T09:00:00Z' \
    'ip:10.1.0.80 and @timestamp > 2026-11-20T09:00:00Z' 'user.name:alice and @timestamp < 2026-11-20T09:10:00Z' \
    'not user.name:alice and @timestamp >= 2026-11-20T09:00:00Z' 'user:alice and @timestamp >= 2026-11-20T10:00:00Z' \
    '(ip:10.1.0.80 or user.name:alice) and @timestamp >= 2026-11-20T09:05:00Z and @timestamp <= 2026-11-20T09:45:00Z'; do
    a=$($C hunt -o jsonl "$q | stats count()")
    b=$($C hunt -o jsonl "($q) or host.name:zz-none | stats count()")
    [ "$a" = "$b" ] || fail "windowed pivot $q: $a, plain plan $b"
done
$C hunt --explain 'source.ip:198.51.100.23 and @timestamp >= 2026-11-20T08:55:05Z' | grep -q '^sql: .*(fm & ?) <> 0 AND event_id BETWEEN ? AND ?)' ||
    fail "windowed pivot narrows the sightings"
[ "$($C hunt -o jsonl 'source.ip:198.51.100.23 | stats count()')" = '{"count":8}' ] || fail "source.ip count"
$C store prune --source "$inc/linux" >/dev/null
check_counts "after prune"
[ "$($C hunt -o jsonl 'user.name:alice | stats count()')" = '{"count":9}' ] || fail "alice count after prune"
$C load -q "$inc" 2>/dev/null
check_counts "after reload"
python3 -c "import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.executescript('DROP TABLE obs_counts; ALTER TABLE alerts DROP COLUMN threat; ALTER TABLE alerts DROP COLUMN confidence; DELETE FROM schema_version WHERE version >= 4'); db.commit()" "$tmp/cnt/koban.db"
$C store stats | grep -q "schema version 5" || fail "migrations 4 and 5"
check_counts "after migration 4"
[ "$($C hunt -o jsonl 'user.name:alice | stats count()')" = '{"count":9}' ] || fail "alice count after migration 4"

# --- migration: a schema 2 store (dumped from koban before schema 3) -------------
# tests/data/store-v2.sql is demo/incident loaded by the schema 2 loader (wide
# events rows). Opening it migrates it to narrow rows; every event must read
# back exactly as a fresh load of the same files gives it.
mig=$tmp/mig
mkdir -p "$mig"
if python3 -c "import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); db.executescript(open(sys.argv[2]).read()); db.commit()" \
    "$mig/koban.db" tests/data/store-v2.sql 2>"$tmp/mig.err"; then
    M="$koban --data $mig"
    $M store stats >"$tmp/mig.stats" 2>&1 || fail "stats on the migrated store: $(cat "$tmp/mig.stats")"
    grep -q "schema version 5" "$tmp/mig.stats" || fail "not migrated: $(head -1 "$tmp/mig.stats")"
    grep -q '^events: *44$' "$tmp/mig.stats" || fail "migrated events: $(cat "$tmp/mig.stats")"
    $koban --data "$tmp/fresh" load -q "$inc" 2>/dev/null
    $koban --data "$tmp/fresh" hunt -o jsonl '| head 100' >"$tmp/fresh.jsonl"
    $M hunt -o jsonl '| head 100' >"$tmp/mig.jsonl"
    [ "$(wc -l <"$tmp/mig.jsonl")" -eq 44 ] && cmp -s "$tmp/fresh.jsonl" "$tmp/mig.jsonl" ||
        fail "migrated events differ from a fresh load: $(diff "$tmp/fresh.jsonl" "$tmp/mig.jsonl" | head -4)"
    $M hunt -o jsonl --ask where-hash 7353f60b1739074eb17c5f4dddefe239 |
        grep -q '"host.name":"PC-0042.corp.example.com","count":1' || fail "migrated: ask where-hash"
    $M hunt -o jsonl '"powershell" | stats count()' | grep -qx '{"count":5}' ||
        fail "migrated: raw substring search"
    # Pivots on one field use obs_events.fm, computed by the migration.
    for q in 'source.ip:198.51.100.23' 'destination.ip:10.1.0.80' 'user.name:alice' 'file.hash.md5:7353f60b1739074eb17c5f4dddefe239'; do
        a=$($koban --data "$tmp/fresh" hunt -o jsonl "$q | stats count()")
        b=$($M hunt -o jsonl "$q | stats count()")
        [ "$a" = "$b" ] && [ "$a" != '{"count":0}' ] || fail "migrated pivot $q: $b, fresh load $a"
    done
    n=$(python3 -c "import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute('select count(*) from ev where canon is not null').fetchone()[0])" "$mig/koban.db")
    [ "$n" -eq 44 ] || fail "migrated rows keep their canonical fields in ev.canon: $n of 44"
    # New records after the migration go in blocks, numbered after the old ones.
    cp -r "$inc/zeek" "$tmp/zk" # a path the dump does not know
    $M load -q "$tmp/zk" 2>/dev/null
    $M hunt -o jsonl '| stats count()' | grep -qx '{"count":55}' || fail "load after migration"
    $M hunt -o jsonl 'event.id > 44 and destination.port:443 | stats count()' | grep -qx '{"count":8}' ||
        fail "canonical fields of new rows after migration"
    for q in ip:10.1.0.80 source.ip:198.51.100.23 user.name:alice; do
        a=$($M hunt -o jsonl "$q | stats count()")
        b=$($M hunt --limit 0 -o jsonl "$q" 2>/dev/null | wc -l)
        [ "$a" = "{\"count\":$b}" ] && [ "$b" -gt 0 ] || fail "obs_counts after migrations 3, 4 and a load: $q: $a, $b events"
    done
else
    fail "cannot build the schema 2 store: $(cat "$tmp/mig.err")"
fi

# --- crash safety: SIGKILL mid-load, resume, exact count, integrity ----------------
big=$tmp/big.log
src=$data/logs/zeek-json/zed-wrccdc-dns.json.log
if [ -r "$src" ]; then
    i=0; while [ $i -lt 30 ]; do cat "$src"; i=$((i + 1)); done >"$big"
    want=$(wc -l <"$big")
    # Small groups: many commits, so the kill lands between two of them.
    KOBAN_LOAD_GROUP=4096 $koban --data "$tmp/c" load -q "$big" 2>/dev/null &
    pid=$!
    # Wait until some batches are committed, then kill.
    j=0
    while [ $j -lt 100 ]; do
        sleep 0.1
        c=$(python3 -c "import sqlite3,sys
try: print(sqlite3.connect('file:$tmp/c/koban.db?mode=ro', uri=True).execute('select count(*) from ev').fetchone()[0])
except Exception: print(0)" 2>/dev/null)
        [ "${c:-0}" -gt 0 ] && break
        j=$((j + 1))
    done
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    before=$(python3 -c "import sqlite3; print(sqlite3.connect('$tmp/c/koban.db').execute('select count(*) from ev').fetchone()[0])")
    [ "$before" -gt 0 ] && [ "$before" -lt "$want" ] || echo "note: killed at $before of $want events" >&2
    $koban --data "$tmp/c" load "$big" 2>"$tmp/resume.err" || fail "resume load: $(cat "$tmp/resume.err")"
    grep -q "($before already stored" "$tmp/resume.err" || fail "resume skipped: $(tail -1 "$tmp/resume.err"), expected $before"
    python3 - "$tmp/c/koban.db" "$want" <<'PY' || fail "after resume: wrong count, duplicates or corruption"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, d = db.execute("select count(*), count(distinct rec_offset) from ev").fetchone()
ok = db.execute("pragma integrity_check").fetchone()[0]
o = db.execute("select count(*) from obs_events where event_id not in (select id from ev)").fetchone()[0]
# obs_counts commits with its batch: it counts exactly the obs_events rows.
c = db.execute("select (select count(*) from obs_events) - (select coalesce(sum(n), 0) from obs_counts)").fetchone()[0]
print("events", n, "distinct", d, "integrity", ok, "orphans", o, "count drift", c)
sys.exit(0 if n == int(sys.argv[2]) and d == n and ok == "ok" and o == 0 and c == 0 else 1)
PY
else
    echo "note: $src missing, crash test skipped" >&2
fi
finish
