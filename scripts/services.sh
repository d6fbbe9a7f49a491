#!/usr/bin/env bash
# Installs the Debian packages the tests use and starts the services they expect on loopback.
# Idempotent; needs root: run as another user, it re-runs itself through sudo (machines without sudo
# are usually root already).
# Tests that need a special state (a password-protected ClickHouse, a scram-only PostgreSQL, a throwaway
# MariaDB or Redis) start their own instances on chosen ports; this script only provides the binaries
# and the shared services on their default ports.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then exec sudo bash "$0" "$@"; fi
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Servers the tests run for real (most start their own instances on chosen loopback ports), the
# browser for dashboard and report tests, and the peers the benchmarks compare against. nginx, Caddy and
# HAProxy (built with Lua) are front doors for the gateway's authz mode: the tests start their own.
packages=(
  clickhouse-server clickhouse-client postgresql mariadb-server redis-server rsyslog
  memcached etcd-server etcd-client prometheus nats-server mosquitto
  chromium nginx caddy haproxy wrk nmap
)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi
# clickhouse-server's postinst rewrites its user's entry and has left /etc/passwd mode 0600 (seen here), after
# which no other user can look up a name: initdb, run as postgres by the PostgreSQL probe tests, then fails.
[[ $(stat -c %a /etc/passwd) == 644 ]] || chmod 644 /etc/passwd


answers() { curl -fsS --max-time 2 "$1" >/dev/null 2>&1; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The shared services the machine image usually starts; start any whose port is closed.
for entry in postgresql:5432 mariadb:3306 redis-server:6379; do
  svc=${entry%%:*} port=${entry##*:}
  listening "$port" || service "$svc" start >/dev/null 2>&1 || echo "services.sh: could not start $svc" >&2
done

# A ClickHouse on 127.0.0.1:8123/9000 for tests that use the shared one (e.g. the scrub ingest hook).
if ! answers http://127.0.0.1:8123/ping; then
  service clickhouse-server start >/dev/null 2>&1 || runuser -u clickhouse -- clickhouse-server --daemon --config-file=/etc/clickhouse-server/config.xml
  for _ in $(seq 1 60); do
    answers http://127.0.0.1:8123/ping && break
    sleep 0.5
  done
  answers http://127.0.0.1:8123/ping || { echo "services.sh: ClickHouse did not start on 127.0.0.1:8123" >&2; exit 1; }
fi
echo "services.sh: test services ready"
