#!/usr/bin/env bash
# A real PostgreSQL (Debian's package) on a loopback port, for the test suite.
#   tests/services/postgres.sh start|stop|status|url
# start installs the server if it is missing, creates a cluster once, starts it, creates role and
# database `maestro`/`maestro_test`, and prints the SQLAlchemy URL as its last line.
set -euo pipefail
port=${MAESTRO_PG_PORT:-55432}
home=${MAESTRO_PG_HOME:-/var/tmp/maestro-graph/postgres-$port}   # not under /root: the postgres user must reach it
url="postgresql+asyncpg://maestro:maestro@127.0.0.1:$port/maestro_test"

fail() { echo "postgres.sh: $*" >&2; [ -f "$home/log" ] && tail -n 20 "$home/log" >&2; exit 1; }

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

install_server() {
  [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ] && return
  [ "$(id -u)" = 0 ] || fail "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
  echo "postgres.sh: installing PostgreSQL from Debian's packages" >&2
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || fail "apt-get install postgresql failed"
  [ -x "$(bindir)/initdb" ] || fail "initdb not found after installing postgresql"
}

ready() { "$(bindir)/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; }

start() {
  install_server
  local bin; bin=$(bindir)
  if ! ready; then
    mkdir -p "$home"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$home"
    if [ ! -f "$home/data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$home/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null || fail "initdb failed"
    fi
    as_pg "$bin/pg_ctl" -D "$home/data" -l "$home/log" -w -t 60 \
      -o "-p $port -k $home -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null \
      || fail "the server did not start"
  fi
  for _ in $(seq 60); do ready && break; sleep 0.5; done
  ready || fail "the server does not answer on 127.0.0.1:$port"
  psql_admin() { PGPASSWORD= "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }
  psql_admin -tc "SELECT 1 FROM pg_roles WHERE rolname='maestro'" | grep -q 1 \
    || psql_admin -c "CREATE ROLE maestro LOGIN PASSWORD 'maestro'" || fail "could not create role maestro"
  psql_admin -tc "SELECT 1 FROM pg_database WHERE datname='maestro_test'" | grep -q 1 \
    || psql_admin -c "CREATE DATABASE maestro_test OWNER maestro" || fail "could not create database maestro_test"
  echo "$url"
}

stop() {
  local bin; bin=$(bindir)
  [ -n "$bin" ] && [ -f "$home/data/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) [ -n "$(bindir)" ] && ready ;;
  url) echo "$url" ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
