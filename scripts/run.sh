#!/usr/bin/env bash
# Installs, builds and starts pyrometerd with the default configuration: under systemd when PID 1 is
# systemd, otherwise as a background process logging to /var/log/pyrometer.log. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh --build-only
make -j"$(nproc)" all
make install >/dev/null
conf=/etc/pyrometer/pyrometer.conf
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable pyrometer.service >/dev/null 2>&1 || true
  systemctl restart pyrometer.service
  echo "pyrometer: started pyrometer.service (journalctl -u pyrometer for logs)"
else
  if [ -f /run/pyrometer.pid ] && kill -0 "$(cat /run/pyrometer.pid)" 2>/dev/null; then
    kill "$(cat /run/pyrometer.pid)"; sleep 1
  fi
  nohup /usr/local/sbin/pyrometerd --config "$conf" >>/var/log/pyrometer.log 2>&1 &
  echo $! > /run/pyrometer.pid
  echo "pyrometer: started pyrometerd (pid $!, no systemd here; logs in /var/log/pyrometer.log)"
fi
for _ in $(seq 50); do
  if curl -fsS http://127.0.0.1:10164/healthz >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS http://127.0.0.1:10164/api/v1/health && echo || { echo "pyrometer: the daemon did not come up; see its log" >&2; exit 1; }
