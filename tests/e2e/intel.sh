#!/bin/sh
# End-to-end: `koban intel` over the shared threat-intelligence samples:
# imports with exact counts and reasons, idempotent re-import, list, show,
# feeds, expire, add, every export read back, configuration (allowlist, sid
# range), a TAXII 2.1 pull from a small server this test starts, and a
# retro-hunt over the bundled incident.
set -u
koban=${1:?usage: intel.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

I=../shared/data/intel
[ -d "$I" ] || { echo "no shared intel samples: skipped"; exit 77; }
d="$tmp/data"
k() { "$koban" --data "$d" "$@"; }

# --- the command line ----------------------------------------------------------
"$koban" help | grep -q '^  intel ' || fail "help lists intel"
"$koban" intel --help | grep -q 'koban intel import' || fail "intel --help"
expect_status 2 "$koban" --data "$d" intel
expect_status 2 "$koban" --data "$d" intel bogus
expect_status 2 "$koban" --data "$d" intel import
expect_status 2 "$koban" --data "$d" intel export
expect_status 2 "$koban" --data "$d" intel export --format bogus
expect_status 2 "$koban" --data "$d" intel add --kind bogus 1.2.3.4
expect_status 2 "$koban" --data "$d" intel import --confidence 101 "$I/lists/crowdsec-feed-all-7d.txt"

# --- imports: exact counts per file, reasons for the broken ones ------------------
# imp FILE EXIT "expected stderr text" [more import options]
imp() {
    f=$1 want_rc=$2 want=$3
    shift 3
    k intel import "$@" "$f" >"$tmp/imp.out" 2>"$tmp/imp.err"
    rc=$?
    [ "$rc" -eq "$want_rc" ] || fail "import $f: exit $rc, expected $want_rc: $(tail -2 "$tmp/imp.err")"
    grep -qF -- "$want" "$tmp/imp.err" || fail "import $f: expected '$want' in: $(tail -3 "$tmp/imp.err")"
}
S=$I/stix
imp "$S/oasis-docs-indicator-for-malicious-url.json" 0 "1 indicators imported (1 new), 0 rejected, 0 skipped"
imp "$S/oasis-docs-malware-indicator-for-file-hash.json" 0 "1 indicators imported (1 new), 0 rejected"
imp "$S/oasis-schemas-indicators-for-C2-with-COA.json" 0 "2 indicators imported (2 new), 0 rejected"
imp "$S/oasis-schemas-infrastructure.json" 0 "0 indicators imported (0 new), 0 rejected"
imp "$S/elevator-url-in-list.json" 0 "3 indicators imported (3 new), 0 rejected"
imp "$S/elevator-issue-271.json" 1 "13 indicators imported (13 new), 6 rejected"
imp "$S/elevator-composite.json" 1 "pattern joins comparisons with AND/FOLLOWEDBY"
grep -qF "3 indicators imported (3 new), 2 rejected" "$tmp/imp.err" || fail "composite counts"
imp "$S/oasis-docs-using-granular-markings.json" 1 "objects[1] (indicator--1ed8caa7-a708-4706-b651-f1186ede6ca1): comparison operator 'MATCHES' is not supported"
imp "$S/elevator-yara-pattern-type.json" 1 "pattern_type 'yara' is not supported"
imp "$S/elevator-mandiant-apt1-appendix-g.json" 1 "1020 indicators imported (1020 new), 46 rejected"
grep -qF "objects[2] (indicator--8d88dd33-1e16-4814-814e-662fb0ac842f): object path 'unconverted_term:mandiant:observable-" "$tmp/imp.err" || fail "APT1: the invalid term is named"
# broken files: one clear error each, nothing imported
imp "$S/validator-invalid-comma.json" 1 "line 9: invalid JSON"
imp "$S/validator-invalid-braces.json" 1 "line 1: invalid JSON"
imp "$S/validator-invalid-timestamp.json" 1 "(identity--8c6af861-7b20-41ef-9b59-6344fd872a8f): modified is earlier than created"
imp "$S/mispstix-objects-collection-stix20.json" 1 "STIX 2.0 bundle"
imp "$S/mispstix-attribute-mapping-stix21.json" 1 "not a STIX bundle"
imp "$I/taxii/taxii2client-get-manifest-response.json" 1 "a TAXII manifest"
imp "$I/taxii/taxii2client-discovery-response.json" 1 "a TAXII 2.1 server response, not indicators"
imp "$S/oasis-docs-indicator-for-malicious-url.json" 1 "(--format csv)" --format csv --feed wrongformat
M=$I/misp
imp "$M/eset-gelsemium-event.json" 0 "153 indicators imported (153 new), 0 rejected, 1 skipped"
imp "$M/eset-oceanlotus-rastls-event.json" 0 "0 indicators imported (0 new), 0 rejected, 111 skipped"
# --all: attributes with to_ids false too
imp "$M/eset-oceanlotus-rastls-event.json" 0 "108 indicators imported (103 new), 0 rejected, 11 skipped" --all --feed oceanlotus-all
imp "$M/eset-stantinko-event.json" 0 "415 indicators imported (262 new), 0 rejected, 46 skipped"
imp "$M/pymisp-long-event.json" 1 "331 indicators imported (273 new), 11 rejected, 116 skipped"
grep -qF "Event.Attribute[269] (571744ae-1af4-4757-8408-42d7950d210f): URL without scheme://: 'www.amerikauyghur.top'" "$tmp/imp.err" || fail "long event: reason and path"
imp "$M/eset-pypi-backdoor-event-MALFORMED.json" 1 "line 37374: invalid JSON"
imp "$M/feed-crowdsec" 1 "864 indicators imported (508 new), 1 rejected"
grep -qF "hashes.csv: columns reversed" "$tmp/imp.err" || fail "MISP feed: hashes.csv layout"
imp "$M/pymisp-csv-valid-fieldnames.csv" 0 "9 indicators imported (9 new), 0 rejected"
L=$I/lists
imp "$L/abusech-malwarebazaar-recent-md5.txt" 0 "507 indicators imported (507 new), 0 rejected"
imp "$L/eset-lazarus-samples.md5" 0 "555 indicators imported (555 new), 0 rejected"
imp "$L/eset-groundbait-samples.sha1" 0 "298 indicators imported (298 new), 0 rejected"
imp "$L/crowdsec-feed-all-7d.txt" 0 "60 indicators imported (60 new), 0 rejected"
imp "$L/crowdsec-feed-all-7d-v6-EMPTY.txt" 0 "0 indicators imported (0 new), 0 rejected"
imp "$L/crowdsec-feed-all-7d.json" 0 "60 indicators imported (60 new), 0 rejected" --feed crowdsec-json
imp "$L/jayp232-c2-ips-30day.csv" 0 "1318 indicators imported (1315 new), 0 rejected" --threat c2 --confidence 70
imp "$L/threatfox-api-search-ioc.json" 0 "1 indicators imported (1 new)"
printf 'ip,threat,confidence\n198.51.100.7,scanner,80\n999.1.1.1,scanner,80\n' >"$tmp/cols.csv"
imp "$tmp/cols.csv" 1 "line 3: not an IPv4 or IPv6 address: '999.1.1.1'"
printf '198.51.100.9;c2\n' >"$tmp/semi.txt"
imp "$tmp/semi.txt" 1 "0 indicators imported" --format list

# --- idempotent re-import ------------------------------------------------------------
k intel list -o jsonl >"$tmp/before.jsonl" 2>/dev/null || fail "list"
imp "$L/jayp232-c2-ips-30day.csv" 0 "1318 indicators imported (0 new)" --threat c2 --confidence 70
imp "$M/feed-crowdsec" 1 "864 indicators imported (0 new), 1 rejected"
imp "$S/elevator-issue-271.json" 1 "13 indicators imported (0 new), 6 rejected"
k intel list -o jsonl >"$tmp/after.jsonl" 2>/dev/null
cmp -s "$tmp/before.jsonl" "$tmp/after.jsonl" || fail "re-import changed the indicators"

# --- list, show, feeds -----------------------------------------------------------------
python3 - "$tmp/after.jsonl" <<'PY' || fail "list: content"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["kind"], r["value"]), []).append(r)
r = by[("url", "http://x4z9arb.cn/4712/")]
assert r[0]["feed"] == "oasis-docs-indicator-for-malicious-url", r
assert r[0]["ref"] == "indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f", r
c2 = [x for x in rows if x["feed"] == "jayp232-c2-ips-30day"]
assert len(c2) == 1315 and all(x["threat"] == "c2" and x["confidence"] == 70 for x in c2)
assert all(x["level"] == "high" for x in c2)
# the same value from several feeds keeps every source
multi = [v for v in by.values() if len({x["feed"] for x in v}) > 1]
assert multi, "no value held by two feeds"
tf = by[("ip", "139.180.203.104")][0]
assert tf["threat"] == "malware-download" and tf["confidence"] == 50 and tf["desc"] == "Cobalt Strike", tf
assert tf["first_seen"] == "2021-01-04T15:22:41.000000000Z", tf
assert all(x["status"] == "active" for x in rows)
PY
k intel list --kind sha1 -o jsonl 2>/dev/null | grep -c '"kind":"sha1"' >"$tmp/n"
[ "$(cat "$tmp/n")" -ge 298 ] || fail "list --kind sha1: $(cat "$tmp/n")"
k intel list --feed crowdsec-feed-all-7d -o csv >"$tmp/l.csv" 2>/dev/null
[ "$(wc -l <"$tmp/l.csv")" -eq 61 ] || fail "list --feed -o csv: $(wc -l <"$tmp/l.csv") lines"
k intel show HTTP://X4Z9ARB.CN:80/4712/ -o jsonl >"$tmp/show" 2>&1 || fail "show: normalised URL: $(cat "$tmp/show")"
grep -q '"value":"http://x4z9arb.cn/4712/"' "$tmp/show" || fail "show url: $(cat "$tmp/show")"
k intel show 192.0.2.254 >/dev/null 2>"$tmp/show.err"
[ $? -eq 1 ] && grep -q "192.0.2.254: no indicator" "$tmp/show.err" || fail "show: unknown value"
k intel feeds -o jsonl >"$tmp/feeds" 2>/dev/null || fail "feeds"
grep -q '"feed":"feed-crowdsec","format":"misp","indicators":508' "$tmp/feeds" || fail "feeds: $(grep crowdsec "$tmp/feeds")"
grep -q '"feed":"wrongformat"' "$tmp/feeds" && fail "a refused import left a feed row"

