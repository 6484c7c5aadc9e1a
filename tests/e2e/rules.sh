#!/bin/sh
# End-to-end: `koban rules lint|list|test|install`, and koban's own rules'
# embedded test cases. `install` is tested from a directory, and from .tar.gz
# and .zip archives served by a throw-away HTTP server on 127.0.0.1.
set -u
koban=${1:?usage: rules.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

shared=../shared/data
export KOBAN_DATA="$tmp/data"
unset KOBAN_RULES
srv=
trap '[ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"' EXIT

expect_status 2 "$koban" rules
expect_status 2 "$koban" rules frobnicate
expect_status 2 "$koban" rules lint
expect_status 2 "$koban" rules test
expect_status 2 "$koban" rules install
expect_status 2 "$koban" rules list -o bogus

# --- koban's own rules: all load, all carry passing tests ---------------------
"$koban" rules lint rules >"$tmp/lint.out" 2>"$tmp/lint.err" || fail "lint rules/: $(cat "$tmp/lint.out")"
grep -q '^17 rules and 7 correlation rules load, 0 failed$' "$tmp/lint.err" || fail "lint count: $(cat "$tmp/lint.err")"
"$koban" rules test rules >"$tmp/test.out" || fail "rules test rules/: $(grep -v '^ok' "$tmp/test.out")"
tail -1 "$tmp/test.out" | grep -q '^24 rules, 24 with tests, [0-9]* cases, 0 failed, 0 without tests$' ||
    fail "rules test summary: $(tail -1 "$tmp/test.out")"
python3 - rules <<'PY' || fail "rule metadata"
import os, sys, re
ids = set()
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        if not f.endswith(".yml"):
            continue
        t = open(os.path.join(root, f)).read()
        assert "\nauthor: koban authors\n" in t, f
        m = re.search(r"\nid: ([0-9a-f-]{36})\n", t)
        assert m and m.group(1) not in ids, f
        ids.add(m.group(1))
        for k in ("\ntags:\n", "\nfalsepositives:\n", "\nlevel: ", "\ntests:\n", "attack.t"):
            assert k in t, (f, k)
assert len(ids) == 23, len(ids)  # 17 rules + 6 correlation rules
PY

# --- lint and test catch mistakes ---------------------------------------------
mkdir -p "$tmp/mine"
cat >"$tmp/mine/wrong-test.yml" <<'EOF'
title: Mimikatz on the command line
id: 0b7e2a51-9a43-4d1a-b8a4-2b2d4c1e7f01
author: test
level: high
logsource:
    product: windows
    category: process_creation
detection:
    selection:
        CommandLine|contains: 'sekurlsa::'
    condition: selection
tests:
    match:
        - {CommandLine: 'mimikatz.exe "sekurlsa::logonpasswords" exit'}
        - {CommandLine: 'mimikatz.exe "lsadump::sam" exit'}
    nomatch:
        - {CommandLine: 'notepad.exe'}
        - {CommandLine: 'x.exe sekurlsa::pth'}
EOF
cat >"$tmp/mine/bad.yaml" <<'EOF'
title: Bad condition
logsource:
    product: windows
detection:
    selection:
        Image: x
    condition: selection and
tests:
    match:
        - {Image: x}
EOF
"$koban" rules test "$tmp/mine" >"$tmp/mine.out"
[ $? -eq 1 ] || fail "rules test with failures must exit 1"
grep -q "^FAIL $tmp/mine/wrong-test.yml:15: Mimikatz on the command line: match\[1\] did not fire the rule$" "$tmp/mine.out" ||
    fail "match failure report: $(cat "$tmp/mine.out")"
grep -q "^FAIL $tmp/mine/wrong-test.yml:18: Mimikatz on the command line: nomatch\[1\] fired the rule$" "$tmp/mine.out" ||
    fail "nomatch failure report"
grep -q "^$tmp/mine/bad.yaml:7: " "$tmp/mine.out" || fail "broken rule reported by test"
grep -q "^FAIL $tmp/mine/bad.yaml:1: the rule did not load" "$tmp/mine.out" || fail "broken rule's tests"
tail -1 "$tmp/mine.out" | grep -q '^2 rules, 1 with tests, 4 cases, 4 failed, 0 without tests$' ||
    fail "test summary: $(tail -1 "$tmp/mine.out")"
"$koban" rules lint "$tmp/mine" >"$tmp/lint2.out" 2>&1
[ $? -eq 1 ] || fail "lint of a broken rule must exit 1"
grep -q "^$tmp/mine/bad.yaml:7: " "$tmp/lint2.out" || fail "lint report: $(cat "$tmp/lint2.out")"
expect_status 1 "$koban" rules lint "$tmp/nonexistent"

# --- correlation rules: lint, test, list ----------------------------------------
# Shipped correlation rules alone: their references are found in the default rules.
"$koban" rules test rules/correlation >"$tmp/ctest.out" || fail "rules test rules/correlation: $(grep -v '^ok' "$tmp/ctest.out")"
grep -q '^ok   rules/correlation/c2_beaconing.yml: Possible C2 Beaconing (correlation, 1 match, 2 nomatch)$' "$tmp/ctest.out" ||
    fail "correlation test line: $(cat "$tmp/ctest.out")"
tail -1 "$tmp/ctest.out" | grep -q '^7 rules, 7 with tests, [0-9]* cases, 0 failed, 0 without tests$' ||
    fail "correlation test summary: $(tail -1 "$tmp/ctest.out")"
"$koban" rules lint rules/correlation >/dev/null 2>"$tmp/clint.err" || fail "lint rules/correlation"
grep -q '^0 rules and 7 correlation rules load, 0 failed$' "$tmp/clint.err" || fail "lint correlation count: $(cat "$tmp/clint.err")"
# Without the default rules they reference nothing known: each is refused with the reason.
"$koban" rules lint --no-default-rules rules/correlation >"$tmp/clint2.out" 2>&1
[ $? -eq 1 ] || fail "lint of correlation rules without their inputs must exit 1"
grep -q "^rules/correlation/c2_beaconing.yml:24: unknown rule 'outbound_public_connection' in rules" "$tmp/clint2.out" ||
    fail "unknown rule reason: $(cat "$tmp/clint2.out")"
mkdir -p "$tmp/corr"
cat >"$tmp/corr/mine.yml" <<'EOF'
title: Many Failed SSH Logins for One Account
id: 5b0f3c2e-7d41-4a8e-9c6b-1e2d3f4a5b60
name: ssh_failures_per_user
author: test
level: medium
correlation:
    type: event_count
    rules: [91149f46-c329-45be-9df6-9bfe2e5e0ef8]
    group-by: [user.name]
    timespan: 10m
    condition: {gte: 3}
tests:
    match:
        - - {rule: 91149f46-c329-45be-9df6-9bfe2e5e0ef8, at: 0, repeat: 3, every: 10, user.name: root}
    nomatch:
        - - {rule: 91149f46-c329-45be-9df6-9bfe2e5e0ef8, at: 0, repeat: 2, every: 10, user.name: root}
        # wrong on purpose: three failures do fire it
        - - {rule: 91149f46-c329-45be-9df6-9bfe2e5e0ef8, at: 0, repeat: 3, every: 1, user.name: admin}
---
title: Unknown Rule
id: 5b0f3c2e-7d41-4a8e-9c6b-1e2d3f4a5b61
author: test
correlation:
    type: event_count
    rules: [no_such_rule]
    timespan: 10m
    condition: {gte: 3}
tests:
    match:
        - - {rule: 91149f46-c329-45be-9df6-9bfe2e5e0ef8, at: 0}
---
title: Unknown Field of a Correlation
id: 5b0f3c2e-7d41-4a8e-9c6b-1e2d3f4a5b62
author: test
correlation:
    type: event_count
    rules: [ssh_failures_per_user]
    group-by: [source.ip]
    timespan: 1h
    condition: {gte: 2}
---
title: Unknown Alert Rule in a Test
id: 5b0f3c2e-7d41-4a8e-9c6b-1e2d3f4a5b63
author: test
correlation:
    type: event_count
    rules: [91149f46-c329-45be-9df6-9bfe2e5e0ef8]
    timespan: 1h
    condition: {gte: 2}
tests:
    match:
        - - {rule: not_loaded_anywhere, at: 0}
EOF
"$koban" rules lint "$tmp/corr" >"$tmp/clint3.out" 2>&1
[ $? -eq 1 ] || fail "lint of bad correlation rules must exit 1"
grep -q "^$tmp/corr/mine.yml:25: unknown rule 'no_such_rule' in rules" "$tmp/clint3.out" || fail "lint unknown rule: $(cat "$tmp/clint3.out")"
grep -q "^$tmp/corr/mine.yml:.*: unknown field 'source.ip' for correlation 'ssh_failures_per_user'" "$tmp/clint3.out" ||
    fail "lint unknown field: $(cat "$tmp/clint3.out")"
grep -q '^0 rules and 2 correlation rules load, 2 failed$' "$tmp/clint3.out" || fail "lint count: $(cat "$tmp/clint3.out")"
# A field the input rule's alerts may not carry: a warning, not a failure.
mkdir -p "$tmp/corrw"
printf 'title: Failures per Account\nauthor: test\ncorrelation:\n    type: event_count\n    rules: [91149f46-c329-45be-9df6-9bfe2e5e0ef8]\n    group-by: [TargetUserName]\n    timespan: 10m\n    condition: {gte: 3}\n' >"$tmp/corrw/w.yml"
"$koban" rules lint "$tmp/corrw" >"$tmp/clintw.out" 2>&1 || fail "lint warnings must not fail"
grep -q "^$tmp/corrw/w.yml:6: warning: group-by field 'TargetUserName' is neither a canonical field nor one rule '91149f46-c329-45be-9df6-9bfe2e5e0ef8' matches on" "$tmp/clintw.out" ||
    fail "lint field warning: $(cat "$tmp/clintw.out")"
grep -q '^0 rules and 1 correlation rules load, 0 failed, 1 warnings$' "$tmp/clintw.out" || fail "lint warning count: $(cat "$tmp/clintw.out")"
"$koban" rules test "$tmp/corr" >"$tmp/ctest2.out"
[ $? -eq 1 ] || fail "rules test with failing correlation cases must exit 1"
grep -q "^FAIL $tmp/corr/mine.yml:.*: Many Failed SSH Logins for One Account: nomatch\[1\] fired the correlation (1 alerts)$" "$tmp/ctest2.out" ||
    fail "correlation nomatch report: $(cat "$tmp/ctest2.out")"
grep -q "^FAIL $tmp/corr/mine.yml:20: the correlation rule did not load" "$tmp/ctest2.out" || fail "refused correlation's tests"
grep -q "^FAIL $tmp/corr/mine.yml:.*: Unknown Alert Rule in a Test: match\[0\]: alert 0 names rule 'not_loaded_anywhere', which is not loaded$" "$tmp/ctest2.out" ||
    fail "unknown alert rule in a case: $(cat "$tmp/ctest2.out")"
tail -1 "$tmp/ctest2.out" | grep -q '^4 rules, 2 with tests, 4 cases, 5 failed, 1 without tests$' ||
    fail "correlation test summary: $(tail -1 "$tmp/ctest2.out")"
"$koban" rules list --rules "$tmp/corr" -o jsonl 2>"$tmp/clist.err" >"$tmp/clist.jsonl"
[ $? -eq 1 ] || fail "list with refused correlation rules must exit 1"
grep -q '"title":"Many Failed SSH Logins for One Account",.*"type":"correlation","correlation":{"type":"event_count"' "$tmp/clist.jsonl" ||
    fail "list shows the loaded correlation rule"
grep -q 'Unknown Rule' "$tmp/clist.jsonl" && fail "list shows a refused correlation rule"
grep -q "unknown rule 'no_such_rule'" "$tmp/clist.err" || fail "list reports the refused rule"

# --- list ---------------------------------------------------------------------
"$koban" rules list -o jsonl >"$tmp/list.jsonl" 2>/dev/null || fail "list exit"
python3 - "$tmp/list.jsonl" <<'PY' || fail "list jsonl"
import json, sys
rules = [json.loads(l) for l in open(sys.argv[1])]
assert len(rules) == 24, len(rules)
assert sum(1 for x in rules if x["type"] == "correlation") == 7, rules
c = [x for x in rules if x["id"] == "6d4a1f8c-3e2b-4a7d-b9c1-0e5f2a8d7c13"][0]
assert c["title"] == "Lateral Movement over SMB, RDP or WinRM" and c["level"] == "high", c
assert c["name"] == "lateral_movement_admin_services" and c["path"].endswith("rules/correlation/lateral_movement_admin_services.yml"), c
assert c["correlation"] == {"type": "value_count", "rules": ["internal_admin_service_connection"],
                            "group-by": ["source.ip"], "timespan_s": 1800, "field": "destination.ip",
                            "generate": False}, c
r = [x for x in rules if x["id"] == "21f1e1d3-8293-4d01-b570-1bb81837de16"][0]
assert r["title"] == "Sudo Command Reads the Shadow Password File" and r["level"] == "high", r
assert r["status"] == "experimental" and r["logsource"] == {"product": "linux", "category": None, "service": "sudo"}, r
assert r["path"].endswith("rules/linux/sudo_shadow_read.yml") and r["author"] == "koban authors", r
PY
"$koban" rules list --no-default-rules --rules "$tmp/mine/wrong-test.yml" -o csv >"$tmp/list.csv" 2>/dev/null ||
    fail "list csv exit"
[ "$(sed -n 1p "$tmp/list.csv")" = "ID,TITLE,LEVEL,STATUS,LOGSOURCE,PATH" ] || fail "list csv header"
grep -q "^0b7e2a51-9a43-4d1a-b8a4-2b2d4c1e7f01,Mimikatz on the command line,high,,windows/process_creation/,$tmp/mine/wrong-test.yml$" \
    "$tmp/list.csv" || fail "list csv row: $(sed -n 2p "$tmp/list.csv")"
"$koban" rules list --rules "$tmp/mine" -o table >/dev/null 2>&1
[ $? -eq 1 ] || fail "list with a broken rule must exit 1"

# --- install ------------------------------------------------------------------
if [ ! -d "$shared/sigma/rules" ]; then
    echo "skipping install tests: $shared/sigma/rules not found"
    finish
    exit 0
fi
set_dir="$tmp/src/sigma-subset"
mkdir -p "$set_dir/windows" "$set_dir/linux"
cp "$shared/sigma/rules/windows/builtin/security/win_security_susp_eventlog_cleared.yml" "$set_dir/windows/" 2>/dev/null ||
    cp "$(find "$shared/sigma/rules/windows" -name '*.yml' | sort | head -1)" "$set_dir/windows/"
find "$shared/sigma/rules/windows/process_creation" -name 'proc_creation_win_powershell_*.yml' | sort | head -5 |
    while read -r f; do cp "$f" "$set_dir/windows/"; done
find "$shared/sigma/rules/linux" -name '*.yml' | sort | head -3 | while read -r f; do cp "$f" "$set_dir/linux/"; done
cp "$shared/sigma/LICENSE.DRL-1.1.md" "$set_dir/LICENSE.DRL-1.1.md" 2>/dev/null
nset=$(find "$set_dir" -name '*.yml' | wc -l)
[ "$nset" -ge 5 ] || fail "could not build the test rule set ($nset files)"

# From a directory.
"$koban" rules install "$set_dir" >"$tmp/inst.out" 2>&1 || fail "install dir: $(cat "$tmp/inst.out")"
grep -q "^installed $nset rules ($nset files, 0 failed to load) into $KOBAN_DATA/rules/sigma-subset$" "$tmp/inst.out" ||
    fail "install dir output: $(cat "$tmp/inst.out")"
[ "$(find "$KOBAN_DATA/rules/sigma-subset" -name '*.yml' | wc -l)" -eq "$nset" ] || fail "installed files"
"$koban" rules list -o jsonl 2>/dev/null | wc -l | grep -qx $((24 + nset)) ||
    fail "installed rules are not among the defaults"

# Archives over HTTP.
mkdir -p "$tmp/www"
(cd "$tmp/src" && tar -czf "$tmp/www/sigma-r1.tar.gz" sigma-subset)
python3 -c "
import zipfile, os, sys
z = zipfile.ZipFile('$tmp/www/sigma-r2.zip', 'w')
for root, _, files in os.walk('$set_dir'):
    for f in files:
        p = os.path.join(root, f)
        z.write(p, os.path.relpath(p, '$tmp/src'))
z.close()
"
printf 'not an archive\n' >"$tmp/www/junk.tar.gz"
python3 - "$tmp/www" >"$tmp/port" 2>/dev/null <<'PY' &
import http.server, os, sys, threading
os.chdir(sys.argv[1])
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Timer(120, lambda: os._exit(0)).start()  # never outlive the test
print(s.server_address[1], flush=True)
s.serve_forever()
PY
srv=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$tmp/port")
url="http://127.0.0.1:$port"
if [ -z "$port" ]; then
    fail "the HTTP server did not start"
else
    "$koban" rules install "$url/sigma-r1.tar.gz" >"$tmp/tgz.out" 2>&1 || fail "install tar.gz: $(cat "$tmp/tgz.out")"
    grep -q "into $KOBAN_DATA/rules/sigma-r1$" "$tmp/tgz.out" || fail "tar.gz name: $(cat "$tmp/tgz.out")"
    [ "$(find "$KOBAN_DATA/rules/sigma-r1" -name '*.yml' | wc -l)" -eq "$nset" ] || fail "tar.gz files"
    [ -f "$KOBAN_DATA/rules/sigma-r1/sigma-subset/LICENSE.DRL-1.1.md" ] || fail "licence kept"
    if command -v unzip >/dev/null; then
        "$koban" rules install --name sigma-zip "$url/sigma-r2.zip" >"$tmp/zip.out" 2>&1 ||
            fail "install zip: $(cat "$tmp/zip.out")"
        [ "$(find "$KOBAN_DATA/rules/sigma-zip" -name '*.yml' | wc -l)" -eq "$nset" ] || fail "zip files"
    fi
    # Replacing an installed set: the new content, nothing of the old left.
    rm "$set_dir/linux/"*.yml
    (cd "$tmp/src" && tar -czf "$tmp/www/sigma-r1.tar.gz" sigma-subset)
    "$koban" rules install "$url/sigma-r1.tar.gz" >/dev/null 2>&1 || fail "reinstall"
    [ "$(find "$KOBAN_DATA/rules/sigma-r1" -name '*.yml' | wc -l)" -eq $((nset - 3)) ] || fail "reinstall content"
    # Failures leave what was installed alone and no temporary directory.
    "$koban" rules install --name sigma-r1 "$url/junk.tar.gz" >"$tmp/junk.out" 2>&1
    [ $? -eq 1 ] || fail "junk archive must exit 1"
    grep -q 'not a directory, a .tar.gz or a .zip archive' "$tmp/junk.out" || fail "junk reason: $(cat "$tmp/junk.out")"
    "$koban" rules install "$url/missing.tar.gz" >"$tmp/404.out" 2>&1
    [ $? -eq 1 ] || fail "404 must exit 1"
    grep -q 'missing.tar.gz: ' "$tmp/404.out" || fail "404 reason"
    [ "$(find "$KOBAN_DATA/rules/sigma-r1" -name '*.yml' | wc -l)" -eq $((nset - 3)) ] || fail "a failed install changed the set"
    ls -a "$KOBAN_DATA/rules" | grep -q '^\.tmp' && fail "temporary directory left behind"
fi
expect_status 2 "$koban" rules install --name ../evil "$set_dir"
# A rule set none of whose rules loads is refused.
mkdir -p "$tmp/allbad"
cp "$tmp/mine/bad.yaml" "$tmp/allbad/"
expect_status 1 "$koban" rules install "$tmp/allbad"
[ -e "$KOBAN_DATA/rules/allbad" ] && fail "a set with no loadable rule was installed"

# The installed sets join koban's own rules in `koban scan`.
touch -d '2026-11-20 12:00:00 UTC' demo/incident/linux/auth.log demo/incident/firewall/*.log
"$koban" scan -o jsonl demo/incident >/dev/null 2>"$tmp/scan.err" || fail "scan with installed sets: $(tail -3 "$tmp/scan.err")"
grep -q "^rules: $((17 + nset + nset + nset - 3)) loaded, 0 failed" "$tmp/scan.err" ||
    fail "scan rules: $(grep '^rules' "$tmp/scan.err")"

finish
