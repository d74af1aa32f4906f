#!/usr/bin/env bash
# test-on-postgres.sh [FILE…]: the suite's second pass (CONTRACT §7: both backends pass the same
# suite). Every integration test file that starts a gateway, and every unit test file that takes its
# storage from testStorage (test/fixtures/backends.ts), runs again with DTPAY_TEST_BACKEND=postgres,
# where each gateway (each testStorage) gets a PostgreSQL database of its own (test/backend.ts).
# A file about one backend only says so in a line `// Not repeated on PostgreSQL: <why>`.
# Without DTPAY_TEST_PG_URL this starts a throwaway cluster first (with-test-postgres.sh), and skips
# the pass on a machine with no PostgreSQL, unless DTPAY_REQUIRE_PG=1. Run after a build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${DTPAY_TEST_PG_URL:-}" ]; then exec scripts/with-test-postgres.sh --or-skip "$0" "$@"; fi

if [ "$#" -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <({ grep -lE 'startGateway|console-client' dist/test/integration/*.test.js; grep -l 'testStorage' dist/test/unit/*.test.js; } \
    | xargs grep -L '^// Not repeated on PostgreSQL:')
fi
echo "the PostgreSQL pass: ${#files[@]} test files, each gateway on PostgreSQL"
DTPAY_TEST_BACKEND=postgres exec npx tap "${files[@]}"
