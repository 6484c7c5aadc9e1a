#!/bin/sh
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from
# its corpus (fuzz/corpus/<name>/) plus a scratch copy of new findings.
# A crash fails the run and leaves the input under fuzz/artifacts/: add it
# to the corpus once fixed, so the normal build replays it for ever.
set -eu
build=${1:-build-fuzz}
seconds=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root/fuzz/artifacts"
status=0
for bin in "$build"/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    corpus="$root/fuzz/corpus/${name#fuzz_}"
    scratch=$(mktemp -d)
    mkdir -p "$corpus"
    printf '%-24s ' "$name"
    if "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
        -artifact_prefix="$root/fuzz/artifacts/$name-" "$scratch" "$corpus" \
        >"$scratch.log" 2>&1; then
        grep -Eo 'cov: [0-9]+' "$scratch.log" | tail -n 1 || echo ok
    else
        echo "FAILED"
        tail -n 40 "$scratch.log"
        status=1
    fi
    rm -rf "$scratch" "$scratch.log"
done
exit $status
