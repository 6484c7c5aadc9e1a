#!/bin/sh
# Intel scan benchmark (issue 5): what 1,000,000 loaded indicators cost
# `koban scan`, in instructions (valgrind --tool=callgrind), since wall time
# on a shared machine says little.
#
#   sh bench/scan-intel.sh [BUILD_DIR] [MB_PER_FILE]
#
# The corpus is network-heavy on purpose (the worst case: nearly every event
# has addresses, and many have domains, URLs or hashes): Suricata EVE, Zeek
# JSON (conn, dns, http, ssl, files), Squid and web access logs of
# ../shared/data and the demo's Sysmon events, each file replicated to
# MB_PER_FILE (default 1) megabytes. The indicators are 1,000,000 of mixed
# kinds (the distribution of bench/bench_intel.c: IPv4 34%, IPv6 4%, CIDR
# 2%, domains 18%, URLs 10%, MD5 10%, SHA-1 8%, SHA-256 10%, e-mail 2%,
# file names 2%), imported with `koban intel import`; with KOBAN_BENCH_HITS=1
# also the demo's C2 address, domain, URL and hash, so that the replicated
# Sysmon events hit (then the alerts' own cost is part of the figure).
#
# Three runs of `koban scan -j 1 -q -o jsonl` under callgrind, counting only
# the scanning thread (--toggle-collect=worker_main: decoding, rules,
# indicators, alerts; not the start-up, the indicators' loading or the
# output): --no-intel, no indicators in the store, and 1M indicators. The
# loss is (Ir with 1M - Ir with --no-intel) / Ir with 1M.
set -eu
build=${1:-build}
mb=${2:-1}
cd "$(dirname "$0")/.."
koban=$build/koban
shared=../shared/data/logs
command -v valgrind >/dev/null || { echo "valgrind is not installed"; exit 77; }
[ -d "$shared" ] || { echo "no shared logs"; exit 77; }
work=${KOBAN_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work/corpus"

for src in "$shared"/suricata-eve/elastic-eve-6-0.log "$shared"/suricata-eve/crowdsec-evelog.log \
    "$shared"/zeek-json/zeekdocs-conn.json.log "$shared"/zeek-json/zeekdocs-dns.json.log \
    "$shared"/zeek-json/zeekdocs-http.json.log "$shared"/zeek-json/zeekdocs-ssl.json.log \
    "$shared"/zeek-json/elastic-files.json.log "$shared"/zeek-json/zed-wrccdc-dns.json.log \
    "$shared"/squid/elastic-squid-access.log "$shared"/web-access/lnav-access.log \
    "$shared"/web-access/crowdsec-nginx-combined.log demo/incident/endpoint/sysmon.jsonl; do
    dst=$work/corpus/$(basename "$src")
    [ -s "$dst" ] && continue
    python3 - "$src" "$dst" "$mb" <<'PY'
import sys
src, dst, mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(src, "rb").read()
if not data.endswith(b"\n"):
    data += b"\n"
with open(dst, "wb") as out:
    n = 0
    while n < mb * 1e6:
        out.write(data)
        n += len(data)
PY
done

if [ ! -s "$work/iocs/koban.db" ]; then
    mkdir -p "$work/iocs"
    python3 - "$work/iocs.csv" <<'PY'
import random, sys
r = random.Random(20261206)
out = open(sys.argv[1], "w")
out.write("value,threat,confidence\n")
threats = ["c2", "malware-download", "phishing", "scanner"]
hexd = "0123456789abcdef"
def hx(n): return "".join(r.choice(hexd) for _ in range(n))
for i in range(1000000):
    k = r.randrange(100)
    v = r.getrandbits(64)
    if k < 34: s = "%d.%d.%d.%d" % ((v >> 24 & 255) | 1, v >> 16 & 255, v >> 8 & 255, v & 255)
    elif k < 38: s = "2001:db8:%x:%x::%x" % (v >> 48 & 0xffff, v >> 32 & 0xffff, v & 0xffff)
    elif k < 40: s = "%d.%d.%d.0/24" % ((v >> 24 & 255) | 1, v >> 16 & 255, v >> 8 & 255)
    elif k < 58: s = "h%x.example-%d.com" % (v >> 20, v & 1023)
    elif k < 68: s = "http://x%x.example.net/p/%d?q=A" % (v >> 24, v & 0xffff)
    elif k < 78: s = hx(32)
    elif k < 86: s = hx(40)
    elif k < 96: s = hx(64)
    elif k < 98: s = "u%x@mail.example.org" % (v >> 16)
    else: s = "dropper%x.exe" % (v >> 28)
    out.write("%s,%s,%d\n" % (s, threats[i % 4], 50 + i % 50))
# with KOBAN_BENCH_HITS=1, the demo's indicators too: the Sysmon events hit
import os
if os.environ.get("KOBAN_BENCH_HITS") == "1":
  out.write("203.0.113.66,c2,90\nupdate-check.example.net,c2,80\n")
  out.write("http://files.example.org/shared/invoice-2291.docm,malware-download,70\n")
  out.write("de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c,malware-download,60\n")
PY
    /usr/bin/time -f "import: %e s wall, %U+%S s CPU, %M KB peak" \
        "$koban" --data "$work/iocs" intel import --format csv --feed bench "$work/iocs.csv" 2>&1 | tail -2
fi
mkdir -p "$work/empty"

# the mixed corpus: the same plus the Windows events of ../shared/data
# (Sysmon and Security events: fewer addresses, more rule work)
mkdir -p "$work/mixed"
for f in "$work"/corpus/*; do [ -e "$work/mixed/${f##*/}" ] || cp "$f" "$work/mixed/"; done
[ -e "$work/mixed/hayabusa_sample_evtx.jsonl" ] ||
    cp ../shared/data/windows-events/hayabusa_sample_evtx.jsonl "$work/mixed/"

run() { # name corpus data-dir [options]
    name=$1 corpus=$2 data=$3
    shift 3
    valgrind --tool=callgrind --toggle-collect=worker_main --callgrind-out-file="$work/cg.$name" \
        "$koban" --data "$data" scan -j 1 -q -o jsonl "$@" "$corpus" >"$work/out.$name" 2>"$work/err.$name" || true
    ir=$(grep -m1 '^summary:' "$work/cg.$name" | awk '{print $2}')
    echo "$name: $ir instructions in the scanning thread, $(wc -l <"$work/out.$name") alerts"
    eval "ir_$name=$ir"
}
loss() { python3 -c "
a, c = $1, $2
print('%s: 1M indicators vs --no-intel: %+.2f%% instructions (throughput loss %.2f%%)' % ('$3', 100.0 * (c - a) / a, 100.0 * (1 - a / c)))"; }
echo "network corpus: $(cat "$work"/corpus/* | wc -l) lines, $(du -shL "$work/corpus" | cut -f1)"
run nointel "$work/corpus" "$work/iocs" --no-intel
run empty "$work/corpus" "$work/empty"
run iocs "$work/corpus" "$work/iocs"
python3 -c "print('no indicators vs --no-intel: %+.2f%%' % (100.0 * ($ir_empty - $ir_nointel) / $ir_nointel))"
loss "$ir_nointel" "$ir_iocs" network
echo "mixed corpus: $(cat "$work"/mixed/* | wc -l) lines, $(du -shL "$work/mixed" | cut -f1)"
run mixed_nointel "$work/mixed" "$work/iocs" --no-intel
run mixed_iocs "$work/mixed" "$work/iocs"
loss "$ir_mixed_nointel" "$ir_mixed_iocs" mixed
echo "(files in $work; callgrind_annotate $work/cg.iocs for the profile)"
