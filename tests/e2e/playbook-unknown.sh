#!/bin/sh
# Playbook methods whose input the incident does not have (docs/playbooks.md,
# "Inputs the incident does not have"): a hunt loses the terms of its
# unknown values (an `or` keeps its other branches, an undecidable `not`
# excludes nothing, an `and` that loses a condition goes as a whole) and says
# which inputs were unknown; a hunt with nothing left, an `ask` question or a
# lookup without its value is recorded as skipped with the reason, its
# outputs empty; a skipped step is not redone on resume; inputs that are
# present behave as before.
set -u
KOBAN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
. "$(dirname "$0")/lib/playbook-env.sh"
q() { sqlite3 "$T/data/koban.db" "$1"; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 is needed to read the store"; exit 77; }

mkdir -p "$T/pb"; cp playbooks/targeted-attack.yml "$T/pb/"
K load -q demo/incident >/dev/null 2>&1 || fail "load demo"
H=PC-0042.corp.example.com
[ "$(K hunt "host.name:$H | stats count()")" = '{"count":5}' ] || fail "demo data: $(K hunt "host.name:$H | stats count()")"

# ---- exfiltration seen only as a flow: no file name ----------------------------
cat > "$T/flow.json" <<J
{"id": 21, "type": "targeted-attack", "severity": "high", "host": "$H", "source_ip": "10.1.20.42",
 "destination_ip": "203.0.113.66", "last": "2026-11-20T09:30:00Z"}
J
P run targeted-attack --incident-file "$T/flow.json" > "$T/flow.out" || { cat "$T/flow.out"; fail "run"; }
R=$(runid "$T/flow.out")
grep -q 'file.name:' "$T/flow.out" && fail "the hunt still compares file.name with an unknown value: $(grep exfil "$T/flow.out")"
grep -q "^step exfil: hunt: host.name:\"$H\" and destination.ip:\"203.0.113.66\" -> 1 rows; unknown: incident.file_name (dropped from the hunt) => {\"exfil_dst\":\[\"203.0.113.66\"\]" "$T/flow.out" ||
    fail "exfil without the file name: $(grep exfil "$T/flow.out")"
K playbook timeline "$R" | grep -q "  step  exfil  cli  hunt: host.name:\"$H\" and destination.ip:\"203.0.113.66\" -> 1 rows; unknown: incident.file_name" ||
    fail "timeline: $(K playbook timeline "$R")"
# the destination found flows on as before: aggregated, searched on other hosts
grep -q '"indicators":\["203.0.113.66"\]' "$T/flow.out" || fail "indicators: $(grep aggregate "$T/flow.out")"

# a known file name keeps the query exactly as written
sed 's/"last"/"file_name": "invoice-2291.docm", "last"/' "$T/flow.json" > "$T/file.json"
P run targeted-attack --incident-file "$T/file.json" > "$T/file.out" || fail "run with a file name"
grep -q "^step exfil: hunt: host.name:\"$H\" and (file.name:\"invoice-2291.docm\" or destination.ip:\"203.0.113.66\") -> 2 rows =>" "$T/file.out" ||
    fail "exfil with the file name: $(grep exfil "$T/file.out")"

# ---- neither file name nor destination: nothing to decide the searches ---------
printf '{"id": 22, "type": "targeted-attack", "severity": "high", "host": "%s", "source_ip": "10.1.20.42", "last": "2026-11-20T09:30:00Z"}' "$H" > "$T/bare.json"
P run targeted-attack --incident-file "$T/bare.json" > "$T/bare.out" || { cat "$T/bare.out"; fail "run bare"; }
R=$(runid "$T/bare.out")
grep -q "^step exfil skipped: hunt not run, unknown: incident.file_name, incident.destination_ip (the hunt needs them): host.name:\"$H\" and (file.name:\"\" or destination.ip:\"\")" "$T/bare.out" ||
    fail "exfil not skipped: $(grep exfil "$T/bare.out")"
grep -q '^step c2 skipped: ask who-talked-to not run, unknown: incident.destination_ip (it needs its argument)' "$T/bare.out" ||
    fail "c2 not skipped: $(grep c2 "$T/bare.out")"
grep -q '^step lateral: hunt: (host.name:' "$T/bare.out" || fail "lateral (its inputs known) did not run"
grep -q '"indicators":\[\]' "$T/bare.out" || fail "indicators: $(grep aggregate "$T/bare.out")"
P answer "$R" report no > "$T/bare2.out" || fail "answer report"
# 1.6 counts traffic to the destination after the incident: unknown, not "none"
grep -q '^step after skipped: hunt not run, unknown: incident.destination_ip (the hunt needs it): ip:"" and @timestamp >= ' "$T/bare2.out" ||
    fail "after not skipped: $(cat "$T/bare2.out")"
# the question after it reads "(unknown)" where the count would be, not a gap
grep -q 'search counted (unknown) event(s) after the incident window' "$T/bare2.out" ||
    fail "1.6a instructions: $(cat "$T/bare2.out")"
[ "$(q "select status from resp_steps where run_id = $R and step = 'exfil' and iter = 0")" = skipped ] ||
    fail "exfil iteration status: $(q "select step, iter, status from resp_steps where run_id = $R")"
vars=$(q "select vars from resp_runs where id = $R")
for v in exfil_dst exfil_hash exfil_proc c2_dst c2_ports traffic_after events_after; do
    echo "$vars" | grep -q "\"$v\":\"\"" || fail "$v is not empty (unknown): $vars"
done
P answer "$R" continuing no > "$T/bare3.out" || fail "answer continuing"
# lateral movement was found with the inputs it had: isolate (waits for approval)
grep -q '^step r4-isolate waits: action #[0-9]* isolate-host' "$T/bare3.out" || fail "branch: $(cat "$T/bare3.out")"
K playbook timeline "$R" --json > "$T/tl.json"
python3 - "$T/tl.json" <<'PY' || fail "timeline json: $(cat "$T/tl.json")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
skipped = {r["step"]: r["detail"] for r in rows if r["kind"] == "skipped"}
for s in ("exfil", "c2", "after"):
    assert "incident.destination_ip" in skipped[s], (s, skipped)
assert "incident.file_name" in skipped["exfil"], skipped
# resuming after the answers redid none of the skipped steps
for s in ("exfil", "c2", "after"):
    assert sum(1 for r in rows if r["step"] == s) == 1, s
PY

# ---- the rule on terms, and lookups --------------------------------------------
cat > "$T/pb/unknown.yml" <<'Y'
name: unknown
processes:
  - id: "1"
    name: Free text with the file name
    method: {hunt: '{{incident.file_name}} | stats count()'}
    outputs: {text_count: count}
  - id: "2"
    name: The host, not the user's events
    method: {hunt: 'host.name:{{incident.host}} and not user.name:{{incident.user}}'}
    outputs: {host_count: count}
  - id: "3"
    name: The host's visits to the URL
    method: {hunt: 'host.name:{{incident.host}} and url.full:{{incident.url}}'}
    outputs: {visits: found, visit_count: count}
  - id: "4"
    name: The host in the inventory
    method: {asset: '{{incident.user}}'}
    outputs: {user_asset: found}
  - id: "5"
    name: Only when visited
    method: {hunt: 'host.name:{{incident.host}} | stats count()'}
    outputs: {visited_count: count}
steps:
  - {id: text, process: "1"}
  - {id: host, process: "2"}
  - {id: url, process: "3"}
  - {id: asset, process: "4"}
  - {id: visited, process: "5", when: visits}
  - {id: done, outcome: "done"}
Y
K playbook lint "$T/pb/unknown.yml" >/dev/null 2>&1 || fail "unknown.yml does not lint: $(K playbook lint "$T/pb/unknown.yml" 2>&1)"
printf '{"id": 23, "type": "x", "severity": "low", "host": "%s"}' "$H" > "$T/h.json"
P run unknown --incident-file "$T/h.json" > "$T/u.out" || { cat "$T/u.out"; fail "run unknown"; }
# a bare "" is in every record: the free-text hunt would count every event
grep -q '^step text skipped: hunt not run, unknown: incident.file_name (the hunt needs it): "" | stats count()' "$T/u.out" ||
    fail "free text: $(grep text "$T/u.out")"
# an exclusion that cannot be decided excludes nothing
grep -q "^step host: hunt: host.name:\"$H\" -> 5 rows; unknown: incident.user (dropped from the hunt) => {\"host_count\":5}" "$T/u.out" ||
    fail "not: $(grep 'step host' "$T/u.out")"
# an and that needs the URL is not answered "no" (nothing found)
grep -q '^step url skipped: hunt not run, unknown: incident.url (the hunt needs it)' "$T/u.out" ||
    fail "and: $(grep 'step url' "$T/u.out")"
grep -q '^step asset skipped: asset not run, unknown: incident.user (no value to look up)' "$T/u.out" ||
    fail "asset: $(grep 'step asset' "$T/u.out")"
grep -q '^step visited' "$T/u.out" && fail "a step ran on the unknown outcome of a skipped hunt"
R=$(runid "$T/u.out")
[ "$(q "select status from resp_runs where id = $R")" = done ] || fail "run not done"
echo "all checks passed"
