#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The npm clients TEI users have, against a running smolserve: @huggingface/inference and
# openai (tests/clients/clients.test.mjs, node's test runner), with and without an API key,
# and the OpenAPI document through @apidevtools/swagger-parser. Installs the pinned packages
# (package-lock.json; node_modules/ is not committed) when the lock changed, builds smolserve
# in $BUILD_DIR (default build/) and ends with the line "N passed, N failed".
# Servers listen on 127.0.0.1 only, on ports the kernel picks; everything is bounded in time.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
TD=tests/clients
BUILD="${BUILD_DIR:-build}"
fail() { echo "$*"; echo "0 passed, 1 failed"; exit 1; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
[ "$node_major" -ge 20 ] || fail "node >= 20 is needed (have: $(node --version 2>&1))"
if ! cmp -s "$TD/package-lock.json" "$TD/node_modules/.smolserve-lock" 2>/dev/null; then
  (cd "$TD" && timeout 600 npm ci --no-audit --no-fund --loglevel=error &&
    cp package-lock.json node_modules/.smolserve-lock) || fail "npm ci in $TD failed"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup "$BUILD" ${MESON_ARGS:-} >/dev/null || fail "meson setup $BUILD failed"
fi
ninja -C "$BUILD" server/smolserve >/dev/null || fail "ninja -C $BUILD server/smolserve failed"

out=$(mktemp)
SMOLSERVE_BIN="$PWD/$BUILD/server/smolserve" timeout 300 \
  node --test --test-reporter=tap --test-timeout=120000 "$TD/clients.test.mjs" >"$out" 2>&1
rc=$?
cat "$out"
pass=$(grep -E '^# pass [0-9]+' "$out" | awk '{print $3}')
failed=$(grep -E '^# fail [0-9]+' "$out" | awk '{print $3}')
rm -f "$out"
if [ "$rc" -ne 0 ] && [ "${failed:-0}" -eq 0 ]; then failed=1; fi
echo "${pass:-0} passed, ${failed:-0} failed"
[ "$rc" -eq 0 ]
