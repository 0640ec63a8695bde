#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and Chromium are installed and PostgreSQL and Redis are answering on
# 127.0.0.1; create the `mge_test` database. Also install nginx and openssl for the topology
# stage, which starts its own nginx, PostgreSQL and Redis (tests/topology/stack.py). Installs with apt-get only what is missing. Safe to
# run repeatedly, and quick when everything is already up.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
PG_CLUSTER=main
PG_USER=postgres
PG_DB=mge_test
REDIS_HOST=127.0.0.1
REDIS_PORT=6379

log() { printf '[services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: cannot install or start services."
  SUDO=(sudo)
fi

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

wait_for() {  # wait_for DESCRIPTION COMMAND... : retry for up to 30 s
  local what="$1"
  shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up within 30 s."
}

pg_answers() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; }
pg_psql() { psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -w -v ON_ERROR_STOP=1 -qtAX "$@"; }

pg_trust_localhost() {
  # A fresh Debian cluster asks for a password over TCP; this machine is for development and CI,
  # so let local TCP connections in without one (the test URLs carry no password).
  local hba
  for hba in /etc/postgresql/*/"$PG_CLUSTER"/pg_hba.conf; do
    grep -q 'mge services.sh' "$hba" && continue
    log "allowing passwordless TCP connections from localhost in $hba"
    "${SUDO[@]}" sed -i '1i # added by mge services.sh: passwordless local TCP for dev/CI\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  done
  "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" "$PG_CLUSTER" reload
}

pg_version() { find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1; }

ensure_postgres() {
  if ! command -v pg_isready >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
    apt_install postgresql postgresql-client
  fi
  if ! pg_answers; then
    local version
    version="$(pg_version)"
    [ -n "$version" ] || die "no PostgreSQL cluster under /etc/postgresql."
    log "starting PostgreSQL $version"
    "${SUDO[@]}" pg_ctlcluster --skip-systemctl-redirect "$version" "$PG_CLUSTER" start
    wait_for "PostgreSQL" pg_answers
  fi
  if ! pg_psql -c 'SELECT 1' >/dev/null 2>&1; then
    pg_trust_localhost
    pg_psql -c 'SELECT 1' >/dev/null || die "cannot connect: psql -h $PG_HOST -p $PG_PORT -U $PG_USER"
  fi
  if [ -z "$(pg_psql -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ]; then
    log "creating database $PG_DB"
    pg_psql -c "CREATE DATABASE $PG_DB OWNER $PG_USER"
  fi
}

redis_answers() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server
  fi
  if ! redis_answers; then
    log "starting Redis"
    "${SUDO[@]}" mkdir -p /var/lib/redis /var/log/redis
    "${SUDO[@]}" redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
      --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for "Redis" redis_answers
  fi
}

ensure_topology_tools() {  # installed only; the topology stage starts its own instances
  if ! command -v nginx >/dev/null || ! command -v openssl >/dev/null; then
    apt_install nginx openssl
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
}

ensure_postgres
ensure_redis
ensure_chromium
ensure_topology_tools
log "PostgreSQL ($PG_HOST:$PG_PORT, database $PG_DB), Redis ($REDIS_HOST:$REDIS_PORT) and Chromium are ready."
