#!/bin/sh
# The webhook connector and the notification channels against receivers the
# test starts on 127.0.0.1 (lib/respond-servers.py): retries with backoff on
# 5xx, a timeout, no retry on 4xx, one idempotency key per action, secrets
# from the environment, a file and the URL present in the request but masked
# everywhere koban writes; rollback as its own request; hostile values that
# stay inside their JSON string and URL component; Slack / Mattermost / Teams
# bodies, one thread per incident with numbered updates, routing by severity
# and type, e-mail through an SMTP sink and CEF over UDP syslog.
set -u
koban=${1:?usage: webhook.sh KOBAN}
koban=$(cd "$(dirname "$koban")" && pwd)/$(basename "$koban")
. "$(dirname "$0")/lib/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is needed for the receivers"; exit 77; }
mkdir -p "$tmp/srv" "$tmp/tls"
# a throw-away certificate for the STARTTLS mail relay (the test's own CA)
tls=
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$tmp/tls/key.pem" -out "$tmp/tls/cert.pem" \
    >/dev/null 2>&1 && tls=$tmp/tls || echo "note: no openssl, the STARTTLS part is skipped" >&2
python3 "$here/lib/respond-servers.py" "$tmp/srv" $tls 2>"$tmp/srv.err" &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$tmp"' EXIT
i=0
while [ ! -f "$tmp/srv/ports.json" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -f "$tmp/srv/ports.json" ] || { cat "$tmp/srv.err"; echo "FAIL: receivers did not start"; exit 1; }
port() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$tmp/srv/ports.json" "$1"; }
HP=$(port http); SP=$(port smtp); UP=$(port udp)
TP=$([ -n "$tls" ] && port smtp_tls)
H="http://127.0.0.1:$HP"

K() { "$koban" --data "$tmp/data" "$@"; }

# secrets: one from the environment, one from a file, one inside a URL
export KOBAN_TEST_TOKEN=tok-5f3a9c1e77d2
export KOBAN_TEST_HOOK=hook-81b2c6d4e0aa
printf 'filekey-2d9e4b7c31\n' > "$tmp/apikey"

mkdir -p "$tmp/pb"
cat > "$tmp/pb/wh.yml" <<'Y'
name: wh-test
policy: [{decision: auto}]
processes:
  - {id: n1, method: {notify: "Investigation started on {{incident.host}}"}}
  - id: iso
    method: {action: {kind: isolate-host, target: '{{incident.host}}'}}
    outputs: {iso: status}
  - id: quar
    method: {action: {kind: quarantine-file, target: '{{incident.file_hash}}'}}
    outputs: {quar: status}
  - id: cust
    method: {action: {kind: custom, target: '{{incident.url}}'}}
    outputs: {cust: status}
  - id: dis
    method: {action: {kind: disable-account, target: '{{incident.user}}'}}
    outputs: {dis: status}
  - id: blk
    method: {action: {kind: block-source, target: '{{incident.source_ip}}'}}
    outputs: {blk: status}
  - {id: n2, method: {notify: "First response: isolation {{iso}}, quarantine {{quar}}"}}
  - {id: n3, method: {notify: "Analysis closed"}}
steps:
  - {id: n1, process: n1}
  - {id: iso, process: iso}
  - {id: quar, process: quar}
  - {id: cust, process: cust}
  - {id: dis, process: dis}
  - {id: blk, process: blk}
  - {id: n2, process: n2}
  - {id: n3, process: n3}
  - {id: fin, outcome: contained, end: true}
Y
cat > "$tmp/conn.yml" <<Y
connectors:
  edr:
    type: webhook
    url: "$H/isolate/{{target}}"
    headers: {Authorization: "Bearer \${env:KOBAN_TEST_TOKEN}", X-Api-Key: "\${file:$tmp/apikey}"}
    body: '{"host": {{target}}, "action": {{kind}}}'
    rollback_url: "$H/isolate/{{target}}"
    rollback_method: DELETE
    retries: 3
    attempts: 1
  flaky: {type: webhook, url: "$H/flaky/{{target}}", body: '{"sha256": {{target}}}', retries: 3, attempts: 1}
  ticket: {type: webhook, url: "$H/custom/{{target}}?q={{target}}", body: '{"value": {{target}}, "verb": {{verb}}}', attempts: 1}
  slowc: {type: webhook, url: "$H/slow/x", timeout: 1, retries: 1, attempts: 1}
  denied: {type: webhook, url: "$H/forbidden/x", retries: 3, attempts: 1}
