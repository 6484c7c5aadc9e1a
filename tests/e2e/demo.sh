#!/bin/sh
# End-to-end: `make demo`'s script runs to completion and tells the story:
# every record decoded, the attack's steps detected (rules, correlation,
# indicators), triaged into incidents, the bound playbook driven to its first
# response and rolled back, the hunts answered.
set -u
koban=${1:?usage: demo.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

KOBAN_RULES= sh demo/run.sh "$koban" >"$tmp/demo.out" 2>&1 || fail "demo/run.sh exited $?: $(tail -5 "$tmp/demo.out")"
grep -q 'total: 44 records, 44 decoded, 0 rejected' "$tmp/demo.out" || fail "demo: decode summary"
grep -q 'alerts: 39 (critical 0, high 25, medium 3, low 11' "$tmp/demo.out" || fail "demo: alert summary"
for rule in 'Office Application Starts a Shell' 'PowerShell Started with an Encoded' \
            'Log4Shell JNDI Lookup' 'Sudo Command Reads the Shadow' 'Net Use Mounts an Administrative' \
            'Threat intel ip 203.0.113.66' 'Targeted Attack Chain'; do
    grep -q "$rule" "$tmp/demo.out" || fail "demo: no alert '$rule'"
done
grep -q 'stored 44 new events and 45 alerts' "$tmp/demo.out" || fail "demo: store"
grep -q '^triage: 45 alerts -> 4 incidents (critical 0, high 2, medium 1, low 1; 3 to notify)' "$tmp/demo.out" ||
    fail "demo: triage: $(grep '^triage' "$tmp/demo.out")"
grep -q '^triage: playbooks: 1 started' "$tmp/demo.out" || fail "demo: the bound playbook did not start"
grep -q 'high .*Targeted attack / data exfiltration on pc-0042$' "$tmp/demo.out" || fail "demo: targeted attack"
grep -q 'high .*Exploit against a public server on www$' "$tmp/demo.out" || fail "demo: exploit (www vulnerable)"
grep -q 'result: high; marked for notification' "$tmp/demo.out" || fail "demo: explain"
# the stored indicator hits keep their confidence (schema 5)
grep -q 'highest level critical, confidence 80$' "$tmp/demo.out" || fail "demo: explain: confidence of the C2 feed"
grep -q 'step r1-isolate waits: action #2 isolate-host pc-0042: pending' "$tmp/demo.out" || fail "demo: approval gate"
grep -q 'first response: 1: block destination + isolate' "$tmp/demo.out" || fail "demo: first response"
grep -q 'block-destination  203.0.113.66  *rolled-back' "$tmp/demo.out" || fail "demo: rollback"
grep -Eq '10\.1\.20\.42 +203\.0\.113\.66 +443 +11 ' "$tmp/demo.out" || fail "demo: who-talked-to"
grep -q 'net use' "$tmp/demo.out" || fail "demo: host timeline"
finish
