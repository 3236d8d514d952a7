#!/usr/bin/env bash
# The whole test suite, in tiers: build, unit tests (no root), CPython layout check, fuzz-corpus
# replays, end-to-end tests as root (real BPF, real Python, real PostgreSQL/Prometheus/Chromium),
# then the unit tiers again under ASan+UBSan and a few real-BPF e2e tests with the sanitized
# binaries (tests/run-san-e2e.sh). Ends with one "N passed, N failed, N skipped" line.
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
pass=0; fail=0; skip=0
tier() { # name, command...
  local name=$1; shift
  echo "=== tier: $name"
  if "$@"; then pass=$((pass+1)); echo "=== tier $name: ok"; else fail=$((fail+1)); echo "=== tier $name: FAILED"; fi
}
tier build make -j"$JOBS" all
tier unit make -j"$JOBS" unit
tier offsets make check-offsets
if [ -d tests/fuzz ] && [ -x tests/fuzz/replay.sh ]; then tier fuzz-replay tests/fuzz/replay.sh; fi
# The e2e runner prints its own per-test lines and summary; its counts are folded into ours.
echo "=== tier: e2e"
O=build /usr/bin/python3 tests/e2e/run.py > >(tee /tmp/pyrometer-e2e.log) 2>&1
e2e_rc=$?
sleep 0.2
line=$(grep -E '^e2e: [0-9]+ passed, [0-9]+ failed' /tmp/pyrometer-e2e.log | tail -1)
if [ -n "$line" ]; then
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$line"); pass=$((pass+p)); fail=$((fail+f)); skip=$((skip+${s:-0}))
else
  fail=$((fail+1))
fi
[ "$e2e_rc" -eq 0 ] || [ -n "$line" ] || fail=$((fail+1))
if [ "${PYROMETER_SKIP_SAN:-0}" != 1 ]; then
  tier san-unit make -j"$JOBS" SAN=1 unit
  tier san-e2e ./tests/run-san-e2e.sh
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
