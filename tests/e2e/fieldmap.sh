#!/bin/sh
# End-to-end: the field map (config/fieldmap.yaml). Rules written with Sigma's
# field names (category dns: query, record_type, answer; category proxy:
# c-useragent, cs-method, cs-host) fire on Zeek, Suricata and Winlogbeat
# (Sysmon DNS) events only thanks to the map, and not with --no-fieldmap.
# Also: the map's lookup order, a bad map file, and a real SigmaHQ rule.
set -u
koban=${1:?usage: fieldmap.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

d=tests/data/fieldmap
in="$d/zeek-dns.log $d/eve.json $d/zeek-http.log $d/winlogbeat.json"
export KOBAN_DATA="$tmp/data"
unset KOBAN_RULES
mkdir -p "$KOBAN_DATA"
scan() {
    # shellcheck disable=SC2086
    "$koban" scan --no-default-rules --no-correlation --rules "$d/fm-rules.yml" -o jsonl "$@" $in
}

# rule id suffix, file, line: one row per alert, sorted
summary() {
    python3 -c '
import json, sys
rows = sorted("%s %s %s" % (a["rule.id"][-2:], a["log.file.path"].rsplit("/", 1)[-1], a["log.line"])
              for a in map(json.loads, sys.stdin))
print("\n".join(rows))' <"$1"
}

all='01 eve.json 1
01 eve.json 2
01 winlogbeat.json 1
01 zeek-dns.log 1
02 eve.json 2
02 zeek-dns.log 1
03 eve.json 3
03 zeek-http.log 1'

# --- the shipped map (found next to the binary) -------------------------------
scan >"$tmp/on.jsonl" 2>"$tmp/on.err" || fail "scan with the map: exit $?: $(cat "$tmp/on.err")"
[ "$(summary "$tmp/on.jsonl")" = "$all" ] ||
    fail "alerts with the map: got
$(summary "$tmp/on.jsonl")"
grep -q 'field map .*config/fieldmap.yaml: 2 rules with mapped names, 6 variants' "$tmp/on.err" ||
    fail "summary names the map: $(cat "$tmp/on.err")"
# the alert shows the event's own field names, and keeps the rule's metadata
python3 - "$tmp/on.jsonl" <<'PY' || fail "alert contents"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
wb = [a for a in alerts if a["log.file.path"].endswith("winlogbeat.json")][0]
assert wb["matched"] == {"QueryName": "stage.oast.fun"}, wb["matched"]
assert wb["rule.name"] == "Field map test - DNS name under an interaction domain"
assert wb["rule.author"] == "koban tests" and wb["host.name"] == "ws1.corp.example"
z = [a for a in alerts if a["rule.id"].endswith("02") and "zeek" in a["log.file.path"]][0]
assert set(z["matched"]) == {"qtype_name", "answers"}, z["matched"]
PY
# the reference evaluator agrees
scan --engine reference >"$tmp/ref.jsonl" 2>/dev/null || fail "reference engine scan"
[ "$(summary "$tmp/ref.jsonl")" = "$all" ] || fail "reference evaluator differs"
# -j does not matter
scan -j 1 >"$tmp/j1.jsonl" 2>/dev/null && scan -j 3 >"$tmp/j3.jsonl" 2>/dev/null || fail "-j scans"
cmp -s "$tmp/j1.jsonl" "$tmp/j3.jsonl" || fail "-j1 and -j3 differ"

# --- without the map: nothing (the names differ, or the logsource does) -----
scan --no-fieldmap >"$tmp/off.jsonl" 2>"$tmp/off.err" || fail "--no-fieldmap: exit $?"
[ ! -s "$tmp/off.jsonl" ] || fail "--no-fieldmap still alerts: $(summary "$tmp/off.jsonl")"
grep -q 'field map' "$tmp/off.err" && fail "--no-fieldmap mentions a map"
expect_status 2 scan --no-fieldmap --fieldmap config/fieldmap.yaml

# --- lookup order: --fieldmap, detect.fieldmap, DATA/fieldmap.yaml ------------
cat >"$tmp/dns-only.yaml" <<'EOF'
version: 1
sources:
  - name: zeek-dns-only
    events: {product: zeek, service: dns}
    serves: [{category: dns}]
    fields:
      answer: answers
      record_type: qtype_name
EOF
scan --fieldmap "$tmp/dns-only.yaml" >"$tmp/given.jsonl" 2>/dev/null || fail "--fieldmap FILE"
[ "$(summary "$tmp/given.jsonl")" = "01 zeek-dns.log 1
02 zeek-dns.log 1" ] || fail "--fieldmap FILE: $(summary "$tmp/given.jsonl")"
cp "$tmp/dns-only.yaml" "$KOBAN_DATA/fieldmap.yaml"
scan >"$tmp/data.jsonl" 2>"$tmp/data.err" || fail "DATA/fieldmap.yaml"
grep -q "$KOBAN_DATA/fieldmap.yaml" "$tmp/data.err" || fail "DATA/fieldmap.yaml not used"
[ "$(summary "$tmp/data.jsonl")" = "$(summary "$tmp/given.jsonl")" ] || fail "DATA map alerts"
mkdir -p "$tmp/conf"
cp config/fieldmap.yaml "$tmp/conf/full.yaml"
printf 'detect:\n  fieldmap: full.yaml\n' >"$tmp/conf/koban.yaml"
"$koban" --config "$tmp/conf/koban.yaml" scan --no-default-rules --no-correlation \
    --rules "$d/fm-rules.yml" -o jsonl $in >"$tmp/conf.jsonl" 2>"$tmp/conf.err" ||
    fail "detect.fieldmap: $(cat "$tmp/conf.err")"
[ "$(summary "$tmp/conf.jsonl")" = "$all" ] || fail "detect.fieldmap wins over DATA: $(cat "$tmp/conf.err")"
rm "$KOBAN_DATA/fieldmap.yaml"
printf 'detect:\n  fieldmap: [a]\n' >"$tmp/conf/bad.yaml"
"$koban" --config "$tmp/conf/bad.yaml" scan --no-default-rules --rules "$d/fm-rules.yml" \
    $in >/dev/null 2>"$tmp/badconf.err"
[ $? -eq 2 ] || fail "bad detect.fieldmap: exit status"
grep -q 'bad.yaml:2: detect.fieldmap must be a file name' "$tmp/badconf.err" ||
    fail "bad detect.fieldmap message: $(cat "$tmp/badconf.err")"

# --- a bad map: each error names file and line, the good sources still apply --
cat >"$tmp/bad.yaml" <<'EOF'
version: 1
sources:
  - name: broken
    events: {product: zeek, flavour: dns}
    fields: {a: b}
  - name: zeek-dns-only
    events: {product: zeek, service: dns}
    serves: [{category: dns}]
    fields:
      answer: answers
      record_type: [qtype_name, {x: y}]
  - name: zeek-dns-plain
    events: {product: zeek, service: dns}
    serves: [{category: dns}]
EOF
scan --fieldmap "$tmp/bad.yaml" >"$tmp/bad.jsonl" 2>"$tmp/bad.err"
[ $? -eq 1 ] || fail "bad map: exit status should be 1"
grep -q "bad.yaml:4: a logsource key is product, category or service" "$tmp/bad.err" ||
    fail "bad map: logsource key message: $(cat "$tmp/bad.err")"
grep -q "bad.yaml:11: an event field name must be a non-empty string" "$tmp/bad.err" ||
    fail "bad map: field message: $(cat "$tmp/bad.err")"
[ "$(summary "$tmp/bad.jsonl")" = "01 zeek-dns.log 1" ] ||
    fail "bad map: the good source applies: $(summary "$tmp/bad.jsonl")"
expect_status 2 scan --fieldmap "$tmp/no-such.yaml"

# --- koban rules test: a decoded record meets the rule's variants ------------
"$koban" rules test "$d/fm-tested.yml" >"$tmp/rt.out" 2>&1 || fail "rules test with the map: $(cat "$tmp/rt.out")"
grep -q '3 cases, 0 failed' "$tmp/rt.out" || fail "rules test counts: $(cat "$tmp/rt.out")"
"$koban" rules test --no-fieldmap "$d/fm-tested.yml" >"$tmp/rt-off.out" 2>&1
[ $? -eq 1 ] || fail "rules test --no-fieldmap should fail the Zeek case"
grep -q 'fm-tested.yml:15: .*match\[0\] did not fire the rule' "$tmp/rt-off.out" ||
    fail "rules test --no-fieldmap message: $(cat "$tmp/rt-off.out")"

# --- a SigmaHQ rule over a Zeek dns.log ---------------------------------------
tg=../shared/data/sigma/rules/network/dns/net_dns_susp_telegram_api.yml
if [ -f "$tg" ]; then
    "$koban" scan --no-default-rules --no-correlation --rules "$tg" -o jsonl "$d/zeek-dns.log" \
        >"$tmp/tg.jsonl" 2>/dev/null || fail "SigmaHQ rule scan"
    grep -q '"log.line":2' "$tmp/tg.jsonl" || fail "SigmaHQ telegram rule on Zeek dns"
    "$koban" scan --no-default-rules --no-correlation --no-fieldmap --rules "$tg" -o jsonl \
        "$d/zeek-dns.log" >"$tmp/tg-off.jsonl" 2>/dev/null
    [ ! -s "$tmp/tg-off.jsonl" ] || fail "SigmaHQ rule fires without the map"
fi

finish
