#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command: installs missing build dependencies, builds
# smolserve and starts the server on the default model (the tiny BERT folder
# shipped in tests/fixtures/bert) on port 3000. MODEL_ID, PORT and every
# other setting can be given as environment variables or as flags, e.g.
#   bash deploy/quickstart.sh --model /models/all-MiniLM-L6-v2 --port 8080
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
export MODEL_ID="${MODEL_ID:-tests/fixtures/bert}"
exec build/server/smolserve serve "$@"
