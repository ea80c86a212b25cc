#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the test suite on 127.0.0.1 (Debian's postgresql package).
# Usage: scripts/postgres-test-server.sh start|stop [port]   (default port 54329)
# Prints the connection URL to use as NIRO_TEST_POSTGRES_URL.
set -euo pipefail
cmd=${1:-start}
port=${2:-54329}
dir=${NIRO_PG_DIR:-/tmp/niro-test-pg-$port}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
run() {
  # PostgreSQL refuses to run as root; use the postgres system user when we are root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"
      [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
      run "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
    fi
    if ! run "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      run "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    run "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
  *)
    echo "usage: $0 start|stop [port]" >&2
    exit 2
    ;;
esac