# --- add (internal intelligence) and expire ----------------------------------------------
k intel add 203.0.113.66 update-check.example.net --ref incident:42 --threat c2 --confidence 95 >"$tmp/add" 2>&1 || fail "add: $(cat "$tmp/add")"
grep -q "added 2 indicators to feed internal" "$tmp/add" || fail "add: $(cat "$tmp/add")"
k intel show update-check.example.net -o jsonl >"$tmp/show" 2>/dev/null
grep -q '"feed":"internal".*"ref":"incident:42".*"level":"critical"' "$tmp/show" || fail "show internal: $(cat "$tmp/show")"
k intel add 'no such thing!' >/dev/null 2>"$tmp/add.err"
[ $? -eq 1 ] && grep -q "invalid character in domain" "$tmp/add.err" || fail "add: bad value: $(cat "$tmp/add.err")"
k intel add --kind sha256 abc >/dev/null 2>"$tmp/add.err"
grep -q "SHA-256 hash is not 64 hex digits" "$tmp/add.err" || fail "add: bad hash: $(cat "$tmp/add.err")"
k intel add '*.bad.example' --valid-for 1d --feed short >/dev/null 2>&1 || fail "add wildcard"
k intel show www.bad.example -o jsonl 2>/dev/null | grep -q '"value":"\*.bad.example"' || fail "show: a subdomain under a wildcard"
k intel expire >/dev/null 2>"$tmp/exp.err"
grep -q "^0 expired indicators" "$tmp/exp.err" || fail "expire now: $(cat "$tmp/exp.err")"
k intel expire --now 2099-01-01T00:00:00Z -o jsonl >"$tmp/exp" 2>"$tmp/exp.err"
grep -q "^1 expired indicators" "$tmp/exp.err" && grep -q '"value":"\*.bad.example".*"status":"expired"' "$tmp/exp" || fail "expire later: $(cat "$tmp/exp.err" "$tmp/exp")"
k intel show www.bad.example -o jsonl 2>/dev/null | grep -q '"feed":"short"' || fail "an expired indicator stays queryable"

