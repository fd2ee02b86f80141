#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the whole test suite: installs missing build dependencies, builds
# (meson + ninja) into $BUILD_DIR (default build/), runs every Check suite,
# and ends with the line "N passed, N failed" (Check test cases).
# MESON_ARGS adds setup options, e.g. -Db_sanitize=address,undefined.
set -uo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test || exit 1
BUILD="${BUILD_DIR:-build}"
if [ ! -f "$BUILD/build.ninja" ]; then
  # shellcheck disable=SC2086
  if ! meson setup "$BUILD" ${MESON_ARGS:-} >"$BUILD.setup.log" 2>&1; then
    cat "$BUILD.setup.log"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
if ! ninja -C "$BUILD" >"$BUILD/ninja.log" 2>&1; then
  cat "$BUILD/ninja.log"
  echo "0 passed, 1 failed"
  exit 1
fi
meson test -C "$BUILD" --print-errorlogs --num-processes 2
rc=$?
# Sum Check's per-suite "Checks: N, Failures: F, Errors: E" lines.
read -r passed failed < <(grep -ho 'Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' \
    "$BUILD/meson-logs/testlog.txt" | awk '{gsub(",", ""); c += $2; f += $4 + $6}
    END {print c - f, f}')
suites_failed=$(grep -c '^[ 0-9/]*[a-z_]* *\(FAIL\|TIMEOUT\|ERROR\)' "$BUILD/meson-logs/testlog.txt" || true)
if [ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then
  failed=1  # a suite crashed or timed out before Check could count
fi
echo "${passed:-0} passed, ${failed:-0} failed"
[ "$rc" -eq 0 ]
