# Helpers for end-to-end tests (sourced). Each test gets a scratch $tmp.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
expect_status() {
    want=$1
    shift
    "$@" >/dev/null 2>&1
    got=$?
    [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want"
}
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
}