actions: {isolate-host: edr, quarantine-file: flaky, custom: ticket, disable-account: slowc, block-source: denied}
notify:
  - {type: slack, url: "$H/slack/\${env:KOBAN_TEST_HOOK}"}
  - {type: mattermost, url: "$H/mattermost/hooks/x"}
  - {type: teams, url: "$H/teams/webhook"}
  - {type: email, url: "smtp://127.0.0.1:$SP", from: koban@example.org, to: [csirt@example.org, soc@example.org]}
$([ -n "$tls" ] && echo "  - {type: email, url: \"smtp://127.0.0.1:$TP\", starttls: true, ca_file: \"$tls/cert.pem\", from: koban@example.org, to: [tls@example.org]}")
  - {type: syslog, host: 127.0.0.1, port: $UP}
  - {type: slack, url: "$H/ransomonly/x", types: [ransomware]}
  - {type: slack, url: "$H/critonly/x", min_severity: critical}
Y
# the custom target is hostile: quotes, a JSON break-out, a shell substitution,
# URL metacharacters; the title breaks CEF and mail headers if not escaped
cat > "$tmp/inc.json" <<'J'
{"id": 7, "type": "targeted-attack", "severity": "high", "host": "pc-0042.corp.example.com",
 "user": "alice", "source_ip": "198.51.100.7",
 "file_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
 "url": "x\", \"admin\": true, \"y\": \"$(id)&q=1/../#frag",
 "title": "Exfil | to \"C2\" = bad\r\nBcc: evil@example.org"}
J
start=$(date +%s)
K playbook run wh-test --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/inc.json" \
    > "$tmp/run.out" 2> "$tmp/run.err" || fail "run: $(cat "$tmp/run.err")"
end=$(date +%s)
grep -q 'first response: contained' "$tmp/run.out" || fail "run did not finish: $(cat "$tmp/run.out" "$tmp/run.err")"
[ $((end - start)) -lt 20 ] || fail "run took $((end - start)) s"

# the requests as the receiver saw them, and koban's records of them
K actions list --json > "$tmp/actions.jsonl"
K playbook timeline 1 --json > "$tmp/tl.jsonl"
for id in 1 2 3 4 5; do K actions show $id > "$tmp/show-$id.txt" 2>&1; done
cat "$tmp"/show-*.txt > "$tmp/show.txt"
sleep 0.5 # the UDP datagrams
python3 - "$tmp" <<'P' || fail "requests and records"
import json, os, sys
T = sys.argv[1]
rd = lambda n: [json.loads(l) for l in open(os.path.join(T, n))] if os.path.exists(os.path.join(T, n)) else []
http = rd("srv/http.jsonl")
def show(i):
    t = open(os.path.join(T, "show-%d.txt" % i)).read()
    return json.loads(t[:t.index("\naudit:")])
acts = {a["kind"]: show(a["id"]) for a in rd("actions.jsonl")}
inc = json.load(open(os.path.join(T, "inc.json")))
hdr = lambda r, k: {a.lower(): b for a, b in r["headers"].items()}.get(k.lower())
by = lambda route: [r for r in http if r["path"].split("/")[1].split("?")[0] == route]

# isolate: one POST with the secrets from env and file, JSON body, key
iso = by("isolate")
assert len(iso) == 1, iso
r = iso[0]
assert r["method"] == "POST" and r["path"] == "/isolate/pc-0042.corp.example.com", r
assert hdr(r, "Authorization") == "Bearer tok-5f3a9c1e77d2", r["headers"]
assert hdr(r, "X-Api-Key") == "filekey-2d9e4b7c31", r["headers"]
assert json.loads(r["body"]) == {"host": "pc-0042.corp.example.com", "action": "isolate-host"}
assert hdr(r, "Idempotency-Key").endswith(":apply"), r["headers"]
assert acts["isolate-host"]["status"] == "applied", acts["isolate-host"]

