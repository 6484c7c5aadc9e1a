#!/bin/sh
# End-to-end: `make demo`'s script runs to completion and tells the story:
# every record decoded, the attack's steps detected, the hunts answered.
set -u
koban=${1:?usage: demo.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

KOBAN_RULES= sh demo/run.sh "$koban" >"$tmp/demo.out" 2>&1 || fail "demo/run.sh exited $?: $(tail -5 "$tmp/demo.out")"
grep -q 'total: 44 records, 44 decoded, 0 rejected' "$tmp/demo.out" || fail "demo: decode summary"
grep -q 'alerts: 21 (critical 0, high 7, medium 3, low 11' "$tmp/demo.out" || fail "demo: alert summary"
for rule in 'Office Application Starts a Shell' 'PowerShell Started with an Encoded' \
            'Log4Shell JNDI Lookup' 'Sudo Command Reads the Shadow' 'Net Use Mounts an Administrative'; do
    grep -q "$rule" "$tmp/demo.out" || fail "demo: no alert '$rule'"
done
grep -q 'loaded 44 events' "$tmp/demo.out" || fail "demo: load"
grep -Eq '10\.1\.20\.42 +203\.0\.113\.66 +443 +11 ' "$tmp/demo.out" || fail "demo: who-talked-to"
grep -q 'net use' "$tmp/demo.out" || fail "demo: host timeline"
finish
