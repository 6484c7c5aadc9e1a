#!/bin/sh
# `make demo`: the most complete thing koban does today, on the bundled
# incident (demo/README.md tells the story).
set -eu
koban=${1:-build/koban}
cd "$(dirname "$0")/.."
inc=demo/incident
# RFC 3164 syslog lines carry no year; koban takes it from the file's
# modification time, so pin that to the day of the story.
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log

echo "koban demo: decoding the bundled incident ($inc)"
echo
"$koban" parse -o table "$inc"
echo
echo "One event in full, as JSON (koban parse --all -o jsonl):"
"$koban" parse -q --all -o jsonl "$inc"/endpoint/sysmon.jsonl | sed -n 2p
