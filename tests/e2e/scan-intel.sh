#!/bin/sh
# End-to-end: indicator matching during `koban scan` (issue 5) and
# `koban scan --triage` (issue 6) on the bundled incident, with a small feed
# written here: every kind of hit with its field, level and threat.* keys,
# the allowlist, --no-intel, -j N giving the same output, alerts stored,
# and the demo's incidents with their severities.
set -u
koban=${1:?usage: scan-intel.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

inc=demo/incident
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log
d="$tmp/data"
k() { "$koban" --data "$d" "$@"; }

# --- the command line ----------------------------------------------------------
k scan --help | grep -q -- '--no-intel' || fail "scan --help names --no-intel"
k scan --help | grep -q -- '--triage' || fail "scan --help names --triage"
expect_status 2 k scan --triage -o csv "$inc"
expect_status 2 k scan --criteria x.yaml "$inc"

# --- no store, no indicators: scan as before -----------------------------------
k scan --no-correlation -o jsonl "$inc" >"$tmp/plain.jsonl" 2>"$tmp/plain.err" ||
    fail "scan without a store: $(cat "$tmp/plain.err")"
[ "$(wc -l <"$tmp/plain.jsonl")" -eq 21 ] || fail "21 rule alerts without indicators"
grep -q '^intel:' "$tmp/plain.err" && fail "no intel line without indicators"
[ -e "$d/koban.db" ] && fail "scan created a store it was not asked for"
# a $KOBAN_STORE that cannot be opened: the scan goes on without indicators
expect_status 0 env KOBAN_STORE=/nonexistent/dir/x.db "$koban" --data "$tmp/none" scan -q --no-correlation "$inc"

# --- a scan without --store reads a store, never writes it -------------------
# a store without intel tables (only `koban load` wrote it): no indicators,
# no tables created, the file unchanged
ro="$tmp/ro"
"$koban" --data "$ro" load "$inc/linux" >/dev/null 2>&1 || fail "load for the read-only check"
before=$(cksum <"$ro/koban.db")
"$koban" --data "$ro" scan -q --no-correlation "$inc" >/dev/null 2>"$tmp/ro.err" ||
    fail "scan over a store without intel tables: $(cat "$tmp/ro.err")"
[ "$(cksum <"$ro/koban.db")" = "$before" ] || fail "a plain scan modified DATA/koban.db"
python3 - "$ro/koban.db" <<'PY' || fail "a plain scan created intel or tune tables"
import sqlite3, sys
names = [r[0] for r in sqlite3.connect(sys.argv[1]).execute("SELECT name FROM sqlite_master")]
assert not [n for n in names if n.startswith(("intel_", "tune_"))], names
PY
# the same through $KOBAN_STORE
env KOBAN_STORE="$ro/koban.db" "$koban" --data "$tmp/none" scan -q --no-correlation "$inc" \
    >/dev/null 2>&1 || fail "scan with KOBAN_STORE"
[ "$(cksum <"$ro/koban.db")" = "$before" ] || fail "a plain scan modified \$KOBAN_STORE"

# --- a feed ------------------------------------------------------------------------
cat >"$tmp/feed.csv" <<'EOF'
value,threat,confidence
203.0.113.66,c2,90
update-check.example.net,c2,80
http://FILES.example.org:80/shared/invoice-2291.docm,malware-download,70
DE96A6E69944335375DC1AC238336066889D9FFC7D73628EF4FE1B1B160AB32C,malware-download,60
10.1.0.53,scanner,40
192.0.2.0/24,scanner,55
EOF
k intel import --feed demo-feed "$tmp/feed.csv" 2>"$tmp/imp.err" || fail "import: $(cat "$tmp/imp.err")"
grep -q '6 indicators imported (6 new), 0 rejected' "$tmp/imp.err" || fail "import: $(cat "$tmp/imp.err")"
printf 'value\n*.example.org\n' >"$tmp/wild.csv"
k intel import --feed wild --threat phishing --confidence 30 "$tmp/wild.csv" 2>/dev/null ||
    fail "import wildcard"

k scan --no-correlation -o jsonl "$inc" >"$tmp/intel.jsonl" 2>"$tmp/intel.err" ||
    fail "scan with indicators: $(cat "$tmp/intel.err")"
grep -q '^intel: 7 indicators; [0-9]* lookups, 30 hits, 0 suppressed by the allowlist$' \
    "$tmp/intel.err" || fail "intel summary: $(grep intel "$tmp/intel.err")"
# the scan read the indicators and left the store as it was
before=$(cksum <"$d/koban.db")
k scan -q --no-correlation "$inc" >/dev/null 2>&1 || fail "second scan with indicators"
[ "$(cksum <"$d/koban.db")" = "$before" ] || fail "a scan with indicators modified the store"
python3 - "$tmp/intel.jsonl" <<'PY' || fail "intel alerts"
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1])]
intel = [r for r in rows if r["rule.id"].startswith("intel:")]
assert len(rows) - len(intel) == 21, "the rule alerts are unchanged"
by = collections.Counter((r["rule.id"], r["threat.indicator.matched.field"],
                          r["threat.indicator.value"], r["rule.level"]) for r in intel)