# flaky: 500, 500, 200 with growing backoff, the same key every time, applied once
fl = by("flaky")
assert [x["code"] for x in fl] == [500, 500, 200], fl
keys = {hdr(x, "Idempotency-Key") for x in fl}
assert len(keys) == 1, keys
assert sum(1 for x in fl if x["code"] == 200 and not x["duplicate"]) == 1
d1, d2 = fl[1]["t"] - fl[0]["t"], fl[2]["t"] - fl[1]["t"]
assert d1 >= 0.09 and d2 >= 0.19 and d2 > d1, (d1, d2)
assert acts["quarantine-file"]["status"] == "applied"
assert "HTTP 200 after 3 attempt(s)" in acts["quarantine-file"]["request"], acts["quarantine-file"]
# every action has its own key
allkeys = [hdr(x, "Idempotency-Key") for x in http if x["path"].split("/")[1] in ("isolate", "flaky", "custom", "slow", "forbidden")]
assert len(set(allkeys)) == 5, allkeys

# hostile custom value: exactly its own value in the JSON string and URL
from urllib.parse import unquote, urlsplit
cu = by("custom")
assert len(cu) == 1, cu
b = json.loads(cu[0]["body"])
assert b == {"value": inc["url"], "verb": "apply"}, b
u = urlsplit(cu[0]["path"])
assert unquote(u.path[len("/custom/"):]) == inc["url"], u
assert unquote(u.query[2:]) == inc["url"] and u.query.count("&") == 0 and not u.fragment, u

# timeout: 2 attempts of ~1 s, failed, recorded and surfaced
sl = by("slow")
assert len(sl) == 2, sl
a = acts["disable-account"]
assert a["status"] == "failed" and "timed out" in a["result"], a
# 4xx: not retried
fb = by("forbidden")
assert len(fb) == 1, fb
assert acts["block-source"]["status"] == "failed" and "4xx" in acts["block-source"]["result"]
tl = rd("tl.jsonl")
assert sum(1 for x in tl if x["kind"] == "action-failed") == 2, [x["kind"] for x in tl]

# notifications: 3 per channel (first + 2 updates), the right shapes
sk = by("slack")
assert len(sk) == 3, sk
assert sk[0]["path"] == "/slack/hook-81b2c6d4e0aa"
t0 = json.loads(sk[0]["body"])["text"]
assert list(json.loads(sk[0]["body"])) == ["text"]
assert t0.startswith("[koban] high incident #7: Exfil | to \"C2\" = bad"), t0
assert "Investigation started on pc-0042.corp.example.com" in t0 and "(targeted-attack)" in t0
t1, t2 = (json.loads(x["body"])["text"] for x in sk[1:])
assert t1.startswith("Update 1: [koban] high incident #7") and "isolation applied, quarantine applied" in t1, t1
assert t2.startswith("Update 2: ") and "Analysis closed" in t2, t2
mm = by("mattermost")
assert [json.loads(x["body"]) for x in mm] == [json.loads(x["body"]) for x in sk]
tm = by("teams")
assert len(tm) == 3
c = json.loads(tm[0]["body"])
assert c["@type"] == "MessageCard" and c["@context"] == "https://schema.org/extensions", c
assert c["title"].startswith("Exfil | to") and "Investigation started" in c["text"] and c["summary"]
assert not by("ransomonly") and not by("critonly"), "routing by type / severity"

# e-mail: 3 messages, threaded, headers intact despite the hostile title
ml = rd("srv/smtp.jsonl")
assert len(ml) == 3, ml
m = ml[0]
assert m["from"] == "<koban@example.org>" and m["rcpt"] == ["<csirt@example.org>", "<soc@example.org>"], m
head, _, body = m["data"].partition("\r\n\r\n")
hl = head.split("\r\n")
assert "Subject: [koban] high incident #7: Exfil | to \"C2\" = bad  Bcc: evil@example.org" in hl, hl
assert not any(h.lower().startswith("bcc:") for h in hl), hl
assert "Message-ID: <incident-7-first@koban>" in hl
assert "Investigation started on pc-0042.corp.example.com" in body, body
h2 = ml[1]["data"].split("\r\n\r\n")[0].split("\r\n")
assert "In-Reply-To: <incident-7-first@koban>" in h2 and "Message-ID: <incident-7-update-1@koban>" in h2, h2
assert any(h.startswith("Subject: Re: [koban]") for h in h2)
assert all(not x["tls"] for x in ml)
# the STARTTLS relay (it refuses mail before STARTTLS): the same 3, over TLS
if os.path.exists(os.path.join(T, "tls", "cert.pem")):
    tl = rd("srv/smtp-tls.jsonl")
    assert len(tl) == 3 and all(x["tls"] and x["rcpt"] == ["<tls@example.org>"] for x in tl), tl
    assert "Message-ID: <incident-7-first@koban>" in tl[0]["data"]

