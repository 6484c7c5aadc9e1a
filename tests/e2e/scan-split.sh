#!/bin/sh
# End-to-end: `koban scan -j N` splits large plain files at line boundaries
# (KOBAN_SCAN_PART_BYTES makes the parts small here). The alerts are
# byte-identical for -j1/-j2/-j3, log.line and log.offset stay the file's,
# and reject messages name the right line in later parts. Compressed files
# and Zeek TSV (which needs its header) are read whole.
set -u
koban=${1:?usage: scan-split.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

export KOBAN_DATA="$tmp/data"
unset KOBAN_RULES
win=../shared/data/windows-events/hayabusa_sample_evtx.jsonl
rules=../shared/data/sigma/rules/windows/process_creation
[ -f "$win" ] && [ -d "$rules" ] || { echo "shared data missing: skipped"; exit 77; }

# A file with broken records spread through it: every 1597th line is cut (9 of them:
# fewer than the 10 reject messages shown per source).
python3 - "$win" "$tmp/mixed.jsonl" <<'PY'
import sys
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f, open(dst, "wb") as o:
    for n, line in enumerate(f, 1):
        o.write(line[:20] + b"\n" if n % 1597 == 0 else line)
PY
bad_lines=$(awk 'NR % 1597 == 0 { printf "%d ", NR }' "$win")

run() {
    j=$1
    shift
    KOBAN_SCAN_PART_BYTES=300000 "$koban" scan -j "$j" --no-default-rules --no-correlation \
        --rules "$rules" "$@"
}

for j in 1 2 3; do
    run "$j" -o jsonl "$tmp/mixed.jsonl" >"$tmp/j$j.jsonl" 2>"$tmp/j$j.err"
    [ $? -eq 1 ] || fail "-j $j: exit status (rejected records: 1)"
    run "$j" -o csv "$tmp/mixed.jsonl" >"$tmp/j$j.csv" 2>/dev/null
done
[ -s "$tmp/j1.jsonl" ] || fail "no alerts at all"
cmp -s "$tmp/j1.jsonl" "$tmp/j2.jsonl" || fail "jsonl: -j1 and -j2 differ"
cmp -s "$tmp/j1.jsonl" "$tmp/j3.jsonl" || fail "jsonl: -j1 and -j3 differ"
cmp -s "$tmp/j1.csv" "$tmp/j3.csv" || fail "csv: -j1 and -j3 differ"
# -jN as make takes it is -j N
KOBAN_SCAN_PART_BYTES=300000 "$koban" scan -j2 --no-default-rules --no-correlation --rules "$rules" \
    -o jsonl "$tmp/mixed.jsonl" >"$tmp/j2b.jsonl" 2>/dev/null
cmp -s "$tmp/j2.jsonl" "$tmp/j2b.jsonl" || fail "-j2 differs from -j 2"
"$koban" scan -j0 --no-default-rules --rules "$rules" "$tmp/mixed.jsonl" >/dev/null 2>&1
[ $? -eq 2 ] || fail "-j0 must be a usage error"
grep -q 'large files read in parts' "$tmp/j1.err" && fail "-j1 splits"
grep -Eq 'large files read in parts: [0-9]+ parts over 1 file' "$tmp/j3.err" ||
    fail "-j3 did not split: $(cat "$tmp/j3.err")"

# every reject is reported with its own line, the same set whatever -j
for j in 1 3; do
    grep -o 'mixed.jsonl:[0-9]*:' "$tmp/j$j.err" | sed 's/.*jsonl:\([0-9]*\):/\1/' | sort -n |
        tr '\n' ' ' >"$tmp/lines$j"
done
cmp -s "$tmp/lines1" "$tmp/lines3" || fail "reject lines differ: $(cat "$tmp/lines1") / $(cat "$tmp/lines3")"
# each is one of the cut lines, and every cut line is reported
for l in $(cat "$tmp/lines1"); do
    case " $bad_lines" in *" $l "*) ;; *) fail "reject at line $l is not a cut line" ;; esac
done
[ "$(cat "$tmp/lines1")" = "$bad_lines" ] || fail "reject lines: $(cat "$tmp/lines1") want $bad_lines"
grep -q 'events (9 rejected)' "$tmp/j3.err" || fail "-j3 counts the rejects: $(grep scanned "$tmp/j3.err")"

# log.line and log.offset point at the record in the file
python3 - "$tmp/j3.jsonl" "$tmp/mixed.jsonl" <<'PY' || fail "log.line / log.offset"
import json, sys
lines = open(sys.argv[2], "rb").read().split(b"\n")
offs, o = [], 0
for l in lines:
    offs.append(o)
    o += len(l) + 1
n = 0
for a in map(json.loads, open(sys.argv[1])):
    ln = a["log.line"]
    ev = a["event"]
    rec = json.loads(lines[ln - 1])
    assert rec.get("EventRecordID") == ev.get("EventRecordID"), (ln, rec.get("EventRecordID"))
    if "log.offset" in ev:
        assert ev["log.offset"] == offs[ln - 1], (ln, ev["log.offset"], offs[ln - 1])
    n += 1
assert n > 100, n
PY

# compressed input is read whole (same alerts)
gzip -c "$tmp/mixed.jsonl" >"$tmp/mixed.jsonl.gz"
run 3 -o jsonl "$tmp/mixed.jsonl.gz" >"$tmp/gz.jsonl" 2>"$tmp/gz.err"
grep -q 'read in parts' "$tmp/gz.err" && fail ".gz was split"
sed 's/mixed.jsonl.gz/mixed.jsonl/g' "$tmp/gz.jsonl" | cmp -s - "$tmp/j1.jsonl" ||
    fail ".gz alerts differ from the plain file's"

finish