# --- expire --older (marks) / --purge (deletes), by feed and kind, audited ------------------
d2="$tmp/data2"
k2() { "$koban" --data "$d2" "$@"; }
# exp2 "expected stderr line" expire-options...
exp2() {
    want=$1
    shift
    k2 intel expire "$@" >/dev/null 2>"$tmp/exp2.err" || fail "expire $*: $(cat "$tmp/exp2.err")"
    grep -qx -- "$want" "$tmp/exp2.err" || fail "expire $*: expected '$want', got: $(cat "$tmp/exp2.err")"
}
k2 intel add --now 2020-01-01T00:00:00Z --feed fa 198.51.100.1 198.51.100.2 d41d8cd98f00b204e9800998ecf8427e >/dev/null 2>&1 || fail "add old fa"
k2 intel add --now 2020-01-01T00:00:00Z --feed fb 198.51.100.3 >/dev/null 2>&1 || fail "add old fb"
k2 intel add --feed fb 198.51.100.4 >/dev/null 2>&1 || fail "add fresh fb"
expect_status 2 "$koban" --data "$d2" intel expire --older soon
expect_status 2 "$koban" --data "$d2" intel expire --older 30d --kind bogus
expect_status 2 "$koban" --data "$d2" intel list --purge
exp2 "0 indicators marked expired (kept, queryable, no longer matched)" --older 3650d
exp2 "1 indicators marked expired (kept, queryable, no longer matched)" --older 30d --kind md5
exp2 "2 indicators marked expired (kept, queryable, no longer matched)" --older 30d --feed fa
k2 intel list -o jsonl >"$tmp/l2" 2>/dev/null
grep -q '"value":"198.51.100.1","feed":"fa".*"status":"expired"' "$tmp/l2" || fail "expire --older: not marked: $(cat "$tmp/l2")"
grep -q '"value":"198.51.100.3","feed":"fb".*"status":"active"' "$tmp/l2" || fail "expire --feed: another feed marked"
k2 intel show 198.51.100.1 >/dev/null 2>&1 || fail "a marked indicator stays queryable"
exp2 "0 indicators purged (expired)" --purge --feed fb
exp2 "1 indicators purged (expired or not seen for the given age)" --purge --older 30d --feed fb
k2 intel show 198.51.100.3 >/dev/null 2>&1 && fail "purge: a purged indicator is still there"
exp2 "3 indicators purged (expired)" --purge
[ "$(k2 intel list -o csv 2>/dev/null | grep -c 198.51.100)" -eq 1 ] || fail "purge: $(k2 intel list 2>&1)"
if command -v sqlite3 >/dev/null 2>&1 && [ -f "$d2/koban.db" ]; then
    sqlite3 "$d2/koban.db" "SELECT action || ' ' || detail FROM audit ORDER BY id" >"$tmp/audit"
    [ "$(grep -c '^intel.expire ' "$tmp/audit")" -eq 3 ] && [ "$(grep -c '^intel.purge ' "$tmp/audit")" -eq 3 ] ||
        fail "audit: $(cat "$tmp/audit")"
    grep -q '^intel.purge {"count":1,.*"feed":"fb"' "$tmp/audit" || fail "audit detail: $(cat "$tmp/audit")"