# syslog: CEF lines, header fields escaped
sy = rd("srv/syslog.jsonl")
assert len(sy) == 3, sy
s0 = sy[0]["msg"]
assert s0.startswith("<116>1 - koban koban - - - CEF:0|koban|koban|"), s0
assert "|targeted-attack|Exfil \\| to \"C2\" = bad  Bcc: evil@example.org|8|externalId=7 msg=" in s0, s0
assert "cs1Label=update cs1=0" in s0 and "cs1=1" in sy[1]["msg"]
P

# secrets: sent (checked above) but nowhere in what koban wrote
for s in tok-5f3a9c1e77d2 filekey-2d9e4b7c31 hook-81b2c6d4e0aa; do
    grep -rqa -- "$s" "$tmp/data" "$tmp/run.out" "$tmp/run.err" "$tmp/actions.jsonl" "$tmp/tl.jsonl" "$tmp/show.txt" &&
        fail "secret $s appears in koban's records"
done
grep -q 'Authorization: Bearer \*\*\*' "$tmp/show.txt" || fail "masked header not in the audit"
grep -q 'X-Api-Key: \*\*\*' "$tmp/show.txt" || fail "masked file secret not in the audit"

# rollback: its own request (DELETE, its own key), recorded
K actions rollback 1 > "$tmp/rb.out" 2>&1 || fail "rollback: $(cat "$tmp/rb.out")"
python3 - "$tmp/srv/http.jsonl" <<'P' || fail "rollback request"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if '"/isolate/' in l]
assert [r["method"] for r in rs] == ["POST", "DELETE"], rs
k = [{a.lower(): b for a, b in r["headers"].items()}["idempotency-key"] for r in rs]
assert k[0].endswith(":apply") and k[1].endswith(":rollback") and k[0][:-6] == k[1][:-9], k
P
K actions show 1 | grep -q 'rollback release-host\|rollback.*via webhook: ok' || fail "rollback not audited"

# resuming the finished run sends nothing again
n=$(wc -l < "$tmp/srv/http.jsonl")
K playbook resume 1 --dir "$tmp/pb" --connectors "$tmp/conn.yml" > /dev/null 2>&1
[ "$(wc -l < "$tmp/srv/http.jsonl")" -eq "$n" ] || fail "a resumed run repeated requests"

# a low-severity incident reaches no channel (default route: medium and above)
printf '{"id": 8, "type": "targeted-attack", "severity": "low", "host": "pc1", "title": "minor"}' > "$tmp/low.json"
cat > "$tmp/pb/n.yml" <<'Y'
name: notify-only
processes: [{id: n, method: {notify: "hello"}}]
steps: [{id: n, process: n}]
Y
n=$(wc -l < "$tmp/srv/http.jsonl")
K playbook run notify-only --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/low.json" > "$tmp/low.out" 2>&1 || fail "low run"
grep -q '(0 channel(s))' "$tmp/low.out" || fail "low severity notified: $(cat "$tmp/low.out")"
[ "$(wc -l < "$tmp/srv/http.jsonl")" -eq "$n" ] || fail "low severity reached a webhook"
# a critical ransomware incident reaches the routed channels too
printf '{"id": 9, "type": "ransomware", "severity": "critical", "host": "pc1", "title": "locker"}' > "$tmp/crit.json"
K playbook run notify-only --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/crit.json" > "$tmp/crit.out" 2>&1 || fail "crit run"
nch=$([ -n "$tls" ] && echo 8 || echo 7) # the STARTTLS relay is one more
grep -q "($nch channel(s))" "$tmp/crit.out" || fail "critical ransomware: $(cat "$tmp/crit.out")"
# an unreachable channel is reported, not fatal
printf 'notify:\n  - {type: slack, url: "http://127.0.0.1:1/x"}\n' > "$tmp/dead.yml"
K playbook run notify-only --dir "$tmp/pb" --connectors "$tmp/dead.yml" --incident-file "$tmp/crit.json" > "$tmp/dead.out" 2>&1 ||
    fail "a dead channel failed the run"
grep -q 'slack: webhook: connection failed' "$tmp/dead.out" || fail "dead channel not reported: $(cat "$tmp/dead.out")"
finish
