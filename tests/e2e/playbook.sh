#!/bin/sh
# Playbooks end to end against a store loaded with the demo incident
# (koban load demo/incident): lint errors with file:line, every shipped
# playbook taking its expected branch with the expected actions (dry-run
# connector), targeted-attack driven to three different first responses
# through `playbook answer`, approvals, the timeline, and a run killed with
# SIGKILL that resumes without repeating its completed steps.
set -u
KOBAN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
. "$(dirname "$0")/lib/playbook-env.sh"
# the actions of a run as "kind target status" lines
acts() { sqlite3 "$T/data/koban.db" "select kind, target, status from resp_actions where run_id = $1 order by id" | tr '|' ' '; }
outcome() { sqlite3 "$T/data/koban.db" "select outcome from resp_runs where id = $1"; }
rstatus() { sqlite3 "$T/data/koban.db" "select status from resp_runs where id = $1"; }
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: sqlite3 is needed to read the store"; exit 77; }

# lint: a broken playbook names file and line; the good ones still list
mkdir -p "$T/pb"; cp playbooks/*.yml "$T/pb/"
K playbook lint playbooks/*.yml > "$T/lint.ok" 2>&1 || { cat "$T/lint.ok"; fail "shipped playbooks do not lint"; }
[ "$(grep -c ': ok (' "$T/lint.ok")" -eq 5 ] || fail "expected 5 shipped playbooks: $(cat "$T/lint.ok")"
printf 'name: bad\nprocesses:\n  - id: "1"\n    method: {hunt: "host.name:"}\nsteps:\n  - {process: "9"}\n  - {outcome: x, when: "a >= b"}\n' > "$T/pb/bad.yml"
K playbook lint "$T/pb/bad.yml" 2> "$T/lint.err" && fail "bad playbook accepted"
grep -q "bad.yml:3: hunt query does not parse" "$T/lint.err" || { cat "$T/lint.err"; fail "no file:line for hunt"; }
grep -q "bad.yml:6: step step1: no process '9'" "$T/lint.err" || { cat "$T/lint.err"; fail "no file:line for step"; }
grep -q "bad.yml:7: condition 'a >= b' does not parse" "$T/lint.err" || { cat "$T/lint.err"; fail "no file:line for a bad comparison"; }
K playbook list --dir "$T/pb" > "$T/list" 2>/dev/null
for n in targeted-attack ransomware malware-infection brute-force public-exploit; do
    grep -q "^$n " "$T/list" || fail "$n not listed next to a bad playbook"
done
rm "$T/pb/bad.yml"
P show targeted-attack --dot | grep -q 'digraph playbook' || fail "no dot"
P show targeted-attack > "$T/outline"
grep -q '=> FIRST RESPONSE: 5: keep watching' "$T/outline" || fail "outline lacks outcome 5"
grep -q 'answer: yes | no' "$T/outline" || fail "outline lacks the manual choices"

K load -q demo/incident >/dev/null 2>&1 || fail "load demo"

# ---- targeted attack, outcome 1: the analyst says the attack continues ------
cat > "$T/ta.json" <<'J'
{"id": 7, "type": "targeted-attack", "severity": "high", "host": "PC-0042.corp.example.com",
 "user": "alice", "source_ip": "10.1.20.42", "destination_ip": "203.0.113.66",
 "file_name": "invoice-2291.docm", "first": "2026-11-20T09:02:00Z", "last": "2026-11-20T09:30:00Z"}
J
P run targeted-attack --incident-file "$T/ta.json" > "$T/run.out" || fail "run"
R=$(runid "$T/run.out")
grep -q 'lateral_found":"yes"' "$T/run.out" || fail "lateral movement (SMB to 10.1.20.10/11) not found"
grep -q "step report waits" "$T/run.out" || fail "manual step did not wait"
K playbook pending | grep -q "report.*\[answer: yes | no\]" || fail "pending does not list the manual step"
P answer "$R" report maybe 2> "$T/bad.err" && fail "an answer outside the choices was accepted"
grep -q 'step report takes one of: yes no' "$T/bad.err" || fail "bad answer reason: $(cat "$T/bad.err")"
P answer "$R" report no > "$T/ans.out" || fail "answer report"
grep -q 'step report-file' "$T/ans.out" && fail "reporting task ran after 'no'"
grep -q 'step continuing waits: .*counted 2 event(s) after the incident window' "$T/ans.out" || { cat "$T/ans.out"; fail "continuation question"; }
P answer "$R" continuing yes > "$T/ans2.out" || fail "answer continuing"
grep -q 'r1-block: action #1 block-destination 203.0.113.66: applied' "$T/ans2.out" || { cat "$T/ans2.out"; fail "branch 1 block"; }
K actions list | grep -q 'isolate-host.*pending.*approve' || fail "isolate should wait for approval"
K actions approve 2 >/dev/null || fail "approve"
P resume "$R" > "$T/res.out" || fail "resume"
grep -q 'first response: 1: block destination + isolate' "$T/res.out" || { cat "$T/res.out"; fail "outcome 1"; }
[ "$(acts "$R")" = "block-destination 203.0.113.66 applied
isolate-host PC-0042.corp.example.com applied" ] || fail "outcome 1 actions: $(acts "$R")"
[ "$(rstatus "$R")" = done ] || fail "run 1 not done"
K playbook timeline "$R" --json > "$T/tl.json"
python3 - "$T/tl.json" <<'PY' || fail "timeline json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
kinds = [r["kind"] for r in rows]
assert kinds[0] == "start" and kinds[-1] == "done", kinds
assert any(r["kind"] == "outcome" and r["detail"].startswith("1:") for r in rows)
assert sum(1 for r in rows if r["kind"] == "step" and r["step"] == "exfil") == 1
assert any(r["kind"] == "answer" and r["step"] == "continuing" and r["actor"].startswith("analyst:") for r in rows)
assert any(r["kind"] == "approved" for r in rows)
assert any(r["kind"] == "skipped" and r["step"] == "r2" for r in rows)
PY
K actions show 1 | grep -q 'dry-run apply block-destination 203.0.113.66' || fail "audit request"
K actions rollback 1 >/dev/null || fail "rollback"
K actions list | grep -q 'block-destination.*rolled-back' || fail "rolled back"

# ---- targeted attack, outcome 4: not continuing, lateral movement; report filed --
P run targeted-attack --incident-file "$T/ta.json" > "$T/run4.out" || fail "run 4"
R=$(runid "$T/run4.out")
P answer "$R" report yes > /dev/null || fail "answer report yes"
K playbook pending | grep -q 'report-file.*\[answer: free text\]' || fail "reporting task not pending"
P answer "$R" report-file "JPCERT#2026-1120" > /dev/null || fail "answer report-file"
P answer "$R" continuing no > "$T/ans4.out" || fail "answer continuing no"
grep -q 'r4-isolate waits: action #[0-9]* isolate-host PC-0042.corp.example.com: pending' "$T/ans4.out" || { cat "$T/ans4.out"; fail "branch 4 isolate"; }
A=$(sqlite3 "$T/data/koban.db" "select id from resp_actions where run_id = $R")
K actions deny "$A" > /dev/null || fail "deny"
P resume "$R" > "$T/res4.out" || fail "resume 4"
grep -q 'first response: 4: isolate' "$T/res4.out" || { cat "$T/res4.out"; fail "outcome 4"; }
[ "$(acts "$R")" = "isolate-host PC-0042.corp.example.com denied" ] || fail "outcome 4 actions: $(acts "$R")"
sqlite3 "$T/data/koban.db" "select vars from resp_runs where id = $R" | grep -q '"report_reference":"JPCERT#2026-1120"' || fail "report reference not kept"

# ---- targeted attack, outcome 5: a quiet host -------------------------------
printf '{"id": 8, "type": "targeted-attack", "severity": "high", "host": "PC-0099.corp.example.com", "source_ip": "10.1.20.99", "destination_ip": "203.0.113.200", "last": "2026-11-20T09:30:00Z"}' > "$T/ta5.json"
P run targeted-attack --incident-file "$T/ta5.json" > "$T/run5.out" || fail "run 5"
R=$(runid "$T/run5.out")
P answer "$R" report no > /dev/null && P answer "$R" continuing no > "$T/ans5.out" || fail "answers 5"
grep -q 'first response: 5: keep watching' "$T/ans5.out" || { cat "$T/ans5.out"; fail "outcome 5"; }
[ -z "$(acts "$R")" ] || fail "outcome 5 took actions: $(acts "$R")"

# ---- brute force: an unauthorised login (1), or a noisy source (2) -------------
printf '{"id": 11, "type": "brute-force", "severity": "high", "host": "bastion-1", "source_ip": "198.51.100.23", "first": "2026-11-20T08:50:00Z"}' > "$T/bf.json"
P run brute-force --incident-file "$T/bf.json" > "$T/bf.out" || fail "bf run"
R=$(runid "$T/bf.out")
grep -q '"failures":7' "$T/bf.out" || fail "7 failed logins expected: $(cat "$T/bf.out")"
grep -q 'owner waits: .*logged in as deploy on bastion-1 after 7 failed attempt(s); the session ran: /usr/bin/cat /etc/shadow' "$T/bf.out" || { cat "$T/bf.out"; fail "owner question"; }
P answer "$R" owner not-legitimate > "$T/bf2.out" || fail "bf answer"
grep -q 'first response: 1: block source + disable account' "$T/bf2.out" || { cat "$T/bf2.out"; fail "bf outcome 1"; }
[ "$(acts "$R")" = "block-source 198.51.100.23 applied
disable-account deploy applied" ] || fail "bf outcome 1 actions: $(acts "$R")"
P run brute-force --incident-file "$T/bf.json" > "$T/bf3.out" || fail "bf run 2"
R=$(runid "$T/bf3.out")
P answer "$R" owner legitimate > "$T/bf4.out" || fail "bf answer 2"
grep -q 'first response: 2: block source' "$T/bf4.out" || { cat "$T/bf4.out"; fail "bf outcome 2"; }
[ "$(acts "$R")" = "block-source 198.51.100.23 applied" ] || fail "bf outcome 2 actions: $(acts "$R")"

# ---- malware infection: one host that called its C2 (2) ------------------------
printf '{"id": 12, "type": "malware", "severity": "high", "host": "PC-0042.corp.example.com", "user": "alice", "file_name": "invoice-2291.docm", "file_hash": "0d2e8e5c8a3e4f7b9a1c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a"}' > "$T/mw.json"
P run malware-infection --incident-file "$T/mw.json" > "$T/mw.out" || fail "mw run"
R=$(runid "$T/mw.out")
grep -q '"dropper":\["C:\\\\Program Files\\\\Google\\\\Chrome\\\\Application\\\\chrome.exe"\]' "$T/mw.out" || fail "dropper not found: $(cat "$T/mw.out")"
grep -q '"infected_hosts":\["PC-0042.corp.example.com"\]' "$T/mw.out" || fail "where-hash"
grep -q 'first response: 2: isolate + block C2 + quarantine' "$T/mw.out" || { cat "$T/mw.out"; fail "mw outcome 2"; }
[ "$(acts "$R")" = "block-destination 203.0.113.66 applied
isolate-host PC-0042.corp.example.com applied
quarantine-file 0d2e8e5c8a3e4f7b9a1c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a applied" ] || fail "mw actions: $(acts "$R")"

# ---- exploit against a public server: attempts only (3), or success (1) --------
printf '{"id": 13, "type": "exploit", "severity": "high", "host": "www", "source_ip": "192.0.2.200", "destination_ip": "10.1.0.80", "first": "2026-11-20T09:49:00Z"}' > "$T/ex.json"
P run public-exploit --incident-file "$T/ex.json" > "$T/ex.out" || fail "ex run"
R=$(runid "$T/ex.out")
grep -q '"payloads":"yes"' "$T/ex.out" || fail "Log4Shell payloads not found"
grep -q '"callback":"no"' "$T/ex.out" || fail "callback"
grep -q 'decide waits: .*Payloads seen: yes; callbacks from the server: no (none); known vulnerabilities: none' "$T/ex.out" || { cat "$T/ex.out"; fail "exploit question"; }
P answer "$R" decide no > "$T/ex2.out" || fail "ex answer"
grep -q 'first response: 3: block attacker' "$T/ex2.out" || { cat "$T/ex2.out"; fail "ex outcome 3"; }
[ "$(acts "$R")" = "block-source 192.0.2.200 applied" ] || fail "ex outcome 3 actions: $(acts "$R")"
P run public-exploit --incident-file "$T/ex.json" > "$T/ex3.out" || fail "ex run 2"
R=$(runid "$T/ex3.out")
P answer "$R" decide yes > "$T/ex4.out" || fail "ex answer 2"
grep -q 'e1-isolate waits' "$T/ex4.out" || { cat "$T/ex4.out"; fail "server isolation should wait for approval"; }
A=$(sqlite3 "$T/data/koban.db" "select id from resp_actions where run_id = $R and kind = 'isolate-host'")
K actions approve "$A" > /dev/null && P resume "$R" > "$T/ex5.out" || fail "ex approve/resume"
grep -q 'first response: 1: block attacker + isolate server' "$T/ex5.out" || { cat "$T/ex5.out"; fail "ex outcome 1"; }
[ "$(acts "$R")" = "block-source 192.0.2.200 applied
isolate-host www applied" ] || fail "ex outcome 1 actions: $(acts "$R")"

# ---- ransomware: nothing in the demo (3); then two more hosts encrypting (1) ----
printf '{"id": 14, "type": "ransomware", "severity": "critical", "host": "PC-0042.corp.example.com", "user": "alice"}' > "$T/rw.json"
P run ransomware --incident-file "$T/rw.json" > "$T/rw.out" || fail "rw run"
R=$(runid "$T/rw.out")
grep -q 'first response: 3: keep watching' "$T/rw.out" || { cat "$T/rw.out"; fail "rw outcome 3"; }
grep -q 'step backups' "$T/rw.out" && fail "backups asked although nothing happened"
[ -z "$(acts "$R")" ] || fail "rw outcome 3 took actions"
# a small ransomware scenario on two more hosts (Sysmon process and file events)
mkdir -p "$T/rw/endpoint"
cat > "$T/rw/endpoint/sysmon.jsonl" <<'J'
{"Provider_Name": "Microsoft-Windows-Sysmon", "EventID": 1, "TimeCreated": "2026-11-20T10:20:01.000Z", "EventRecordID": 99001, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "FS-02.corp.example.com", "ProcessId": "4242", "Image": "C:\\Windows\\System32\\vssadmin.exe", "CommandLine": "vssadmin.exe delete shadows /all /quiet", "ParentImage": "C:\\Users\\Public\\lock.exe", "User": "CORP\\alice"}
{"Provider_Name": "Microsoft-Windows-Sysmon", "EventID": 11, "TimeCreated": "2026-11-20T10:21:07.000Z", "EventRecordID": 99002, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "FS-02.corp.example.com", "ProcessId": "4240", "Image": "C:\\Users\\Public\\lock.exe", "TargetFilename": "D:\\Shares\\Finance\\budget-2027.xlsx.locked", "User": "CORP\\alice"}
{"Provider_Name": "Microsoft-Windows-Sysmon", "EventID": 11, "TimeCreated": "2026-11-20T10:22:13.000Z", "EventRecordID": 99003, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "PC-0107.corp.example.com", "ProcessId": "5150", "Image": "C:\\Users\\bob\\AppData\\Local\\Temp\\lock.exe", "TargetFilename": "C:\\Users\\bob\\Desktop\\README_DECRYPT.txt", "User": "CORP\\bob"}
J
K load -q "$T/rw" >/dev/null 2>&1 || fail "load the ransomware scenario"
P run ransomware --incident-file "$T/rw.json" > "$T/rw2.out" || fail "rw run 2"
R=$(runid "$T/rw2.out")
grep -q '"affected_hosts":\["PC-0042.corp.example.com","FS-02.corp.example.com","PC-0107.corp.example.com"\]' "$T/rw2.out" ||
    { cat "$T/rw2.out"; fail "affected hosts"; }
grep -q 'first response: 1: isolate every affected host + disable account' "$T/rw2.out" || fail "rw outcome 1"
[ "$(acts "$R")" = "isolate-host PC-0042.corp.example.com applied
isolate-host FS-02.corp.example.com applied
isolate-host PC-0107.corp.example.com applied
disable-account alice applied" ] || fail "rw outcome 1 actions: $(acts "$R")"
P answer "$R" backups intact > /dev/null && P answer "$R" report no > "$T/rw3.out" || fail "rw answers"
grep -q 'step tell: notify: Ransomware on PC-0042.corp.example.com, FS-02.corp.example.com, PC-0107.corp.example.com: 1: isolate every affected host + disable account; backups intact' "$T/rw3.out" ||
    { cat "$T/rw3.out"; fail "rw notify"; }
[ "$(rstatus "$R")" = done ] || fail "rw run not done"

# ---- the complete example of docs/playbooks.md: lints, runs, approval gate both ways --
awk '/^## A complete example/{f=1} f&&/^```yaml/{p=1;next} p&&/^```/{exit} p' docs/playbooks.md > "$T/pb/example.yml"
K playbook lint "$T/pb/example.yml" > /dev/null 2>&1 || fail "the documented example does not lint"
printf '{"id": 21, "type": "suspicious-download", "severity": "high", "host": "PC-0042.corp.example.com", "source_ip": "10.1.20.42", "destination_ip": "198.51.100.80", "url": "http://files.example.org/shared/invoice-2291.docm"}' > "$T/sd.json"
for go in yes no; do
    P run suspicious-download --incident-file "$T/sd.json" > "$T/sd.out" || fail "example run"
    R=$(runid "$T/sd.out")
    grep -q '"talkers":\["10.1.20.42"\]' "$T/sd.out" || { cat "$T/sd.out"; fail "example: who-talked-to"; }
    P answer "$R" opened opened > "$T/sd2.out" || fail "example answer"
    grep -q 'step go waits for approval: Contain PC-0042.corp.example.com now?' "$T/sd2.out" || { cat "$T/sd2.out"; fail "example gate"; }
    K playbook pending | grep -q "go.*Contain PC-0042" || fail "gate not pending"
    P answer "$R" go "$go" > "$T/sd3.out" || fail "example gate answer"
    if [ $go = yes ]; then
        grep -q 'first response: 1: block + isolate' "$T/sd3.out" || { cat "$T/sd3.out"; fail "example outcome 1"; }
        [ "$(acts "$R")" = "isolate-host PC-0042.corp.example.com applied" ] || fail "example actions: $(acts "$R")"
    else
        grep -q 'first response: 2: keep watching' "$T/sd3.out" || { cat "$T/sd3.out"; fail "example outcome 2"; }
        [ -z "$(acts "$R")" ] || fail "denied gate still acted"
    fi
done

# ---- kill -9 in the middle of a run; the resumed run repeats nothing finished --
cat > "$T/pb/slow.yml" <<'Y'
name: slow
policy: [{decision: auto}]
processes:
  - {id: a, method: {hunt: 'ip:{{incident.destination_ip}}'}, outputs: {n: count}}
  - {id: s, method: {action: {kind: custom, target: '{{incident.host}}'}}, outputs: {st: status}}
steps:
  - {id: first, process: a}
  - {id: slow, process: s}
  - {id: last, process: a}
  - {id: fin, outcome: done, end: true}
Y
cat > "$T/conn.yml" <<Y
connectors:
  sleeper: {type: exec, program: /bin/sleep, args: ["3"], attempts: 1}
actions: {custom: sleeper}
Y
printf '{"type":"x","severity":"critical","host":"pc1","destination_ip":"203.0.113.66"}' > "$T/i2.json"
"$KOBAN" --data "$T/data" playbook run slow --dir "$T/pb" --connectors "$T/conn.yml" --incident-file "$T/i2.json" > "$T/k.out" 2>&1 &
PID=$!
sleep 1.5; kill -9 $PID; wait $PID 2>/dev/null
R=$(sqlite3 "$T/data/koban.db" "select max(id) from resp_runs")
P resume "$R" > "$T/k2.out" 2>&1 || { cat "$T/k2.out"; fail "resume after kill"; }
grep -q "step first" "$T/k2.out" && fail "completed step repeated after kill"
grep -q "first response: done" "$T/k2.out" || { cat "$T/k2.out"; fail "resumed run did not finish"; }
echo "ok"
