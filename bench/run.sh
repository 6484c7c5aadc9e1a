#!/bin/sh
# `make bench`: runs every benchmark built in BUILD_DIR. Sizes default to the
# figures docs/BENCHMARKS.md quotes; KOBAN_BENCH_MB=100 makes a quick run.
set -eu
build=${1:-build}
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for bin in "$build"/bench_*; do
    [ -x "$bin" ] || continue
    echo "== $(basename "$bin")"
    "$bin"
done
