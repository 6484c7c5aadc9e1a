#!/bin/sh
# End-to-end: the store under faults (issue 4, "a full disk or a locked
# database gives a clear error and loses nothing already acknowledged").
# - Locked: another writer holds the SQLite database; `koban load` waits its
#   busy timeout, then fails naming the file and the reason, with nothing
#   half-written; once the lock is gone the same load stores everything.
# - Full: the data directory is a 4 MB tmpfs (a private mount namespace);
#   the load fails with "disk is full", every batch it acknowledged before is
#   intact (integrity check, no orphans), and after moving the store to a
#   roomy disk the load resumes without duplicates.
set -u
koban=${1:?usage: store-faults.sh KOBAN}
koban=$(cd "$(dirname "$koban")" && pwd)/$(basename "$koban")
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed to hold the lock"; exit 77; }
data=../shared/data

check_store() { # DB WANT: exact event count, no duplicates, intact
    python3 - "$1" "$2" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, d = db.execute("select count(*), count(distinct source_id || ':' || rec_offset) from ev").fetchone()
ok = db.execute("pragma integrity_check").fetchone()[0]
o = db.execute("select count(*) from obs_events where event_id not in (select id from ev)").fetchone()[0]
want = int(sys.argv[2])
print("events", n, "distinct", d, "integrity", ok, "orphans", o)
sys.exit(0 if (want < 0 or n == want) and d == n and ok == "ok" and o == 0 else 1)
PY
}

# --- locked ---------------------------------------------------------------------
mkdir -p "$tmp/l"
"$koban" --data "$tmp/l" load -q demo/incident/linux >/dev/null 2>&1 || fail "first load"
python3 - "$tmp/l/koban.db" "$tmp/l/held" <<'PY' &
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("begin exclusive")
open(sys.argv[2], "w").close()
time.sleep(8)
db.execute("rollback")
PY
holder=$!
i=0
while [ ! -f "$tmp/l/held" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$tmp/l/held" ] || fail "the lock holder did not start"
"$koban" --data "$tmp/l" load demo/incident/endpoint >"$tmp/l.out" 2>"$tmp/l.err"
st=$?
wait $holder
[ $st -ne 0 ] || fail "load into a locked store succeeded"
grep -q "koban.db: .*locked.*(the database is locked: is another koban writing to it?)" "$tmp/l.err" ||
    fail "locked: no clear error: $(cat "$tmp/l.err")"
check_store "$tmp/l/koban.db" 10 >/dev/null || fail "locked: the store changed: $(check_store "$tmp/l/koban.db" 10)"
"$koban" --data "$tmp/l" load -q demo/incident/endpoint >/dev/null 2>&1 || fail "load after the lock"
check_store "$tmp/l/koban.db" 16 >/dev/null || fail "after the lock: $(check_store "$tmp/l/koban.db" 16)"

# --- full -----------------------------------------------------------------------
src=$data/logs/zeek-json/zed-wrccdc-dns.json.log
[ -r "$src" ] || { echo "note: $src missing, full-disk part skipped" >&2; finish; exit 0; }
i=0; while [ $i -lt 8 ]; do cat "$src"; i=$((i + 1)); done >"$tmp/big.log"
want=$(wc -l <"$tmp/big.log")
mkdir -p "$tmp/f"
if ! unshare -m sh -c "mount -t tmpfs -o size=4m tmpfs '$tmp/f' && umount '$tmp/f'" 2>/dev/null; then
    echo "note: no private tmpfs mount here (unshare -m), full-disk part skipped" >&2
    finish
    exit 0
fi
# inside the namespace: load until the disk is full, keep a copy of what is left
KOBAN=$koban T=$tmp unshare -m sh -c '
    mount -t tmpfs -o size=4m tmpfs "$T/f" || exit 3
    KOBAN_LOAD_GROUP=4096 "$KOBAN" --data "$T/f" load "$T/big.log" >"$T/f.out" 2>"$T/f.err"
    echo $? >"$T/f.status"
    cp "$T/f/koban.db" "$T/full.db"
    [ -f "$T/f/koban.db-wal" ] && cp "$T/f/koban.db-wal" "$T/full.db-wal"
    exit 0
' || fail "tmpfs run"
[ "$(cat "$tmp/f.status")" -ne 0 ] || fail "a load into a full disk succeeded: $(cat "$tmp/f.err")"
grep -q "(the disk is full; nothing acknowledged was lost)" "$tmp/f.err" ||
    fail "full: no clear error: $(tail -3 "$tmp/f.err")"
check_store "$tmp/full.db" -1 >"$tmp/full.check" || fail "full: the store is damaged: $(cat "$tmp/full.check")"
kept=$(awk '{print $2}' "$tmp/full.check")
[ "$kept" -gt 0 ] && [ "$kept" -lt "$want" ] || echo "note: full disk kept $kept of $want events" >&2
# on a roomy disk, the same load goes on from where the full one stopped
mkdir -p "$tmp/r"
cp "$tmp/full.db" "$tmp/r/koban.db"
[ -f "$tmp/full.db-wal" ] && cp "$tmp/full.db-wal" "$tmp/r/koban.db-wal"
"$koban" --data "$tmp/r" load "$tmp/big.log" >/dev/null 2>"$tmp/r.err" || fail "resume after full: $(cat "$tmp/r.err")"
grep -q "($kept already stored" "$tmp/r.err" || fail "resume after full: $(tail -1 "$tmp/r.err"), expected $kept already stored"
check_store "$tmp/r/koban.db" "$want" >/dev/null || fail "after resume: $(check_store "$tmp/r/koban.db" "$want")"
finish
