#!/bin/sh
# End-to-end, measured: known incidents hidden among generated benign
# background (scripts/gen-triage-dataset.py) go through `koban scan` and
# `koban triage`; every known incident must come out with its expected
# severity, and the analyst must see at least 20 times fewer incidents than
# raw alerts. Prints the figures (docs/BENCHMARKS.md). DAYS and SCALE may be
# set in the environment for a bigger run.
set -u
koban=${1:?usage: triage-dataset.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || { echo "SKIP: no python3" >&2; exit 77; }

python3 scripts/gen-triage-dataset.py "$tmp/ds" --days "${DAYS:-7}" --scale "${SCALE:-1}" ||
    { fail "generator"; finish; }
k() { "$koban" --data "$tmp/data" "$@"; }
k assets import "$tmp/ds/assets.csv" 2>/dev/null || fail "assets"
k vulns import "$tmp/ds/vulns.csv" 2>/dev/null || fail "vulns"
"$koban" scan --no-correlation -o jsonl "$tmp/ds/logs" >"$tmp/alerts.jsonl" 2>"$tmp/scan.err" || fail "scan: $(tail -3 "$tmp/scan.err")"
k triage --alerts "$tmp/alerts.jsonl" -q >/dev/null 2>"$tmp/tri.err" || fail "triage: $(cat "$tmp/tri.err")"
k incidents list -o jsonl >"$tmp/inc.jsonl" || fail "incidents list"
python3 - "$tmp/ds/expected.json" "$tmp/inc.jsonl" "$tmp/alerts.jsonl" "$tmp/scan.err" <<'PY' || fail "measured"
import json, sys
exp = json.load(open(sys.argv[1]))
incs = [json.loads(l)["incident"] for l in open(sys.argv[2])]
nalerts = sum(1 for _ in open(sys.argv[3]))
events = [l for l in open(sys.argv[4]) if l.startswith("scanned ")]
missing, wrong = [], []
for e in exp:
    # the incident of that type and entity whose span holds the known
    # incident's first alert (background on the same host may open earlier)
    at = "2026-11-%02dT%s" % (20 + e["day"], e["at"])
    hit = [i for i in incs if i["type"] == e["type"] and i["entity"] == e["entity"]
           and i["first_seen"][:19] <= at <= i["last_seen"][:19]]
    if not hit:
        missing.append(e)
    elif hit[0]["severity"] != e["severity"]:
        wrong.append((e, hit[0]["severity"]))
sev = {}
for i in incs:
    sev[i["severity"]] = sev.get(i["severity"], 0) + 1
ratio = nalerts / max(1, len(incs))
print("%s%d raw alerts -> %d incidents (%.1fx fewer); by severity %s; known incidents %d, "
      "found with the expected severity %d" % (events[0].strip() + "; " if events else "",
      nalerts, len(incs), ratio, sev, len(exp), len(exp) - len(missing) - len(wrong)))
for m in missing:
    print("missing:", m)
for w in wrong:
    print("wrong severity:", w)
assert not missing and not wrong
assert ratio >= 20, ratio
PY
finish
