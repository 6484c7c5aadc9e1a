#!/bin/sh
# The nftables connector for real, inside a network namespace this test
# creates: a block becomes an element of koban's set with a timeout, the
# element expires by itself, `playbook tick` records the expiry, and
# `actions rollback` deletes the element. nft is run as an argument vector
# (a wrapper records each argv element; the element spec arrives as ONE
# element, so no shell split it), and a hostile indicator is refused by type
# validation before any nft call.
set -u
koban=${1:?usage: nft.sh KOBAN}
koban=$(cd "$(dirname "$koban")" && pwd)/$(basename "$koban")
. "$(dirname "$0")/lib/common.sh"

skip() { echo "SKIP: $*"; exit 77; }
NFT=$(command -v nft 2>/dev/null || true)
IP=$(command -v ip 2>/dev/null || true)
[ -n "$NFT" ] || skip "nft is not installed"
[ -n "$IP" ] || skip "iproute2 (ip) is not installed"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"
NS=koban-test-$$
"$IP" netns add "$NS" 2>"$tmp/ns.err" || skip "cannot create a network namespace: $(cat "$tmp/ns.err")"
trap '"$IP" netns del "$NS" 2>/dev/null; rm -rf "$tmp"' EXIT
"$IP" netns exec "$NS" "$NFT" list ruleset >/dev/null 2>"$tmp/ns.err" ||
    skip "nft does not work inside a namespace: $(cat "$tmp/ns.err")"

K() { "$koban" --data "$tmp/data" "$@"; }
inns() { "$IP" netns exec "$NS" "$NFT" "$@"; }

# nft through a wrapper that logs its argv, one <element> each
cat > "$tmp/nft-wrap" <<EOF
#!/bin/sh
for a in "\$@"; do printf '<%s>' "\$a"; done >> "$tmp/argv.log"
echo >> "$tmp/argv.log"
exec "$NFT" "\$@"
EOF
chmod +x "$tmp/nft-wrap"
: > "$tmp/argv.log"

mkdir -p "$tmp/pb"
cat > "$tmp/pb/nft.yml" <<'Y'
name: nft-test
policy: [{decision: auto}]
processes:
  - id: bd
    method: {action: {kind: block-destination, target: '{{incident.destination_ip}}', expires: 3s}}
    outputs: {bd_status: status}
  - id: bs
    method: {action: {kind: block-source, target: '{{incident.source_ip}}', expires: 1h}}
    outputs: {bs_status: status}
steps:
  - {id: dst, process: bd}
  - {id: src, process: bs}
  - {id: fin, outcome: blocked, end: true}
Y
cat > "$tmp/conn.yml" <<Y
connectors:
  fw: {type: nft, nft: $tmp/nft-wrap, ip: $IP, netns: $NS, attempts: 1}
actions: {default: fw}
Y
printf '{"type":"x","severity":"high","host":"pc1","source_ip":"198.51.100.7","destination_ip":"203.0.113.66"}' > "$tmp/inc.json"

K playbook run nft-test --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/inc.json" \
    > "$tmp/run.out" 2>&1 || fail "run: $(cat "$tmp/run.out")"
grep -q 'action #1 block-destination 203.0.113.66: applied' "$tmp/run.out" || fail "block-destination not applied: $(cat "$tmp/run.out")"
grep -q 'action #2 block-source 198.51.100.7: applied' "$tmp/run.out" || fail "block-source not applied"

# the elements are in the namespace's sets, the destination with a timeout
inns list set inet koban dst4 > "$tmp/dst4" 2>&1 || fail "no set dst4: $(cat "$tmp/dst4")"
grep -q '203.0.113.66 timeout 3s' "$tmp/dst4" || fail "dst4 element with timeout 3s: $(cat "$tmp/dst4")"
inns list set inet koban src4 > "$tmp/src4" 2>&1
grep -q '198.51.100.7 timeout 1h' "$tmp/src4" || fail "src4 element: $(cat "$tmp/src4")"
inns list chain inet koban input | grep -q 'ip daddr @dst4 drop' || fail "no drop rule for dst4"
# ... and not in the host's ruleset
"$NFT" list table inet koban >/dev/null 2>&1 && fail "koban's table leaked outside the namespace"

