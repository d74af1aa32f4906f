#!/bin/sh
# Runs once, when the official postgres image initialises an empty data volume: the gateways' role
# owns their database and has no other right (no superuser, no extensions: CONTRACT §7).
# The password comes from DTPAY_DB_PASSWORD (deploy/.env), never from this file.
set -eu
: "${DTPAY_DB_PASSWORD:?DTPAY_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$DTPAY_DB_PASSWORD" <<'SQL'
CREATE ROLE dtpay LOGIN PASSWORD :'pw';
CREATE DATABASE dtpay OWNER dtpay;
REVOKE ALL ON DATABASE dtpay FROM PUBLIC;
SQL
