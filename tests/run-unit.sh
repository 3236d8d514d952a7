#!/usr/bin/env bash
# Runs each cmocka unit-test binary given as an argument; prints one summary line.
# Unit tests need no root and no BPF.
set -u
pass=0; fail=0
for t in "$@"; do
  if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