fi

# --- exports, read back ---------------------------------------------------------------------
for f in stix misp csv nft iplist domainlist rpz suricata; do
    k intel export --format $f --output "$tmp/x.$f" 2>"$tmp/x.$f.err" || fail "export $f: $(cat "$tmp/x.$f.err")"
done
python3 - "$tmp" <<'PY' || fail "exports: content"
import csv, json, re, sys, ipaddress
t = sys.argv[1]
b = json.load(open(t + "/x.stix"))
assert b["type"] == "bundle" and b["id"].startswith("bundle--")
ind = b["objects"]
assert len(ind) > 5000 and all(o["type"] == "indicator" and o["spec_version"] == "2.1" for o in ind)
pat = {o["pattern"] for o in ind}
assert "[url:value = 'http://x4z9arb.cn/4712/']" in pat
assert "[domain-name:value = 'update-check.example.net']" in pat
assert len({o["id"] for o in ind}) == len(ind), "ids unique"
m = json.load(open(t + "/x.misp"))
attrs = m["Event"]["Attribute"]
assert any(a["type"] == "ip-dst" and a["value"] == "203.0.113.66" for a in attrs)
assert len(attrs) == len(ind)
rows = list(csv.DictReader(open(t + "/x.csv")))
assert rows[0].keys() >= {"kind", "value", "feed", "confidence"}
assert any(r["value"] == "203.0.113.66" and r["ref"] == "incident:42" for r in rows)
ips = open(t + "/x.iplist").read().split()
assert len(ips) == len(set(ips)), "iplist: duplicates"
for ip in ips:
    ipaddress.ip_network(ip, strict=True)
