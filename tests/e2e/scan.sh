#!/bin/sh
# End-to-end: `koban scan` over the bundled incident with koban's own rules,
# over ../shared/data/windows-events with the SigmaHQ rules, output shapes,
# determinism across -j, broken rules, --min-level and exit statuses. These
# check single-event detection, so they scan with --no-correlation; the
# correlation rules have tests/e2e/correlate.sh.
set -u
koban=${1:?usage: scan.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

inc=demo/incident
shared=../shared/data
# Syslog lines carry no year: koban infers it from the file's time.
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log
export KOBAN_DATA="$tmp/data" # no installed rule sets from the user's own data
unset KOBAN_RULES

# --- the command line --------------------------------------------------------
"$koban" help | grep -q '^  scan ' || fail "help lists scan"
"$koban" scan --help | grep -q -- '--min-level' || fail "scan --help"
expect_status 2 "$koban" scan
expect_status 2 "$koban" scan --no-correlation -o bogus "$inc"
expect_status 2 "$koban" scan --no-correlation --min-level severe "$inc"
expect_status 2 "$koban" scan --no-correlation -j 0 "$inc"
expect_status 2 "$koban" scan --no-correlation --format nosuch "$inc"
expect_status 2 "$koban" scan --no-correlation --bogus "$inc"
expect_status 1 "$koban" scan --no-correlation -q "$tmp/no-such-file"
mkdir "$tmp/empty"
expect_status 1 "$koban" scan --no-correlation -q "$tmp/empty"

# --- the demo incident with koban's own rules --------------------------------
"$koban" scan --no-correlation -o jsonl "$inc" >"$tmp/inc.jsonl" 2>"$tmp/inc.err" ||
    fail "incident: exit $?: $(cat "$tmp/inc.err")"
python3 - "$tmp/inc.jsonl" <<'PY' || fail "incident alerts"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
def ids(rid):
    return [a for a in alerts if a["rule.id"] == rid]
# (rule id, count, first @timestamp, host.name, file, line)
want = [
    ("91149f46-c329-45be-9df6-9bfe2e5e0ef8", 7, "2026-11-20T08:55:01.000000000Z", "bastion-1", "demo/incident/linux/auth.log", 1),
    ("21f1e1d3-8293-4d01-b570-1bb81837de16", 1, "2026-11-20T08:56:02.000000000Z", "bastion-1", "demo/incident/linux/auth.log", 10),
    ("c4d58a22-7154-4a3d-bb97-188707644007", 1, "2026-11-20T09:03:10.512000000Z", "PC-0042.corp.example.com", "demo/incident/endpoint/sysmon.jsonl", 2),
    ("67877fcd-b920-4953-aded-d525ca61f2a8", 1, "2026-11-20T09:03:10.512000000Z", "PC-0042.corp.example.com", "demo/incident/endpoint/sysmon.jsonl", 2),
    ("1cb964b3-b83d-4570-90ab-8977eeb5eb01", 1, "2026-11-20T09:03:11.020000000Z", "PC-0042.corp.example.com", "demo/incident/endpoint/sysmon.jsonl", 3),
    ("8b4073fd-a75f-4231-843c-d0cc684e91ba", 1, "2026-11-20T09:03:11.410000000Z", "PC-0042.corp.example.com", "demo/incident/endpoint/sysmon.jsonl", 4),
    ("43a6db12-c515-451e-9fc2-8ac3f0cc2a69", 2, "2026-11-20T09:08:11.600031000Z", None, "demo/incident/ids/eve.json", 3),
    ("03f80f45-f9fe-4e47-b8a5-26270f1f6b1c", 1, "2026-11-20T09:41:02.118000000Z", "PC-0042.corp.example.com", "demo/incident/endpoint/sysmon.jsonl", 5),
    ("27d0c874-0f42-46b1-90e7-9e216dfbadc6", 3, "2026-11-20T09:49:58.000000000Z", "www", "demo/incident/firewall/kernel.log", 1),
    ("76024c39-ca15-4502-82d4-9371127f6d95", 2, "2026-11-20T09:50:12.000000000Z", None, "demo/incident/web/access.log.1.gz", 2),
    ("07755f57-f2e7-4c60-9718-37e1a4178f95", 1, "2026-11-20T09:50:15.000000000Z", "fw-edge-1", "demo/incident/firewall/perimeter-cef.log", 2),
]
for rid, n, ts, host, path, line in want:
    got = ids(rid)
    assert len(got) == n, (rid, len(got), n)
    a = got[0]
    assert a["@timestamp"] == ts, (rid, a["@timestamp"])
    assert a["host.name"] == host, (rid, a["host.name"])
    assert a["log.file.path"] == path and a["log.line"] == line, (rid, a["log.file.path"], a["log.line"])
    assert a["rule.author"] == "koban authors" and a["rule.tags"], a
    assert a["event"]["@timestamp"] == ts and a["event"]["log.file.path"] == path, a["event"]
assert len(alerts) == sum(w[1] for w in want), len(alerts)
# the timeline is sorted by time
stamps = [a["@timestamp"] for a in alerts]
assert stamps == sorted(stamps), stamps
# the ECS-style keys of every alert
keys = ["@timestamp", "rule.id", "rule.name", "rule.level", "rule.author", "rule.tags",
        "rule.status", "rule.references", "rule.falsepositives", "host.name", "log.file.path",
        "log.line", "matched", "event"]
for a in alerts:
    for k in keys:
        assert k in a, (k, a)
office = ids("c4d58a22-7154-4a3d-bb97-188707644007")[0]
assert office["matched"]["ParentImage"].endswith("WINWORD.EXE"), office["matched"]
assert office["rule.level"] == "high"
enc = ids("67877fcd-b920-4953-aded-d525ca61f2a8")[0]
assert enc["event"]["process.command_line"].startswith("powershell.exe -nop -w hidden -enc"), enc
ua = ids("76024c39-ca15-4502-82d4-9371127f6d95")
assert ua[0]["matched"]["cs-user-agent"].startswith("${jndi:ldap://"), ua[0]["matched"]
assert ua[1]["log.file.path"] == "demo/incident/web/access.log" and ua[1]["log.line"] == 1
PY
grep -q '^alerts: 21 (critical 0, high 7, medium 3, low 11, informational 0)$' "$tmp/inc.err" ||
    fail "incident summary: $(grep '^alerts' "$tmp/inc.err")"
grep -q '^rules: 17 loaded, 0 failed' "$tmp/inc.err" || fail "rules summary: $(grep '^rules' "$tmp/inc.err")"
grep -q '44 events (0 rejected)' "$tmp/inc.err" || fail "events summary: $(head -1 "$tmp/inc.err")"
grep -A1 '^top rules:' "$tmp/inc.err" | grep -q '7  SSH Failed Login' || fail "top rules"
grep -A1 '^top hosts:' "$tmp/inc.err" | grep -q '8  bastion-1' || fail "top hosts"
# piped stderr: no progress bar, no escape sequences anywhere
if grep -q "$(printf '\033')" "$tmp/inc.err" "$tmp/inc.jsonl"; then fail "escape codes when piped"; fi

# Deterministic whatever -j and whichever engine.
for args in "-j 1" "-j 2" "-j 2 --engine reference" "-j 1 --engine reference"; do
    # shellcheck disable=SC2086
    "$koban" scan --no-correlation -q $args -o jsonl "$inc" >"$tmp/j.jsonl" || fail "scan $args: exit $?"
    cmp -s "$tmp/inc.jsonl" "$tmp/j.jsonl" || fail "scan $args: output differs"
done

# One file and more threads than files: helpers match slices of each batch.
"$koban" scan --no-correlation -q -j 1 -o jsonl "$inc/linux/auth.log" >"$tmp/one1.jsonl" || fail "one file -j 1"
for j in 2 3 8; do
    "$koban" scan --no-correlation -q -j $j -o jsonl "$inc/linux/auth.log" >"$tmp/onej.jsonl" || fail "one file -j $j"
    cmp -s "$tmp/one1.jsonl" "$tmp/onej.jsonl" || fail "one file -j $j: output differs"
done
[ "$(wc -l <"$tmp/one1.jsonl")" -eq 8 ] || fail "auth.log alerts: $(wc -l <"$tmp/one1.jsonl")"

# CSV and table.
"$koban" scan --no-correlation -q -o csv "$inc" >"$tmp/inc.csv" || fail "csv exit"
[ "$(wc -l <"$tmp/inc.csv")" -eq 22 ] || fail "csv rows: $(wc -l <"$tmp/inc.csv")"
head -1 "$tmp/inc.csv" | grep -q '^time,host,level,rule,fields,rule_id,author,file,line$' ||
    fail "csv header: $(head -1 "$tmp/inc.csv")"
python3 - "$tmp/inc.csv" <<'PY' || fail "csv content"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 21
r = [x for x in rows if x["rule_id"] == "21f1e1d3-8293-4d01-b570-1bb81837de16"][0]
assert r["time"] == "2026-11-20T08:56:02.000000000Z" and r["host"] == "bastion-1", r
assert r["level"] == "high" and r["author"] == "koban authors" and r["line"] == "10", r
assert r["fields"] == "process.command_line: /usr/bin/cat /etc/shadow", r["fields"]
PY
"$koban" scan --no-correlation -q -o table "$inc" >"$tmp/inc.txt" || fail "table exit"
head -1 "$tmp/inc.txt" | grep -q '^TIME  *HOST  *LEVEL  *RULE  *AUTHOR  *FIELDS$' || fail "table header"
grep -q '^2026-11-20T08:56:02.000Z  bastion-1  *high  *Sudo Command Reads the Shadow Passwor\.\.\.  koban authors  *process.command_line: /usr/bin/cat /etc/shadow$' "$tmp/inc.txt" ||
    fail "table row"
"$koban" scan --no-correlation -q -o jsonl --output "$tmp/out.jsonl" "$inc" >"$tmp/stdout" || fail "--output"
cmp -s "$tmp/out.jsonl" "$tmp/inc.jsonl" || fail "--output content"
[ -s "$tmp/stdout" ] && fail "--output also wrote stdout"

# --min-level
"$koban" scan --no-correlation -q --min-level high -o jsonl "$inc" >"$tmp/high.jsonl" || fail "min-level exit"
[ "$(wc -l <"$tmp/high.jsonl")" -eq 7 ] || fail "min-level high: $(wc -l <"$tmp/high.jsonl")"
grep -v '"rule.level":"high"' "$tmp/high.jsonl" | grep -q . && fail "min-level let a lower level through"
"$koban" scan --no-correlation -q --min-level medium -o jsonl "$inc" | wc -l | grep -qx 10 || fail "min-level medium"

# Standard input.
"$koban" scan --no-correlation -q -o jsonl - <"$inc/endpoint/sysmon.jsonl" >"$tmp/stdin.jsonl" || fail "stdin"
[ "$(wc -l <"$tmp/stdin.jsonl")" -eq 5 ] || fail "stdin alerts: $(wc -l <"$tmp/stdin.jsonl")"

# --- custom signatures and broken rules ---------------------------------------
mkdir -p "$tmp/custom"
cat >"$tmp/custom/good.yml" <<'EOF'
title: Beacon host contacted
id: 5f0b1a64-51d0-4f4e-8f57-0f2a3d1c9e01
author: test
level: critical
logsource:
    product: zeek
    service: conn
detection:
    selection:
        id.resp_h: 203.0.113.66
    condition: selection
EOF
cat >"$tmp/custom/broken.yml" <<'EOF'
title: Broken modifier
id: 5f0b1a64-51d0-4f4e-8f57-0f2a3d1c9e02
logsource:
    product: windows
detection:
    selection:
        Image|containz: evil
    condition: selection
EOF
"$koban" scan --no-correlation --rules "$tmp/custom" -o jsonl "$inc" >"$tmp/custom.jsonl" 2>"$tmp/custom.err"
[ $? -eq 1 ] || fail "a broken rule must give exit 1"
grep -q "^$tmp/custom/broken.yml:7: unknown modifier" "$tmp/custom.err" ||
    fail "broken rule report: $(cat "$tmp/custom.err")"
grep -q '^rules: 18 loaded, 1 failed' "$tmp/custom.err" || fail "custom rules count"
[ "$(grep -c '"rule.id":"5f0b1a64-51d0-4f4e-8f57-0f2a3d1c9e01"' "$tmp/custom.jsonl")" -eq 8 ] ||
    fail "custom rule alerts"
[ "$(grep -c '"rule.author":"koban authors"' "$tmp/custom.jsonl")" -eq 21 ] ||
    fail "koban's rules still run beside a broken one"
"$koban" scan --no-correlation -q --no-default-rules --rules "$tmp/custom/good.yml" -o jsonl "$inc" |
    wc -l | grep -qx 8 || fail "--no-default-rules"
expect_status 2 "$koban" scan --no-correlation --no-default-rules --rules "$tmp/custom/broken.yml" "$inc"

# Default rules from $KOBAN_RULES.
KOBAN_RULES="$tmp/custom" "$koban" scan --no-correlation -q -o jsonl "$inc" 2>/dev/null | wc -l | grep -qx 8 ||
    fail "KOBAN_RULES"

# --- SigmaHQ rules over the real Windows events -------------------------------
if [ -d "$shared/sigma/rules" ] && [ -d "$shared/windows-events" ]; then
    "$koban" scan --no-correlation --no-default-rules --rules "$shared/sigma/rules" -o jsonl \
        "$shared/windows-events/hayabusa_sample_evtx.jsonl" >"$tmp/sigma.jsonl" 2>"$tmp/sigma.err" ||
        fail "sigma scan: exit $?: $(tail -5 "$tmp/sigma.err")"
    # Computed with the reference evaluator (--engine reference) on the same data.
    grep -q '^alerts: 5393 (critical 7, high 4615, medium 390, low 355, informational 26)$' \
        "$tmp/sigma.err" || fail "sigma alerts: $(grep '^alerts' "$tmp/sigma.err")"
    grep -q '^rules: 3141 loaded, 0 failed' "$tmp/sigma.err" || fail "sigma rules: $(grep '^rules' "$tmp/sigma.err")"
    # The same alerts with helpers splitting the one file's batches.
    "$koban" scan --no-correlation -q -j 3 --no-default-rules --rules "$shared/sigma/rules" -o jsonl \
        "$shared/windows-events/hayabusa_sample_evtx.jsonl" >"$tmp/sigma3.jsonl" 2>/dev/null ||
        fail "sigma scan -j 3"
    cmp -s "$tmp/sigma.jsonl" "$tmp/sigma3.jsonl" || fail "sigma scan -j 3: output differs"
    python3 - "$tmp/sigma.jsonl" <<'PY' || fail "sigma alert content"
import json, sys, collections
n = collections.Counter()
first = None
for l in open(sys.argv[1]):
    a = json.loads(l)
    first = first or a
    n[a["rule.id"]] += 1
    assert a["rule.author"], a["rule.id"]  # DRL 1.1: the author in every match
assert n["72124974-a68b-4366-b990-d30e0b2a190d"] == 3562, n["72124974-a68b-4366-b990-d30e0b2a190d"]
assert n["100ef69e-3327-481c-8e5c-6d80d9507556"] == 95
assert first["@timestamp"] == "2013-10-23T16:22:39.973500000Z" and first["host.name"] == "IE8Win7", first
PY
else
    echo "skipping the SigmaHQ scan: $shared not found"
fi

# --- scan --store: events and alerts kept for hunting, no duplicates ------
"$koban" --data "$tmp/store" scan --store -q -o jsonl demo/incident >"$tmp/st.jsonl" 2>"$tmp/st.err" ||
    fail "scan --store: exit $?: $(cat "$tmp/st.err")"
[ -s "$tmp/st.err" ] && fail "scan --store -q printed: $(cat "$tmp/st.err")"
"$koban" --data "$tmp/store" hunt -o jsonl '| stats count()' | grep -qx '{"count":44}' ||
    fail "scan --store: 44 events stored"
"$koban" --data "$tmp/store" hunt -o jsonl 'host.name:bastion-1 | stats count()' | grep -qx '{"count":10}' ||
    fail "scan --store: bastion-1 events"
# 21 single-event alerts shown and the 6 correlation alerts shown (stored
# since issue 7, linked to the event that completed them)
n=$(sqlite3 "$tmp/store/koban.db" "SELECT COUNT(*) FROM alerts WHERE event_id > 0")
[ "$n" = "27" ] || fail "scan --store: $n alerts stored, expected 27"
# A second scan of the same files stores nothing twice.
"$koban" --data "$tmp/store" scan --store -q -o jsonl -j 2 demo/incident >/dev/null 2>&1
"$koban" --data "$tmp/store" hunt -o jsonl '| stats count()' | grep -qx '{"count":44}' ||
    fail "scan --store twice: events duplicated"
n=$(sqlite3 "$tmp/store/koban.db" "SELECT COUNT(*) FROM alerts")
[ "$n" = "27" ] || fail "scan --store twice: $n alerts, expected 27"
# Events loaded first (koban load), then scanned: the alerts are stored on
# the loaded events, once.
"$koban" --data "$tmp/ls" load -q demo/incident >/dev/null 2>&1 || fail "load before scan"
"$koban" --data "$tmp/ls" scan --store -o jsonl demo/incident 2>"$tmp/ls.err" >/dev/null
grep -q '^stored 0 new events and 27 alerts$' "$tmp/ls.err" || fail "scan --store after load: $(grep stored "$tmp/ls.err")"
"$koban" --data "$tmp/ls" scan --store -o jsonl -j 2 demo/incident >/dev/null 2>&1
n=$(sqlite3 "$tmp/ls/koban.db" "SELECT COUNT(*) || ' ' || COUNT(DISTINCT event_id || rule_id) FROM alerts WHERE event_id > 0")
[ "$n" = "27 27" ] || fail "scan --store after load, twice: $n alerts (all, distinct), expected 27 27"

finish