want = {
    ("intel:demo-feed", "destination.ip", "203.0.113.66", "critical"): 13,
    ("intel:demo-feed", "source.ip", "192.0.2.0/24", "medium"): 8,
    ("intel:demo-feed", "destination.ip", "10.1.0.53", "low"): 1,
    ("intel:demo-feed", "dns.question.name", "update-check.example.net", "high"): 2,
    ("intel:demo-feed", "tls.sni", "update-check.example.net", "high"): 2,
    ("intel:demo-feed", "url.domain", "update-check.example.net", "high"): 1,
    ("intel:demo-feed", "url.full", "http://files.example.org/shared/invoice-2291.docm", "medium"): 1,
    ("intel:demo-feed", "file.hash.sha256",
     "de96a6e69944335375dc1ac238336066889d9ffc7d73628ef4fe1b1b160ab32c", "medium"): 1,
    # the wildcard covers files.example.org and intranet.example.com does not match
    ("intel:wild", "url.domain", "*.example.org", "low"): 1,
}
assert dict(by) == want, dict(by)
for r in intel:
    assert r["rule.author"] == r["threat.feed.name"], r
    assert r["threat.indicator.kind"] in ("ip", "cidr", "domain", "url", "sha256"), r
    assert "intel" in r["rule.tags"] and r["event"], r
c2 = [r for r in intel if r["threat.indicator.value"] == "203.0.113.66"][0]
assert c2["threat.indicator.type"] == "c2" and c2["threat.indicator.confidence"] == 90, c2
assert "intel.threat.c2" in c2["rule.tags"] and "intel.kind.ip" in c2["rule.tags"], c2
assert c2["matched"] == {"destination.ip": "203.0.113.66"}, c2["matched"]
PY

# the same output whatever the number of threads
for j in 1 3 8; do
    k scan -q -j "$j" --no-correlation -o jsonl "$inc" >"$tmp/j$j.jsonl" 2>/dev/null
    cmp -s "$tmp/j$j.jsonl" "$tmp/intel.jsonl" || fail "-j $j changes the output"
done
# the table names the field and the feed
k scan -q --no-correlation -o table "$inc" 2>/dev/null | grep -q 'critical  Threat intel ip 203.0.113.66.*destination.ip: 203.0.113.66 | feed: demo-feed | threat: c2 | confidence: 90' ||
    fail "table row of an intel hit"