assert "203.0.113.66" in ips
doms = open(t + "/x.domainlist").read().split()
assert len(doms) == len(set(doms)) and "update-check.example.net" in doms and ".bad.example" in doms
# RPZ: SOA and NS first, then one "owner CNAME ." per line
z = open(t + "/x.rpz").read().splitlines()
assert z[0].startswith("$TTL") and " SOA " in z[1] and " NS " in z[2]
for l in z[3:]:
    owner, typ, target = l.split()
    assert typ == "CNAME" and target == ".", l
    assert re.fullmatch(r"[a-z0-9_.*-]+", owner), l
assert "update-check.example.net CNAME ." in z and "32.66.113.0.203.rpz-ip CNAME ." in z
assert "*.bad.example CNAME ." in z
# Suricata: one rule per line, balanced quotes, unique sids in the default range
sids = []
rule = re.compile(r'^alert (ip|dns|tls|http) \S+ \S+ (->|<>) \S+ \S+ \(msg:"[^"]*"; (.*)\)$')
for l in open(t + "/x.suricata"):
    mm = rule.match(l.rstrip("\n"))
    assert mm, l
    opts = [o.strip() for o in mm.group(3).split(";") if o.strip()]
    sid = [int(o[4:]) for o in opts if o.startswith("sid:")]
    assert len(sid) == 1 and "rev:1" in opts, l
    sids.append(sid[0])
    if mm.group(1) == "dns":
        assert "dns.query" in opts, l
assert len(sids) == len(set(sids)) and min(sids) == 9100000, (min(sids), len(sids))
sur = open(t + "/x.suricata").read()
assert 'dns.query; content:"update-check.example.net"; nocase; startswith; endswith;' in sur
assert 'tls.sni; content:"update-check.example.net"' in sur
assert "alert ip any any <> [203.0.113.66] any" in sur
assert 'dns.query; dotprefix; content:".bad.example"; nocase; endswith;' in sur
PY
if command -v nft >/dev/null 2>&1 && nft -c -f /dev/null >/dev/null 2>&1; then
    nft -c -f "$tmp/x.nft" >"$tmp/nft.err" 2>&1 || fail "nft -c: $(head -3 "$tmp/nft.err")"
else
    echo "nft not usable here: the nftables script is checked by shape only"