# argv only: the element spec reached nft as ONE argument, spaces and all
grep -qF '<add><element><inet><koban><dst4><{ 203.0.113.66 timeout 3s }>' "$tmp/argv.log" ||
    fail "element spec not a single argv element: $(cat "$tmp/argv.log")"
K actions show 1 > "$tmp/show1" 2>&1
grep -qF "$IP netns exec $NS $tmp/nft-wrap add element inet koban dst4 '{ 203.0.113.66 timeout 3s }'" "$tmp/show1" ||
    fail "audit lacks the exact command: $(cat "$tmp/show1")"

# hostile indicators: refused by type validation, nft never called
for bad in '1.2.3.4; flush ruleset' '1.2.3.4 } ; flush ruleset ; {' '$(reboot)' "1.2.3.4
flush ruleset"; do
    before=$(wc -l < "$tmp/argv.log")
    python3 -c 'import json,sys; print(json.dumps({"type":"x","severity":"high","source_ip":sys.argv[1],"destination_ip":sys.argv[1]}))' "$bad" > "$tmp/bad.json"
    K playbook run nft-test --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/bad.json" \
        > "$tmp/bad.out" 2>&1 || fail "hostile run failed outright: $(cat "$tmp/bad.out")"
    grep -q 'refused: target is not a valid cidr' "$tmp/bad.out" || fail "hostile value not refused: $(cat "$tmp/bad.out")"
    after=$(wc -l < "$tmp/argv.log")
    [ "$before" -eq "$after" ] || fail "nft was called for a hostile value: $(tail -n 3 "$tmp/argv.log")"
done
[ "$(K actions list --json | grep -c '"kind"')" -eq 2 ] || fail "hostile runs created actions"
inns list set inet koban src4 | grep -q '198.51.100.7' || fail "the ruleset changed under hostile input"

# the element expires by itself; tick records the expiry (rollback of a gone element is fine)
sleep 4
inns list set inet koban dst4 > "$tmp/dst4b" 2>&1
grep -q '203.0.113.66' "$tmp/dst4b" && fail "element did not expire: $(cat "$tmp/dst4b")"
K playbook tick > "$tmp/tick.out" 2>&1 || fail "tick: $(cat "$tmp/tick.out")"
K actions list > "$tmp/list" 2>&1
grep -Eq '^1 .*block-destination .*expired' "$tmp/list" || fail "expiry not recorded: $(cat "$tmp/list")"
grep -Eq '^2 .*block-source .*applied' "$tmp/list" || fail "1h block should still be applied: $(cat "$tmp/list")"

# rollback deletes the element
K actions rollback 2 > "$tmp/rb.out" 2>&1 || fail "rollback: $(cat "$tmp/rb.out")"
inns list set inet koban src4 > "$tmp/src4b" 2>&1
grep -q '198.51.100.7' "$tmp/src4b" && fail "rollback left the element: $(cat "$tmp/src4b")"
grep -qF '<delete><element><inet><koban><src4><{ 198.51.100.7 }>' "$tmp/argv.log" || fail "no delete element call"
K actions list | grep -Eq '^2 .*rolled-back' || fail "rollback status"
K actions show 2 | grep -q 'rollback unblock-source 198.51.100.7 via nft: ok' || fail "rollback not audited"

# IPv6 goes to dst6
printf '{"type":"x","severity":"high","source_ip":"2001:db8::7","destination_ip":"2001:db8::66"}' > "$tmp/inc6.json"
K playbook run nft-test --dir "$tmp/pb" --connectors "$tmp/conn.yml" --incident-file "$tmp/inc6.json" \
    > "$tmp/run6.out" 2>&1 || fail "run v6: $(cat "$tmp/run6.out")"
inns list set inet koban dst6 | grep -q '2001:db8::66' || fail "IPv6 element not in dst6"
finish
