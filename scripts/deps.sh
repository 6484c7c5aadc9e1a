#!/bin/sh
# Installs the Debian packages koban needs to build, test and benchmark.
# Idempotent: silent and quick when everything is already present.
set -eu

PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev
libyaml-dev libpcre2-dev libhyperscan-dev libsqlite3-dev libpq-dev
libmicrohttpd-dev libcurl4-openssl-dev libxml2-dev libcmocka-dev
zlib1g-dev libzstd-dev libjansson-dev libjson-c-dev libsimdjson-dev
postgresql nftables iproute2 python3 sqlite3 zstd openssl"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# An update only when the lists are older than a day or absent.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n 1)" ]; then
    $SUDO apt-get update -qq >&2
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
