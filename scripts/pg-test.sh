#!/bin/sh
# Runs a command against a throw-away PostgreSQL server:
#   scripts/pg-test.sh COMMAND [ARGS...]
# initdb into a temporary directory, listen on a unix socket there only (no
# TCP port to collide with), export KOBAN_PG_DSN, run the command, stop the
# server and delete the directory. As root (CI), the server runs as the
# user koban-test (created when missing) or nobody. When PostgreSQL cannot
# be started the reason is printed and the exit status is 77 (skipped).
set -u
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

bindir=
for d in "${KOBAN_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null)" /usr/lib/postgresql/*/bin; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
done
if [ -z "$bindir" ]; then
    echo "SKIP: PostgreSQL server binaries (initdb, pg_ctl) not found; install postgresql" >&2
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/koban-pg.XXXXXX") || exit 77
run() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    user=koban-test
    if ! id "$user" >/dev/null 2>&1; then
        useradd --system --no-create-home --shell /usr/sbin/nologin "$user" 2>/dev/null ||
            adduser --system --no-create-home "$user" >/dev/null 2>&1 || user=nobody
    fi
    if ! id "$user" >/dev/null 2>&1; then user=nobody; fi
    chown "$user" "$tmp"
    chmod 700 "$tmp"
    if command -v runuser >/dev/null 2>&1; then
        run() { runuser -u "$user" -- "$@"; }
    else
        run() { su -s /bin/sh "$user" -c '"$0" "$@"' -- "$@"; }
    fi
fi

cleanup() {
    run "$bindir/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! run "$bindir/initdb" -D "$tmp/data" -A trust -U koban -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1; then
    echo "SKIP: initdb failed:" >&2; sed 's/^/  /' "$tmp/initdb.log" >&2
    exit 77
fi
if ! run "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 \
        -o "-k $tmp -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null 2>&1; then
    echo "SKIP: the PostgreSQL server did not start:" >&2; sed 's/^/  /' "$tmp/server.log" >&2
    exit 77
fi
KOBAN_PG_DSN="postgresql:///postgres?host=$tmp&user=koban"
export KOBAN_PG_DSN
"$@"
