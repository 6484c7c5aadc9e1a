#!/bin/sh
# Builds and tests exactly what is staged in git (the index), in a scratch
# copy beside the repository (or in $SNAP), so a commit is checked without the rest of the
# working tree. Usage: scripts/snapshot-test.sh [ctest args...]
set -eu
top=$(git rev-parse --show-toplevel)
snap=${SNAP:-"$(dirname "$top")/snapshot-$(basename "$top")"}
rm -rf "$snap"
mkdir -p "$snap"
git -C "$top" checkout-index -a --prefix="$snap/"
cd "$snap"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" 2>&1 | grep -E 'error|warning' && exit 1
cd build && ctest -j "$(nproc)" --output-on-failure "$@"