# --min-level applies to intel hits
k scan -q --min-level critical --no-correlation -o jsonl "$inc" 2>/dev/null >"$tmp/crit.jsonl"
[ "$(grep -c '"rule.id":"intel:' "$tmp/crit.jsonl")" -eq 13 ] || fail "--min-level critical: 13 C2 hits"

# --no-intel: none
k scan --no-intel --no-correlation -o jsonl "$inc" >"$tmp/off.jsonl" 2>"$tmp/off.err"
cmp -s "$tmp/off.jsonl" "$tmp/plain.jsonl" || fail "--no-intel: the rule alerts only"
grep -q '^intel: off (--no-intel)$' "$tmp/off.err" || fail "--no-intel summary"

# the allowlist: hits on allowed values are counted, not shown
printf 'intel:\n  allowlist: ["10.1.0.53", "*.example.org"]\n' >"$tmp/allow.yaml"
"$koban" --config "$tmp/allow.yaml" --data "$d" scan --no-correlation -o jsonl "$inc" \
    >"$tmp/allow.jsonl" 2>"$tmp/allow.err"
grep -q '^intel: 7 indicators; [0-9]* lookups, 28 hits, 2 suppressed by the allowlist$' \
    "$tmp/allow.err" || fail "allowlist: $(grep intel "$tmp/allow.err")"
grep -q '"threat.indicator.value":"10.1.0.53"' "$tmp/allow.jsonl" && fail "allowlisted address alerted"
# the zone's domain hit is suppressed; the URL indicator is a URL, not allowlisted
grep -q '"rule.id":"intel:wild"' "$tmp/allow.jsonl" && fail "allowlisted zone alerted"
grep -q '"threat.indicator.kind":"url"' "$tmp/allow.jsonl" || fail "URL hit kept"
printf 'intel:\n  allowlist: ["10.0.0.0/33"]\n' >"$tmp/bad.yaml"
expect_status 2 "$koban" --config "$tmp/bad.yaml" --data "$d" scan -q "$inc"

# an expired indicator stops matching
printf 'value,threat,confidence,valid_until\n10.1.20.17,c2,90,2020-01-01T00:00:00Z\n' >"$tmp/old.csv"
k intel import --feed old "$tmp/old.csv" 2>/dev/null
k scan -q --no-correlation -o jsonl "$inc" 2>/dev/null | grep -q '"rule.id":"intel:old"' &&
    fail "expired indicator matched"

# --store: the intel alerts are stored with the rule alerts
k scan -q --store --no-correlation -o jsonl "$inc" >/dev/null 2>"$tmp/st.err" ||
    fail "scan --store: $(cat "$tmp/st.err")"
n=$(sqlite3 "$d/koban.db" "SELECT COUNT(*) FROM alerts WHERE rule_id = 'intel:demo-feed'" 2>/dev/null || echo skip)
[ "$n" = skip ] || [ "$n" -eq 29 ] || fail "stored intel alerts: $n, expected 29"

# --- --triage --------------------------------------------------------------------------
rm -rf "$d"
k assets import demo/company/assets.csv 2>/dev/null || fail "assets"
k vulns import demo/company/vulns.csv 2>/dev/null || fail "vulns"
# the same incidents as `koban triage --alerts` over the scan's output
k scan --no-correlation --triage -o table "$inc" >"$tmp/tri.out" 2>"$tmp/tri.err" ||
    fail "scan --triage: $(cat "$tmp/tri.err")"
grep -q '^triage: 21 alerts -> 4 incidents (critical 0, high 2, medium 1, low 1; 3 to notify)' \
    "$tmp/tri.err" || fail "scan --triage summary: $(grep triage "$tmp/tri.err")"
[ "$(wc -l <"$tmp/tri.out")" -eq 4 ] || fail "four incident rows: $(cat "$tmp/tri.out")"
grep -q ' high .*Targeted attack / data exfiltration on pc-0042$' "$tmp/tri.out" ||
    fail "targeted attack row: $(cat "$tmp/tri.out")"
grep -q ' high .*Exploit against a public server on www$' "$tmp/tri.out" || fail "exploit row"
grep -q ' medium .*Brute force / password spraying on bastion-1$' "$tmp/tri.out" || fail "brute force row"
grep -q ' low .*Scan and reconnaissance on 192.0.2.200$' "$tmp/tri.out" || fail "scan row"
# with correlation (the default): a correlation alert joins the incident of
# the entity its group names, as `koban triage --alerts` reads
# matched.correlation.group; no incident is opened on a rule id
k scan --triage -o table "$inc" >"$tmp/tric.out" 2>"$tmp/tric.err" ||
    fail "scan --triage with correlation: $(cat "$tmp/tric.err")"
grep -q '^triage: 27 alerts -> 4 incidents' "$tmp/tric.err" ||
    fail "scan --triage with correlation: $(grep triage "$tmp/tric.err") $(cat "$tmp/tric.out")"
grep -q ' high .*Targeted attack / data exfiltration on pc-0042$' "$tmp/tric.out" ||
    fail "correlation: targeted attack row: $(cat "$tmp/tric.out")"
"$koban" scan -o jsonl "$inc" >"$tmp/corr.jsonl" 2>/dev/null
cp -r "$d" "$tmp/d2"
"$koban" --data "$tmp/d2" triage --no-playbooks --alerts "$tmp/corr.jsonl" >/dev/null 2>"$tmp/tric2.err"
[ "$(grep '^triage: ' "$tmp/tric2.err" | head -1 | cut -d';' -f1)" = \
  "$(grep '^triage: ' "$tmp/tric.err" | head -1 | cut -d';' -f1)" ] ||
    fail "scan --triage and triage --alerts differ: $(grep '^triage: ' "$tmp/tric.err" "$tmp/tric2.err")"
# nothing saved without --store
[ "$(k incidents list -o csv | wc -l)" -le 1 ] || fail "incidents saved without --store"
# jsonl, -j 3, saved with --store
k scan -j 3 --store --no-correlation --triage -o jsonl "$inc" >"$tmp/tri.jsonl" 2>"$tmp/tri.err" ||
    fail "scan --triage --store: $(cat "$tmp/tri.err")"
python3 - "$tmp/tri.jsonl" <<'PY' || fail "scan --triage jsonl"
import json, sys
incs = [json.loads(l) for l in open(sys.argv[1])]
by = {i["type"]: i for i in incs}
assert set(by) == {"exploit-public-server", "brute-force", "targeted-attack", "scan"}, list(by)
assert by["exploit-public-server"]["entity"] == "host:www" and by["exploit-public-server"]["severity"] == "high"
assert by["brute-force"]["severity"] == "medium"
assert by["targeted-attack"]["entity"] == "host:pc-0042" and by["targeted-attack"]["severity"] == "high"
assert by["scan"]["severity"] == "low" and not by["scan"]["notify"]
PY
[ "$(k incidents list -o csv | wc -l)" -eq 5 ] || fail "scan --triage --store: 4 incidents saved"
# with the feed, the C2 contact joins the incidents (threat type c2 from the indicator)
k intel import --feed demo-feed "$tmp/feed.csv" 2>/dev/null
k scan -q --no-correlation --triage -o jsonl "$inc" >"$tmp/tri2.jsonl" 2>/dev/null ||
    fail "scan --triage with indicators"
python3 - "$tmp/tri2.jsonl" <<'PY' || fail "scan --triage with indicators: incidents"
import json, sys
incs = [json.loads(l) for l in open(sys.argv[1])]
rules = [r["id"] for i in incs for r in i.get("rules", [])]
assert any(r == "intel:demo-feed" for r in rules), rules
PY
finish