fi
grep -q '^add set inet koban koban_v4 { type ipv4_addr; flags interval; auto-merge; }$' "$tmp/x.nft" || fail "nft: set"
grep -q '^add element inet koban koban_v4 { 203.0.113.66 }$' "$tmp/x.nft" || fail "nft: element"
# expired indicators are left out unless asked for
grep -q "bad.example" "$tmp/x.domainlist" || fail "export before expiry"
k intel export --format domainlist --now 2099-01-01T00:00:00Z 2>/dev/null | grep -q bad.example && fail "export: expired exported"
k intel export --format domainlist --now 2099-01-01T00:00:00Z --include-expired 2>/dev/null | grep -q bad.example || fail "export --include-expired"

# --- configuration: the intel section --------------------------------------------------------
printf 'intel:\n  allowlist: ["10.0.0.0/8", "*.example.net", 192.0.2.1]\n  default_confidence: 40\n  suricata:\n    sid_base: 5000\n    sid_max: 5003\n' >"$tmp/koban.yaml"
c() { "$koban" --config "$tmp/koban.yaml" --data "$tmp/cfg" "$@"; }
c intel add 203.0.113.66 update-check.example.net --threat c2 >/dev/null 2>&1 || fail "cfg: add"
c intel export --format suricata >"$tmp/cfg.rules" 2>/dev/null || fail "cfg: 4 sids fit 5000-5003"
[ "$(grep -c 'sid:500[0-3];' "$tmp/cfg.rules")" -eq 4 ] || fail "cfg: sid range: $(cat "$tmp/cfg.rules")"
c intel add evil.example.org >/dev/null 2>&1
c intel export --format suricata >/dev/null 2>"$tmp/cfg.err"
[ $? -eq 3 ] && grep -q "sid range is exhausted" "$tmp/cfg.err" || fail "cfg: sid range exhausted: $(cat "$tmp/cfg.err")"
printf '203.0.113.77\n' >"$tmp/one.txt"
c intel import "$tmp/one.txt" >/dev/null 2>&1
c intel show 203.0.113.77 -o jsonl 2>/dev/null | grep -q '"confidence":40' || fail "cfg: default_confidence"
printf 'intel:\n  allowlist: ["10.0.0.0/33"]\n' >"$tmp/bad.yaml"
"$koban" --config "$tmp/bad.yaml" --data "$tmp/cfg" intel list >/dev/null 2>"$tmp/bad.err"
[ $? -eq 2 ] && grep -q "bad.yaml:2: intel.allowlist: bad prefix length" "$tmp/bad.err" || fail "cfg: bad allowlist: $(cat "$tmp/bad.err")"
printf 'intel:\n  blocklist: [1.2.3.4]\n' >"$tmp/bad.yaml"
"$koban" --config "$tmp/bad.yaml" --data "$tmp/cfg" intel list >/dev/null 2>"$tmp/bad.err"
grep -q "bad.yaml:2: unknown intel key" "$tmp/bad.err" || fail "cfg: unknown key: $(cat "$tmp/bad.err")"

# --- TAXII 2.1: a small server on 127.0.0.1 --------------------------------------------------
cat >"$tmp/taxii.py" <<'PY'
import json, sys, urllib.parse
from http.server import HTTPServer, BaseHTTPRequestHandler
data = json.load(open(sys.argv[1]))
envelope = open(sys.argv[2], "rb").read()
log = open(sys.argv[3], "a")
CT = "application/taxii+json;version=2.1"
PAGE = 3
def version(o):
    return o.get("modified", o.get("created"))
