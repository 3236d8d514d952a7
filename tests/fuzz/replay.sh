#!/usr/bin/env bash
# Replays every stored fuzz corpus (tests/fuzz/corpus/NAME/) through its target's plain-main
# build under ASan+UBSan (SAN=1, build-san/), the fuzz tier of `make test`. Builds what is
# missing first. Prints one line per target and "fuzz-replay: N passed, N failed".
# Usage: replay.sh [NAME...]   (default: every tests/fuzz/fuzz_*.c)
set -u
cd "$(dirname "$0")/../.."
O=${O_SAN:-build-san}
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do n=${f##*/fuzz_}; names+=("${n%.c}"); done
fi
bins=(); for n in "${names[@]}"; do bins+=("$O/fuzz/replay_$n"); done
log=$(mktemp)
if ! make -j"${JOBS:-2}" SAN=1 O="$O" "${bins[@]}" >"$log" 2>&1; then
  tail -30 "$log"; rm -f "$log"; echo "fuzz-replay: build failed"; exit 1
fi
rm -f "$log"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
pass=0; fail=0
for n in "${names[@]}"; do
  dir=tests/fuzz/corpus/$n
  if [ ! -d "$dir" ] || [ -z "$(ls -A "$dir")" ]; then
    echo "FAILED: $n: no stored corpus in $dir"; fail=$((fail+1)); continue
  fi
  t0=$(date +%s%N)
  if out=$("$O/fuzz/replay_$n" "$dir" 2>&1); then
    printf '  %-12s %s (%d ms)\n' "$n" "$(tail -1 <<<"$out")" $((($(date +%s%N) - t0) / 1000000))
    pass=$((pass+1))
  else
    echo "FAILED: $n"; tail -40 <<<"$out"; fail=$((fail+1))
  fi
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
