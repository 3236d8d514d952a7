#!/usr/bin/env bash
# Runs libFuzzer targets built by `make fuzz-build`, each for a set time, FUZZ_JOBS at a time,
# starting from the stored seeds plus what earlier runs found ($BUILD/corpus/NAME, kept between
# runs; the stored corpus is never written). Crashes land in $BUILD/artifacts/. Prints one line
# per target with executions and coverage, and fails if any target found something.
# Usage: fuzz.sh BUILD SECONDS NAME...
set -u
cd "$(dirname "$0")/../.."
build=$1 secs=$2; shift 2
jobs=${FUZZ_JOBS:-1}
mkdir -p "$build/artifacts" "$build/logs"

one() { # name
  local n=$1 bin=$build/fuzz/fuzz_$1 dict=tests/fuzz/$1.dict log=$build/logs/$1.log extra=()
  mkdir -p "$build/corpus/$n"
  [ -f "$dict" ] && extra+=(-dict="$dict")
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$n-" "${extra[@]}" \
    "$build/corpus/$n" "tests/fuzz/corpus/$n" >"$log" 2>&1
  local rc=$?
  local execs cov
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  printf '%-12s %s  execs=%s  %s  corpus=%s\n' "$n" "$([ $rc -eq 0 ] && echo ok || echo FOUND)" \
    "${execs:-?}" "${cov:-}" "$(ls "$build/corpus/$n" | wc -l)"
  [ $rc -eq 0 ] || { grep -E 'ERROR|SUMMARY|check failed|Test unit written' "$log" | head -5; return 1; }
}
export -f one; export build secs

printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'one {}'
rc=$?
[ $rc -eq 0 ] && echo "fuzz: every target ran ${secs}s without a finding" || echo "fuzz: findings above (logs in $build/logs)"
exit $rc
