#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang-14, AddressSanitizer + UndefinedBehavior-
# Sanitizer, coverage on every library) into $BUILD_DIR (default build-fuzz/)
# and runs each for SECONDS (default 30) from its seed corpus. Any finding — a
# crash, a sanitizer report, a leak, an input slower than 10 s or a run over
# 2 GB — fails the target; the input that caused it is kept in
# $FUZZ_OUT/<target>/ (default build-fuzz/findings/) and the log printed.
# Ends with "N passed, N failed" (one per target) and the executions run.
#
#   bash tests/fuzz/run.sh                 # every target, 30 s each (CI)
#   bash tests/fuzz/run.sh 600 codec       # one target for 10 minutes
#   nice -n 19 bash tests/fuzz/run.sh 600  # the long run, one target at a time
#
# New inputs a run finds go to a scratch corpus, never into the committed
# seeds (tests/fuzz/corpus/, written by make_seeds.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_TARGET="${1:-${FUZZ_SECONDS:-30}}"
shift || true
ALL=(codec wordpiece bpe sentencepiece tokenizer_files hf_config safetensors)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL[@]}")
BUILD="${BUILD_DIR:-build-fuzz}"
OUT="${FUZZ_OUT:-$BUILD/findings}"
CC_FUZZ="${CC_FUZZ:-clang-14}"

command -v "$CC_FUZZ" >/dev/null || { echo "$CC_FUZZ not found: bash deploy/install-deps.sh --test"; echo "0 passed, 1 failed"; exit 1; }
if [ ! -f "$BUILD/build.ninja" ]; then
  mkdir -p "$BUILD"
  if ! CC="$CC_FUZZ" meson setup "$BUILD" -Dfuzz=true -Db_sanitize=address,undefined \
      -Db_lundef=false -Dbuildtype=debugoptimized >"$BUILD/setup.log" 2>&1; then
    cat "$BUILD/setup.log"; echo "0 passed, 1 failed"; exit 1
  fi
fi
if ! ninja -C "$BUILD" $(printf "tests/fuzz/fuzz_%s " "${TARGETS[@]}") >"$BUILD/ninja-fuzz.log" 2>&1; then
  cat "$BUILD/ninja-fuzz.log"; echo "0 passed, 1 failed"; exit 1
fi

seeds() { # the seed directories of target $1
  case "$1" in
    safetensors) echo "tests/fixtures/safetensors_valid tests/fixtures/invalid/safetensors" ;;
    hf_config) echo "tests/fuzz/corpus/hf_config tests/fixtures/invalid/config" ;;
    *) echo "tests/fuzz/corpus/$1" ;;
  esac
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
passed=0
failed=0
for t in "${TARGETS[@]}"; do
  work=$(mktemp -d /tmp/smolserve-fuzz-"$t".XXXXXX)
  mkdir -p "$OUT/$t"
  log="$OUT/$t/log.txt"
  # shellcheck disable=SC2046
  "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$t/" \
    "$work" $(seeds "$t") >"$log" 2>&1
  rc=$?
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  rm -rf "$work"
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    echo "fuzz $t: ok, ${execs:-?} executions in ${SECONDS_PER_TARGET}s"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FINDING (exit $rc), input kept in $OUT/$t/"
    tail -n 60 "$log"
  fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
