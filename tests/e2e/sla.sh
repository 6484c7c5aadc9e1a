#!/bin/sh
# SLA timers: `playbook tick` records a breach of the first-response and the
# analysis deadlines once each (run row, incident timeline, audit) and
# notifies it in the incident's thread; deadlines come per severity from
# the playbook or, overriding it, from the respond config; a run whose first
# response was made in time does not breach it.
set -u
koban=${1:?usage: sla.sh KOBAN}
koban=$(cd "$(dirname "$koban")" && pwd)/$(basename "$koban")
. "$(dirname "$0")/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed for the receiver"; exit 77; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 is needed to read the store"; exit 77; }
mkdir -p "$tmp/srv"
python3 "$here/lib/respond-servers.py" "$tmp/srv" 2>"$tmp/srv.err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
while [ ! -f "$tmp/srv/ports.json" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$tmp/srv/ports.json" ] || { echo "FAIL: receiver did not start"; exit 1; }
HP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http"])' "$tmp/srv/ports.json")

K() { "$koban" --data "$tmp/data" "$@"; }
db() { sqlite3 "$tmp/data/koban.db" "$1"; }

mkdir -p "$tmp/pb"
# a manual step keeps the run waiting: no first response, no end of analysis
cat > "$tmp/pb/slow.yml" <<'Y'
name: sla-test
policy: [{decision: auto}]
sla:
  first_response: 1h
  analysis: 1d
  high: {first_response: 1s, analysis: 2s}
processes:
  - {id: m, method: {manual: {instructions: "wait for me"}}, outputs: {ok: answer}}
  - {id: b, method: {action: {kind: block-destination, target: '{{incident.destination_ip}}'}}, outputs: {s: status}}
steps:
  - {id: b, process: b, when: incident.user == fast}
  - {id: m, process: m}
  - {id: fin, outcome: done, end: true}
Y
K playbook show sla-test --dir "$tmp/pb" | grep -q 'SLA for high: first response 1s, analysis 2s' || fail "per-severity SLA not shown"
printf 'notify:\n  - {type: slack, url: "http://127.0.0.1:%s/slack/x"}\n' "$HP" > "$tmp/conn.yml"
printf '{"id": 31, "type": "x", "severity": "high", "title": "slow one", "destination_ip": "203.0.113.9"}' > "$tmp/high.json"
printf '{"id": 32, "type": "x", "severity": "medium", "title": "medium one", "destination_ip": "203.0.113.9"}' > "$tmp/med.json"
printf '{"id": 33, "type": "x", "severity": "high", "user": "fast", "destination_ip": "203.0.113.9"}' > "$tmp/fast.json"
run() { K playbook run sla-test --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$1" 2>&1 | sed -n 's/^run //p'; }
R1=$(run "$tmp/high.json")    # high: 1 s / 2 s from the playbook
R2=$(run "$tmp/med.json")     # medium: the playbook's 1 h / 1 d
R3=$(run "$tmp/fast.json")    # high, but blocks at once: first response in time
[ -n "$R1" ] && [ -n "$R2" ] && [ -n "$R3" ] || fail "runs did not start"
K playbook tick > "$tmp/t0.out" 2>&1
grep -q '^0 expired or breached' "$tmp/t0.out" || fail "breach before the deadline: $(cat "$tmp/t0.out")"
sleep 2.5
K playbook tick > "$tmp/t1.out" 2>&1 || fail "tick: $(cat "$tmp/t1.out")"
grep -q "SLA breached: the first-response deadline .* of run $R1 (sla-test, incident 31, high) passed" "$tmp/t1.out" || fail "first-response breach: $(cat "$tmp/t1.out")"
grep -q "SLA breached: the analysis deadline .* of run $R1 " "$tmp/t1.out" || fail "analysis breach: $(cat "$tmp/t1.out")"
grep -q "analysis deadline .* of run $R3 " "$tmp/t1.out" || fail "analysis breach of the fast run"
grep -q "first-response deadline .* of run $R3 " "$tmp/t1.out" && fail "fast run breached first response"
grep -q "run $R2 " "$tmp/t1.out" && fail "medium run breached a 1 h SLA"
grep -q '^3 expired or breached' "$tmp/t1.out" || fail "3 breaches expected: $(cat "$tmp/t1.out")"
[ "$(db "select trim(breached) from resp_runs where id = $R1")" = "first-response analysis" ] || fail "breach not recorded on the run"
# recorded once: a second tick finds nothing new
K playbook tick > "$tmp/t2.out" 2>&1
grep -q '^0 expired or breached' "$tmp/t2.out" || fail "breach recorded twice: $(cat "$tmp/t2.out")"
# in the incident's timeline and the audit log
K playbook timeline --incident 31 > "$tmp/tl.out"
[ "$(grep -c 'sla-breach' "$tmp/tl.out")" -eq 2 ] || fail "timeline: $(cat "$tmp/tl.out")"
[ "$(db "select count(*) from audit where action = 'sla-breach'")" -eq 3 ] || fail "audit"
# notified in the incident's thread (the run itself sent nothing before)
sleep 0.3
python3 - "$tmp/srv/http.jsonl" <<'P' || fail "breach notification"
import json, sys
msgs = [json.loads(json.loads(l)["body"])["text"] for l in open(sys.argv[1])]
b = [m for m in msgs if "incident #31" in m]
assert len(b) == 2, msgs
assert b[0].startswith("[koban] high incident #31: slow one") and "first-response deadline" in b[0], b
assert b[1].startswith("Update 1: [koban] high incident #31") and "analysis deadline" in b[1], b
assert not any("incident #32" in m for m in msgs)
P

# the respond config overrides the playbook: medium gets 1 s
printf 'sla:\n  medium: {first_response: 1s}\n' > "$tmp/conn2.yml"
R4=$(K playbook run sla-test --dir "$tmp/pb" --connectors "$tmp/conn2.yml" --incident-file "$tmp/med.json" 2>&1 | sed -n 's/^run //p')
sleep 1.5
K playbook tick > "$tmp/t3.out" 2>&1
grep -q "first-response deadline .* of run $R4 " "$tmp/t3.out" || fail "config SLA override: $(cat "$tmp/t3.out")"
grep -q "analysis deadline .* of run $R4 " "$tmp/t3.out" && fail "analysis should keep the playbook's 1 d"
grep -q "run $R2 " "$tmp/t3.out" && fail "the override leaked to another run"
# a bad duration in a playbook's sla is refused with its line
printf 'name: b\nsla: {high: {first_response: soon}}\nprocesses: []\nsteps: [{outcome: x}]\n' > "$tmp/bad.yml"
K playbook lint "$tmp/bad.yml" 2> "$tmp/bad.err" && fail "bad SLA accepted"
grep -q "bad.yml:2: first_response: 'soon' is not a duration" "$tmp/bad.err" || fail "bad SLA reason: $(cat "$tmp/bad.err")"
finish
