#!/bin/sh
# End-to-end, measured (docs/BENCHMARKS.md, docs/correlation.md): does
# correlation cut what an analyst receives without losing a known incident?
# The triage data set (scripts/gen-triage-dataset.py: known incidents hidden
# in generated benign background) goes through `koban scan` and `koban
# triage` three ways:
#   a. triage alone        scan --no-correlation
#   b. shipped correlation scan with rules/ as shipped
#   c. confirmed           the same rules, but the configuration says
#                          `generate: false` for every correlation over SSH
#                          failed logins (correlation.generate): a failed
#                          logon is an input only and reaches the analyst
#                          only through a correlation that fired
# For each: alerts shown -> incidents opened (the analyst's queue) -> incidents
# marked for notification to the CSIRT (notify: medium), and the recall of the
# known incidents (type, entity and severity as expected, the incident
# starting at most 15 minutes after the known incident's first event).
# Asserts: recall 100% in every mode, incidents(c) < incidents(a),
# notified(c) <= notified(a). DAYS and SCALE may be set for a bigger run.
set -u
koban=${1:?usage: correlation-dataset.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || { echo "SKIP: no python3" >&2; exit 77; }
unset KOBAN_RULES KOBAN_CRITERIA KOBAN_STORE

python3 scripts/gen-triage-dataset.py "$tmp/ds" --days "${DAYS:-7}" --scale "${SCALE:-1}" ||
    { fail "generator"; finish; }

# c: the shipped rules with the weak signal left to correlation, by the
# deployment's configuration (the rule files stay as shipped)
python3 - rules/correlation "$tmp/confirmed.yaml" <<'PY' || fail "confirmed configuration"
import os, re, sys
FAILED_LOGIN = "91149f46-c329-45be-9df6-9bfe2e5e0ef8"  # SSH Failed Login (weak alone)
names = []
for f in sorted(os.listdir(sys.argv[1])):
    for d in open(os.path.join(sys.argv[1], f)).read().split("\n---\n"):
        if "\ncorrelation:" in d and FAILED_LOGIN in d and re.search(r"(?m)^\s*generate: true\b", d):
            # by name where it has one, else by id: both are accepted
            names.append((re.search(r"(?m)^name: *(\S+)", d) or re.search(r"(?m)^id: *(\S+)", d)).group(1))
assert len(names) == 2, names
open(sys.argv[2], "w").write("correlation:\n  generate:\n" + "".join("    %s: false\n" % n for n in names))
print("confirmed mode: generate: false for", ", ".join(names))
PY

run() { # mode, scan options... (CONFIG: a configuration file)
    mode=$1
    shift
    cfg=${CONFIG:+--config $CONFIG}
    k() { "$koban" --data "$tmp/data-$mode" "$@"; }
    k assets import "$tmp/ds/assets.csv" 2>/dev/null || fail "$mode: assets"
    k vulns import "$tmp/ds/vulns.csv" 2>/dev/null || fail "$mode: vulns"
    "$koban" $cfg scan "$@" -o jsonl "$tmp/ds/logs" >"$tmp/alerts-$mode.jsonl" 2>"$tmp/scan-$mode.err" ||
        fail "$mode: scan: $(tail -3 "$tmp/scan-$mode.err")"
    k triage --alerts "$tmp/alerts-$mode.jsonl" -q >/dev/null 2>"$tmp/tri-$mode.err" ||
        fail "$mode: triage: $(cat "$tmp/tri-$mode.err")"
    k incidents list -o jsonl >"$tmp/inc-$mode.jsonl" || fail "$mode: incidents list"
}
run a --no-correlation
run b
CONFIG="$tmp/confirmed.yaml" run c
grep -q '^correlation: 7 rules' "$tmp/scan-c.err" || fail "confirmed mode: $(grep '^correlation' "$tmp/scan-c.err")"

python3 - "$tmp" <<'PY' || fail "measured"
import json, os, sys
tmp = sys.argv[1]
exp = json.load(open(os.path.join(tmp, "ds/expected.json")))
names = {"a": "triage alone", "b": "shipped correlation", "c": "confirmed (generate: false)"}
res = {}
for m in "abc":
    incs = [json.loads(l)["incident"] for l in open(os.path.join(tmp, "inc-%s.jsonl" % m))]
    nalerts = sum(1 for _ in open(os.path.join(tmp, "alerts-%s.jsonl" % m)))
    corr = [l.strip() for l in open(os.path.join(tmp, "scan-%s.err" % m)) if l.startswith("correlation:")]
    found, delays, bad = 0, [], []
    for e in exp:
        at = "2026-11-%02dT%s" % (20 + e["day"], e["at"])
        t0 = int(e["at"][:2]) * 3600 + int(e["at"][3:5]) * 60 + int(e["at"][6:8])
        late = "2026-11-%02dT%02d:%02d:%02d" % (20 + e["day"], (t0 + 900) // 3600, (t0 + 900) // 60 % 60, (t0 + 900) % 60)
        hit = [i for i in incs if i["type"] == e["type"] and i["entity"] == e["entity"]
               and i["severity"] == e["severity"]
               and i["first_seen"][:19] <= late and i["last_seen"][:19] >= at]
        if hit:
            found += 1
            fs = min(h["first_seen"][:19] for h in hit)
            d = 0
            if fs > at:
                h, mi, s = int(fs[11:13]), int(fs[14:16]), int(fs[17:19])
                d = h * 3600 + mi * 60 + s - t0
            delays.append(d)
        else:
            bad.append(e)
    notified = sum(1 for i in incs if i["notify"])
    res[m] = (nalerts, len(incs), notified, found)
    print("%-28s %6d alerts -> %4d incidents -> %3d notified; recall %d/%d (%.0f%%), "
          "confirmation delay max %ds%s" % (names[m] + ":", nalerts, len(incs), notified, found,
          len(exp), 100.0 * found / len(exp), max(delays or [0]),
          ("; " + corr[0]) if corr else ""))
    for e in bad:
        print("  missing:", e)
a, c = res["a"], res["c"]
print("confirmed vs triage alone: %d -> %d incidents (%.0f%% fewer), %d -> %d alerts shown" %
      (a[1], c[1], 100.0 * (a[1] - c[1]) / a[1], a[0], c[0]))
for m in "abc":
    assert res[m][3] == len(exp), (m, "recall")
assert c[1] < a[1], "confirmed mode must open fewer incidents than triage alone"
assert c[2] <= a[2], "confirmed mode must not notify more than triage alone"
PY
finish
