#!/usr/bin/env bash
# Installs the Debian packages the scanner's memcached and etcd probe tests run against. The tests start
# their own instances on chosen loopback ports with temporary data folders, so nothing is started here;
# the packaged system services are left stopped. Called by scripts/services.sh.
set -euo pipefail
packages=(memcached etcd-server etcd-client prometheus nginx wrk chromium nats-server mosquitto nmap)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${missing[@]}"
fi
