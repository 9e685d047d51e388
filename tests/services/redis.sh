#!/usr/bin/env bash
# A real Redis (Debian's package) on a loopback port, for the tests of MAESTRO_EVENT_BUS.
#   tests/services/redis.sh start|stop|status
# start installs redis-server if it is missing, starts it without persistence, and prints the URL
# as its last line.
set -euo pipefail
port=${MAESTRO_REDIS_PORT:-56379}
home=${MAESTRO_REDIS_HOME:-/var/tmp/maestro-graph/redis-$port}
url="redis://127.0.0.1:$port/0"

fail() { echo "redis.sh: $*" >&2; [ -f "$home/log" ] && tail -n 20 "$home/log" >&2; exit 1; }

install_server() {
  command -v redis-server >/dev/null && return
  [ "$(id -u)" = 0 ] || fail "redis-server is not installed and installing it needs root: apt-get install redis-server"
  echo "redis.sh: installing Redis from Debian's packages" >&2
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null || fail "apt-get install redis-server failed"
  command -v redis-server >/dev/null || fail "redis-server not found after installing it"
}

ready() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

start() {
  install_server
  if ! ready; then
    mkdir -p "$home"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$home" \
      --daemonize yes --pidfile "$home/redis.pid" --logfile "$home/log" || fail "the server did not start"
  fi
  for _ in $(seq 40); do ready && break; sleep 0.25; done
  ready || fail "the server does not answer on 127.0.0.1:$port"
  echo "$url"
}

stop() {
  ready || return 0
  redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) ready ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
