#!/usr/bin/env bash
# Installs every build, run and test dependency of pyrometer from Debian packages.
# Idempotent: packages already present are left alone; safe to run on every `make test`.
set -euo pipefail

BUILD_PKGS=(
  make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
  libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libjson-c-dev
  libprotobuf-c-dev protobuf-c-compiler libsystemd-dev libcmocka-dev
  python3.11-dev libcrypt-dev
)
TEST_PKGS=(
  protobuf-compiler golang-go libxml2-utils chromium prometheus
  postgresql postgresql-client python3-psycopg2 python3-django python3-sqlalchemy
  redis-server python3-redis mariadb-server python3-pymysql
  python3-aiohttp libbpf-tools wrk procps util-linux iproute2 curl systemd
  libclang-rt-14-dev openssl
)

want=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${TEST_PKGS[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The prometheus package starts its own server on :9090; the test suite runs its own instance.
if systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
# Likewise the redis-server and mariadb instances the packages start: the database tests start theirs.
for svc in redis-server mariadb; do
  if systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
