#!/bin/sh
# Playbooks that start by themselves: the configuration binds incident types
# (and a minimum severity) to playbooks (respond.bindings). On the bundled
# incident (demo/incident, loaded into the store for the hunts, scanned into
# alerts, triaged with a small inventory of the demo company): the bound
# playbook starts exactly once for the new incident, its run waits in
# `playbook pending`, its start (naming the binding) is in `incidents show`,
# one notification announces it through the routed channel; a second triage
# starts nothing; unbound types and incidents below the binding's severity
# start nothing; --no-playbooks; a bound playbook that does not exist is
# recorded and reported while the others start; a bad binding refuses the
# configuration with file and line.
set -u
koban=${1:?usage: playbook-auto.sh KOBAN}
koban=$(cd "$(dirname "$koban")" && pwd)/$(basename "$koban")
. "$(dirname "$0")/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
root=$(pwd)

command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 is needed to read the store"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed for the receiver"; exit 77; }

inc=demo/incident
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log

# a notification receiver on 127.0.0.1
mkdir -p "$tmp/srv"
python3 "$here/lib/respond-servers.py" "$tmp/srv" 2>"$tmp/srv.err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
while [ ! -f "$tmp/srv/ports.json" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$tmp/srv/ports.json" ] || { cat "$tmp/srv.err"; echo "FAIL: receiver did not start"; exit 1; }
HP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/srv/ports.json")

# D: a data dir; C: the configuration file
k() { "$koban" --data "$tmp/$D" --config "$tmp/$C" "$@"; }
q() { sqlite3 "$tmp/$D/koban.db" "$1"; }
incid() { q "select id from incidents where type = '$1'"; }
# the number of runs (0 before the respond tables exist)
nruns() { sqlite3 "$tmp/$D/koban.db" 'select count(*) from resp_runs' 2>/dev/null || echo 0; }

"$koban" scan --no-correlation -o jsonl "$inc" >"$tmp/alerts.jsonl" 2>"$tmp/scan.err" ||
    fail "scan: $(cat "$tmp/scan.err")"
mkdir -p "$tmp/pb"
cp playbooks/*.yml "$tmp/pb/"
cat >"$tmp/respond.yml" <<EOF
notify:
  - {type: slack, url: "http://127.0.0.1:$HP/csirt/x"}
  - {type: slack, url: "http://127.0.0.1:$HP/ransomonly/x", types: [ransomware]}
EOF
cat >"$tmp/koban.yaml" <<EOF
respond:
  playbooks: $tmp/pb
  config: $tmp/respond.yml
  bindings:
    - {type: targeted-attack, playbook: targeted-attack}
    - {type: brute-force, playbook: brute-force, min_severity: high}
    - {type: ransomware, playbook: ransomware}
EOF
setup() {
    D=$1
    k assets import demo/company/assets.csv >/dev/null 2>&1 || fail "$D: assets"
    k vulns import demo/company/vulns.csv >/dev/null 2>&1 || fail "$D: vulns"
    k load -q "$inc" >/dev/null 2>&1 || fail "$D: load $inc"
}

# ---- the bound playbook starts once, for the new incident --------------------
C=koban.yaml
setup d1
k triage --alerts "$tmp/alerts.jsonl" >"$tmp/t1.out" 2>"$tmp/t1.err"
[ $? -eq 0 ] || fail "triage 1: $(cat "$tmp/t1.err")"
grep -q '^triage: 21 alerts -> 4 incidents' "$tmp/t1.err" || fail "triage 1 summary: $(cat "$tmp/t1.err")"
grep -q '^triage: playbooks: 1 started, 0 could not start, 0 already had a run, for 4 new incidents$' "$tmp/t1.err" ||
    fail "triage 1 playbooks: $(cat "$tmp/t1.err")"
ta=$(incid targeted-attack)
[ -n "$ta" ] || fail "no targeted-attack incident"
[ "$(q 'select count(*) from resp_runs')" = 1 ] || fail "runs: $(q 'select id, playbook, incident_id from resp_runs')"
[ "$(q "select playbook || ' ' || incident_id || ' ' || status from resp_runs")" = "targeted-attack $ta waiting" ] ||
    fail "the run: $(q 'select playbook, incident_id, status from resp_runs')"
run=$(q 'select id from resp_runs')
# unbound (scan, exploit-public-server) and below the binding's severity
# (brute-force is medium, bound from high): nothing
for t in scan exploit-public-server brute-force; do
    [ "$(q "select count(*) from resp_runs where incident_id = $(incid $t)")" = 0 ] || fail "$t started a playbook"
done
# the incident's variables come from its alerts
q "select vars from resp_runs where id = $run" >"$tmp/vars.json"
python3 - "$tmp/vars.json" <<'PY' || fail "run variables: $(cat "$tmp/vars.json")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["incident.type"] == "targeted-attack" and v["incident.severity"] == "high", v
assert v["incident.host"] == "pc-0042", v           # the entity the incident is grouped by
assert v["incident.user"] == "alice", v
assert v["incident.destination_ip"] == "203.0.113.66", v
assert v["incident.first"].startswith("2026-11-20T09:0"), v
assert v["incident.last"].startswith("2026-11-20T09:"), v
PY
# it ran as `playbook run` does: the automatic steps, then the manual one waits
k playbook pending >"$tmp/pending" || fail "pending"
grep -q "^step  $run  $ta  targeted-attack  report  .*\[answer: yes | no\]" "$tmp/pending" ||
    fail "pending: $(cat "$tmp/pending")"
k incidents show "$ta" >"$tmp/show" || fail "incidents show"
grep -q '^  timeline$' "$tmp/show" || fail "no timeline in incidents show"
grep -q "  $run  start  -  auto  playbook targeted-attack started for incident $ta (targeted-attack, high): bound to targeted-attack incidents ($tmp/koban.yaml:5)" "$tmp/show" ||
    fail "start not in the timeline: $(grep -A3 timeline "$tmp/show")"
grep -q "  $run  step  exfil  auto  hunt: host.name:\"pc-0042\"" "$tmp/show" || fail "exfil step not in the timeline"
grep -q "  $run  waiting  report  auto" "$tmp/show" || fail "waiting step not in the timeline"
k incidents show "$ta" -o jsonl >"$tmp/show.json" || fail "incidents show jsonl"
python3 - "$tmp/show.json" "$run" <<'PY' || fail "incidents show -o jsonl: $(head -c 600 "$tmp/show.json")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, len(lines)
r = json.loads(lines[0])
tl = r["timeline"]
assert tl[0]["kind"] == "start" and tl[0]["actor"] == "auto" and tl[0]["run"] == int(sys.argv[2]), tl[0]
assert tl[-1]["kind"] == "waiting" and tl[-1]["step"] == "report", tl[-1]
PY
# an incident without a run shows no timeline
k incidents show "$(incid scan)" | grep -q timeline && fail "timeline on an incident without runs"
# one message per new incident of medium and above through the routed
# channel (not the ransomware-only one; the low scan incident stays quiet),
# naming the playbooks it started
python3 - "$tmp/srv/http.jsonl" "$ta" "$run" <<'PY' || fail "notification: $(cat "$tmp/srv/http.jsonl" 2>/dev/null)"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["path"] for r in reqs] == ["/csirt/x"] * 3, [r["path"] for r in reqs]
texts = [json.loads(r["body"])["text"] for r in reqs]
want = "New targeted-attack incident %s: Targeted attack / data exfiltration. Playbooks started: targeted-attack (run %s, waiting)." % (sys.argv[2], sys.argv[3])
assert sum(want in t for t in texts) == 1, texts
assert sum("New brute-force incident" in t and "Playbooks started" not in t for t in texts) == 1, texts
assert sum("New exploit-public-server incident" in t for t in texts) == 1, texts
assert not any("scan" in t.split(":")[0] for t in texts), texts
PY

# ---- triage again: the incidents are updated, nothing starts again -----------
k triage --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/t2.err" || fail "triage 2: $(cat "$tmp/t2.err")"
grep -q 'playbooks:' "$tmp/t2.err" && fail "triage 2 started playbooks: $(cat "$tmp/t2.err")"
[ "$(q 'select count(*) from resp_runs')" = 1 ] || fail "triage 2 duplicated the run"
[ "$(q 'select count(*) from incidents')" = 4 ] || fail "triage 2 duplicated incidents"
[ "$(wc -l <"$tmp/srv/http.jsonl")" -eq 3 ] || fail "triage 2 notified again"
# an update that raises an incident past a binding's minimum severity starts
# that binding's playbook (brute-force is bound from high): criteria that
# rate the successful brute force high
awk '/type: \[brute-force\], signals: \[credential-theft\]/ {print; getline; sub(/min: medium/, "min: high")} {print}' \
    config/criteria.yaml >"$tmp/crit-high.yaml"
grep -A1 'type: \[brute-force\], signals: \[credential-theft\]' "$tmp/crit-high.yaml" | grep -q 'min: high' ||
    fail "test setup: criteria rating brute force high"
k triage --criteria "$tmp/crit-high.yaml" --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/t3.err" ||
    fail "triage 3: $(cat "$tmp/t3.err")"
grep -q '^triage: playbooks: 1 started, 0 could not start, 0 already had a run, for 0 new incidents$' "$tmp/t3.err" ||
    fail "escalation: $(cat "$tmp/t3.err")"
[ "$(q "select count(*) from resp_runs where playbook = 'brute-force' and incident_id = $(incid brute-force)")" = 1 ] ||
    fail "escalation: runs $(q 'select playbook, incident_id from resp_runs')"
tail -n 1 "$tmp/srv/http.jsonl" | grep -q "brute-force incident $(incid brute-force) raised to high: .*Playbooks started: brute-force" ||
    fail "escalation notification: $(tail -n 1 "$tmp/srv/http.jsonl")"
k triage --criteria "$tmp/crit-high.yaml" --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/t4.err"
grep -q 'playbooks:' "$tmp/t4.err" && fail "the same severity again started playbooks: $(cat "$tmp/t4.err")"
[ "$(q 'select count(*) from resp_runs')" = 2 ] || fail "escalation duplicated runs"
# the run goes on like any other
k playbook answer "$run" report no >"$tmp/ans" 2>&1 || fail "answer: $(cat "$tmp/ans")"
grep -q 'step continuing waits' "$tmp/ans" || fail "the run did not continue: $(cat "$tmp/ans")"

# ---- --no-playbooks; and an incident created without them stays without ------
setup d2
nmsg=$(wc -l <"$tmp/srv/http.jsonl")
k triage --no-playbooks --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/n.err" || fail "triage --no-playbooks"
# the new incidents are still announced, without playbooks
tail -n +$((nmsg + 1)) "$tmp/srv/http.jsonl" >"$tmp/n.msgs"
[ "$(wc -l <"$tmp/n.msgs")" -eq 3 ] && ! grep -q 'Playbooks started' "$tmp/n.msgs" ||
    fail "--no-playbooks: announcements: $(cat "$tmp/n.msgs")"
grep -q 'playbooks:' "$tmp/n.err" && fail "--no-playbooks started playbooks"
[ "$(nruns)" = 0 ] || fail "--no-playbooks: runs"
k triage --alerts "$tmp/alerts.jsonl" >/dev/null 2>&1 || fail "triage after --no-playbooks"
[ "$(nruns)" = 0 ] || fail "an updated incident started a playbook"

# ---- the store's alerts (scan --store, then triage without --alerts) --------
D=d5
k scan --store -q --no-correlation "$inc" >/dev/null 2>"$tmp/s5.err" || fail "scan --store: $(cat "$tmp/s5.err")"
k triage >/dev/null 2>"$tmp/t5.err" || fail "triage of the store: $(cat "$tmp/t5.err")"
grep -q '^triage: playbooks: 1 started, 0 could not start, 0 already had a run' "$tmp/t5.err" ||
    fail "store triage: $(cat "$tmp/t5.err")"
k triage >/dev/null 2>"$tmp/t6.err" || fail "triage of the store, again"
grep -q 'playbooks:' "$tmp/t6.err" && fail "store triage again started playbooks"
[ "$(q "select playbook || ' ' || status from resp_runs")" = "targeted-attack waiting" ] ||
    fail "store triage runs: $(q 'select playbook, status from resp_runs')"
# the web attack's incident carries its URLs and addresses from the stored events
q "select detail from incidents where entity = 'destination:10.1.0.80'" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read())
assert d["source_ips"] == ["192.0.2.200"] and d["destination_ips"] == ["10.1.0.80"], d
assert "http://www.example.com/?q=${jndi:ldap://192.0.2.200:1389/a}" in d["urls"], d["urls"]
' || fail "observables from the store"

# ---- a bound playbook that does not exist ------------------------------------
cat >"$tmp/missing.yaml" <<EOF
respond:
  playbooks: $tmp/pb
  bindings:
    - {type: exploit-public-server, playbook: no-such-playbook}
    - {type: "*", playbook: targeted-attack, min_severity: high}
EOF
C=missing.yaml
setup d3
k triage --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/m.err"
[ $? -eq 1 ] || fail "a missing bound playbook: exit status (want 1): $(cat "$tmp/m.err")"
ex=$(incid exploit-public-server)
grep -q "^koban: incident $ex: playbook no-such-playbook (bound to exploit-public-server incidents ($tmp/missing.yaml:4)) not started: no usable playbook 'no-such-playbook' in $tmp/pb$" "$tmp/m.err" ||
    fail "missing playbook not reported: $(cat "$tmp/m.err")"
# "*" from high: the two high incidents (targeted-attack, exploit-public-server)
grep -q '^triage: playbooks: 2 started, 1 could not start (above), 0 already had a run, for 4 new incidents$' "$tmp/m.err" ||
    fail "missing: summary: $(cat "$tmp/m.err")"
[ "$(q "select count(*) from resp_runs where playbook = 'targeted-attack'")" = 2 ] || fail "'*' binding"
k incidents show "$ex" | grep -q "  0  auto-start-failed  -  auto  playbook no-such-playbook" ||
    fail "auto-start-failed not in the incident's timeline"

# ---- a bad binding refuses the configuration, naming file and line ----------
printf 'respond:\n  bindings:\n    - {type: ransomware, playbook: ransomware}\n    - {type: scan, playbook: x, min_severity: severe}\n' >"$tmp/bad.yaml"
C=bad.yaml
k triage --alerts "$tmp/alerts.jsonl" >/dev/null 2>"$tmp/b.err"
[ $? -eq 2 ] || fail "bad binding: exit status (want 2)"
grep -q "bad.yaml:4: min_severity must be low, medium, high or critical" "$tmp/b.err" || fail "bad binding: $(cat "$tmp/b.err")"
printf 'respond:\n  bindings:\n    - {type: scan}\n' >"$tmp/bad2.yaml"
C=bad2.yaml
k triage --alerts "$tmp/alerts.jsonl" 2>&1 | grep -q "bad2.yaml:3: a binding needs the playbook" || fail "binding without a playbook"

# the shipped configuration documents the section and loads; an empty
# alerts file is no alerts
"$koban" --data "$tmp/d4" --config "$root/config/koban.yaml" triage --alerts /dev/null >/dev/null 2>"$tmp/e.err" ||
    fail "shipped config / empty alerts: $(cat "$tmp/e.err")"

finish