class H(BaseHTTPRequestHandler):
    def send(self, code, body, ctype=CT, headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        log.write(self.path + "\n")
        log.flush()
        if "taxii-2.1" not in self.headers.get("Accept", "").replace("+json;version=", "-"):
            return self.send(406, b"{}")
        parts = [p for p in u.path.split("/") if p]
        if u.path == "/taxii2/":
            return self.send(200, json.dumps(data["/discovery"]).encode())
        if parts == ["html", "collections", "x", "objects"]:
            return self.send(200, b"<html>login</html>", "text/html")
        if parts == ["api1", "collections", "envelope", "objects"]:
            return self.send(200, envelope)
        if len(parts) == 4 and parts[1] == "collections" and parts[3] == "objects":
            root = data.get(parts[0], {})
            for c in root.get("collections", []):
                if c["id"] != parts[2]:
                    continue
                man = {(m["id"], m["version"]): m["date_added"] for m in c["manifest"]}
                objs = [(man.get((o["id"], version(o)), "1970-01-01T00:00:00.000000Z"), o)
                        for o in c["objects"]]
                objs.sort(key=lambda x: x[0])
                if "added_after" in q:
                    objs = [x for x in objs if x[0] > q["added_after"]]
                start = int(q.get("next", "0"))
                page = objs[start:start + PAGE]
                env = {"objects": [o for _, o in page]} if page else {}
                if start + PAGE < len(objs):
                    env["more"] = True
                    env["next"] = str(start + PAGE)
                hdr = [("X-TAXII-Date-Added-First", page[0][0]),
                       ("X-TAXII-Date-Added-Last", page[-1][0])] if page else []
                return self.send(200, json.dumps(env).encode(), headers=hdr)
        self.send(404, b'{"title":"not found"}')
    def log_message(self, *a):
        pass
srv = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[4], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$tmp/taxii.py" "$I/taxii/medallion-default_data.json" "$I/taxii/taxii2client-stix-envelope.json" \
    "$tmp/taxii.log" "$tmp/taxii.port" &
srv=$!
n=0
while [ ! -s "$tmp/taxii.port" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
port=$(cat "$tmp/taxii.port" 2>/dev/null)
if [ -z "$port" ]; then
    fail "TAXII test server did not start"
else
    col="http://127.0.0.1:$port/trustgroup1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/"
    t() { "$koban" --data "$tmp/taxii" "$@"; }
    t intel import "$col" >/dev/null 2>"$tmp/taxii.err" || fail "taxii: first pull: $(cat "$tmp/taxii.err")"
    grep -qF "$col: 4 indicators imported (3 new), 0 rejected" "$tmp/taxii.err" || fail "taxii: first pull: $(cat "$tmp/taxii.err")"
    grep -q "/objects/?next=3" "$tmp/taxii.log" || fail "taxii: second page not fetched: $(cat "$tmp/taxii.log")"
    t intel show http://z4z10farb.cn/4712 -o jsonl 2>/dev/null | grep -q '"feed":"91a7b528-80eb-42ed-a74d-c6fbd5a26116"' || fail "taxii: indicator and feed name"
    : >"$tmp/taxii.log"
    t intel import "$col" >/dev/null 2>"$tmp/taxii.err" || fail "taxii: second pull: $(cat "$tmp/taxii.err")"
    grep -qF "$col: 0 indicators imported (0 new)" "$tmp/taxii.err" || fail "taxii: incremental pull: $(cat "$tmp/taxii.err")"
    grep -qF "/objects/?added_after=2017-12-31T13%3A49%3A53.935000Z" "$tmp/taxii.log" || fail "taxii: added_after: $(cat "$tmp/taxii.log")"
    t intel import --feed env "http://127.0.0.1:$port/api1/collections/envelope/" >/dev/null 2>"$tmp/taxii.err"
    grep -q "1 indicators imported (1 new)" "$tmp/taxii.err" || fail "taxii: envelope: $(cat "$tmp/taxii.err")"
    t intel import "http://127.0.0.1:$port/html/collections/x/" >/dev/null 2>"$tmp/taxii.err"
    [ $? -eq 1 ] && grep -q "not a TAXII 2.1 answer (Content-Type 'text/html')" "$tmp/taxii.err" || fail "taxii: html: $(cat "$tmp/taxii.err")"
    t intel import "http://127.0.0.1:$port/api9/collections/none/" >/dev/null 2>"$tmp/taxii.err"
    [ $? -eq 1 ] && grep -q "HTTP status 404" "$tmp/taxii.err" || fail "taxii: 404: $(cat "$tmp/taxii.err")"
    t intel feeds -o jsonl 2>/dev/null | grep -q '"format":"taxii"' || fail "taxii: feed row"
fi
kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null

# --- retro-hunt over the bundled incident ------------------------------------------------
h() { "$koban" --data "$tmp/hunt" "$@"; }
inc=demo/incident
h load "$inc" >/dev/null 2>&1 || fail "hunt: load the incident"
h intel hunt >"$tmp/hunt.out" 2>&1 || fail "hunt: empty: $(cat "$tmp/hunt.out")"
grep -q "hunted 0 indicators" "$tmp/hunt.out" || fail "hunt: nothing yet: $(cat "$tmp/hunt.out")"
h intel add 203.0.113.66 update-check.example.net --ref incident:7 --threat c2 --confidence 95 >/dev/null 2>&1
h intel hunt --since 100000d >"$tmp/hunt.out" 2>&1 || fail "hunt: $(cat "$tmp/hunt.out")"
grep -q "hunted 2 indicators (new since the last hunt) over the window: 2 values hit, 16 alerts raised" "$tmp/hunt.out" || fail "hunt: $(cat "$tmp/hunt.out")"
h intel hunt >"$tmp/hunt.out" 2>&1
grep -q "hunted 0 indicators (new since the last hunt).*0 alerts raised" "$tmp/hunt.out" || fail "hunt again: $(cat "$tmp/hunt.out")"
h intel hunt --all >"$tmp/hunt.out" 2>&1
grep -q "0 alerts raised, 16 sightings already alerted" "$tmp/hunt.out" || fail "hunt --all: no duplicates: $(cat "$tmp/hunt.out")"
python3 - "$tmp/hunt/koban.db" <<'PY' || fail "hunt: the alerts in the store"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT a.rule_id, a.level, a.title, a.tags, e.id FROM alerts a"
                  " JOIN ev e ON e.id = a.event_id").fetchall()
assert len(rows) == 16, len(rows)
assert all(r[0] == "intel:internal" and r[1] == "critical" and "incident:7" in r[2] for r in rows)
ip = [r for r in rows if "203.0.113.66" in r[2]]
dom = [r for r in rows if "update-check.example.net" in r[2]]
assert len(ip) + len(dom) == 16 and len(ip) >= 8 and dom, (len(ip), len(dom))
assert all("intel.threat.c2" in r[3] for r in rows)
PY
# an indicator that has expired since still counts for what it saw while
# valid (until 09:10): the C2 sightings before, none after
hx() { "$koban" --data "$tmp/hx" "$@"; }
hx load "$inc" >/dev/null 2>&1 || fail "hunt expired: load"
hx intel add 203.0.113.66 --feed old --threat c2 --now 2026-11-20T09:00:00Z --valid-for 10m >/dev/null 2>&1
hx intel hunt --all >"$tmp/hx.out" 2>&1
grep -q "1 values hit, 7 alerts raised" "$tmp/hx.out" || fail "hunt: expired indicator, earlier sightings: $(cat "$tmp/hx.out")"
n=$(sqlite3 "$tmp/hx/koban.db" "SELECT COUNT(*) FROM alerts WHERE ts > 1795165800000000000" 2>/dev/null || echo skip)
[ "$n" = skip ] || [ "$n" -eq 0 ] || fail "hunt: $n sightings after the indicator expired were alerted"
# the allowlist suppresses: the same hunt with the C2's domain allowed
printf 'intel:\n  allowlist: ["*.example.net"]\n' >"$tmp/allow.yaml"
"$koban" --config "$tmp/allow.yaml" --data "$tmp/hunt" intel hunt --all >"$tmp/hunt.out" 2>&1
grep -q "1 values hit, 0 alerts raised, [0-9]* sightings already alerted, 1 suppressed by the allowlist" "$tmp/hunt.out" || fail "hunt: allowlist: $(cat "$tmp/hunt.out")"

finish
