#!/usr/bin/env bash
# Installs Debian's PostgreSQL server programs for the test suite, as root. The tests run clusters
# of their own (scripts/with-test-postgres.sh, test/pg-cluster.ts); the package would also create
# a cluster of its own and start it, which nothing uses: policy-rc.d keeps the package from starting
# any service while it installs, and the cluster it created is dropped.
set -euo pipefail

policy=/usr/sbin/policy-rc.d
saved=""
if [ -e "$policy" ]; then saved="$(mktemp)"; cp -p "$policy" "$saved"; fi
restore() { if [ -n "$saved" ]; then mv "$saved" "$policy"; else rm -f "$policy"; fi; }
trap restore EXIT
printf '#!/bin/sh\n# no service starts while dtpay CI installs packages\nexit 101\n' >"$policy"
chmod 755 "$policy"

apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql

pg_lsclusters -h | while read -r version name _; do
  pg_dropcluster --stop "$version" "$name"
done
