#!/bin/sh
# `make demo`: the whole flow koban serves, end to end, on the bundled
# incident (demo/README.md tells the story) and the demo company's context
# (demo/company/: inventory, vulnerability scan, a partner's C2 list):
# decode, detect (Sigma rules, correlation, threat intelligence), triage,
# the bound playbook's hunts, first response with approval and rollback,
# and hunting in the stored history. Every action is a dry run.
set -eu
koban=${1:-build/koban}
cd "$(dirname "$0")/.."
inc=demo/incident
co=demo/company
# RFC 3164 syslog lines carry no year; koban takes it from the file's
# modification time, so pin that to the day of the story.
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
# The configuration: targeted attacks start the targeted-attack playbook by
# themselves; actions go through the dry-run connector.
cat >"$data/koban.yaml" <<EOF
respond:
  playbooks: $(pwd)/playbooks
  dry_run: true
  bindings:
    - {type: targeted-attack, playbook: targeted-attack}
EOF
k() { "$koban" --data "$data" --config "$data/koban.yaml" "$@"; }

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold= plain=; fi
step() { printf '\n%s== %s%s\n   $ %s\n\n' "$bold" "$1" "$plain" "$2"; }

step "1. Decode: nine files, seven formats, one event model" "koban parse $inc"
"$koban" parse -o table "$inc" 2>&1 >/dev/null | sed 's/^/   /'

step "2. Know the company: inventory, vulnerability scan, a partner's C2 list" \
    "koban assets import $co/assets.csv; koban vulns import $co/vulns.csv; koban intel import ..."
k assets import "$co/assets.csv" 2>&1 | sed 's/^/   /'
k vulns import "$co/vulns.csv" 2>&1 | sed 's/^/   /'
k intel import --format list --feed partner-cti --threat c2 --confidence 80 "$co/c2-feed.txt" 2>&1 |
    sed 's/^/   /'

step "3. Detect: Sigma rules, correlation and indicators over every event; keep them" \
    "koban scan --store -o table $inc"
k scan --store -o table "$inc"

step "4. Triage: alerts become incidents, with assets, vulnerabilities and severity" \
    "koban triage   (starts the playbook bound to targeted attacks)"
k triage

ta=$(k incidents list -o csv | awk -F, '$5 == "targeted-attack" {print $1}')
step "5. Why is the targeted attack high?" "koban triage explain $ta"
k triage explain "$ta"

step "6. The playbook ran its hunts and waits for the analyst" "koban playbook pending"
k playbook pending
run=$(k playbook pending | awk '$1 == "step" {print $2; exit}')

step "7. The analyst answers: no report to the authorities yet; the attack goes on" \
    "koban playbook answer $run report no; koban playbook answer $run continuing yes"
k playbook answer "$run" report no
k playbook answer "$run" continuing yes
k actions list

iso=$(k actions list | awk '$3 == "isolate-host" && $5 == "pending" {print $1}')
step "8. Isolating the PC needs approval: approve, and the playbook finishes" \
    "koban actions approve $iso; koban playbook resume $run"
k actions approve "$iso"
k playbook resume "$run"

blk=$(k actions list | awk '$3 == "block-destination" {print $1; exit}')
step "9. Every action has its rollback: lift the block" "koban actions rollback $blk"
k actions rollback "$blk"
k actions list

step "10. Hunt: who talked to the C2 address?" "koban hunt --ask who-talked-to 203.0.113.66"
k hunt -o table --ask who-talked-to 203.0.113.66

step "11. Hunt: where else was the dropped PowerShell hash seen?" \
    "koban hunt --ask where-hash de96a6e6..."
k hunt -o table --ask where-hash \
    de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c

step "12. Hunt: what did PC-0042 do after the macro ran?" \
    "koban hunt 'host.name:PC-0042* and @timestamp >= \"2026-11-20T09:03:00Z\" | fields @timestamp, event.action, process.command_line, destination.ip'"
k hunt -o table \
    'host.name:PC-0042* and @timestamp >= "2026-11-20T09:03:00Z" | fields @timestamp, event.action, process.command_line, destination.ip'
echo
echo "Next: koban help; docs/ (formats, rules, intel, triage, correlation, playbooks); make test."
