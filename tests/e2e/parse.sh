#!/bin/sh
# End-to-end: `koban parse` on the bundled incident, on every real sample in
# ../shared/data/logs, on standard input, compressed input and bad input.
set -u
koban=${1:?usage: parse.sh KOBAN}
. "$(dirname "$0")/lib/common.sh"

inc=demo/incident
touch -d '2026-11-20 12:00:00 UTC' "$inc"/linux/auth.log "$inc"/firewall/*.log

# --- the command line --------------------------------------------------------
"$koban" version | grep -q '^koban [0-9]' || fail "version"
"$koban" help | grep -q '^  parse ' || fail "help lists parse"
"$koban" parse --help | grep -q -- '--rejects' || fail "parse --help"
expect_status 2 "$koban" nosuchcommand
expect_status 2 "$koban" parse
expect_status 2 "$koban" parse -o bogus "$inc"
expect_status 2 "$koban" parse --format nosuch "$inc"
expect_status 2 "$koban" --nosuchglobal parse "$inc"

# --- the bundled incident: every record of every format decodes -------------
"$koban" parse -o jsonl "$inc" >"$tmp/inc.jsonl" 2>"$tmp/inc.err" || fail "incident: exit $?: $(cat "$tmp/inc.err")"
[ "$(wc -l <"$tmp/inc.jsonl")" -eq 44 ] || fail "incident: $(wc -l <"$tmp/inc.jsonl") events, expected 44"
grep -q '^total: 44 records, 44 decoded, 0 rejected' "$tmp/inc.err" || fail "incident summary: $(tail -1 "$tmp/inc.err")"
python3 - "$tmp/inc.jsonl" <<'PY' || fail "incident: canonical fields"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
fmt = {}
for e in evs:
    fmt[e["log.format"]] = fmt.get(e["log.format"], 0) + 1
want = {"syslog": 13, "squid": 3, "winevt": 6, "suricata": 5, "zeek": 11, "cef": 2, "weblog": 4}
assert fmt == want, fmt
def find(**kv):
    return [e for e in evs if all(e.get(k) == v for k, v in kv.items())]
ps = find(**{"process.executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
             "log.format": "winevt"})
assert ps and ps[0]["logsource"] == {"product": "windows", "category": "process_creation", "service": "sysmon"}, ps
assert ps[0]["process.parent.executable"].endswith("WINWORD.EXE")
assert ps[0]["@timestamp"] == "2026-11-20T09:03:10.512000000Z", ps[0]["@timestamp"]
assert ps[0]["host.name"] == "PC-0042.corp.example.com"
a = find(**{"rule.id": "9000101"}) or find(**{"rule.id": 9000101})
assert a and a[0]["source.ip"] == "10.1.20.42" and a[0]["destination.port"] == 443, a
assert a[0]["rule.name"].startswith("KOBAN DEMO Self-signed")
ok = find(**{"event.outcome": "success", "user.name": "deploy", "source.ip": "198.51.100.23"})
assert ok and ok[0]["@timestamp"].startswith("2026-11-20T08:55:19"), ok
fails = find(**{"event.outcome": "failure", "source.ip": "198.51.100.23"})
assert len(fails) >= 6, len(fails)
beacons = find(**{"destination.ip": "203.0.113.66", "log.format": "zeek"})
assert len(beacons) == 8, len(beacons)
fw = find(**{"log.format": "syslog", "destination.port": 3306})
assert fw and fw[0]["source.ip"] == "192.0.2.200", fw
web = [e for e in evs if e["log.format"] == "weblog"]
assert any("jndi" in e.get("user_agent.original", "") for e in web)
cef = [e for e in evs if e["log.format"] == "cef"]
assert cef[1]["destination.ip"] == "10.1.0.80" and cef[1]["event.action"] == "block", cef[1]
proxy = find(**{"log.format": "squid", "user.name": "alice"})
assert proxy[0]["url.domain"] == "files.example.org", proxy[0]
for e in evs:
    assert "@timestamp" in e and e["@timestamp"].startswith("2026-11-20T"), e
    assert e["log.file.path"].startswith("demo/incident/")
PY

# --all adds raw fields under their own names.
"$koban" parse -q --all -o jsonl "$inc/endpoint/sysmon.jsonl" | sed -n 2p >"$tmp/all.json"
python3 -c "
import json,sys; e=json.load(open('$tmp/all.json'))
assert e['Image'] == e['process.executable'] and e['EventID'] == 1, e
" || fail "--all"

# Table and CSV render the same events.
"$koban" parse -o csv "$inc" 2>/dev/null >"$tmp/inc.csv"
[ "$(wc -l <"$tmp/inc.csv")" -eq 45 ] || fail "csv rows"
head -1 "$tmp/inc.csv" | grep -q '^TIME,FORMAT,HOST' || fail "csv header"
"$koban" parse -o table "$inc" 2>/dev/null | grep -q 'KOBAN DEMO JNDI' || fail "table"

# --- configuration: field mappings for generic JSON, errors name the line ---
printf '{"when":"2026-11-20T10:00:00Z","client_address":"10.9.8.7","operator":"bob"}\n' >"$tmp/app.json"
printf 'ingest:\n  json:\n    fields:\n      source.ip: [client_address]\n      user.name: operator\n      "@timestamp": when\n' >"$tmp/koban.yaml"
"$koban" --config "$tmp/koban.yaml" parse -q -o jsonl "$tmp/app.json" >"$tmp/app.out" || fail "config: parse"
grep -q '"source.ip":"10.9.8.7"' "$tmp/app.out" || fail "config: source.ip mapped: $(cat "$tmp/app.out")"
grep -q '"user.name":"bob"' "$tmp/app.out" || fail "config: user.name mapped"
grep -q '"@timestamp":"2026-11-20T10:00:00.000000000Z"' "$tmp/app.out" || fail "config: @timestamp mapped"
# The data directory's koban.yaml is read when --config is absent.
mkdir -p "$tmp/data" && cp "$tmp/koban.yaml" "$tmp/data/koban.yaml"
"$koban" --data "$tmp/data" parse -q -o jsonl "$tmp/app.json" | grep -q '"source.ip":"10.9.8.7"' || fail "config from data dir"
printf 'ingest:\n  json:\n    fields:\n      source.address: x\n' >"$tmp/bad.yaml"
"$koban" --config "$tmp/bad.yaml" parse "$tmp/app.json" >/dev/null 2>"$tmp/cfg.err"
[ $? -eq 2 ] || fail "bad config: exit status"
grep -q "bad.yaml:4: not a canonical field name" "$tmp/cfg.err" || fail "bad config: $(cat "$tmp/cfg.err")"
printf 'ingest: [\n' >"$tmp/broken.yaml"
expect_status 2 "$koban" --config "$tmp/broken.yaml" parse "$tmp/app.json"

# --- standard input and compression -----------------------------------------
"$koban" parse -q -o jsonl - <"$inc/ids/eve.json" >"$tmp/stdin.jsonl" || fail "stdin"
[ "$(wc -l <"$tmp/stdin.jsonl")" -eq 5 ] || fail "stdin count"
gzip -c "$inc/ids/eve.json" | "$koban" parse -q -o jsonl - >"$tmp/gz.jsonl" || fail "gzip on a pipe"
cmp -s "$tmp/stdin.jsonl" "$tmp/gz.jsonl" || fail "gzip output differs"
if command -v zstd >/dev/null; then
    zstd -q -c "$inc/ids/eve.json" >"$tmp/eve.json.zst"
    "$koban" parse -q -o jsonl "$tmp/eve.json.zst" | sed 's/"log.file.path":"[^"]*",//' >"$tmp/zst.jsonl"
    sed 's/"log.file.path":"[^"]*",//' "$tmp/stdin.jsonl" | cmp -s - "$tmp/zst.jsonl" || fail "zstd output differs"
fi

# --- bad input: reported with file and line, counted, kept, the rest decoded -
{
    sed -n 1p "$inc/ids/eve.json"
    printf '{"timestamp":"2026-11-20T09:00:00+0000","event_type":"dns","src_ip":\n'
    sed -n 2p "$inc/ids/eve.json"
    printf '{"event_type":"flow", "timestamp": "x\001\000y"}\n'
    sed -n 3p "$inc/ids/eve.json"
} >"$tmp/bad.json"
expect_status 1 "$koban" parse --format suricata --rejects "$tmp/rejects.txt" -o jsonl "$tmp/bad.json"
"$koban" parse --format suricata -o jsonl "$tmp/bad.json" >"$tmp/bad.out" 2>"$tmp/bad.err"
[ "$(wc -l <"$tmp/bad.out")" -eq 3 ] || fail "bad input: good records kept"
grep -q "bad.json:2: " "$tmp/bad.err" || fail "bad input: no file:line message: $(cat "$tmp/bad.err")"
grep -q "bad.json:4: " "$tmp/bad.err" || fail "bad input: line 4 not named"
[ "$(wc -l <"$tmp/rejects.txt")" -eq 2 ] || fail "rejects file"
sed -n 2p "$tmp/bad.json" | cmp -s - "$(sed -n 1p "$tmp/rejects.txt" >"$tmp/r1"; echo "$tmp/r1")" || fail "reject kept verbatim"

# A 10 MB line, 100,000-deep nesting, NUL bytes and invalid UTF-8: no crash,
# no hang, the good record after them still decoded.
python3 - "$tmp/hostile.json" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b'{"timestamp":"2026-11-20T09:00:00+0000","event_type":"dns","x":"' + b"A" * (10 << 20) + b'"}\n')
    f.write(b'{"a":' * 100000 + b'1' + b'}' * 100000 + b"\n")
    f.write(b'{"timestamp":"2026-11-20T09:00:00+0000","event_type":"dns","x":"\xff\xfe"}\n')
    f.write(b'\x00\x00\x00{"event_type"\x00}\n')
    f.write(b'{"timestamp":"2026-11-20T09:00:00+0000","event_type":"dns","src_ip":"10.0.0.1"}\n')
PY
timeout 20 "$koban" parse --format suricata -o jsonl "$tmp/hostile.json" >"$tmp/h.out" 2>"$tmp/h.err"
st=$?
[ $st -le 1 ] || fail "hostile input: exit $st"
tail -1 "$tmp/h.out" | grep -q '"source.ip":"10.0.0.1"' || fail "hostile input: last record lost"

# An over-long record is rejected by the cap, streamed, and the rest goes on.
python3 -c "
import sys; sys.stdout.write('x' * (17 << 20) + '\n')" >"$tmp/long.log"
cat "$inc/ids/eve.json" >>"$tmp/long.log"
"$koban" parse --format suricata -o jsonl "$tmp/long.log" >"$tmp/long.out" 2>"$tmp/long.err"
[ $? -eq 1 ] || fail "long record: exit status"
grep -q "record longer than" "$tmp/long.err" || fail "long record: reason"
[ "$(wc -l <"$tmp/long.out")" -eq 5 ] || fail "long record: rest decoded"

# Unreadable and unrecognised sources are reported and do not stop the rest.
printf '\001\002\003 binary junk\n' >"$tmp/junk.bin"
"$koban" parse -o jsonl "$tmp/nonexistent" "$tmp/junk.bin" "$inc/ids/eve.json" >"$tmp/mix.out" 2>"$tmp/mix.err"
[ $? -eq 1 ] || fail "missing source: exit status"
grep -q "nonexistent: No such file" "$tmp/mix.err" || fail "missing source message"
grep -q "junk.bin: unrecognised log format" "$tmp/mix.err" || fail "unrecognised message"
[ "$(wc -l <"$tmp/mix.out")" -eq 5 ] || fail "other sources still read"

# --- every real sample: decoded or rejected with a reason, never a crash ----
data=../shared/data/logs
if [ -d "$data" ]; then
    for d in suricata-eve syslog-rfc3164 syslog-rfc5424 syslog-auth kernel-firewall cef leef \
             zeek-tsv zeek-json squid web-access; do
        for f in "$data/$d"/*; do
            case "$f" in *.expected*|*.assert|*.annotated.txt|*.rb|*.csv|*schema.json) continue ;; esac
            timeout 60 "$koban" parse -q -o jsonl "$f" >/dev/null 2>"$tmp/s.err"
            st=$?
            [ $st -le 1 ] || fail "$f: exit $st: $(head -3 "$tmp/s.err")"
        done
    done
    # The samples of each core format decode completely.
    for f in "$data"/suricata-eve/elastic-eve-small.log "$data"/zeek-tsv/zed-wrccdc-dns.log \
             "$data"/cef/metron-cyberark.cef.log "$data"/syslog-auth/crowdsec-sshd.log; do
        "$koban" parse -o jsonl "$f" >/dev/null 2>"$tmp/s.err" || fail "$f: $(tail -2 "$tmp/s.err")"
    done
    "$koban" parse -o jsonl ../shared/data/windows-events/hayabusa_sample_evtx.jsonl >"$tmp/win.out" 2>"$tmp/win.err" ||
        fail "windows events: $(tail -2 "$tmp/win.err")"
    [ "$(wc -l <"$tmp/win.out")" -eq 15527 ] || fail "windows events: count"
fi
finish
