# Shared by the playbook end-to-end tests (sourced after KOBAN is set): a
# scratch $T (kept when KEEP is set), fail, K (koban on $T/data), P (koban
# playbook with --dir $T/pb) and runid (the run id `playbook run` printed).
T=$(mktemp -d); if [ -n "${KEEP:-}" ]; then echo "$T"; else trap 'rm -rf "$T"' EXIT; fi
fail() { echo "FAIL: $*"; exit 1; }
K() { "$KOBAN" --data "$T/data" "$@"; }
P() { "$KOBAN" --data "$T/data" playbook "$@" --dir "$T/pb"; }
runid() { sed -n 's/^run \([0-9]*\)$/\1/p' "$1"; }
