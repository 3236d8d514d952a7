#!/usr/bin/env bash
# A few real-BPF end-to-end tests against the ASan+UBSan build (make SAN=1, build-san/): CPU
# stacks on every interpreter, 1000 malformed HTTP requests, HTTPS + basic auth, `pyrometer
# dump`, and every bad CLI flag and config key. Any sanitizer report from any of those binaries
# (daemon or CLI; leaks at exit included) fails the tier, whether or not a test noticed.
set -u
cd "$(dirname "$0")/.."
logs=$(mktemp -d /tmp/pyrometer-san.XXXXXX)
make -j"${JOBS:-2}" SAN=1 all >"$logs/build.log" 2>&1 || { tail -30 "$logs/build.log"; echo "san-e2e: build failed"; exit 1; }
export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"
O=build-san /usr/bin/python3 tests/e2e/run.py \
  -k test_threads_attributed_to_their_own_stacks -k test_bad_requests_get_4xx -k test_json_matches_current_frames \
  -k test_scrape_needs_credentials_over_tls -k test_badinput \
  test_cpu test_daemon test_dump test_exposure test_badinput
rc=$?
reports=$(ls "$logs" | grep -E '^(asan|ubsan)\.' || true)
if [ -n "$reports" ]; then
  for r in $reports; do echo "--- $r"; head -40 "$logs/$r"; done
  echo "san-e2e: sanitizer reports above"
  rc=1
fi
rm -rf "$logs"
exit $rc
