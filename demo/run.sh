#!/bin/sh
# `make demo`: the most complete thing koban does today, end to end, on the
# bundled incident (demo/README.md tells the story): decode every log,
# detect with koban's own Sigma rules, keep the events, and hunt in them.
set -eu
koban=${1:-build/koban}
cd "$(dirname "$0")/.."
inc=demo/incident
# RFC 3164 syslog lines carry no year; koban takes it from the file's
# modification time, so pin that to the day of the story.
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT

if [ -t 1 ]; then bold=$(printf '\033[1m') plain=$(printf '\033[0m'); else bold= plain=; fi
step() { printf '\n%s== %s%s\n   $ %s\n\n' "$bold" "$1" "$plain" "$2"; }

step "1. Decode: nine files, seven formats, one event model" "koban parse $inc"
"$koban" parse -o table "$inc" 2>&1 >/dev/null | sed 's/^/   /'

step "2. Detect: koban's own Sigma rules over every event" "koban scan -o table $inc"
"$koban" scan -o table "$inc"

step "3. Keep: load the events into the store" "koban --data DIR load $inc"
"$koban" --data "$data" load "$inc" 2>&1 | tail -n 1

step "4. Hunt: who talked to the C2 address?" "koban hunt --ask who-talked-to 203.0.113.66"
"$koban" --data "$data" hunt -o table --ask who-talked-to 203.0.113.66

step "5. Hunt: where else was the dropped PowerShell hash seen?" \
    "koban hunt --ask where-hash de96a6e6..."
"$koban" --data "$data" hunt -o table --ask where-hash \
    de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c

step "6. Hunt: what did PC-0042 do after the macro ran?" \
    "koban hunt 'host.name:PC-0042* and @timestamp >= \"2026-11-20T09:03:00Z\" | fields @timestamp, event.action, process.command_line, destination.ip'"
"$koban" --data "$data" hunt -o table \
    'host.name:PC-0042* and @timestamp >= "2026-11-20T09:03:00Z" | fields @timestamp, event.action, process.command_line, destination.ip'
echo
echo "Next: koban help; docs/formats.md, docs/rules.md; make test."
