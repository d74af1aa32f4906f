#!/usr/bin/env bash
# with-test-postgres.sh COMMAND [ARG…]: runs COMMAND with a throwaway PostgreSQL cluster, set up as
# test/pg-cluster.ts sets up its own (trust auth, superuser dtpay, 127.0.0.1 on a free port, the
# socket inside the cluster's folder, fsync off), named in DTPAY_TEST_PG_URL, with
# DTPAY_REQUIRE_PG=1 so that a PostgreSQL test cannot skip. The cluster is stopped and its folder
# removed when this script exits, whatever COMMAND's outcome; COMMAND's exit status is this script's.
# With --or-skip first, a machine without PostgreSQL's server programs skips COMMAND (exit 0, with a
# line saying so) instead of failing, unless DTPAY_REQUIRE_PG=1.
set -euo pipefail

or_skip=""
if [ "${1:-}" = "--or-skip" ]; then or_skip=1; shift; fi

bin=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/pg_ctl" ]; then bin="$d"; break; fi
done
if [ -z "$bin" ] && command -v pg_ctl >/dev/null 2>&1; then bin="$(dirname "$(command -v pg_ctl)")"; fi
if [ -z "$bin" ]; then
  if [ -n "$or_skip" ] && [ "${DTPAY_REQUIRE_PG:-}" != 1 ]; then
    echo "with-test-postgres: no PostgreSQL server programs (pg_ctl) here: skipped $*"
    exit 0
  fi
  echo "with-test-postgres: no PostgreSQL server binaries (pg_ctl) found" >&2
  exit 1
fi

# PostgreSQL refuses to run as root: as root the cluster belongs to, and runs as, the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/dtpay-pg-XXXXXX")"
data="$dir/data"
stop() {
  as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi

as_pg "$bin/initdb" -D "$data" -U dtpay --auth=trust -E UTF8 --no-locale --no-sync >/dev/null
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=200" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export DTPAY_TEST_PG_URL="postgres://dtpay@127.0.0.1:$port/postgres"
export DTPAY_REQUIRE_PG=1
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests at $DTPAY_TEST_PG_URL"
status=0
"$@" || status=$?
exit "$status"
