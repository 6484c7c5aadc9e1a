#!/bin/sh
# End-to-end: `koban assets`, `vulns`, `triage` and `incidents` on the shared
# inventory and scanner samples, then on the bundled incident with a small
# inventory of the demo company (Example Corp) written here.
set -u
koban=${1:?usage: triage.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

inc=demo/incident
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log
shared=../shared/data
k() { "$koban" --data "$tmp/data" "$@"; }

# --- the command line --------------------------------------------------------
"$koban" help | grep -q '^  triage ' || fail "help lists triage"
"$koban" triage --help | grep -q -- '--alerts' || fail "triage --help"
expect_status 2 k assets
expect_status 2 k assets frobnicate
expect_status 2 k assets import
expect_status 2 k vulns list -o bogus
expect_status 2 k triage --since yesterdayish
expect_status 2 k triage explain
expect_status 2 k triage policy check
expect_status 1 k incidents show 424242

# --- the shared samples: exact counts, every bad row with its reason -------
if [ -d "$shared/assets" ]; then
    a=$shared/assets/assets
    k assets import "$a/netbox-demo-hosts.csv" >"$tmp/o" 2>"$tmp/e"
    [ $? -eq 1 ] || fail "netbox import: exit status (bad rows: 1)"
    grep -q 'netbox-demo-hosts.csv: 230 assets imported, 22 bad rows$' "$tmp/e" ||
        fail "netbox counts: $(grep imported "$tmp/e")"
    grep -q '^inventory: 228 assets$' "$tmp/e" || fail "netbox: 228 distinct names (PP:MDF thrice)"
    [ "$(grep -c ': missing host name$' "$tmp/e")" -eq 22 ] || fail "netbox: 22 rows without a name"
    grep -q 'netbox-demo-hosts.csv:41: missing host name$' "$tmp/e" || fail "netbox: line 41 named"
    k assets import "$a/netbox-demo-ipaddresses.csv" 2>"$tmp/e"
    grep -q 'netbox-demo-ipaddresses.csv:1: no host name column (name, host, hostname)' "$tmp/e" ||
        fail "addresses without names: $(cat "$tmp/e")"
    k assets show dmi01-akron-rtr01 -o jsonl >"$tmp/o" || fail "assets show"
    grep -q '"type":"router".*"location":"DM-Akron"' "$tmp/o" || fail "akron router: $(cat "$tmp/o")"
    [ "$(k assets list -o jsonl | wc -l)" -eq 228 ] || fail "assets list jsonl"
    [ "$(k assets list -o csv | head -1)" = "name,type,crit,owner,location,addresses" ] ||
        fail "assets list csv header"
fi
if [ -d "$shared/vulns" ]; then
    v=$shared/vulns
    vi() { k vulns import "$1" 2>&1 | grep "^$1: "; }
    vi "$v/nessus/defectdojo-nessus_v_unknown.nessus" | grep -q ': 30 findings on 7 hosts, 266 skipped .*, 0 bad$' ||
        fail "nessus v_unknown: $(vi "$v/nessus/defectdojo-nessus_v_unknown.nessus")"
    vi "$v/nessus/defectdojo-nessus_many_vuln.nessus" | grep -q ': 0 findings on 1 hosts, 7 skipped' ||
        fail "nessus many_vuln: only informational findings"
    # scores in tenths ("75") and a v3 column before v2
    vi "$v/nessus/defectdojo-nessus-template.csv" | grep -q ': 5 findings on 2 hosts, 0 skipped .*, 0 bad$' ||
        fail "nessus template csv"
    k vulns show 192.168.0.101 -o jsonl | grep -q '"cve":"CVE-2024-4577".*"cvss":9.8' ||
        fail "CVE-2024-4577 on 192.168.0.101 with CVSS 9.8 (v3 '98')"
    # rows of empty fields are no rows
    vi "$v/nessus/defectdojo-nessus_many_vuln-sc.csv" | grep -q ': 5 findings on 2 hosts, 0 skipped .*, 0 bad$' ||
        fail "tenable sc csv"
    vi "$v/nessus/defectdojo-tenableio-vulns.csv" | grep -q ': 150 findings on 99 hosts, 0 skipped .*, 0 bad$' ||
        fail "tenable.io csv (semicolons, one finding per CVE)"
    k vulns show blah1 -o jsonl | grep -q '"scanned":"2023-07-1' || fail "tenable.io last_seen is the scan time"
    vi "$v/openvas/defectdojo-one_vuln.xml" | grep -q ': 12 findings on 1 hosts' || fail "openvas one_vuln"
    vi "$v/openvas/defectdojo-many_vuln.xml" | grep -q ': 76 findings on 1 hosts' || fail "openvas many_vuln"
    vi "$v/openvas/defectdojo-report_using_openVAS.csv" | grep -q ': 1 findings on 1 hosts, 12 skipped' ||
        fail "openvas csv: Log findings skipped"
fi
cat >"$tmp/xxe.xml" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<report><results>&x;</results></report>
EOF
k vulns import "$tmp/xxe.xml" 2>"$tmp/e"
grep -q 'xxe.xml:.*entity declarations are refused' "$tmp/e" || fail "XXE: $(cat "$tmp/e")"
printf 'host,cve,cvss,name,port\nsrv-9,CVE-2020-1472,10.0,Zerologon,445/tcp\nsrv-9,CVE-2020-0001,x,bad,1\n,CVE-2020-0002,5.0,no host,1\nsrv-9,CVE-2020-0003,12.5,too high,1\n' >"$tmp/bad.csv"
k vulns import "$tmp/bad.csv" 2>"$tmp/e"
grep -q "bad.csv:3: bad CVSS score 'x'" "$tmp/e" || fail "bad cvss: $(cat "$tmp/e")"
grep -q "bad.csv:4: missing host" "$tmp/e" || fail "missing host"
grep -q "bad.csv:5: CVSS score out of 0-10" "$tmp/e" || fail "cvss range"
grep -q "bad.csv: 1 findings on 1 hosts, 0 skipped .*, 3 bad" "$tmp/e" || fail "bad.csv counts"

# --- the demo company --------------------------------------------------------
rm -rf "$tmp/data"
k assets import demo/company/assets.csv 2>"$tmp/e" || fail "demo assets: $(cat "$tmp/e")"
k vulns import demo/company/vulns.csv 2>"$tmp/e" || fail "demo vulns: $(cat "$tmp/e")"
k assets show 10.1.20.42 -o jsonl | grep -q '"name":"pc-0042","type":"user-pc","owner":"alice"' ||
    fail "PC-0042 by address"
k assets show fs-01.corp.example.com -o jsonl | grep -q '"tags":"personal-data"' ||
    fail "FS-01 by its fully-qualified name, tag normalised"
"$koban" scan --no-correlation -o jsonl "$inc" >"$tmp/alerts.jsonl" 2>"$tmp/scan.err" || fail "scan: $(cat "$tmp/scan.err")"
[ "$(wc -l <"$tmp/alerts.jsonl")" -eq 21 ] || fail "scan: $(wc -l <"$tmp/alerts.jsonl") alerts, expected 21"
k triage --alerts "$tmp/alerts.jsonl" >"$tmp/tri.out" 2>"$tmp/tri.err" || fail "triage: $(cat "$tmp/tri.err")"
grep -q '^triage: 21 alerts -> 4 incidents (critical 0, high 2, medium 1, low 1; 3 to notify)' "$tmp/tri.err" ||
    fail "triage summary: $(cat "$tmp/tri.err")"
k incidents list -o jsonl >"$tmp/inc.jsonl" || fail "incidents list"
python3 - "$tmp/inc.jsonl" <<'PY' || fail "demo incidents"
import json, sys
incs = [json.loads(l) for l in open(sys.argv[1])]
by = {i["incident"]["type"]: i for i in incs}
assert sorted(by) == ["brute-force", "exploit-public-server", "scan", "targeted-attack"], sorted(by)
x = by["exploit-public-server"]["incident"]
assert x["entity"] == "host:www" and x["severity"] == "high" and x["notify"], x
assert x["alerts"] == 4 and x["hosts"] == ["www"], x   # IDS, firewall CEF and both web requests
assert x["vulns"] == [{"cve": "CVE-2021-44228", "host": "www", "status": "vulnerable", "cvss": 10.0,
                       "scanned": "2026-11-01T00:00:00.000000000Z"}], x["vulns"]
assert "192.0.2.200" in x["external"]
assert any("vulnerable" in e and "medium -> high" in e for e in x["explain"]), x["explain"]
assert x["actions"] == ["scope", "containment", "compromise-investigation"]
b = by["brute-force"]["incident"]
assert b["entity"] == "host:bastion-1" and b["severity"] == "medium", b
assert b["rules"][0]["name"] == "SSH Failed Login" and b["rules"][0]["count"] == 7, b["rules"]
assert "198.51.100.23" in b["external"] and "deploy" in b["users"], b
t = by["targeted-attack"]["incident"]
assert t["entity"] == "host:pc-0042" and t["severity"] == "high" and t["alerts"] == 6, t
assert t["assets"][0]["owner"] == "alice" and t["assets"][0]["type"] == "user-pc"
assert "203.0.113.66" in t["external"], t
assert any("confirmed by c2 lateral-movement" in e for e in t["explain"]), t["explain"]
s = by["scan"]["incident"]
assert s["entity"] == "source:192.0.2.200" and s["severity"] == "low" and not s["notify"], s
assert s["alerts"] == 3 and s["actions"] == ["scope"], s
PY
# explain: every input and the policy lines
id=$(k incidents list -o csv | awk -F, '$5 == "exploit-public-server" {print $1}')
k triage explain "$id" >"$tmp/x" || fail "explain $id"
for want in 'why high' 'input: type exploit-public-server (an incident alone), base medium (.*criteria.yaml:[0-9]*)' \
    'input: 4 alerts from 3 rules, highest level high' 'input: asset www: public-server, criticality 3' \
    'input: CVE-2021-44228 on www: vulnerable (CVSS 10.0, scan 2026-11-01)' 'input: spread 1 hosts \[www\]' \
    'criteria.yaml:[0-9]*: type in \[exploit-public-server\] and system_type in \[public-server\] and vuln in \[vulnerable\] -> raise 1' \
    'result: high; marked for notification'; do
    grep -q "$want" "$tmp/x" || fail "explain lacks '$want'"
done
k incidents show "$id" -o table | grep -q '^  actions  *containment' || fail "incidents show table"
[ "$(k incidents list -o csv --severity high | wc -l)" -eq 3 ] || fail "list --severity high"
# again: the same incidents are updated, not doubled, and keep their ids
k triage --alerts "$tmp/alerts.jsonl" -q >/dev/null 2>&1
[ "$(k incidents list -o csv | wc -l)" -eq 5 ] || fail "re-triage doubled the incidents"
[ "$(k incidents list -o csv | awk -F, '$5 == "exploit-public-server" {print $1}')" = "$id" ] ||
    fail "re-triage changed the incident's id"
# patched: the same attempt against a scanned host without the CVE is low
printf 'host,ip,cve,cvss,name,port,timestamp\nwww,10.1.0.80,CVE-2023-48795,5.9,SSH Terrapin,22/tcp,2026-11-10T00:00:00Z\n' >"$tmp/patched.csv"
k vulns import "$tmp/patched.csv" 2>/dev/null
k triage --alerts "$tmp/alerts.jsonl" --no-save 2>/dev/null | grep -q '^0  *low  *-  .*Exploit against a public server on www$' ||
    fail "patched host: exploit attempt low"

# --- criteria: a broken file is refused whole, naming its line -----------------
sed 's/^notify: medium/notify: high/' config/criteria.yaml >"$tmp/high.yaml"
k triage policy install "$tmp/high.yaml" >/dev/null || fail "install a valid policy"
sed 's/^    base: medium$/    base: mediun/' config/criteria.yaml >"$tmp/broken.yaml"
line=$(grep -n 'base: mediun' "$tmp/broken.yaml" | head -1 | cut -d: -f1)
k triage policy install "$tmp/broken.yaml" 2>"$tmp/e"
[ $? -eq 1 ] || fail "broken policy: exit status"
grep -q "broken.yaml:$line: base: 'mediun' is not low, medium, high or critical" "$tmp/e" ||
    fail "broken policy message: $(cat "$tmp/e")"
grep -q 'refused; the policy in force is unchanged' "$tmp/e" || fail "refusal said"
cmp -s "$tmp/high.yaml" "$tmp/data/criteria.yaml" || fail "the installed policy changed"
k triage --alerts "$tmp/alerts.jsonl" --no-save 2>"$tmp/e" >/dev/null
grep -q "; 1 to notify)" "$tmp/e" || fail "the installed policy (notify: high; www now patched) is in force: $(cat "$tmp/e")"
expect_status 2 k triage --alerts "$tmp/alerts.jsonl" --criteria "$tmp/broken.yaml"
printf 'version: 1\nwindow: [1h\n' >"$tmp/yaml.yaml"
k triage policy check "$tmp/yaml.yaml" 2>&1 | grep -q 'yaml.yaml:3: ' || fail "YAML syntax error line"

# --- bad alert lines ----------------------------------------------------------
{ head -2 "$tmp/alerts.jsonl"; echo 'not json'; echo '{"rule.name":"x"}'; } >"$tmp/some.jsonl"
k triage --alerts "$tmp/some.jsonl" --no-save >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] || fail "bad alert lines: exit status"
grep -q 'some.jsonl:3: ' "$tmp/e" && grep -q 'some.jsonl:4: alert without a valid @timestamp' "$tmp/e" ||
    fail "bad alert lines: $(cat "$tmp/e")"
finish
